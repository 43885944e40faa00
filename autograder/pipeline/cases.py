"""Random inputs for every function of the exercise API, drawn in the trusted grader.

The hidden tests call a student's function on inputs the student never sees.
The grader draws them here from a secret seed (``secret_inputs``) and sends
them into the sandbox; the outputs are judged outside (``judge``). NumPy and the
reference only: TensorFlow is never imported.

``draw(name, rng)`` returns a list of cases; a case is a dict of the function's
arguments in the order of the spec, so the function is called as ``f(*case.values())``.
Every list holds a case whose sizes all differ (a transposed or swapped matrix
cannot go unnoticed), a square one, random ones, and the first case again in
float32. For ``lstm_cell_backward`` the ``cache`` argument is drawn as the forward
step's inputs and completed by the reference forward pass. A ``build_model``
case holds the sizes to build with, plus under ``PROBE`` the weights to load
into the model and the inputs to predict on (not arguments).
"""

import numpy as np

from autograder.course import reference
from autograder.course.api import GATE_FUNCTIONS, GATES, PARAM_KEYS
from autograder.kernel.call import PROBE

N_RANDOM = 4  # random-size cases per function, besides the fixed-pattern ones
N_MODELS = 2  # build_model cases: building a Keras model is slow


def draw(name, rng):
    """All cases for the API function `name`, drawn from the generator `rng`."""
    if name not in _DRAWERS:
        raise KeyError(f"no random cases for {name!r}; known functions: {', '.join(sorted(_DRAWERS))}")
    sizes = [dict(batch=3, n_x=2, n_h=4, n_y=5, T=4),  # all different
             dict(batch=2, n_x=3, n_h=3, n_y=3, T=3)]  # square
    sizes += [{k: int(rng.integers(1, 6)) for k in ("batch", "n_x", "n_h", "n_y", "T")}
              for _ in range(N_RANDOM)]
    if name == "build_model":  # Keras works in float32 anyway
        return [_build_model(rng, **s) for s in sizes[:N_MODELS]]
    cases = [_DRAWERS[name](rng, k=k, **s) for k, s in enumerate(sizes)]
    return [_complete(name, case) for case in cases + [_as_float32(cases[0])]]


def _complete(name, case):
    """A backward case's cache, completed by the reference forward pass from the drawn inputs."""
    if name != "lstm_cell_backward":
        return case
    step = case["cache"]
    _, _, cache = reference.lstm_cell_forward(step["x_t"], step["h_prev"], step["c_prev"], step["params"])
    return dict(case, cache=cache)


def _as_float32(value):
    if isinstance(value, dict):
        return {k: _as_float32(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32)
    return value


# --- building blocks -------------------------------------------------------------

def _normal(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _unit_interval(rng, *shape):  # gate values, strictly inside (0, 1)
    return rng.uniform(0.02, 0.98, shape)


def _weights(rng, n_in, n_h):  # scaled so pre-activations stay in tanh's sensitive range
    return _normal(rng, n_in, n_h, scale=1.0 / np.sqrt(n_in))


def _lstm_params(rng, n_x, n_h):
    params = {}
    for gate in GATES:
        params[f"W_{gate}"] = _weights(rng, n_x, n_h)
        params[f"U_{gate}"] = _weights(rng, n_h, n_h)
        params[f"b_{gate}"] = _normal(rng, n_h, scale=0.5)
    return {key: params[key] for key in PARAM_KEYS}


# --- one drawer per API function -------------------------------------------------

def _sigmoid(rng, batch, n_x, n_h, **_):
    z = _normal(rng, batch, n_x, n_h, scale=8.0)
    tails = np.array([-1e4, -1e3, -745.0, -40.0, -1e-9, 0.0, 1e-9, 40.0, 745.0, 1e3, 1e4])
    z.flat[: min(z.size, tails.size)] = tails[: z.size]  # the tails a naive formula overflows on
    return dict(z=z)


def _rnn_cell_forward(rng, batch, n_x, n_h, **_):
    return dict(x_t=_normal(rng, batch, n_x), h_prev=np.tanh(_normal(rng, batch, n_h)),
                W_x=_weights(rng, n_x, n_h), W_h=_weights(rng, n_h, n_h), b=_normal(rng, n_h, scale=0.5))


def _rnn_forward(rng, batch, n_x, n_h, T, **_):
    return dict(x=_normal(rng, batch, T, n_x), h0=np.tanh(_normal(rng, batch, n_h)),
                W_x=_weights(rng, n_x, n_h), W_h=_weights(rng, n_h, n_h), b=_normal(rng, n_h, scale=0.5))


def _rnn_predict(rng, batch, n_h, n_y, T, k, **_):
    wrong = rng.choice(["one_to_one", "many-to-one", "Many_to_many", "one_to_many"])  # must raise ValueError
    mapping = ["many_to_one", "many_to_many", wrong][k % 3]
    return dict(h_seq=np.tanh(_normal(rng, batch, T, n_h)), W_y=_weights(rng, n_h, n_y),
                b_y=_normal(rng, n_y, scale=0.5), mapping=str(mapping))


def _one_to_many(rng, batch, n_x, n_h, n_y, T, k, **_):
    n_out = n_x + 1 if k == 2 else n_x  # n_y != n_x must raise ValueError
    return dict(x0=_normal(rng, batch, n_x), h0=np.tanh(_normal(rng, batch, n_h)),
                W_x=_weights(rng, n_x, n_h), W_h=_weights(rng, n_h, n_h), b=_normal(rng, n_h, scale=0.5),
                W_y=_weights(rng, n_h, n_out), b_y=_normal(rng, n_out, scale=0.5), steps=T)


def _rnn_step_jacobian(rng, batch, n_h, **_):
    return dict(h_t=np.tanh(_normal(rng, batch, n_h)), W_h=_weights(rng, n_h, n_h))


def _gradient_norms(rng, batch, n_h, T, **_):
    return dict(h_seq=np.tanh(_normal(rng, batch, T, n_h)), W_h=_normal(rng, n_h, n_h, scale=1.5 / np.sqrt(n_h)))


def _cell_state_gradient(rng, batch, n_h, T, **_):
    return dict(f_seq=_unit_interval(rng, batch, T, n_h))


def _gate(gate):
    def drawer(rng, batch, n_x, n_h, **_):
        return {"x_t": _normal(rng, batch, n_x), "h_prev": np.tanh(_normal(rng, batch, n_h)),
                f"W_{gate}": _weights(rng, n_x, n_h), f"U_{gate}": _weights(rng, n_h, n_h),
                f"b_{gate}": _normal(rng, n_h, scale=0.5)}
    return drawer


def _update_cell(rng, batch, n_h, **_):
    return dict(c_prev=_normal(rng, batch, n_h), f_t=_unit_interval(rng, batch, n_h),
                i_t=_unit_interval(rng, batch, n_h), c_tilde=np.tanh(_normal(rng, batch, n_h)))


def _update_hidden(rng, batch, n_h, **_):
    return dict(c_t=_normal(rng, batch, n_h, scale=2.0), o_t=_unit_interval(rng, batch, n_h))


def _lstm_cell_forward(rng, batch, n_x, n_h, **_):
    return dict(x_t=_normal(rng, batch, n_x), h_prev=np.tanh(_normal(rng, batch, n_h)),
                c_prev=_normal(rng, batch, n_h), params=_lstm_params(rng, n_x, n_h))


def _lstm_forward(rng, batch, n_x, n_h, T, **_):
    return dict(x=_normal(rng, batch, T, n_x), h0=np.tanh(_normal(rng, batch, n_h)),
                c0=_normal(rng, batch, n_h), params=_lstm_params(rng, n_x, n_h))


def _params_from_keras(rng, n_x, n_h, **_):
    return dict(kernel=_weights(rng, n_x, 4 * n_h), recurrent_kernel=_weights(rng, n_h, 4 * n_h),
                bias=_normal(rng, 4 * n_h, scale=0.5))


def _keras_from_params(rng, n_x, n_h, **_):
    return dict(params=_lstm_params(rng, n_x, n_h))


def _lstm_cell_backward(rng, batch, n_x, n_h, **_):
    return dict(dh_t=_normal(rng, batch, n_h), dc_t=_normal(rng, batch, n_h),
                cache=_lstm_cell_forward(rng, batch, n_x, n_h))  # the forward inputs only


def _build_model(rng, batch, n_x, n_h, n_y, T, **_):
    n_classes = n_y + 1  # a classifier needs two classes at least
    probe = dict(_params_from_keras(rng, n_x, n_h), W_y=_weights(rng, n_h, n_classes),
                 b_y=_normal(rng, n_classes, scale=0.5), x=_normal(rng, batch, T, n_x))
    return {"seq_len": T, "n_features": n_x, "n_classes": n_classes, "units": n_h,
            PROBE: _as_float32(probe)}


_DRAWERS = {
    "sigmoid": _sigmoid,
    "rnn_cell_forward": _rnn_cell_forward,
    "rnn_forward": _rnn_forward,
    "rnn_predict": _rnn_predict,
    "one_to_many": _one_to_many,
    "rnn_step_jacobian": _rnn_step_jacobian,
    "gradient_norms": _gradient_norms,
    "cell_state_gradient": _cell_state_gradient,
    **{name: _gate(gate) for gate, name in GATE_FUNCTIONS.items()},
    "update_cell": _update_cell,
    "update_hidden": _update_hidden,
    "lstm_cell_forward": _lstm_cell_forward,
    "lstm_forward": _lstm_forward,
    "params_from_keras": _params_from_keras,
    "keras_from_params": _keras_from_params,
    "lstm_cell_backward": _lstm_cell_backward,
    "build_model": _build_model,
}
