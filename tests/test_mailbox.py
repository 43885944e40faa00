"""The mailbox format and the judging outside the kernel, without a kernel.

What a student's kernel sends is data the grader decodes strictly; the grader
judges it against the reference on inputs only it can draw.
"""

import json

import nbformat
import numpy as np
import pytest

from autograder.course import reference
from autograder.kernel import mailbox
from autograder.kernel.call import call_function
from autograder.pipeline.judge import JudgeHiddenTests, verdict
from autograder.pipeline.secret_inputs import draw_inputs, hidden_calls, judged_parts

KEY = "ab" * 32


def roundtrip(value):
    return mailbox.decode(json.loads(json.dumps(mailbox.encode(value))))


def test_plain_data_survives_the_trip_with_its_kinds():
    value = {"h_seq": np.arange(6.0).reshape(2, 3), "f32": np.ones(2, np.float32), "k": (1, None, "s"),
             3: [True, 2.5, np.float64(0.5)], ("a", 1): np.zeros((0, 4))}
    back = roundtrip(value)
    assert set(back) == set(value) and type(back["k"]) is tuple and type(back[3]) is list
    assert back["h_seq"].dtype == np.float64 and np.array_equal(back["h_seq"], value["h_seq"])
    assert back["f32"].dtype == np.float32 and back[("a", 1)].shape == (0, 4)
    assert type(back[3][2]) is np.float64 and back[3][2] == 0.5
    assert back["h_seq"].flags.writeable  # a copy, not a view of the message


class FakeArray(np.ndarray):
    """An ndarray that claims to equal anything."""

    def __eq__(self, other):
        return np.ones(np.shape(other), bool)

    def __array_ufunc__(self, *args, **kwargs):
        return True


class AlwaysEqual:
    def __eq__(self, other):
        return True


def test_objects_that_fake_comparisons_arrive_as_plain_data():
    fake = np.zeros((3, 4)).view(FakeArray)
    back = roundtrip({"fake": fake, "liar": AlwaysEqual(), "objects": np.array([AlwaysEqual()], dtype=object)})
    assert type(back["fake"]) is np.ndarray and not back["fake"].any()  # its real data: zeros
    assert isinstance(back["liar"], mailbox.Opaque) and back["liar"].description == "a AlwaysEqual"
    assert back["objects"].description == "an array of dtype object"


@pytest.mark.parametrize("data, problem", [
    ({"array": {"dtype": "|O", "shape": [1], "data": ""}}, "not allowed"),
    ({"array": {"dtype": "<f8", "shape": [10**12], "data": ""}}, "does not match"),  # no huge allocation
    ({"array": {"dtype": "<f8", "shape": [1], "data": "not base64!"}}, "base64"),
    ({"array": {"dtype": "<f8", "shape": [-1], "data": ""}}, "bad shape"),
    ({"pickle": "gASVAAAAAAAAAACMCGJ1aWx0aW5zlIwEZXZhbJSTlC4="}, "unknown tag"),
    ({"dict": [[{"list": []}, 1]]}, "hashable"),
    ({"tuple": [1], "list": [2]}, "unexpected dict"),
    ([1, 2], "unexpected list"),
])
def test_anything_else_is_malformed(data, problem):
    with pytest.raises(mailbox.Malformed, match=problem):
        mailbox.decode(data)


def test_nesting_and_size_are_bounded():
    deep = 1
    for _ in range(mailbox.MAX_DEPTH + 2):
        deep = {"list": [deep]}
    with pytest.raises(mailbox.Malformed):
        mailbox.decode(deep)
    with pytest.raises(mailbox.Malformed):
        mailbox.decode({"list": [0] * (mailbox.MAX_ITEMS + 1)})


def test_an_outcome_message_needs_exactly_the_outcome_fields():
    good = {"value": None, "error": "", "warnings": [], "modified": [["c_prev"]], "shared": []}
    name, (fields,) = mailbox.read_outcome({"name": "update_cell", "outcomes": mailbox.encode([good])})
    assert name == "update_cell" and fields["modified"] == [("c_prev",)]
    for broken in ({**good, "passed": True}, {**good, "error": 1}, {**good, "modified": [[1]]}):
        with pytest.raises(mailbox.Malformed):
            mailbox.read_outcome({"name": "update_cell", "outcomes": mailbox.encode([broken])})


# --- secret inputs -----------------------------------------------------------------------

def test_hidden_calls_are_read_from_the_hidden_block_only():
    source = ('assert forget_gate(1) == 2  # check_function("not_this", f)\n'
              '### BEGIN HIDDEN TESTS\nfrom autograder.kernel.check import check_function\n'
              'check_function("forget_gate", forget_gate)\ncheck_function(\'input_gate\', input_gate)\n'
              '### END HIDDEN TESTS')
    assert hidden_calls(source) == ["forget_gate", "input_gate"]


def test_inputs_are_reproducible_and_change_with_key_and_submission():
    def first_x(key, submission):
        return draw_inputs(["forget_gate"], key, "ex3", "ex3", "alice", submission)["forget_gate"][0]["x_t"]
    assert np.array_equal(first_x(KEY, "digest1"), first_x(KEY, "digest1"))
    assert not np.array_equal(first_x(KEY, "digest1"), first_x(KEY, "digest2"))
    assert not np.array_equal(first_x(KEY, "digest1"), first_x("cd" * 32, "digest1"))


# --- judging outside -------------------------------------------------------------------

def posted(name, function, inputs):
    """What a kernel running `function` posts, after the trip through the mailbox."""
    outcomes = [vars(call_function(name, function, arguments)) for arguments in inputs[name]]
    return [mailbox.read_outcome(json.loads(json.dumps({"name": name, "outcomes": mailbox.encode(outcomes)})))]


@pytest.fixture
def inputs():
    return draw_inputs(["forget_gate", "update_cell", "lstm_cell_backward"], KEY, "ex", "ex", "bob", "d")


def test_the_reference_passes_and_a_wrong_function_fails_without_revealing_inputs(inputs):
    assert verdict(["forget_gate"], posted("forget_gate", reference.forget_gate, inputs), inputs) is None
    assert verdict(["lstm_cell_backward"], posted("lstm_cell_backward", reference.lstm_cell_backward, inputs),
                   inputs) is None

    def off(x_t, h_prev, W_f, U_f, b_f):
        return reference.forget_gate(x_t, h_prev, W_f, U_f, b_f) + 1e-3
    message = verdict(["forget_gate"], posted("forget_gate", off, inputs), inputs)
    assert message.startswith("forget_gate: f_t has wrong values: at index")
    numbers = {f"{v:.6g}" for arguments in inputs["forget_gate"] for a in arguments.values() for v in a.ravel()}
    numbers |= {f"{v:.6g}" for arguments in inputs["forget_gate"]
                for v in reference.forget_gate(*arguments.values()).ravel()}
    assert not any(n in message for n in numbers if len(n) > 3)


def test_fake_results_fail_outside(inputs):
    def fake(x_t, h_prev, W_f, U_f, b_f):
        return np.zeros((x_t.shape[0], W_f.shape[1])).view(FakeArray)

    def liar(*args):
        return AlwaysEqual()
    assert "wrong values" in verdict(["forget_gate"], posted("forget_gate", fake, inputs), inputs)
    assert "should be a NumPy array, but it is a AlwaysEqual" in verdict(
        ["forget_gate"], posted("forget_gate", liar, inputs), inputs)


def test_missing_short_or_malformed_reports_fail(inputs):
    right = posted("forget_gate", reference.forget_gate, inputs)
    assert "did not report" in verdict(["forget_gate", "update_cell"], right, inputs)
    name, fields = right[0]
    assert "reported 2 results" in verdict(["forget_gate"], [(name, fields[:2])], inputs)
    assert "malformed" in verdict(["forget_gate"], right + [("", "a malformed outcome (x)")], inputs)


def test_a_result_of_the_wrong_kind_cannot_crash_the_judge():
    inputs = draw_inputs(["build_model"], KEY, "ex4", "ex4", "eve", "d")
    fields = {"value": 5, "error": "", "warnings": [], "modified": [], "shared": []}  # not a model summary
    message = verdict(["build_model"], [("build_model", [fields] * len(inputs["build_model"]))], inputs)
    assert message.startswith("build_model: its result could not be judged (TypeError)")


def test_modifying_an_argument_is_reported_from_the_kernel(inputs):
    def in_place(c_prev, f_t, i_t, c_tilde):
        c_prev *= f_t
        return c_prev + i_t * c_tilde
    assert "modified its argument c_prev in place" in verdict(
        ["update_cell"], posted("update_cell", in_place, inputs), inputs)


def test_inbox_holds_only_plain_data(tmp_path, inputs):
    mailbox.write_inbox(tmp_path / "inbox.json", inputs)
    raw = json.loads((tmp_path / "inbox.json").read_text())
    back = mailbox.decode(raw["lstm_cell_backward"])
    for case, original in zip(back, inputs["lstm_cell_backward"]):
        assert np.array_equal(case["cache"]["c_t"], original["cache"]["c_t"])
        assert case["cache"]["c_t"].dtype == original["cache"]["c_t"].dtype


def test_a_test_cell_judges_only_the_part_it_names(inputs):
    def wrong_db_o(dh_t, dc_t, cache):
        grads = reference.lstm_cell_backward(dh_t, dc_t, cache)
        return dict(grads, db_o=-grads["db_o"])
    wrong = posted("lstm_cell_backward", wrong_db_o, inputs)
    source = ('x = 1\n### BEGIN HIDDEN TESTS\nfrom autograder.kernel.check import check_function\n'
              'check_function("lstm_cell_backward", lstm_cell_backward, only=("dW_f", "dU_f", "db_f"))\n'
              '### END HIDDEN TESTS\n')
    forget_gate_part = judged_parts(source)
    assert forget_gate_part == {"lstm_cell_backward": ("dW_f", "dU_f", "db_f")}
    assert verdict(["lstm_cell_backward"], wrong, inputs, forget_gate_part) is None
    assert 'grads["db_o"] has wrong values' in verdict(["lstm_cell_backward"], wrong, inputs,
                                                       {"lstm_cell_backward": ("db_o",)})
    assert 'grads["db_o"] has wrong values' in verdict(["lstm_cell_backward"], wrong, inputs)


def test_a_function_built_on_a_wrong_one_is_told_to_fix_that_one_first():
    inputs = draw_inputs(["rnn_cell_forward", "one_to_many"], KEY, "ex1", "ex1", "carol", "d")

    def off(*arguments):
        return reference.one_to_many(*arguments) + 1e-3

    def test_cell(grade_id, outputs):
        cell = nbformat.v4.new_code_cell("", outputs=outputs, execution_count=1)
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id, "points": 1}
        return cell

    visible_failure = nbformat.v4.new_output("error", ename="AssertionError", evalue="h_t is wrong", traceback=[])
    for first_outputs, blamed in (([visible_failure], True), ([], False)):
        nb = nbformat.v4.new_notebook(cells=[test_cell("test_rnn_cell_forward", first_outputs),
                                             test_cell("test_one_to_many", [])])
        outcomes = {0: posted("rnn_cell_forward", reference.rnn_cell_forward, inputs),
                    1: posted("one_to_many", off, inputs)}
        calls = {"test_rnn_cell_forward": ["rnn_cell_forward"], "test_one_to_many": ["one_to_many"]}
        resources = {"hidden_tests": {"calls": calls, "inputs": inputs, "outcomes": outcomes}}
        nb, _ = JudgeHiddenTests().preprocess(nb, resources)
        [error] = [o for o in nb.cells[1].outputs if o.output_type == "error"]
        assert error.evalue.startswith("fix `rnn_cell_forward` first (its test fails)") == blamed, error.evalue
        assert "one_to_many: y_seq has wrong values" in error.evalue


def test_the_judge_reads_the_models_optimizer_from_the_kernels_report():
    """What the kernel reports of a model's optimizer crosses the mailbox and is judged outside."""
    import keras

    def no_clipping(seq_len, n_features, n_classes, units):
        model = reference.build_model(seq_len, n_features, n_classes, units)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
        return model
    inputs = draw_inputs(["build_model"], KEY, "ex4", "ex4", "dave", "d")
    assert verdict(["build_model"], posted("build_model", reference.build_model, inputs), inputs) is None
    message = verdict(["build_model"], posted("build_model", no_clipping, inputs), inputs)
    assert message.startswith("build_model: the optimizer should be keras.optimizers.Adam(learning_rate=0.01, "
                              "clipnorm=1.0), but its clipnorm is none"), message
