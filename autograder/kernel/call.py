"""Call a student's function on one hidden test's inputs, and record what it did.

This runs inside the student's kernel, where the student's code can reach it:
it only observes (the value returned or the error raised, warnings, arguments
changed in place, arguments the result shares memory with) and never judges.
The ``Outcome`` is plain data the mailbox carries out to the grader.
"""

import contextlib
import copy
import io
import warnings
from dataclasses import dataclass, field

import numpy as np

PROBE = "probe"  # a build_model case's weights and inputs to predict on: not an argument of the function


@dataclass
class Outcome:
    """What one call of a student's function did, as a sandbox can report it."""
    value: object = None
    error: str = ""                                 # "TypeError: ..." when the call raised
    warnings: list = field(default_factory=list)    # RuntimeWarnings (overflow, invalid value)
    modified: list = field(default_factory=list)    # paths of arguments changed in place
    shared: list = field(default_factory=list)      # [argument path, output path] of memory the result shares


def call_function(name, function, arguments) -> Outcome:
    """Call the student's function `name` on `arguments` and record what happened."""
    originals = copy.deepcopy(arguments)
    outcome = Outcome()
    printed = io.StringIO()  # what the function prints on hidden inputs is not shown
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        warnings.simplefilter("always")
        try:
            outcome.value = function(*(v for k, v in arguments.items() if k != PROBE))
            if name == "build_model":
                outcome.value = probe_model(outcome.value, arguments[PROBE])
        except Exception as error:  # the student's bug, reported as text
            outcome.error = f"{type(error).__name__}: {error}"
    outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught
                        if issubclass(w.category, RuntimeWarning)]
    outcome.modified = [list(path) for path, old in arrays(originals)
                        if not np.array_equal(old, at(arguments, path), equal_nan=True)]
    outputs = list(arrays(outcome.value))
    outcome.shared = [[list(path), list(out_path)] for path, array in arrays(arguments)
                      for out_path, out in outputs if np.shares_memory(array, out)]
    return outcome


def probe_model(model, probe):
    """A student's model as plain data: its layers and settings, and its output
    for the probe's inputs after loading the probe's weights."""
    layers = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"]
    loss = getattr(model, "loss", None)
    summary = {"layers": [type(layer).__name__ for layer in layers],
               "input_shape": tuple(getattr(model, "input_shape", ())),
               "compiled": bool(getattr(model, "compiled", False)),
               "loss": loss if isinstance(loss, str) or loss is None else getattr(loss, "name", type(loss).__name__),
               **probe_optimizer(getattr(model, "optimizer", None)), "probabilities": None, "load_error": ""}
    if summary["layers"] != ["LSTM", "Dense"]:
        return summary
    lstm, dense = layers
    summary.update(units=lstm.units, activation=lstm.activation.__name__,
                   recurrent_activation=lstm.recurrent_activation.__name__,
                   return_sequences=lstm.return_sequences, classes=dense.units,
                   output_activation=dense.activation.__name__)
    try:
        lstm.set_weights([probe["kernel"], probe["recurrent_kernel"], probe["bias"]])
        dense.set_weights([probe["W_y"], probe["b_y"]])
        summary["probabilities"] = np.asarray(model(probe["x"]))
    except Exception as error:  # e.g. weights of the wrong shape for a layer built otherwise
        summary["load_error"] = f"{type(error).__name__}: {error}"
    return summary


def probe_optimizer(optimizer):
    """The optimizer's class and the settings the exercise asks for, as plain data (None where it has none)."""
    def number(setting):
        try:  # a float, a Keras variable or a schedule (read at the current step)
            return float(np.asarray(getattr(optimizer, setting)))
        except Exception:  # absent (None) or not a number
            return None
    return {"optimizer": None if optimizer is None else type(optimizer).__name__,
            "learning_rate": number("learning_rate"), "clipnorm": number("clipnorm")}


# --- walking nested results ---------------------------------------------------------

def arrays(value, path=()):
    """(path, array) for every NumPy array in nested dicts, tuples and lists."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from arrays(item, path + (key,))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from arrays(item, path + (index,))


def at(value, path):
    for key in path:
        value = value[key]
    return value
