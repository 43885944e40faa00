"""Keras stand-ins for the graded functions the chapters call, while their solutions are not revealed.

Each returns what the course's reference returns (same names, arguments, shapes
and dtype, see ``autograder/API.md``), but computes it with Keras layers and
TensorFlow's automatic differentiation instead of the NumPy the exercises ask
for: a chapter runs in the student edition without the edition handing out the
answers. ``tests/test_keras_equivalents.py`` proves each equal to the reference.

Layers are built once per shape and dtype and get the caller's weights on
every call; whole sequences run as compiled ``tf.function`` graphs, because a
chapter trains with thousands of forward passes.
"""

import functools
import itertools

import keras
import numpy as np
import tensorflow as tf

from .api import GATES, MAPPINGS, PARAM_KEYS

ACTIVATIONS = {"f": "sigmoid", "i": "sigmoid", "c": "tanh", "o": "sigmoid"}  # of each gate's pre-activation


def _float(*arrays):
    """The dtype the reference would return for these inputs (float64 unless all are float32)."""
    dtype = np.result_type(*arrays)
    return dtype.name if dtype.kind == "f" else "float64"


def _tensor(array, dtype):
    return tf.constant(np.asarray(array), dtype=dtype)


@functools.cache
def _layer(kind, units, input_dim, dtype, **options):
    """A built Keras layer (and its compiled call) shared by every call with these shapes."""
    layer = getattr(keras.layers, kind)(units, dtype=dtype, **options)
    layer.build((None, None, input_dim) if kind in ("SimpleRNN", "LSTM") else (None, input_dim))
    return layer, tf.function(layer.__call__, reduce_retracing=True)


# --- ex1_rnn_basics -------------------------------------------------------------

def sigmoid(z):
    """Keras' logistic function; see the reference for the contract."""
    z = np.asarray(z)
    return keras.activations.sigmoid(_tensor(z, _float(z))).numpy()


def rnn_forward(x, h0, W_x, W_h, b):
    """h_seq (batch, T, n_h) of keras.layers.SimpleRNN with these weights, from h0."""
    dtype = _float(x, h0, W_x)
    layer, run = _layer("SimpleRNN", W_x.shape[1], W_x.shape[0], dtype, return_sequences=True)
    layer.set_weights([W_x, W_h, b])
    return run(_tensor(x, dtype), initial_state=_tensor(h0, dtype)).numpy()


def rnn_predict(h_seq, W_y, b_y, mapping):
    """A keras.layers.Dense read-out of the last state (many_to_one) or of every state (many_to_many)."""
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping {mapping!r} is none of {MAPPINGS}")
    dtype = _float(h_seq, W_y)
    read_out, _ = _layer("Dense", W_y.shape[1], W_y.shape[0], dtype)
    read_out.set_weights([W_y, b_y])
    states = h_seq[:, -1] if mapping == "many_to_one" else h_seq
    return read_out(_tensor(states, dtype)).numpy()


def one_to_many(x0, h0, W_x, W_h, b, W_y, b_y, steps):
    """A keras SimpleRNNCell and Dense read-out, each output fed back as the next input."""
    (inputs, units), outputs = W_x.shape, W_y.shape[1]
    if outputs != inputs:
        raise ValueError(f"one_to_many feeds y back as x, so n_y ({outputs}) must equal n_x ({inputs})")
    dtype = _float(x0, h0, W_y)
    cell, _ = _layer("SimpleRNNCell", units, inputs, dtype)
    read_out, _ = _layer("Dense", outputs, units, dtype)
    cell.set_weights([W_x, W_h, b])
    read_out.set_weights([W_y, b_y])
    x_t, states, y_seq = _tensor(x0, dtype), [_tensor(h0, dtype)], []
    for _ in range(steps):
        h, states = cell(x_t, states)
        x_t = read_out(h)
        y_seq.append(x_t)
    return tf.stack(y_seq, axis=1).numpy()


# --- ex2_vanishing_gradients --------------------------------------------------

def gradient_norms(h_seq, W_h):
    """||d h_{T-1} / d h_k||_F for every k, by TensorFlow's autodiff through the recurrence.

    The recurrence is replayed from h_seq alone: a SimpleRNNCell with input
    kernel I and recurrent kernel W_h, fed a_k = arctanh(h_k) - h_{k-1} W_h,
    gives back h_k exactly at the recorded states, and its dependence on the
    previous state is the RNN's. One backward pass per unit of h_{T-1} gives
    that unit's gradient with respect to every earlier state at once.
    """
    T, n_h = h_seq.shape[1:]
    dtype = _float(h_seq, W_h)
    cell, _ = _layer("SimpleRNNCell", n_h, n_h, dtype)
    cell.set_weights([np.eye(n_h), W_h, np.zeros(n_h)])
    previous = np.concatenate([np.zeros_like(h_seq[:, :1]), h_seq[:, :-1]], axis=1)
    with np.errstate(divide="ignore"):  # a saturated unit (|h| = 1) is an infinite pre-activation
        inputs = _tensor(np.arctanh(h_seq) - previous @ W_h, dtype)
    with tf.GradientTape(persistent=True) as tape:
        states = [_tensor(h_seq[:, 0], dtype)]
        tape.watch(states[0])
        for k in range(1, T):
            states.append(cell(inputs[:, k], [states[-1]])[0])
    squares = np.zeros(h_seq.shape[:2])
    for unit in np.eye(n_h):
        wrt = tape.gradient(states[-1], states, output_gradients=_tensor(np.tile(unit, (len(h_seq), 1)), dtype))
        squares += np.stack([np.sum(np.asarray(w) ** 2, axis=1) for w in wrt], axis=1)
    del tape
    return np.sqrt(squares).astype(dtype)


def cell_state_gradient(f_seq):
    """d c_{T-1} / d c_k along the memory line, by autodiff through c_t = f_t c_{t-1} (nothing written)."""
    dtype = _float(f_seq)
    forget = _tensor(f_seq, dtype)
    with tf.GradientTape() as tape:
        memory = [tf.ones_like(forget[:, 0])]
        tape.watch(memory[0])
        for t in range(1, f_seq.shape[1]):
            memory.append(keras.ops.multiply(forget[:, t], memory[-1]))
    return tf.stack(tape.gradient(memory[-1], memory), axis=1).numpy()  # diagonal: one pass suffices


# --- ex3_lstm_gates -------------------------------------------------------------

def update_cell(c_prev, f_t, i_t, c_tilde):
    """c_t: keep the share f_t of the old memory, add the share i_t of the candidate (keras.ops)."""
    return keras.ops.convert_to_numpy(keras.ops.add(keras.ops.multiply(f_t, c_prev),
                                                    keras.ops.multiply(i_t, c_tilde)))


def update_hidden(c_t, o_t):
    """h_t: the share o_t of the squashed memory (keras.ops)."""
    return keras.ops.convert_to_numpy(keras.ops.multiply(o_t, keras.activations.tanh(c_t)))


@functools.cache
def keras_gate_order():
    """The order of the gate blocks in Keras' packed LSTM weights, found by asking a Keras LSTMCell.

    A one-unit cell with zero weights and four different biases, run from
    h = 0 with c = 0 and c = 1, shows f (the change of c_t per unit of c_prev),
    i * c_tilde (c_t from c_prev = 0) and o (h_t / tanh(c_t)); one order of the
    blocks explains all three.
    """
    biases = np.array([0.3, -0.7, 1.1, -1.9])
    cell, _ = _layer("LSTMCell", 1, 1, "float64")
    cell.set_weights([np.zeros((1, 4)), np.zeros((1, 4)), biases])
    zero = _tensor(np.zeros((1, 1)), "float64")

    def step(c_prev):
        _, (h_t, c_t) = cell(zero, [zero, _tensor([[c_prev]], "float64")])
        return h_t.numpy().item(), c_t.numpy().item()

    (h_0, c_0), (_, c_1) = step(0.0), step(1.0)
    seen = np.array([c_1 - c_0, c_0, h_0 / np.tanh(c_0)])

    def predicted(order):
        b = dict(zip(order, biases))
        s = lambda z: 1 / (1 + np.exp(-z))
        return np.array([s(b["f"]), s(b["i"]) * np.tanh(b["c"]), s(b["o"])])

    return min(itertools.permutations(GATES), key=lambda order: np.abs(predicted(order) - seen).max())


def _keras_weights(params):
    """(kernel, recurrent_kernel, bias) for a Keras LSTM, from the twelve named matrices."""
    return [np.concatenate([params[f"{kind}_{g}"] for g in keras_gate_order()], axis=-1) for kind in "WUb"]


def _gates(x_t, h_prev, params, dtype):
    """The four gates, each a keras.layers.Dense over [x_t, h_prev] with its weights stacked."""
    both, gates = _tensor(np.concatenate([x_t, h_prev], axis=1), dtype), {}
    for g in GATES:
        W, U, b = params[f"W_{g}"], params[f"U_{g}"], params[f"b_{g}"]
        dense, _ = _layer("Dense", W.shape[1], W.shape[0] + U.shape[0], dtype, activation=ACTIVATIONS[g])
        dense.set_weights([np.concatenate([W, U]), b])
        gates[g] = dense(both).numpy()
    return gates


def lstm_cell_forward(x_t, h_prev, c_prev, params):
    """One step of keras.layers.LSTMCell with these weights; the cache's gates from keras Dense layers."""
    dtype = _float(x_t, h_prev, params["W_f"])
    n_x, n_h = params["W_f"].shape
    cell, _ = _layer("LSTMCell", n_h, n_x, dtype)
    cell.set_weights(_keras_weights(params))
    _, (h_t, c_t) = cell(_tensor(x_t, dtype), [_tensor(h_prev, dtype), _tensor(c_prev, dtype)])
    gates = _gates(x_t, h_prev, params, dtype)
    h_t, c_t = h_t.numpy(), c_t.numpy()
    cache = dict(x_t=x_t, h_prev=h_prev, c_prev=c_prev, f=gates["f"], i=gates["i"], c_tilde=gates["c"],
                 o=gates["o"], c_t=c_t, h_t=h_t, params=params)
    return h_t, c_t, cache


def lstm_forward(x, h0, c0, params):
    """(h_seq, h_T, c_T) of keras.layers.LSTM(return_sequences=True, return_state=True) with these weights."""
    dtype = _float(x, h0, params["W_f"])
    n_x, n_h = params["W_f"].shape
    layer, run = _layer("LSTM", n_h, n_x, dtype, return_sequences=True, return_state=True)
    layer.set_weights(_keras_weights(params))
    h_seq, h_T, c_T = run(_tensor(x, dtype), initial_state=[_tensor(h0, dtype), _tensor(c0, dtype)])
    return h_seq.numpy(), h_T.numpy(), c_T.numpy()


# --- ex4_keras_lstm -------------------------------------------------------------

def params_from_keras(kernel, recurrent_kernel, bias):
    """The twelve named matrices of a Keras LSTM's weights, in the block order Keras itself reports."""
    blocks = [np.split(np.asarray(w), 4, axis=-1) for w in (kernel, recurrent_kernel, bias)]
    named = {f"{kind}_{g}": np.array(block[k]) for kind, block in zip("WUb", blocks)
             for k, g in enumerate(keras_gate_order())}
    return {key: named[key] for key in PARAM_KEYS}
