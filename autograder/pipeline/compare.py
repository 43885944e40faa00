"""Compare what a student's function did with the reference, in a trusted process.

``judge_outcome`` takes what one call did (a ``kernel.call.Outcome``) and
returns a message for the student, or None when the function is right. Two
users: the ``judge`` step, on outcomes posted from the sandbox; and
``check_in_place``, the hidden tests under plain ``nbgrader autograde``, where
the kernel is trusted and judges itself (see ``kernel/check.py``). NumPy and
the reference only: cheap to import into a kernel.

``build_model`` returns a Keras model, which cannot leave a sandbox: the kernel
reduces it to plain data (``call.probe_model``), compared here with the
reference in NumPy.
"""

import copy
import secrets

import numpy as np

from autograder.course import reference
from autograder.course.api import BUILDS_ON, HOLDS_INPUTS, OUTPUT_NAMES
from autograder.kernel.call import PROBE, arrays, call_function
from autograder.kernel.mailbox import Opaque

from . import cases

RTOL, ATOL = 1e-6, 1e-9              # float64: only rounding may differ
RTOL_32, ATOL_32 = 1e-3, 1e-4        # float32 inputs: single precision is enough
GRADCHECK_STEP, GRADCHECK_TOL = 1e-6, 1e-5


def check_in_place(name, function, seed=None, only=None):
    """Judge `function` in this (trusted) process on random inputs; AssertionError naming the first problem,
    led by the earlier function to fix first when one it calls fails its own check."""
    seed = secrets.randbelow(2**32) if seed is None else seed
    for arguments in cases.draw(name, np.random.default_rng(seed)):
        problem = judge_outcome(name, arguments, call_function(name, function, arguments), only=only)
        if problem:
            raise AssertionError(f"{_wrong_earlier_lead(name, function, seed)}{name}: {problem}\n"
                                 f"(on a random input with {describe(arguments)}; "
                                 f"reproduce with check_function({name!r}, {name}, seed={seed}))")


def fix_first(earlier, name):
    """The lead of a message about `name` when `earlier`, which it calls, is wrong."""
    return f"fix `{earlier}` first (its test fails): {name} calls it. "


def _wrong_earlier_lead(name, function, seed):
    """fix_first for the first earlier function (the one the notebook defines next to `function`) that fails."""
    for earlier in BUILDS_ON.get(name, ()):
        called = getattr(function, "__globals__", {}).get(earlier)
        if callable(called):
            try:
                check_in_place(earlier, called, seed)
            except AssertionError:
                return fix_first(earlier, name)
    return ""


def judge_outcome(name, arguments, outcome, reveal=True, only=None):
    """Compare an outcome with the reference; a message for the student, or None if right.

    With reveal=False the message holds no number computed from the inputs
    (the grader's inputs are secret), only where and how the result is wrong.
    only: judge just these keys of a dict result (the rest is another test cell's).
    """
    if outcome.modified:
        return f"it modified its argument {_label(outcome.modified[0])} in place; compute a new array instead"
    if shared := _shared_arguments(name, outcome):
        return (f"it returned a view of its argument {_label(shared[0])}; "
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
    float32 = any(a.dtype == np.float32 for _, a in arrays(arguments))
    got = outcome.value
    if only is not None and isinstance(expected, dict):
        expected = {key: expected[key] for key in only}
        got = {key: got[key] for key in only if key in got} if isinstance(got, dict) else got
    problem = _compare(expected, got, OUTPUT_NAMES[name], float32, reveal)
    if problem is None and name == "lstm_cell_backward":
        problem = _gradient_check(arguments, got)
    return problem


def _shared_arguments(name, outcome) -> list:
    """Paths of the arguments the result is a view of, leaving out outputs that keep their inputs by design."""
    names = OUTPUT_NAMES[name]
    if not (isinstance(names, tuple) and isinstance(outcome.value, (tuple, list))):
        return [argument for argument, _ in outcome.shared]
    return [argument for argument, output in outcome.shared
            if output and isinstance(output[0], int) and output[0] < len(names)
            and names[output[0]] not in HOLDS_INPUTS]


def describe(arguments):
    """The argument shapes, e.g. 'x_t (3, 2), h_prev (3, 4), ... (float32)'."""
    parts = []
    for key, value in arguments.items():
        if key == PROBE:
            continue
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {value.shape}")
        elif isinstance(value, dict):
            parts.append(f"{key} with " + ", ".join(f"{k} {v.shape}" for k, v in list(value.items())[:3]
                                                    if isinstance(v, np.ndarray)) + ", ...")
        else:
            parts.append(f"{key}={value!r}")
    float32 = any(a.dtype == np.float32 for path, a in arrays(arguments) if PROBE not in path)
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
    inputs = {"x_t": cache["x_t"], "h_prev": cache["h_prev"], "c_prev": cache["c_prev"]}
    variables = {**{f"d{k}": v for k, v in inputs.items()}, **{f"d{k}": v for k, v in cache["params"].items()}}
    variables = copy.deepcopy(variables)

    def loss():
        params = {k[1:]: v for k, v in variables.items() if k[1:] in cache["params"]}
        h_t, c_t, _ = reference.lstm_cell_forward(variables["dx_t"], variables["dh_prev"],
                                                  variables["dc_prev"], params)
        return np.sum(dh_t * h_t) + np.sum(dc_t * c_t)

    for key, value in variables.items():
        if key not in grads:  # a gradient another test cell judges
            continue
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

def _judge_model(arguments, model, reveal=True):
    """Compare a probed model with the architecture of the spec and with the reference in NumPy."""
    seq_len, n_features, n_classes, units = (arguments[k] for k in ("seq_len", "n_features", "n_classes", "units"))
    if model["layers"] != ["LSTM", "Dense"]:
        return f"the model's layers should be LSTM then Dense, got {model['layers']}"
    if model["input_shape"] != (None, seq_len, n_features):
        return (f"the model's input shape should be (None, seq_len, n_features) = {(None, seq_len, n_features)}, "
                f"got {model['input_shape']}")
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
        return (f"compile with loss='sparse_categorical_crossentropy' (the labels are class numbers), "
                f"not {model['loss']!r}")
    if problem := _judge_optimizer(model):
        return problem
    if model["load_error"]:
        return f"loading weights of the right shapes into its layers failed: {model['load_error']}"
    probe = {k: np.asarray(v, dtype=np.float64) for k, v in arguments[PROBE].items()}
    zeros = np.zeros((probe["x"].shape[0], units))
    params = reference.params_from_keras(probe["kernel"], probe["recurrent_kernel"], probe["bias"])
    _, h_T, _ = reference.lstm_forward(probe["x"], zeros, zeros, params)
    logits = h_T @ probe["W_y"] + probe["b_y"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    return _compare_arrays(expected, model["probabilities"], "the model's output for the same weights", True, reveal)


def _judge_optimizer(model):
    """Adam with the settings of reference.ADAM: the long-gap task trains only with them."""
    wanted = "keras.optimizers.Adam(" + ", ".join(f"{k}={v!r}" for k, v in reference.ADAM.items()) + ")"
    if model["optimizer"] != "Adam":
        return f"compile with optimizer={wanted}, not {model['optimizer']}"
    for setting, value in reference.ADAM.items():
        if model[setting] is None or not np.isclose(model[setting], value, rtol=RTOL_32, atol=0):
            got = "none" if model[setting] is None else f"{model[setting]:g}"
            return f"the optimizer should be {wanted}, but its {setting} is {got}"
    return None


# --- naming ----------------------------------------------------------------------------

def _label(path):
    return path[0] + "".join(f'["{key}"]' for key in path[1:])


def _names(label):
    return "(" + ", ".join(label) + ")"


def _kind(value):
    if isinstance(value, Opaque):
        return value.description
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"
