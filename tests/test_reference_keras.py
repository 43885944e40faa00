"""The NumPy reference against an independent truth: Keras layers and TensorFlow autodiff.

Every student is graded against autograder.course.reference, so it must equal what
Keras computes with the same weights, and its gradients what autodiff computes.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from autograder.course import reference as ref  # noqa: E402

N_CONFIGS = 50
TOL32 = 1e-5


def random_config(rng):
    """Shapes in the ranges the course uses: batch 1-8, T 1-40, n_x 1-10, n_h 1-16."""
    return dict(batch=int(rng.integers(1, 9)), T=int(rng.integers(1, 41)),
                n_x=int(rng.integers(1, 11)), n_h=int(rng.integers(1, 17)))


def random_params(rng, n_x, n_h, dtype=np.float32, scale=0.5):
    params = {}
    for key in ref.PARAM_KEYS:
        shape = {"W": (n_x, n_h), "U": (n_h, n_h), "b": (n_h,)}[key[0]]
        params[key] = (scale * rng.standard_normal(shape)).astype(dtype)
    return params


def keras_lstm_outputs(x, h0, c0, kernel, recurrent_kernel, bias):
    layer = keras.layers.LSTM(h0.shape[1], return_sequences=True, return_state=True)
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent_kernel, bias])
    h_seq, h_T, c_T = layer(x, initial_state=[h0, c0])
    return np.asarray(h_seq), np.asarray(h_T), np.asarray(c_T)


def lstm_case(seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    x = rng.standard_normal((cfg["batch"], cfg["T"], cfg["n_x"])).astype(np.float32)
    h0 = rng.uniform(-1, 1, (cfg["batch"], cfg["n_h"])).astype(np.float32)
    c0 = rng.standard_normal((cfg["batch"], cfg["n_h"])).astype(np.float32)
    return x, h0, c0, random_params(rng, cfg["n_x"], cfg["n_h"])


@pytest.mark.parametrize("seed", range(N_CONFIGS))
def test_lstm_forward_equals_keras_lstm(seed):
    x, h0, c0, params = lstm_case(seed)
    expected = keras_lstm_outputs(x, h0, c0, *ref.keras_from_params(params))
    got = ref.lstm_forward(x, h0, c0, params)
    for name, e, g in zip(("h_seq", "h_T", "c_T"), expected, got):
        assert g.shape == e.shape, name
        assert np.max(np.abs(g - e)) <= TOL32, f"{name} differs from Keras"


def test_lstm_forward_runs_keras_initialised_weights():
    """The other direction: weights Keras chose itself, unpacked by params_from_keras."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 12, 3)).astype(np.float32)
    layer = keras.layers.LSTM(5, return_sequences=True, return_state=True)
    h_seq, h_T, c_T = (np.asarray(a) for a in layer(x))  # zero initial state, Keras' own init
    params = ref.params_from_keras(*layer.get_weights())
    zeros = np.zeros((4, 5), np.float32)
    for e, g in zip((h_seq, h_T, c_T), ref.lstm_forward(x, zeros, zeros, params)):
        assert np.max(np.abs(g - e)) <= TOL32


@pytest.mark.parametrize("wrong_order", [("i", "f", "o", "c"), ("i", "c", "f", "o"), ("f", "i", "c", "o")])
def test_a_wrong_gate_order_is_detected(wrong_order):
    """Packing the gate blocks in another order than i, f, c, o must break equality with Keras."""
    x, h0, c0, params = lstm_case(seed=1234)
    pack = lambda prefix: np.concatenate([params[f"{prefix}_{g}"] for g in wrong_order], axis=-1)
    wrong = keras_lstm_outputs(x, h0, c0, pack("W"), pack("U"), pack("b"))
    right = ref.lstm_forward(x, h0, c0, params)
    assert np.max(np.abs(wrong[0] - right[0])) > 100 * TOL32


def test_params_round_trip_exactly():
    rng = np.random.default_rng(3)
    params = random_params(rng, n_x=4, n_h=6, dtype=np.float64)
    back = ref.params_from_keras(*ref.keras_from_params(params))
    assert list(back) == list(ref.PARAM_KEYS)
    for key in ref.PARAM_KEYS:
        assert np.array_equal(back[key], params[key]), key
    kernel = rng.standard_normal((4, 24))
    recurrent_kernel = rng.standard_normal((6, 24))
    bias = rng.standard_normal(24)
    for a, b in zip(ref.keras_from_params(ref.params_from_keras(kernel, recurrent_kernel, bias)),
                    (kernel, recurrent_kernel, bias)):
        assert np.array_equal(a, b)


def test_params_from_keras_reads_blocks_in_order_i_f_c_o():
    """Hand-built packing: block k of every array holds the number k."""
    n_x, n_h = 2, 3
    blocks = np.repeat(np.arange(4.0), n_h)  # 0 0 0 1 1 1 2 2 2 3 3 3
    params = ref.params_from_keras(np.tile(blocks, (n_x, 1)), np.tile(blocks, (n_h, 1)), blocks)
    for k, gate in enumerate("ifco"):
        for key in (f"W_{gate}", f"U_{gate}", f"b_{gate}"):
            assert np.all(params[key] == k), key


@pytest.mark.parametrize("seed", range(N_CONFIGS))
def test_rnn_forward_equals_keras_simple_rnn(seed):
    rng = np.random.default_rng(1000 + seed)
    cfg = random_config(rng)
    x = rng.standard_normal((cfg["batch"], cfg["T"], cfg["n_x"])).astype(np.float32)
    h0 = rng.uniform(-1, 1, (cfg["batch"], cfg["n_h"])).astype(np.float32)
    W_x = (0.5 * rng.standard_normal((cfg["n_x"], cfg["n_h"]))).astype(np.float32)
    W_h = (0.5 * rng.standard_normal((cfg["n_h"], cfg["n_h"]))).astype(np.float32)
    b = (0.5 * rng.standard_normal(cfg["n_h"])).astype(np.float32)
    layer = keras.layers.SimpleRNN(cfg["n_h"], return_sequences=True)
    layer.build(x.shape)
    layer.set_weights([W_x, W_h, b])
    expected = np.asarray(layer(x, initial_state=[h0]))
    got = ref.rnn_forward(x, h0, W_x, W_h, b)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= TOL32


# --- backward pass: autodiff and finite differences --------------------------

def backward_case(seed, dtype):
    rng = np.random.default_rng(seed)
    batch, n_x, n_h = 3, 4, 5
    arrays = dict(x_t=rng.standard_normal((batch, n_x)), h_prev=rng.uniform(-1, 1, (batch, n_h)),
                  c_prev=rng.standard_normal((batch, n_h)), dh_t=rng.standard_normal((batch, n_h)),
                  dc_t=rng.standard_normal((batch, n_h)))
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    return arrays, random_params(rng, n_x, n_h, dtype=dtype)


@pytest.mark.parametrize("seed", range(5))
def test_lstm_cell_backward_equals_tensorflow_autodiff(seed):
    a, params = backward_case(seed, np.float32)
    cell = keras.layers.LSTMCell(params["U_f"].shape[0])
    cell.build(a["x_t"].shape)
    cell.set_weights(list(ref.keras_from_params(params)))
    x, h, c = (tf.constant(a[k]) for k in ("x_t", "h_prev", "c_prev"))
    with tf.GradientTape() as tape:
        tape.watch([x, h, c])
        h_t, (_, c_t) = cell(x, [h, c])
        loss = tf.reduce_sum(h_t * a["dh_t"]) + tf.reduce_sum(c_t * a["dc_t"])
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    dx, dh, dc, *dweights = tape.gradient(loss, [x, h, c, *weights])
    expected = {"dx_t": dx, "dh_prev": dh, "dc_prev": dc}
    expected.update({"d" + k: v for k, v in ref.params_from_keras(*(np.asarray(w) for w in dweights)).items()})

    _, _, cache = ref.lstm_cell_forward(a["x_t"], a["h_prev"], a["c_prev"], params)
    grads = ref.lstm_cell_backward(a["dh_t"], a["dc_t"], cache)
    assert set(grads) == set(expected)
    for key, value in expected.items():
        assert grads[key].shape == np.shape(value), key
        assert np.max(np.abs(grads[key] - np.asarray(value))) <= TOL32, key


def test_lstm_cell_backward_passes_centred_difference_check():
    a, params = backward_case(42, np.float64)
    inputs = {"x_t": a["x_t"], "h_prev": a["h_prev"], "c_prev": a["c_prev"], **params}

    def loss(values):
        p = {k: values[k] for k in ref.PARAM_KEYS}
        h_t, c_t, _ = ref.lstm_cell_forward(values["x_t"], values["h_prev"], values["c_prev"], p)
        return np.sum(h_t * a["dh_t"]) + np.sum(c_t * a["dc_t"])

    _, _, cache = ref.lstm_cell_forward(a["x_t"], a["h_prev"], a["c_prev"], params)
    grads = ref.lstm_cell_backward(a["dh_t"], a["dc_t"], cache)
    eps = 1e-6
    for name, value in inputs.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = dict(inputs), dict(inputs)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric[idx] = (loss(plus) - loss(minus)) / (2 * eps)
        analytic = grads["d" + name]
        rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
        assert rel <= 1e-7, f"d{name}: relative error {rel:.2e}"


# --- vanishing gradients: Jacobians against autodiff --------------------------

def tf_rnn_states(tape, x, h0, W_x, W_h, b):
    """The same recurrence in TensorFlow ops, keeping every state on the tape."""
    h, states = tf.constant(h0), []
    tape.watch(h)  # the tape records only what depends on a watched tensor
    for t in range(x.shape[1]):
        h = tf.tanh(h @ W_h + (x[:, t] @ W_x + b))  # tensor first: numpy must not swallow the tape
        states.append(h)
    return states


def rnn_case(seed, T=12, scale=1.0):
    rng = np.random.default_rng(seed)
    batch, n_x, n_h = 3, 2, 4
    return (rng.standard_normal((batch, T, n_x)), rng.uniform(-1, 1, (batch, n_h)),
            rng.standard_normal((n_x, n_h)), scale * rng.standard_normal((n_h, n_h)) / np.sqrt(n_h),
            0.1 * rng.standard_normal(n_h))


def test_rnn_step_jacobian_equals_autodiff():
    x, h0, W_x, W_h, b = rnn_case(0)
    h_prev = tf.constant(h0)
    with tf.GradientTape() as tape:
        tape.watch(h_prev)
        h_t = tf.tanh(x[:, 0] @ W_x + h_prev @ W_h + b)
    expected = tape.batch_jacobian(h_t, h_prev).numpy()  # [b, i, j] = d h_t[i] / d h_prev[j]
    got = ref.rnn_step_jacobian(h_t.numpy(), W_h)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def jacobian_through_time(tape, h_last, h_k):
    """d h_last / d h_k per batch element, one row at a time (rows are independent across the batch)."""
    n_h = h_last.shape[1]
    unit = np.broadcast_to(np.eye(n_h), (h_last.shape[0], n_h, n_h))
    rows = [tape.gradient(h_last, h_k, output_gradients=unit[:, i]) for i in range(n_h)]
    return np.stack([r.numpy() for r in rows], axis=1)  # [b, i, j]


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_gradient_norms_equal_autodiff(scale):
    x, h0, W_x, W_h, b = rnn_case(1, T=15, scale=scale)
    with tf.GradientTape(persistent=True) as tape:
        states = tf_rnn_states(tape, x, h0, W_x, W_h, b)
    expected = np.stack([np.linalg.norm(jacobian_through_time(tape, states[-1], h_k), axis=(1, 2))
                         for h_k in states[:-1]] + [np.full(x.shape[0], np.sqrt(h0.shape[1]))], axis=1)
    h_seq = ref.rnn_forward(x, h0, W_x, W_h, b)
    np.testing.assert_allclose(h_seq, np.stack([s.numpy() for s in states], axis=1), atol=1e-12)
    np.testing.assert_allclose(ref.gradient_norms(h_seq, W_h), expected, rtol=1e-9, atol=1e-14)


def test_cell_state_gradient_equals_autodiff():
    """Along the cell-state path (gates held fixed), d c_{T-1} / d c_k is the product of forget gates."""
    rng = np.random.default_rng(5)
    batch, T, n_h = 2, 9, 3
    f_seq = rng.uniform(0, 1, (batch, T, n_h))
    written = rng.standard_normal((batch, T, n_h))  # i_t * c_tilde_t, a constant here
    with tf.GradientTape(persistent=True) as tape:
        c, cells = tf.constant(rng.standard_normal((batch, n_h))), []
        tape.watch(c)
        for t in range(T):
            c = c * f_seq[:, t] + written[:, t]  # tensor first, as above
            cells.append(c)
    ones = np.ones((batch, n_h))  # the Jacobian is diagonal: one vector-Jacobian product reads it
    expected = np.stack([tape.gradient(cells[-1], c_k, output_gradients=ones).numpy()
                         for c_k in cells[:-1]] + [ones], axis=1)
    np.testing.assert_allclose(ref.cell_state_gradient(f_seq), expected, rtol=1e-12)
