"""Reference implementation of the exercise API, in plain NumPy.

Every function here is one a student writes in an exercise notebook, with the
same name, argument order, shapes and conventions (see ``autograder/API.md``).
Conventions, shared with Keras so that weights move between the two unchanged:

* batch-first row vectors: ``x`` is ``(batch, T, n_x)``, ``x_t`` is
  ``(batch, n_x)``, ``h`` and ``c`` are ``(batch, n_h)``;
* a pre-activation is ``z = x_t @ W + h_prev @ U + b`` with ``W`` of shape
  ``(n_x, n_h)``, ``U`` of shape ``(n_h, n_h)`` and ``b`` of shape ``(n_h,)``;
* Keras packs the four LSTM gates side by side in the order i, f, c, o.

No function modifies its arguments or returns a view of one. TensorFlow is
imported only inside ``build_model``, so importing this module stays cheap.
"""

import numpy as np

from .api import GATES, KERAS_GATES, MAPPINGS, PARAM_KEYS

# build_model's keras.optimizers.Adam settings: each gradient clipped to norm 1 (the recipe of long_gap)
ADAM = {"learning_rate": 1e-2, "clipnorm": 1.0}

# --- ex1_rnn_basics: a vanilla RNN and the mapping types ----------------------

def sigmoid(z):
    """Elementwise logistic 1 / (1 + exp(-z)), without overflow.

    z: array of any shape. Returns an array of the same shape, in [0, 1];
    exactly 0.0 / 1.0 far out in the tails (|z| up to 1e4 and beyond).
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):
    """One step of a vanilla RNN: h_t = tanh(x_t W_x + h_prev W_h + b).

    x_t: (batch, n_x); h_prev: (batch, n_h); W_x: (n_x, n_h); W_h: (n_h, n_h);
    b: (n_h,). Returns h_t: (batch, n_h).
    """
    return np.tanh(x_t @ W_x + h_prev @ W_h + b)


def rnn_forward(x, h0, W_x, W_h, b):
    """Run the RNN cell over a whole sequence.

    x: (batch, T, n_x); h0: (batch, n_h). Returns h_seq: (batch, T, n_h),
    the hidden state after each step (h_seq[:, t] is h_{t+1} when h0 is h_0).
    """
    batch, T, _ = x.shape
    h_seq = np.zeros((batch, T, h0.shape[1]), dtype=np.result_type(x, h0, W_x))
    h = h0
    for t in range(T):
        h = rnn_cell_forward(x[:, t], h, W_x, W_h, b)
        h_seq[:, t] = h
    return h_seq


def rnn_predict(h_seq, W_y, b_y, mapping):
    """Read predictions y = h W_y + b_y off the hidden states.

    h_seq: (batch, T, n_h); W_y: (n_h, n_y); b_y: (n_y,).
    mapping "many_to_one" returns (batch, n_y) from the last step;
    "many_to_many" returns (batch, T, n_y), one prediction per step.
    """
    if mapping == "many_to_one":
        return h_seq[:, -1] @ W_y + b_y
    if mapping == "many_to_many":
        return h_seq @ W_y + b_y
    raise ValueError(f"mapping must be one of {MAPPINGS}, not {mapping!r}")


def one_to_many(x0, h0, W_x, W_h, b, W_y, b_y, steps):
    """Generate a sequence from one input, feeding each output back in.

    x0: (batch, n_x); h0: (batch, n_h); W_y: (n_h, n_y) with n_y == n_x.
    Step 0 reads x0; every later step reads the previous output y.
    Returns y_seq: (batch, steps, n_y).
    """
    n_x, n_y = W_x.shape[0], W_y.shape[1]
    if n_y != n_x:
        raise ValueError(f"one_to_many feeds y back as x, so n_y ({n_y}) must equal n_x ({n_x})")
    y_seq = np.zeros((x0.shape[0], steps, n_y), dtype=np.result_type(x0, h0, W_y))
    x_t, h = x0, h0
    for t in range(steps):
        h = rnn_cell_forward(x_t, h, W_x, W_h, b)
        x_t = h @ W_y + b_y
        y_seq[:, t] = x_t
    return y_seq


# --- ex2_vanishing_gradients: why a vanilla RNN forgets ----------------------

def rnn_step_jacobian(h_t, W_h):
    """Jacobian of one RNN step, d h_t / d h_{t-1}.

    h_t: (batch, n_h); W_h: (n_h, n_h). Returns J: (batch, n_h, n_h) with
    J[b, i, j] = (1 - h_t[b, i]**2) * W_h[j, i].
    """
    return (1.0 - h_t**2)[:, :, None] * W_h.T[None, :, :]


def gradient_norms(h_seq, W_h):
    """How much the last state still depends on each earlier one.

    h_seq: (batch, T, n_h); W_h: (n_h, n_h). Returns g: (batch, T) where
    g[:, k] = ||d h_{T-1} / d h_k||_F, a product of T-1-k step Jacobians
    (so g[:, T-1] = sqrt(n_h), the norm of the identity).
    """
    batch, T, n_h = h_seq.shape
    g = np.zeros((batch, T), dtype=np.result_type(h_seq, W_h))
    dlast_dk = np.broadcast_to(np.eye(n_h), (batch, n_h, n_h))  # d h_{T-1} / d h_{T-1}
    for k in range(T - 1, -1, -1):
        g[:, k] = np.linalg.norm(dlast_dk, axis=(1, 2))
        dlast_dk = dlast_dk @ rnn_step_jacobian(h_seq[:, k], W_h)  # chain rule one step further back
    return g


def cell_state_gradient(f_seq):
    """Gradient along an LSTM's cell-state path, d c_{T-1} / d c_k.

    f_seq: (batch, T, n_h), the forget gates. Returns d: (batch, T, n_h) with
    d[:, k] = prod_{j=k+1}^{T-1} f_seq[:, j] (so d[:, T-1] = 1).
    """
    d = np.ones_like(f_seq)
    for k in range(f_seq.shape[1] - 2, -1, -1):
        d[:, k] = d[:, k + 1] * f_seq[:, k + 1]
    return d


# --- ex3_lstm_gates: the gates -------------------------------------------------

def forget_gate(x_t, h_prev, W_f, U_f, b_f):
    """f_t = sigmoid(x_t W_f + h_prev U_f + b_f): how much of c_{t-1} to keep.

    x_t: (batch, n_x); h_prev: (batch, n_h); W_f: (n_x, n_h); U_f: (n_h, n_h);
    b_f: (n_h,). Returns f_t: (batch, n_h), in (0, 1).
    """
    return sigmoid(x_t @ W_f + h_prev @ U_f + b_f)


def input_gate(x_t, h_prev, W_i, U_i, b_i):
    """i_t = sigmoid(x_t W_i + h_prev U_i + b_i): how much new content to write.

    Shapes as in forget_gate. Returns i_t: (batch, n_h), in (0, 1).
    """
    return sigmoid(x_t @ W_i + h_prev @ U_i + b_i)


def candidate_memory(x_t, h_prev, W_c, U_c, b_c):
    """c_tilde = tanh(x_t W_c + h_prev U_c + b_c): the content that could be written.

    Shapes as in forget_gate. Returns c_tilde: (batch, n_h), in (-1, 1).
    """
    return np.tanh(x_t @ W_c + h_prev @ U_c + b_c)


def output_gate(x_t, h_prev, W_o, U_o, b_o):
    """o_t = sigmoid(x_t W_o + h_prev U_o + b_o): how much of the memory to show.

    Shapes as in forget_gate. Returns o_t: (batch, n_h), in (0, 1).
    """
    return sigmoid(x_t @ W_o + h_prev @ U_o + b_o)


def update_cell(c_prev, f_t, i_t, c_tilde):
    """c_t = f_t * c_prev + i_t * c_tilde: keep part of the old memory, add new.

    All arguments and the result: (batch, n_h).
    """
    return f_t * c_prev + i_t * c_tilde


def update_hidden(c_t, o_t):
    """h_t = o_t * tanh(c_t): the part of the memory the cell shows.

    c_t, o_t and the result: (batch, n_h).
    """
    return o_t * np.tanh(c_t)


def lstm_cell_forward(x_t, h_prev, c_prev, params):
    """One LSTM step.

    x_t: (batch, n_x); h_prev, c_prev: (batch, n_h); params: dict of the twelve
    weights W_g (n_x, n_h), U_g (n_h, n_h), b_g (n_h,) for g in f, i, c, o.
    Returns (h_t, c_t, cache): h_t, c_t of shape (batch, n_h), and cache, a dict
    with x_t h_prev c_prev f i c_tilde o c_t h_t params for the backward pass.
    """
    p = params
    f = forget_gate(x_t, h_prev, p["W_f"], p["U_f"], p["b_f"])
    i = input_gate(x_t, h_prev, p["W_i"], p["U_i"], p["b_i"])
    c_tilde = candidate_memory(x_t, h_prev, p["W_c"], p["U_c"], p["b_c"])
    o = output_gate(x_t, h_prev, p["W_o"], p["U_o"], p["b_o"])
    c_t = update_cell(c_prev, f, i, c_tilde)
    h_t = update_hidden(c_t, o)
    cache = dict(x_t=x_t, h_prev=h_prev, c_prev=c_prev, f=f, i=i, c_tilde=c_tilde,
                 o=o, c_t=c_t, h_t=h_t, params=params)
    return h_t, c_t, cache


def lstm_forward(x, h0, c0, params):
    """Run the LSTM cell over a sequence, like keras.layers.LSTM with
    return_sequences=True, return_state=True.

    x: (batch, T, n_x); h0, c0: (batch, n_h). Returns (h_seq, h_T, c_T):
    h_seq (batch, T, n_h), the hidden state after every step, and the last
    hidden and cell states h_T, c_T (batch, n_h).
    """
    batch, T, _ = x.shape
    h_seq = np.zeros((batch, T, h0.shape[1]), dtype=np.result_type(x, h0, params["W_f"]))
    h, c = h0, c0
    for t in range(T):
        h, c, _ = lstm_cell_forward(x[:, t], h, c, params)
        h_seq[:, t] = h
    return h_seq, np.array(h), np.array(c)  # copies: never hand back h0 or c0 themselves


# --- ex4_keras_lstm: from NumPy to Keras ---------------------------------------

def params_from_keras(kernel, recurrent_kernel, bias):
    """Unpack Keras' LSTM weights into the twelve named matrices.

    kernel: (n_x, 4 n_h); recurrent_kernel: (n_h, 4 n_h); bias: (4 n_h,), each
    holding the gate blocks side by side in the order i, f, c, o.
    Returns params, a dict with keys W_f U_f b_f W_i U_i b_i W_c U_c b_c W_o U_o b_o.
    """
    n_h = recurrent_kernel.shape[0]
    params = {}
    for k, gate in enumerate(KERAS_GATES):
        block = slice(k * n_h, (k + 1) * n_h)
        params[f"W_{gate}"] = np.array(kernel[:, block])
        params[f"U_{gate}"] = np.array(recurrent_kernel[:, block])
        params[f"b_{gate}"] = np.array(bias[block])
    return {key: params[key] for key in PARAM_KEYS}


def keras_from_params(params):
    """Pack the twelve named matrices into Keras' (kernel, recurrent_kernel, bias).

    Inverse of params_from_keras: gate blocks concatenated in the order i, f, c, o.
    """
    kernel = np.concatenate([params[f"W_{g}"] for g in KERAS_GATES], axis=1)
    recurrent_kernel = np.concatenate([params[f"U_{g}"] for g in KERAS_GATES], axis=1)
    bias = np.concatenate([params[f"b_{g}"] for g in KERAS_GATES])
    return kernel, recurrent_kernel, bias


def build_model(seq_len, n_features, n_classes, units):
    """A compiled Keras classifier Input -> LSTM(units) -> Dense(n_classes, softmax).

    Inputs are (batch, seq_len, n_features); labels are integer classes.
    """
    import keras  # deferred: only the Keras exercise and chapter pay for TensorFlow

    model = keras.Sequential([
        keras.Input(shape=(seq_len, n_features)),
        keras.layers.LSTM(units),
        keras.layers.Dense(n_classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(**ADAM),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --- ex5_lstm_backward: backpropagation through one cell -------------------

def lstm_cell_backward(dh_t, dc_t, cache):
    """Gradients of a loss through one LSTM step.

    dh_t, dc_t: (batch, n_h), the loss's gradient with respect to h_t and c_t
    (dc_t is what flows back from the next step's cell state).
    cache: as returned by lstm_cell_forward.
    Returns grads, a dict with dx_t (batch, n_x), dh_prev and dc_prev
    (batch, n_h), and dW_g (n_x, n_h), dU_g (n_h, n_h), db_g (n_h,) per gate.
    """
    x_t, h_prev, c_prev = cache["x_t"], cache["h_prev"], cache["c_prev"]
    f, i, c_tilde, o, c_t = cache["f"], cache["i"], cache["c_tilde"], cache["o"], cache["c_t"]
    p = cache["params"]

    tanh_c = np.tanh(c_t)
    dc = dc_t + dh_t * o * (1.0 - tanh_c**2)  # both paths into c_t: directly and through h_t
    dz = {  # gradients of the four pre-activations
        "f": dc * c_prev * f * (1.0 - f),
        "i": dc * c_tilde * i * (1.0 - i),
        "c": dc * i * (1.0 - c_tilde**2),
        "o": dh_t * tanh_c * o * (1.0 - o),
    }
    grads = {"dx_t": sum(dz[g] @ p[f"W_{g}"].T for g in KERAS_GATES),
             "dh_prev": sum(dz[g] @ p[f"U_{g}"].T for g in KERAS_GATES),
             "dc_prev": dc * f}
    for g in GATES:
        grads[f"dW_{g}"] = x_t.T @ dz[g]
        grads[f"dU_{g}"] = h_prev.T @ dz[g]
        grads[f"db_{g}"] = dz[g].sum(axis=0)
    return grads
