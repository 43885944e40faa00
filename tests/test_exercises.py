"""The assignments' notebooks: generated student versions, visible tests, hidden checks."""

import ast
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from autograder.course import reference
from autograder.course.api import OUTPUT_NAMES
from autograder.kernel.check import check_function
from tests.support import ASSIGNMENTS, ROOT
from tests.support.exercise_course import NBGRADER, source_notebook, student_version

CHECKED = list(OUTPUT_NAMES)
# The widest code line an exercise page shows without scrolling sideways: its code blocks hold 77 characters at
# the browser tests' 1280-pixel window (the narrowest layout with both sidebars), one is kept in hand.
CODE_WIDTH = 76


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_are_what_generate_assignment_makes(tmp_path, assignment):
    """exercises/ must be regenerated (`make exercises`) whenever solutions/ changes."""
    subprocess.run([str(NBGRADER), "generate_assignment", assignment, "--force", "--no-db",
                    f"--NbGrader.config_file={ROOT / 'autograder' / 'nbgrader_config'}",
                    f"--CourseDirectory.release_directory={tmp_path}", "--log-level=ERROR"],
                   check=True, cwd=tmp_path)
    fresh = tmp_path / assignment / f"{assignment}.ipynb"
    assert fresh.read_text() == student_version(assignment).read_text(), \
        f"exercises/{assignment} is out of date: run `make exercises`"


def test_exercises_hold_every_assignment_and_nothing_else():
    assert sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir()) == ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebooks_are_committed_without_outputs(assignment):
    notebook = nbformat.read(source_notebook(assignment), as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        assert cell.cell_type != "code" or (not cell.outputs and cell.execution_count is None), cell.id
        assert cell.id == cell.metadata["nbgrader"]["grade_id"]  # stable ids, as nbgrader names them


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_code_fits_the_page_width(assignment):
    """Every code line a student sees, tests and their messages included, is at most CODE_WIDTH long."""
    notebook = nbformat.read(student_version(assignment), as_version=4)
    long = [f"{cell.id}: {line.strip()[:60]}... ({len(line)})" for cell in notebook.cells if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > CODE_WIDTH]
    assert not long, f"lines wider than {CODE_WIDTH} characters (wrap them):\n" + "\n".join(long)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_grade_cell_has_hidden_tests_through_checks(assignment):
    notebook = nbformat.read(source_notebook(assignment), as_version=4)
    grade_cells = [c for c in notebook.cells if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"]
    assert grade_cells
    for cell in grade_cells:
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert "from autograder.kernel.check import check_function" in hidden and "check_function(" in hidden, cell.id


WRITTEN_ANSWERS = {"ex2_vanishing_gradients": 1, "ex3_lstm_gates": 2, "ex5_lstm_backward": 2}  # graded by hand


def _grade_points(notebook, cell_type):
    return sum(c.metadata["nbgrader"]["points"] for c in notebook.cells
               if c.metadata["nbgrader"].get("grade") and c.cell_type == cell_type)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_introduction_states_the_points_the_cells_carry(assignment):
    notebook = nbformat.read(source_notebook(assignment), as_version=4)
    tests, written = _grade_points(notebook, "code"), _grade_points(notebook, "markdown")
    stated = re.search(r"\*\*Points:\*\* (\d+) in total(?:: (\d+) for the test cells .*? and (\d+) for the)?",
                       notebook.cells[0].source, flags=re.DOTALL)
    assert stated and int(stated[1]) == tests + written, assignment
    if written:
        assert (int(stated[2]), int(stated[3])) == (tests, written), assignment
    else:
        assert stated[2] is None, f"{assignment}: a split of the points without a written answer"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_students_see_no_model_answer_or_rubric_of_a_written_answer(assignment):
    """A written answer's cell is the TA's rubric in solutions/; the student version has only nbgrader's prompt."""
    source = nbformat.read(source_notebook(assignment), as_version=4)
    student = {c.id: c for c in nbformat.read(student_version(assignment), as_version=4).cells}
    written = [c for c in source.cells if c.cell_type == "markdown" and c.metadata["nbgrader"].get("solution")]
    assert len(written) == WRITTEN_ANSWERS.get(assignment, 0)
    for cell in written:
        assert "Rubric for TAs" in cell.source and cell.metadata["nbgrader"]["points"] > 0, cell.id
        assert student[cell.id].source == "YOUR ANSWER HERE", cell.id
    shown = "\n".join(c.source for c in student.values())
    assert "Rubric" not in shown and "Model answer" not in shown


def _statements(source):
    tree = ast.parse(source)
    for node in tree.body:
        yield node, compile(ast.Module([node], []), "<visible test>", "exec")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_expected_values_are_the_reference(assignment):
    """Run each visible test with the reference in place of the student's functions;
    every `expected_X = <literal>` must equal the X the reference computed just before."""
    notebook = nbformat.read(student_version(assignment), as_version=4)
    compared = 0
    given = {}  # what the locked setup cells define (imports, ex4's task), as a notebook run would
    for cell in notebook.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not nbgrader.get("grade") and not nbgrader.get("solution"):
            exec(cell.source, given)
        if not nbgrader.get("grade") or cell.cell_type != "code":  # written answers are graded by hand
            continue
        namespace = {"np": np, **given, **{k: getattr(reference, k) for k in dir(reference) if not k.startswith("_")}}
        for node, code in _statements(cell.source):
            named = isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            target = node.targets[0].id if named else ""
            exec(code, namespace)
            if target.startswith("expected_") and isinstance(node.value, ast.Call):
                computed = np.asarray(namespace[target.removeprefix("expected_")])
                literal = namespace[target]
                assert literal.shape == computed.shape, (cell.id, target)
                atol = 1e-8 if computed.dtype == np.float64 else 1e-6  # Keras computes in float32
                np.testing.assert_allclose(literal, computed, rtol=0, atol=atol, err_msg=f"{cell.id}: {target}")
                compared += 1
    assert compared, "no expected_X literal found: the visible tests lost their expected values"


@pytest.mark.parametrize("name", CHECKED)
def test_the_reference_passes_its_own_hidden_checks(name):
    for seed in range(10):
        check_function(name, getattr(reference, name), seed=seed)


def _raises(name, function, phrase):
    with pytest.raises(AssertionError, match=phrase):
        check_function(name, function, seed=0)


def test_hidden_checks_catch_what_visible_tests_may_miss():
    def overflowing_sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def float64_only(x_t, h_prev, W_f, U_f, b_f):
        assert x_t.dtype == np.float64, "only float64"
        return reference.forget_gate(x_t, h_prev, W_f, U_f, b_f)

    def float32_output(c_t, o_t):
        return reference.update_hidden(c_t, o_t).astype(np.float32)

    def returns_c0(x, h0, c0, params):
        h_seq, h_T, _ = reference.lstm_forward(x, h0, c0, params)
        return h_seq, h_T, c0

    def mapping_not_checked(h_seq, W_y, b_y, mapping):
        return h_seq[:, -1] @ W_y + b_y if mapping == "many_to_one" else h_seq @ W_y + b_y

    def wrong_db_sign(dh_t, dc_t, cache):
        grads = reference.lstm_cell_backward(dh_t, dc_t, cache)
        return dict(grads, db_o=-grads["db_o"])

    def scales_in_place(c_prev, f_t, i_t, c_tilde):
        c_prev *= 1.0
        f_t *= 0.5
        return reference.update_cell(c_prev, 2 * f_t, i_t, c_tilde)

    _raises("sigmoid", overflowing_sigmoid, "RuntimeWarning: overflow")
    _raises("forget_gate", float64_only, r"(?s)raised AssertionError: only float64.*\(float32\)")
    _raises("update_hidden", float32_output, "dtype float32, expected float64")
    _raises("lstm_forward", returns_c0, "view of its argument c0")
    _raises("rnn_predict", mapping_not_checked, "should raise ValueError")
    _raises("lstm_cell_backward", wrong_db_sign, r'grads\["db_o"\] has wrong values')
    _raises("update_cell", scales_in_place, "modified its argument f_t in place")


def test_gradient_check_is_independent_of_the_reference_backward(monkeypatch):
    """The centred-difference check alone rejects a wrong gradient, even one the reference shares."""
    right_backward = reference.lstm_cell_backward

    def wrong_backward(dh_t, dc_t, cache):
        grads = right_backward(dh_t, dc_t, cache)
        return dict(grads, dU_c=2 * grads["dU_c"])

    monkeypatch.setattr(reference, "lstm_cell_backward", wrong_backward)
    _raises("lstm_cell_backward", wrong_backward, "centred-difference gradient check")


def test_importing_checks_does_not_import_tensorflow():
    code = ("import sys, autograder.kernel.check, autograder.pipeline.cases, autograder.pipeline.compare; "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("assignment",
                         ["ex1_rnn_basics", "ex2_vanishing_gradients", "ex3_lstm_gates", "ex5_lstm_backward"])
def test_numpy_exercises_run_without_tensorflow(assignment):
    """The solved student version runs in a fresh process and leaves TensorFlow unimported."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "exercise_times.py"), "--here", assignment],
                         capture_output=True, text=True, check=True).stdout
    assert '"tensorflow_imported": false' in out, out


def test_ex4_given_task_makes_the_books_long_gap_data():
    """ex4 carries its own copy of the task (students need no course package); it must match the module."""
    from autograder.course import long_gap

    cell = next(c for c in nbformat.read(source_notebook("ex4_keras_lstm"), as_version=4).cells
                if c.id == "long_gap_task")
    given = {"np": np}
    exec(cell.source, given)
    assert (given["N_FEATURES"], given["N_CLASSES"]) == (long_gap.N_FEATURES, long_gap.N_CLASSES)
    for n, gap, seed in [(5, 0, 0), (50, 10, 1), (7, 33, 123)]:
        x, y = given["make_long_gap_data"](n, gap, seed)
        x_book, y_book = long_gap.make_long_gap_data(n, gap, seed)
        assert x.dtype == x_book.dtype and np.array_equal(x, x_book) and np.array_equal(y, y_book)


def model_compiled_with(optimizer_for):
    """A build_model that is right but for its optimizer: optimizer_for(units) -> what it compiles with."""
    def build_model(seq_len, n_features, n_classes, units):
        model = reference.build_model(seq_len, n_features, n_classes, units)
        model.compile(optimizer=optimizer_for(units), loss="sparse_categorical_crossentropy")
        return model
    return build_model


def test_hidden_build_model_check_reads_the_optimizer():
    """Adam's learning rate and clipnorm are judged directly, not only through the training threshold:
    a model with the right settings for the visible test's units = 2 alone still fails."""
    import keras

    def sneaky(units):
        return keras.optimizers.Adam(learning_rate=0.01 if units == 2 else 0.05, clipnorm=1.0)
    _raises("build_model", model_compiled_with(sneaky), "but its learning_rate is 0.05")
    _raises("build_model", model_compiled_with(lambda units: keras.optimizers.Adam(learning_rate=0.01)),
            "but its clipnorm is none")
    _raises("build_model", model_compiled_with(lambda units: "adam"), "but its learning_rate is 0.001")
    _raises("build_model", model_compiled_with(lambda units: keras.optimizers.SGD(0.01, clipnorm=1.0)),
            r"compile with optimizer=keras\.optimizers\.Adam\(learning_rate=0\.01, clipnorm=1\.0\), not SGD")


def test_hidden_check_in_place_tells_to_fix_the_earlier_function_first():
    """Under plain nbgrader each hidden check runs alone: one whose function calls an earlier function of the
    notebook that fails its own check leads with that one, as the course's judge does."""
    notebook = {"np": np}  # the student's namespace: a cell step wrong on float32 only, and a right sequence
    exec("def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n"
         "    h_t = np.tanh(x_t @ W_x + h_prev @ W_h + b)\n"
         "    return h_t if h_t.dtype == np.float64 else h_t + 0.01\n", notebook)
    exec("def rnn_forward(x, h0, W_x, W_h, b):\n"
         "    h, states = h0, []\n"
         "    for t in range(x.shape[1]):\n"
         "        h = rnn_cell_forward(x[:, t], h, W_x, W_h, b)\n"
         "        states.append(h)\n"
         "    return np.stack(states, axis=1)\n", notebook)
    _raises("rnn_cell_forward", notebook["rnn_cell_forward"], r"^rnn_cell_forward: h_t has wrong values")
    _raises("rnn_forward", notebook["rnn_forward"],
            r"^fix `rnn_cell_forward` first \(its test fails\): rnn_forward calls it\. rnn_forward: h_seq has wrong")

    notebook["rnn_cell_forward"] = reference.rnn_cell_forward  # right now: a wrong sequence is blamed alone
    exec("def rnn_forward_off(x, h0, W_x, W_h, b):\n"
         "    return rnn_forward(x, h0, W_x, W_h, b) + 1e-3\n", notebook)
    _raises("rnn_forward", notebook["rnn_forward_off"], r"^rnn_forward: h_seq has wrong values")
