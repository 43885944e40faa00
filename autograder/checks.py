"""Compare a student's function with the reference on random inputs.

Every hidden test of every assignment goes through one call::

    check_function("forget_gate", forget_gate)

which passes silently or raises ``AssertionError`` with one readable message.
It is three steps, kept apart so that a trusted grader can run the middle one in
a sandbox and the other two outside it:

1. ``cases.draw`` draws the inputs (NumPy only) and ``prepare`` completes them;
2. ``run`` calls the student's function and records an ``Outcome``: the value
   returned or the error raised, warnings, arguments modified in place, and
   arguments whose memory the result shares;
3. ``judge`` compares the outcome with the reference and returns a message, or
   None when the function is right.

``build_model`` returns a Keras model, which cannot leave a sandbox: ``run``
reduces it to plain data (its layers, settings, and its output for weights
loaded from the case), and ``judge`` compares that with the reference in NumPy.

Under plain ``nbgrader autograde`` (or a student's own Jupyter) all three steps
happen in the notebook's kernel. Under the course's grader the kernel finds a
``mailbox`` inbox: it then only runs the student's function on the inputs the
grader drew and posts the outcomes; the grader judges them outside (see
``hidden_tests``). The reference is imported only where something is judged,
so this module works in a sandbox where the reference does not exist.
Importing this module imports neither the reference nor TensorFlow.
"""

import contextlib
import copy
import io
import secrets
import warnings
from dataclasses import dataclass, field

import numpy as np

from autograder import cases, mailbox

RTOL, ATOL = 1e-6, 1e-9              # float64: only rounding may differ
RTOL_32, ATOL_32 = 1e-3, 1e-4        # float32 inputs: single precision is enough
GRADCHECK_STEP, GRADCHECK_TOL = 1e-6, 1e-5

OUTPUT_NAMES = {  # how messages name what a function returns (from the spec)
    "sigmoid": "sigmoid(z)", "rnn_cell_forward": "h_t", "rnn_forward": "h_seq", "rnn_predict": "y",
    "one_to_many": "y_seq", "rnn_step_jacobian": "J", "gradient_norms": "g", "cell_state_gradient": "d",
    "forget_gate": "f_t", "input_gate": "i_t", "candidate_memory": "c_tilde", "output_gate": "o_t",
    "update_cell": "c_t", "update_hidden": "h_t", "lstm_cell_forward": ("h_t", "c_t", "cache"),
    "lstm_forward": ("h_seq", "h_T", "c_T"), "params_from_keras": "params",
    "keras_from_params": ("kernel", "recurrent_kernel", "bias"), "lstm_cell_backward": "grads",
    "build_model": "model",
}
HOLDS_INPUTS = {"cache"}  # outputs that keep the inputs by design (the forward pass's cache)


@dataclass
class Outcome:
    """What one call of a student's function did, as a sandbox can report it."""
    value: object = None
    error: str = ""                                 # "TypeError: ..." when the call raised
    warnings: list = field(default_factory=list)    # RuntimeWarnings (overflow, invalid value)
    modified: list = field(default_factory=list)    # names of arguments changed in place
    shared: list = field(default_factory=list)      # names of arguments the result is a view of


def check_function(name, function, seed=None):
    """Grade `function` as the API function `name` on random inputs.

    Raises AssertionError naming the first problem found; the message says how
    to reproduce it with the same `seed`. When the course's grader runs the
    kernel, the function runs on the grader's inputs and nothing is judged here.
    """
    if mailbox.active():
        outcomes = [run(name, function, arguments) for arguments in mailbox.inputs(name)]
        mailbox.post(name, [vars(outcome) for outcome in outcomes])
        return
    seed = secrets.randbelow(2**32) if seed is None else seed
    for case in cases.draw(name, np.random.default_rng(seed)):
        arguments = prepare(name, case)
        problem = judge(name, arguments, run(name, function, arguments))
        if problem:
            raise AssertionError(f"{name}: {problem}\n(on a random input with {describe(arguments)}; "
                                 f"reproduce with check_function({name!r}, {name}, seed={seed}))")


def prepare(name, case):
    """The arguments of one call: the drawn case, with a backward cache completed by the reference."""
    if name != "lstm_cell_backward":
        return case
    from autograder import reference
    step = case["cache"]
    _, _, cache = reference.lstm_cell_forward(step["x_t"], step["h_prev"], step["c_prev"], step["params"])
    return dict(case, cache=cache)


def run(name, function, arguments):
    """Call the student's function `name` on `arguments` and record what happened."""
    originals = copy.deepcopy(arguments)
    outcome = Outcome()
    printed = io.StringIO()  # what the function prints on hidden inputs is not shown
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        warnings.simplefilter("always")
        try:
            outcome.value = function(*(v for k, v in arguments.items() if k != cases.PROBE))
            if name == "build_model":
                outcome.value = _probe_model(outcome.value, arguments[cases.PROBE])
        except Exception as error:  # the student's bug, reported as text
            outcome.error = f"{type(error).__name__}: {error}"
    outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught
                        if issubclass(w.category, RuntimeWarning)]
    outcome.modified = [path for path, old in _arrays(originals)
                        if not np.array_equal(old, _at(arguments, path), equal_nan=True)]
    names, value = OUTPUT_NAMES[name], outcome.value
    named = dict(zip(names, value)) if isinstance(names, tuple) and isinstance(value, (tuple, list)) else {names: value}
    outputs = [array for path, array in _arrays(named) if path[0] not in HOLDS_INPUTS]
    outcome.shared = [path for path, array in _arrays(arguments)
                      if any(np.shares_memory(array, out) for out in outputs)]
    return outcome


def judge(name, arguments, outcome, reveal=True):
    """Compare an outcome with the reference; a message for the student, or None if right.

    With reveal=False the message holds no number computed from the inputs
    (the grader's inputs are secret), only where and how the result is wrong.
    """
    from autograder import reference
    if outcome.modified:
        return f"it modified its argument {_label(outcome.modified[0])} in place; compute a new array instead"
    if outcome.shared:
        return (f"it returned a view of its argument {_label(outcome.shared[0])}; "
                "return a new array (e.g. with np.array or np.copy)")
    if outcome.warnings:
        return f"it emitted {outcome.warnings[0]} (a numerically unstable formula?)"
    if name == "build_model":
        return f"it raised {outcome.error}" if outcome.error else _judge_model(arguments, outcome.value, reveal)
    try:
        expected = getattr(reference, name)(*copy.deepcopy(arguments).values())
    except ValueError as error:
        if outcome.error.startswith("ValueError"):
            return None
        got = f"raised {outcome.error}" if outcome.error else "returned normally"
        why = f" (the reference says: {error})" if reveal else ""
        return f"it should raise ValueError here{why}, but it {got}"
    if outcome.error:
        return f"it raised {outcome.error}"
    float32 = any(a.dtype == np.float32 for _, a in _arrays(arguments))
    problem = _compare(expected, outcome.value, OUTPUT_NAMES[name], float32, reveal)
    if problem is None and name == "lstm_cell_backward":
        problem = _gradient_check(arguments, outcome.value)
    return problem


def describe(arguments):
    """The argument shapes, e.g. 'x_t (3, 2), h_prev (3, 4), ... (float32)'."""
    parts = []
    for key, value in arguments.items():
        if key == cases.PROBE:
            continue
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {value.shape}")
        elif isinstance(value, dict):
            parts.append(f"{key} with " + ", ".join(f"{k} {v.shape}" for k, v in list(value.items())[:3]
                                                    if isinstance(v, np.ndarray)) + ", ...")
        else:
            parts.append(f"{key}={value!r}")
    float32 = any(a.dtype == np.float32 for path, a in _arrays(arguments) if cases.PROBE not in path)
    return ", ".join(parts) + (" (float32)" if float32 else "")


# --- comparison -------------------------------------------------------------------

def _compare(expected, got, label, float32, reveal=True):
    """The first difference between a reference result and a student's, or None."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"it should return a tuple {_names(label)}, but returned {_kind(got)}"
        for e, g, sub in zip(expected, got, label):
            if problem := _compare(e, g, sub, float32, reveal):
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{label} should be a dict, but it is {_kind(got)}"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing:
            return f"{label} is missing the key(s) {', '.join(missing)}"
        if extra and label not in HOLDS_INPUTS:  # a cache may keep more than the backward pass needs
            return f"{label} has unexpected key(s) {', '.join(map(str, extra))}"
        for key in expected:
            if problem := _compare(expected[key], got[key], f'{label}["{key}"]', float32, reveal):
                return problem
        return None
    return _compare_arrays(np.asarray(expected), got, label, float32, reveal)


def _compare_arrays(expected, got, label, float32, reveal=True):
    if not isinstance(got, np.ndarray):
        return f"{label} should be a NumPy array, but it is {_kind(got)}"
    if got.shape != expected.shape:
        return f"{label} has shape {got.shape}, expected {expected.shape}"
    if not float32 and got.dtype != expected.dtype:
        return f"{label} has dtype {got.dtype}, expected {expected.dtype} (float64 in, float64 out)"
    if not np.all(np.isfinite(got)):
        return f"{label} contains nan or inf"
    rtol, atol = (RTOL_32, ATOL_32) if float32 else (RTOL, ATOL)
    expected = expected.astype(np.float64)
    got = got.astype(np.float64)
    if np.allclose(got, expected, rtol=rtol, atol=atol):
        return None
    error = np.abs(got - expected) - rtol * np.abs(expected)
    where = np.unravel_index(np.argmax(error), error.shape)
    values = f" expected {expected[where]:.6g}, got {got[where]:.6g}" if reveal else ""
    return f"{label} has wrong values: at index {tuple(int(i) for i in where)}{values}"


def _gradient_check(arguments, grads):
    """Centred differences of L = sum(dh_t * h_t) + sum(dc_t * c_t) against the returned gradients."""
    dh_t, dc_t, cache = arguments["dh_t"], arguments["dc_t"], arguments["cache"]
    if dh_t.dtype != np.float64:
        return None  # float32 is too coarse for finite differences
    from autograder import reference
    inputs = {"x_t": cache["x_t"], "h_prev": cache["h_prev"], "c_prev": cache["c_prev"]}
    variables = {**{f"d{k}": v for k, v in inputs.items()}, **{f"d{k}": v for k, v in cache["params"].items()}}
    variables = copy.deepcopy(variables)

    def loss():
        params = {k[1:]: v for k, v in variables.items() if k[1:] in cache["params"]}
        h_t, c_t, _ = reference.lstm_cell_forward(variables["dx_t"], variables["dh_prev"],
                                                  variables["dc_prev"], params)
        return np.sum(dh_t * h_t) + np.sum(dc_t * c_t)

    for key, value in variables.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            saved = value[index]
            value[index] = saved + GRADCHECK_STEP
            up = loss()
            value[index] = saved - GRADCHECK_STEP
            numeric[index] = (up - loss()) / (2 * GRADCHECK_STEP)
            value[index] = saved
        if not np.allclose(grads[key], numeric, rtol=GRADCHECK_TOL, atol=GRADCHECK_TOL):
            return f'grads["{key}"] disagrees with the centred-difference gradient check'
    return None


# --- Keras models ------------------------------------------------------------------

def _probe_model(model, probe):
    """A student's model as plain data: its layers and settings, and its output
    for the probe's inputs after loading the probe's weights."""
    layers = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"]
    loss = getattr(model, "loss", None)
    summary = {"layers": [type(layer).__name__ for layer in layers],
               "input_shape": tuple(getattr(model, "input_shape", ())),
               "compiled": bool(getattr(model, "compiled", False)),
               "loss": loss if isinstance(loss, str) or loss is None else getattr(loss, "name", type(loss).__name__),
               "probabilities": None, "load_error": ""}
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


def _judge_model(arguments, model, reveal=True):
    """Compare a probed model with the architecture of the spec and with the reference in NumPy."""
    from autograder import reference
    seq_len, n_features, n_classes, units = (arguments[k] for k in ("seq_len", "n_features", "n_classes", "units"))
    if model["layers"] != ["LSTM", "Dense"]:
        return f"the model's layers should be LSTM then Dense, got {model['layers']}"
    if model["input_shape"] != (None, seq_len, n_features):
        return f"the model's input shape should be (None, seq_len, n_features) = {(None, seq_len, n_features)}, got {model['input_shape']}"
    if model["units"] != units:
        return f"the LSTM layer should have units={units}, got {model['units']}"
    if model["return_sequences"]:
        return "the LSTM should return only its last hidden state (return_sequences=False): one prediction per sequence"
    if (model["activation"], model["recurrent_activation"]) != ("tanh", "sigmoid"):
        return "keep the LSTM's default activations: tanh, and sigmoid for the gates"
    if (model["classes"], model["output_activation"]) != (n_classes, "softmax"):
        return (f"the Dense layer should have n_classes={n_classes} units and activation='softmax', "
                f"got {model['classes']} units and {model['output_activation']!r}")
    if not model["compiled"]:
        return "compile the model (model.compile(...)) before returning it"
    if model["loss"] != "sparse_categorical_crossentropy":
        return f"compile with loss='sparse_categorical_crossentropy' (the labels are class numbers), not {model['loss']!r}"
    if model["load_error"]:
        return f"loading weights of the right shapes into its layers failed: {model['load_error']}"
    probe = {k: np.asarray(v, dtype=np.float64) for k, v in arguments[cases.PROBE].items()}
    zeros = np.zeros((probe["x"].shape[0], units))
    params = reference.params_from_keras(probe["kernel"], probe["recurrent_kernel"], probe["bias"])
    _, h_T, _ = reference.lstm_forward(probe["x"], zeros, zeros, params)
    logits = h_T @ probe["W_y"] + probe["b_y"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    return _compare_arrays(expected, model["probabilities"], "the model's output for the same weights", True, reveal)


# --- walking nested results ---------------------------------------------------------

def _arrays(value, path=()):
    """(path, array) for every NumPy array in nested dicts, tuples and lists."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arrays(item, path + (key,))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _arrays(item, path + (index,))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


def _label(path):
    return path[0] + "".join(f'["{key}"]' for key in path[1:])


def _names(label):
    return "(" + ", ".join(label) + ")"


def _kind(value):
    if isinstance(value, mailbox.Opaque):
        return value.description
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"
