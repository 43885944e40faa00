"""The exercise API's vocabulary: the names every part of the course agrees on.

``autograder/API.md`` is the contract written for people; this module is the
same contract for code (a test keeps the two equal). The reference, the
graders, the book and the student edition take their names from here.
Standard library only: it is cheap to import anywhere.
"""

GATES = ("f", "i", "c", "o")        # the LSTM's gates in the course's order: forget, input, candidate, output
KERAS_GATES = ("i", "f", "c", "o")  # the order of Keras' packed weight blocks (kernel, recurrent_kernel, bias)
GATE_FUNCTIONS = {"f": "forget_gate", "i": "input_gate", "c": "candidate_memory", "o": "output_gate"}
PARAM_KEYS = tuple(f"{kind}_{gate}" for gate in GATES for kind in ("W", "U", "b"))  # an LSTM's params dict
MAPPINGS = ("many_to_one", "many_to_many")  # rnn_predict's mapping types

FUNCTIONS = {  # what each assignment asks a student to write, in order
    "ex1_rnn_basics": ("sigmoid", "rnn_cell_forward", "rnn_forward", "rnn_predict", "one_to_many"),
    "ex2_vanishing_gradients": ("rnn_step_jacobian", "gradient_norms", "cell_state_gradient"),
    "ex3_lstm_gates": (*GATE_FUNCTIONS.values(), "update_cell", "update_hidden", "lstm_cell_forward",
                       "lstm_forward"),
    "ex4_keras_lstm": ("params_from_keras", "keras_from_params", "build_model"),
    "ex5_lstm_backward": ("lstm_cell_backward",),
}

OUTPUT_NAMES = {  # how the spec and the messages name what each function returns
    "sigmoid": "sigmoid(z)", "rnn_cell_forward": "h_t", "rnn_forward": "h_seq", "rnn_predict": "y",
    "one_to_many": "y_seq", "rnn_step_jacobian": "J", "gradient_norms": "g", "cell_state_gradient": "d",
    "forget_gate": "f_t", "input_gate": "i_t", "candidate_memory": "c_tilde", "output_gate": "o_t",
    "update_cell": "c_t", "update_hidden": "h_t", "lstm_cell_forward": ("h_t", "c_t", "cache"),
    "lstm_forward": ("h_seq", "h_T", "c_T"), "params_from_keras": "params",
    "keras_from_params": ("kernel", "recurrent_kernel", "bias"), "lstm_cell_backward": "grads",
    "build_model": "model",
}
BUILDS_ON = {  # the earlier functions of its assignment that a function calls: their mistakes show through it
    "rnn_forward": ("rnn_cell_forward",), "one_to_many": ("rnn_cell_forward",),
    "gradient_norms": ("rnn_step_jacobian",),
    "lstm_cell_forward": (*GATE_FUNCTIONS.values(), "update_cell", "update_hidden"),
    "lstm_forward": ("lstm_cell_forward",),
}
HOLDS_INPUTS = {"cache"}  # outputs that keep the inputs by design (the forward pass's cache)
