"""A catalogue of common student mistakes, as data.

Each mistake replaces one piece of code in a solution cell of an assignment's
source notebook. It counts as caught when, graded by real `nbgrader autograde`,
the mistaken notebook loses points on `grade_cell` and that cell's visible test
fails with a message containing `phrase` (the test names the mistake). A
mistake in a function that later ones build on also shows in their test cells:
`seen_through` holds (test cell, phrase) pairs for them, whose message must
blame the function the mistake is in, not the later function.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    name: str        # also the nbgrader student id of the mistaken submission
    assignment: str
    cell: str        # id of the solution cell the mistake is made in
    old: str         # code of the solution ...
    new: str         # ... replaced by the mistaken code
    grade_cell: str  # the test cell that must lose points
    phrase: str      # what that test's message must say
    seen_through: tuple = ()  # (a later test cell that must lose points too, what its message must say)

    def inject(self, notebook):
        """Make the mistake in `notebook` (the source notebook, changed in place)."""
        [cell] = [c for c in notebook.cells if c.get("id") == self.cell]
        if cell.source.count(self.old) != 1:
            raise ValueError(f"mistake {self.name}: {self.old!r} is not exactly once in cell {self.cell}")
        cell.source = cell.source.replace(self.old, self.new)
        return notebook


EX1, EX2, EX3 = "ex1_rnn_basics", "ex2_vanishing_gradients", "ex3_lstm_gates"
EX4, EX5 = "ex4_keras_lstm", "ex5_lstm_backward"

MISTAKES = [
    # ex1_rnn_basics
    Mistake("overflowing_sigmoid", EX1, "sigmoid", "return np.exp(-np.logaddexp(0.0, -z))",
            "return 1 / (1 + np.exp(-z))", "test_sigmoid", "sigmoid overflowed"),
    Mistake("sigmoid_in_rnn_cell", EX1, "rnn_cell_forward", "return np.tanh(x_t @ W_x + h_prev @ W_h + b)",
            "return 1 / (1 + np.exp(-(x_t @ W_x + h_prev @ W_h + b)))",
            "test_rnn_cell_forward", "did you apply sigmoid instead of tanh?"),
    Mistake("missing_rnn_bias", EX1, "rnn_cell_forward", "h_prev @ W_h + b)", "h_prev @ W_h)",
            "test_rnn_cell_forward", "did you forget the bias b?"),
    Mistake("transposed_W_h", EX1, "rnn_cell_forward", "h_prev @ W_h + b", "h_prev @ W_h.T + b",
            "test_rnn_cell_forward", "or transpose W_h?",
            seen_through=(("test_rnn_forward", "fix `rnn_cell_forward` first (its test fails)"),
                          ("test_one_to_many", "fix `rnn_cell_forward` first (its test fails)"))),
    Mistake("W_x_and_W_h_swapped", EX1, "rnn_cell_forward", "x_t @ W_x + h_prev @ W_h", "x_t @ W_h + h_prev @ W_x",
            "test_rnn_cell_forward", "did you swap W_x and W_h"),
    Mistake("rnn_returns_last_step", EX1, "rnn_forward", "return np.stack(states, axis=1)", "return h",
            "test_rnn_forward", "not only the last one"),
    Mistake("rnn_restarts_from_h0", EX1, "rnn_forward", "rnn_cell_forward(x[:, t], h,", "rnn_cell_forward(x[:, t], h0,",
            "test_rnn_forward", "pass each step's h_t on to the next step"),
    Mistake("many_to_one_reads_first_step", EX1, "rnn_predict", "h_seq[:, -1] @ W_y", "h_seq[:, 0] @ W_y",
            "test_rnn_predict", "many_to_one should read the last step"),
    Mistake("unknown_mapping_accepted", EX1, "rnn_predict", "raise ValueError(\"mapping must",
            "return None\n    ValueError(\"mapping must", "test_rnn_predict",
            "should raise ValueError for an unknown mapping"),
    Mistake("x0_fed_every_step", EX1, "one_to_many", "x_t = y  #", "x_t = x0  #",
            "test_one_to_many", "feed the previous output y back in"),
    Mistake("n_y_checked_by_numpy_only", EX1, "one_to_many", "raise ValueError(f\"each output is fed back",
            "print(f\"each output is fed back", "test_one_to_many", "also with steps = 1"),
    # ex2_vanishing_gradients
    Mistake("jacobian_without_tanh_derivative", EX2, "rnn_step_jacobian", "1.0 - h_t**2", "np.ones_like(h_t)",
            "test_rnn_step_jacobian", "did you forget the factor (1 - h_t**2)",
            seen_through=(("test_gradient_norms", "fix `rnn_step_jacobian` first (its test fails)"),)),
    Mistake("jacobian_tanh_applied_again", EX2, "rnn_step_jacobian", "1.0 - h_t**2", "1.0 - np.tanh(h_t)**2",
            "test_rnn_step_jacobian", "apply tanh to h_t again"),
    Mistake("jacobian_not_transposed", EX2, "rnn_step_jacobian", '"bi,ji->bij"', '"bi,ij->bij"',
            "test_rnn_step_jacobian", "did you forget to transpose W_h?",
            seen_through=(("test_gradient_norms", "fix `rnn_step_jacobian` first (its test fails)"),)),
    Mistake("jacobian_factor_on_columns", EX2, "rnn_step_jacobian", '"bi,ji->bij"', '"bj,ji->bij"',
            "test_rnn_step_jacobian", "the factor belongs to row i"),
    Mistake("jacobian_product_off_by_one", EX2, "gradient_norms", "rnn_step_jacobian(h_seq[:, k], W_h)",
            "rnn_step_jacobian(h_seq[:, k - 1], W_h)", "test_gradient_norms", "off by one step"),
    Mistake("jacobians_in_reverse_order", EX2, "gradient_norms", "product @ rnn_step_jacobian(h_seq[:, k], W_h)",
            "rnn_step_jacobian(h_seq[:, k], W_h) @ product", "test_gradient_norms", "chain-rule order"),
    Mistake("forget_product_includes_f_k", EX2, "cell_state_gradient",
            "later = np.concatenate([f_seq[:, 1:], ones], axis=1)", "later = f_seq",
            "test_cell_state_gradient", "off by one"),
    Mistake("forget_product_shifted", EX2, "cell_state_gradient", "f_seq[:, 1:]", "f_seq[:, :-1]",
            "test_cell_state_gradient", "check the first and the last factor"),
    # ex3_lstm_gates
    Mistake("tanh_on_forget_gate", EX3, "forget_gate", "return sigmoid(z)", "return np.tanh(z)",
            "test_forget_gate", "did you apply tanh instead of sigmoid?"),
    Mistake("transposed_W_f", EX3, "forget_gate", "x_t @ W_f", "x_t @ W_f.T",
            "test_forget_gate", "or transpose W_f?"),
    Mistake("W_and_U_swapped", EX3, "input_gate", "x_t @ W_i + h_prev @ U_i", "x_t @ U_i + h_prev @ W_i",
            "test_input_gate", "did you swap W_i and U_i"),
    Mistake("sigmoid_on_candidate", EX3, "candidate_memory", "return np.tanh(z)", "return sigmoid(z)",
            "test_candidate_memory", "did you apply sigmoid instead of tanh?"),
    Mistake("missing_output_bias", EX3, "output_gate", "h_prev @ U_o + b_o", "h_prev @ U_o",
            "test_output_gate", "did you forget the bias b_o?"),
    Mistake("tanh_on_output_gate", EX3, "output_gate", "return sigmoid(z)", "return np.tanh(z)",
            "test_output_gate", "did you apply tanh instead of sigmoid?",
            seen_through=(("test_lstm_cell_forward", "fix `output_gate` first (its test fails)"),
                          ("test_lstm_forward", "fix `lstm_cell_forward` first (its test fails)"))),
    Mistake("no_forget_gate_in_cell", EX3, "update_cell", "return f_t * c_prev", "return c_prev",
            "test_update_cell", "did you multiply c_prev by f_t?"),
    Mistake("cell_updated_in_place", EX3, "update_cell", "return f_t * c_prev + i_t * c_tilde",
            "c_prev *= f_t\n    c_prev += i_t * c_tilde\n    return c_prev",
            "test_update_cell", "changed one of its arguments in place"),
    Mistake("tanh_missing_in_hidden", EX3, "update_hidden", "o_t * np.tanh(c_t)", "o_t * c_t",
            "test_update_hidden", "did you forget the tanh",
            seen_through=(("test_lstm_cell_forward", "fix `update_hidden` first (its test fails)"),)),
    Mistake("gates_read_c_prev", EX3, "lstm_cell_forward", "forget_gate(x_t, h_prev,", "forget_gate(x_t, c_prev,",
            "test_lstm_cell_forward", "did you swap h_prev and c_prev?"),
    Mistake("forget_gate_gets_input_weights", EX3, "lstm_cell_forward",
            'forget_gate(x_t, h_prev, p["W_f"], p["U_f"], p["b_f"])',
            'forget_gate(x_t, h_prev, p["W_i"], p["U_i"], p["b_i"])',
            "test_lstm_cell_forward", "each gate gets its own weights"),
    Mistake("cache_key_misnamed", EX3, "lstm_cell_forward", '"c_tilde": c_tilde', '"c": c_tilde',
            "test_lstm_cell_forward", "cache is missing the key(s) ['c_tilde']"),
    Mistake("cache_f_and_i_swapped", EX3, "lstm_cell_forward", '"f": f, "i": i', '"f": i, "i": f',
            "test_lstm_cell_forward", "cache['f'] should be the step's f"),
    Mistake("cache_h_prev_and_c_prev_swapped", EX3, "lstm_cell_forward", '"h_prev": h_prev, "c_prev": c_prev',
            '"h_prev": c_prev, "c_prev": h_prev', "test_lstm_cell_forward", "cache['h_prev'] should be the step's"),
    Mistake("cache_without_x_t", EX3, "lstm_cell_forward", '{"x_t": x_t,', '{"x_t": None,',
            "test_lstm_cell_forward", "cache['x_t'] should be the step's x_t, got NoneType"),
    Mistake("only_last_step_returned", EX3, "lstm_forward", "return np.stack(steps, axis=1),", "return h,",
            "test_lstm_forward", "not only the last one"),
    Mistake("cell_state_not_carried", EX3, "lstm_forward", "h, c, _ = lstm_cell_forward", "h, _, _ = lstm_cell_forward",
            "test_lstm_forward", "pass both h and c from each step to the next"),
    Mistake("h_and_c_unpacked_swapped", EX3, "lstm_forward", "h, c, _ = lstm_cell_forward",
            "c, h, _ = lstm_cell_forward",
            "test_lstm_forward", "returns (h_t, c_t, cache) in that order"),
    # ex4_keras_lstm
    Mistake("keras_gate_order_ifoc", EX4, "params_from_keras", 'enumerate("ifco")', 'enumerate("ifoc")',
            "test_params_from_keras", "Keras packs the gates in the order i, f, c, o"),
    Mistake("keras_gate_order_icfo", EX4, "params_from_keras", 'enumerate("ifco")', 'enumerate("icfo")',
            "test_params_from_keras", "Keras packs the gates in the order i, f, c, o"),
    Mistake("keras_blocks_returned_as_views", EX4, "params_from_keras", 'params[f"W_{gate}"] = kernel[:, block].copy()',
            'params[f"W_{gate}"] = kernel[:, block]', "test_params_from_keras", "copy each block"),
    Mistake("U_c_and_U_o_swapped", EX4, "params_from_keras", 'params[f"U_{gate}"] = recurrent_kernel',
            'params["U_" + "ifoc"[k]] = recurrent_kernel', "test_params_from_keras",
            "U_c should be the third block of recurrent_kernel"),
    Mistake("b_i_and_b_f_swapped", EX4, "params_from_keras", 'params[f"b_{gate}"] = bias',
            'params["b_" + "fico"[k]] = bias', "test_params_from_keras", "b_i should be the first block of bias"),
    Mistake("packed_in_equation_order", EX4, "keras_from_params", 'order = "ifco"', 'order = "fico"',
            "test_keras_from_params", "in Keras' order i, f, c, o"),
    Mistake("dense_without_softmax", EX4, "build_model", 'keras.layers.Dense(n_classes, activation="softmax")',
            "keras.layers.Dense(n_classes)", "test_build_model", "activation='softmax'"),
    Mistake("lstm_returns_sequences", EX4, "build_model", "keras.layers.LSTM(units)",
            "keras.layers.LSTM(units, return_sequences=True)", "test_build_model", "return_sequences=False"),
    Mistake("model_not_compiled", EX4, "build_model", "model.compile(", "dict(",
            "test_build_model", "compile the model"),
    Mistake("one_hot_loss", EX4, "build_model", 'loss="sparse_categorical_crossentropy"',
            'loss="categorical_crossentropy"', "test_build_model", "loss='sparse_categorical_crossentropy'"),
    Mistake("adam_without_clipnorm", EX4, "build_model", "Adam(learning_rate=0.01, clipnorm=1.0)",
            "Adam(learning_rate=0.01)", "test_build_model", "(clipnorm=1.0), got clipnorm=None"),
    Mistake("adam_default_learning_rate", EX4, "build_model", "Adam(learning_rate=0.01, clipnorm=1.0)",
            "Adam(clipnorm=1.0)", "test_build_model", "got learning_rate=0.001"),
    # ex5_lstm_backward
    Mistake("no_path_through_h_t", EX5, "lstm_cell_backward", "dc = dc_t + dh_t * o * (1 - tanh_c**2)", "dc = dc_t",
            "test_backward_shapes_and_memory_path", "did you add the path through h_t",
            seen_through=(("test_backward_forget_gate", "fix the cell-state path first"),)),
    Mistake("dc_prev_skips_forget_gate", EX5, "lstm_cell_backward", '"dc_prev": dc * f', '"dc_prev": dc',
            "test_backward_shapes_and_memory_path", "only through the forget gate"),
    Mistake("bias_gradient_not_summed", EX5, "lstm_cell_backward", "dz[g].sum(axis=0)", "dz[g]",
            "test_backward_shapes_and_memory_path", "sum dz over the batch"),
    Mistake("bias_gradient_summed_over_units", EX5, "lstm_cell_backward", "dz[g].sum(axis=0)", "dz[g].sum(axis=1)",
            "test_backward_shapes_and_memory_path", "sum dz over the batch"),
    Mistake("weight_gradient_transposed", EX5, "lstm_cell_backward", "x_t.T @ dz[g]", "dz[g].T @ x_t",
            "test_backward_shapes_and_memory_path", "dW_g = x_t.T @ dz_g"),
    Mistake("gradient_updated_in_place", EX5, "lstm_cell_backward", "dc = dc_t + dh_t", "dc = dc_t\n    dc += dh_t",
            "test_backward_shapes_and_memory_path", "lstm_cell_backward changed dc_t in place"),
    Mistake("tanh_written_into_cache", EX5, "lstm_cell_backward", "tanh_c = np.tanh(c_t)",
            "tanh_c = np.tanh(c_t, out=c_t)",
            "test_backward_shapes_and_memory_path", "lstm_cell_backward changed cache['c_t'] in place"),
    Mistake("wrong_sign_output_gate", EX5, "lstm_cell_backward", "do = dh_t * tanh_c", "do = -dh_t * tanh_c",
            "test_backward_output_gate", "dz_o = dh_t * tanh(c_t) * o * (1 - o): check each factor and its sign",
            seen_through=(("test_backward_inputs", "fix dz_o first (test_backward_output_gate fails)"),)),
    Mistake("tanh_derivative_on_forget_gate", EX5, "lstm_cell_backward", "df * f * (1 - f)", "df * (1 - f**2)",
            "test_backward_forget_gate", "dz_f = dc * c_prev * f * (1 - f)"),
    Mistake("input_gradient_misses_a_gate", EX5, "lstm_cell_backward",
            '"dx_t": sum(dz[g] @ params[f"W_{g}"].T for g in "fico")',
            '"dx_t": sum(dz[g] @ params[f"W_{g}"].T for g in "fio")', "test_backward_inputs",
            "sum over all four gates"),
    Mistake("candidate_gradient_wrong_sign", EX5, "lstm_cell_backward",
            '"c": dc_tilde * (1 - c_tilde**2)',
            '"c": -dc_tilde * (1 - c_tilde**2)', "test_backward_gradient_check",
            "differs from the centred-difference gradient",
            seen_through=(("test_backward_candidate", "dz_c = dc * i * (1 - c_tilde**2)"),)),
]
