"""Hand-worked numbers and the spec's conventions for autograder.course.reference (NumPy only)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from autograder.course import reference as ref


def test_sigmoid_hand_values_and_exact_tails():
    np.testing.assert_allclose(ref.sigmoid(np.array([0.0, np.log(3.0), -np.log(3.0)])), [0.5, 0.75, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        tails = ref.sigmoid(np.array([-1e4, -800.0, 800.0, 1e4]))
    assert tails.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert ref.sigmoid(np.float32([-1e4, 1e4])).tolist() == [0.0, 1.0]


def test_rnn_cell_forward_hand_worked():
    # one unit: tanh(2*0.5 + 1*(-1) + 0.25) = tanh(0.25)
    h = ref.rnn_cell_forward(np.array([[2.0]]), np.array([[1.0]]), np.array([[0.5]]), np.array([[-1.0]]),
                             np.array([0.25]))
    assert h.shape == (1, 1) and np.isclose(h[0, 0], np.tanh(0.25))


def test_rnn_predict_mappings():
    h_seq = np.arange(12.0).reshape(1, 3, 4) / 10  # (batch 1, T 3, n_h 4)
    W_y, b_y = np.ones((4, 2)), np.array([0.0, 1.0])
    last = ref.rnn_predict(h_seq, W_y, b_y, "many_to_one")
    np.testing.assert_allclose(last, [[3.8, 4.8]])  # 0.8 + 0.9 + 1.0 + 1.1 = 3.8
    every = ref.rnn_predict(h_seq, W_y, b_y, "many_to_many")
    np.testing.assert_allclose(every[0, :, 0], [0.6, 2.2, 3.8])
    with pytest.raises(ValueError):
        ref.rnn_predict(h_seq, W_y, b_y, "one_to_one")


def test_one_to_many_feeds_outputs_back():
    # n_x = n_h = n_y = 1, W_x = 1, W_h = 0, b = 0, W_y = 2, b_y = 0: y_{t+1} = 2 tanh(y_t)
    one = np.ones((1, 1))
    y = ref.one_to_many(np.array([[0.5]]), np.zeros((1, 1)), one, 0 * one, np.zeros(1), 2 * one, np.zeros(1), steps=3)
    y1 = 2 * np.tanh(0.5)
    y2 = 2 * np.tanh(y1)
    np.testing.assert_allclose(y[0, :, 0], [y1, y2, 2 * np.tanh(y2)])
    with pytest.raises(ValueError):
        ref.one_to_many(np.zeros((1, 2)), np.zeros((1, 1)), np.ones((2, 1)), one, np.zeros(1), one, np.zeros(1), 2)


def test_lstm_cell_hand_worked_special_cases():
    c_prev = np.array([[3.0, -2.0]])
    c_tilde = np.array([[0.5, 0.5]])
    # forget gate 0: the old memory is ignored; input gate 0: the old memory is kept
    np.testing.assert_array_equal(ref.update_cell(c_prev, np.zeros((1, 2)), np.ones((1, 2)), c_tilde), c_tilde)
    np.testing.assert_array_equal(ref.update_cell(c_prev, np.ones((1, 2)), np.zeros((1, 2)), c_tilde), c_prev)
    np.testing.assert_allclose(ref.update_hidden(np.array([[1.0]]), np.array([[0.5]])), [[0.5 * np.tanh(1.0)]])


def test_cell_state_gradient_hand_worked():
    f = np.array([[[0.5], [0.25], [0.1]]])  # T = 3
    np.testing.assert_allclose(ref.cell_state_gradient(f)[0, :, 0], [0.25 * 0.1, 0.1, 1.0])


def test_gradient_norms_last_step_is_sqrt_n_h():
    h_seq = np.tanh(np.random.default_rng(0).standard_normal((2, 5, 4)))
    g = ref.gradient_norms(h_seq, np.eye(4))
    np.testing.assert_allclose(g[:, -1], 2.0)
    # with W_h = I each step scales unit j by (1 - h_j^2)
    np.testing.assert_allclose(g[:, -2], np.linalg.norm(1 - h_seq[:, -1] ** 2, axis=1))


def test_no_function_modifies_or_returns_its_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    h0, c0 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    params = {k: rng.standard_normal({"W": (4, 5), "U": (5, 5), "b": (5,)}[k[0]]) for k in ref.PARAM_KEYS}
    originals = [a.copy() for a in (x, h0, c0, *params.values())]
    h_seq, h_T, c_T = ref.lstm_forward(x, h0, c0, params)
    _, _, cache = ref.lstm_cell_forward(x[:, 0], h0, c0, params)
    grads = ref.lstm_cell_backward(h0, c0, cache)
    for before, after in zip(originals, (x, h0, c0, *params.values())):
        np.testing.assert_array_equal(before, after)
    for out in (h_seq, h_T, c_T, *grads.values()):
        assert not any(np.shares_memory(out, a) for a in (x, h0, c0, *params.values()))
    # a zero-length sequence must still hand back fresh arrays
    _, h_T, c_T = ref.lstm_forward(x[:, :0], h0, c0, params)
    assert not np.shares_memory(h_T, h0) and not np.shares_memory(c_T, c0)


def test_float32_in_float32_out_and_float64_in_float64_out():
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        shapes = {"W": (3, 2), "U": (2, 2), "b": (2,)}
        params = {k: rng.standard_normal(shapes[k[0]]).astype(dtype) for k in ref.PARAM_KEYS}
        x = rng.standard_normal((1, 4, 3)).astype(dtype)
        h = np.zeros((1, 2), dtype)
        assert all(a.dtype == dtype for a in ref.lstm_forward(x, h, h, params))


def test_importing_autograder_does_not_import_tensorflow():
    code = ("import sys, autograder, autograder.course.reference; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
