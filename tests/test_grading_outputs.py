"""What a submission makes the graded notebook hold, through `autograder grade`, sandbox on.

Each submission is the instructor's solutions (all right) with one attack on the
outputs: a failure signal (text on stderr, how nbgrader fails a cell) hidden behind
11 MB of output or behind 1,000 lines of stdout; metadata, attachments, tracebacks,
display data or widget state grown to tens of MB; reading the working folder or the
running cell for the hidden tests. The points follow from the content (corpus_ex3's
rule), the graded notebook stays under its 10 MB limit and says what it cut, and
neither the feedback nor the graded outputs quote a hidden test.
"""

import csv
import html
import io
import re

import nbformat
import pytest

from autograder.pipeline.cli import main
from tests.support import adversarial_corpus as corpus
from tests.support import corpus_ex3 as ex3

pytestmark = [pytest.mark.sandboxed, pytest.mark.xdist_group("grading_outputs")]  # one worker grades them

A = ex3.ASSIGNMENT
# Tens of MB cross the kernel's sockets: a generous cell timeout, so a loaded machine skips no cell.
LIMITS = ["--workers", "2", "--cell-timeout", "120", "--time-limit", "600"]
MB = 2**20

# lstm_forward, right, but writing a note on stderr at each call (after `lines` lines of stdout): nbgrader
# fails the test cell that calls it. Nothing else calls lstm_forward, so only test_lstm_forward loses.
NOTE_ON_STDERR = '''
import sys
_right_lstm_forward = lstm_forward


def lstm_forward(*args):
    if {lines}:
        print("\\n".join(f"stdout line {{k}}" for k in range({lines})))
    print("lstm_forward: a note on stderr", file=sys.stderr)
    return _right_lstm_forward(*args)
'''

MANY_TRACEBACKS = '''
for _k in range(250):  # 250 errors of 60 lines of 2,000 characters each (all that is kept of one): 30 MB
    get_ipython()._showtraceback(ValueError, "v" * 2000, ["t" * 2000] * 60)
'''

DISPLAY_DATA = '''
from IPython.display import publish_display_data
publish_display_data({"text/plain": "lines", "text/html": "<br>\\n" * 1_500_000})  # 1.5 million lines
publish_display_data({"text/plain": "metadata"}, metadata={"junk": "m" * 20_000_000})
'''

WIDGET_STATE = '''
from comm import create_comm
_widgets = [create_comm(target_name="jupyter.widget", data={"state": {"_model_name": "Junk", "junk": "w" * 8_000_000},
                                                           "buffer_paths": []}) for _ in range(5)]
'''

READ_WORKING_FOLDER = '''
import os
print("working folder:", sorted(os.listdir(".")))
for _root, _dirs, _files in os.walk("."):
    for _name in _files:
        try:
            print(_name, open(os.path.join(_root, _name), errors="replace").read())
        except OSError as _error:
            print(_name, _error)
'''

PRINT_RUNNING_CELLS = '''
get_ipython().events.register("pre_run_cell", lambda info: print(info.raw_cell))
'''


def appended(function: str, code: str):
    """An edit putting code after the solution of function, in its cell."""
    def edit(nb):
        nb.cells[corpus.test_cell(nb, function)].source += "\n" + code
    return edit


def grown_metadata(nb):
    """8 MB in the notebook's metadata, in a code cell's, and in a markdown cell's attachment."""
    nb.metadata["junk"] = "n" * 8_000_000
    nb.cells[corpus.test_cell(nb, "forget_gate")].metadata["junk"] = "c" * 8_000_000
    markdown = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    markdown.attachments = {"junk.png": {"image/png": "a" * 8_000_000}}


ATTACKS = [
    corpus.Attack("stderrafter11mb", "prints 11 MB, then lstm_forward writes to stderr", broken=("lstm_forward",),
                  before={"lstm_forward": 'print("x" * 11_000_000)\n'},
                  edit=appended("lstm_forward", NOTE_ON_STDERR.format(lines=0))),
    corpus.Attack("stderrafterlines", "lstm_forward prints 1,000 lines before each note on stderr",
                  broken=("lstm_forward",), edit=appended("lstm_forward", NOTE_ON_STDERR.format(lines=1000))),
    corpus.Attack("bigmetadata", "8 MB each of notebook metadata, cell metadata, an attachment", edit=grown_metadata),
    corpus.Attack("tracebacks", "publishes 30 MB of tracebacks", edit=appended("forget_gate", MANY_TRACEBACKS)),
    corpus.Attack("displaydata", "displays 1.5 million lines of HTML and 20 MB of output metadata",
                  edit=appended("input_gate", DISPLAY_DATA)),
    corpus.Attack("widgetstate", "opens widgets holding 40 MB of state", edit=appended("update_cell", WIDGET_STATE)),
    corpus.Attack("readsfolder", "prints every file of its working folder",
                  before={"forget_gate": READ_WORKING_FOLDER}),
    corpus.Attack("readscells", "prints the source of every cell as it starts",
                  before={"forget_gate": PRINT_RUNNING_CELLS}),
]
GROWN = ("stderrafter11mb", "bigmetadata", "tracebacks", "displaydata", "widgetstate")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    course = tmp / "grading"
    args = ["--course-dir", str(course), "--source", str(ex3.ROOT / "solutions"), "--release", str(tmp / "exercises")]
    assert main(args + ["release", A]) == 0
    released = tmp / "exercises" / A / f"{A}.ipynb"
    solutions, points = ex3.read_solution()
    corpus.write_zip(tmp / "class.zip", {a.student: corpus.submission(a, released, solutions, {}) for a in ATTACKS})
    assert main(args + ["collect", A, str(tmp / "class.zip")]) == 0
    assert main(args + ["grade", A, *LIMITS]) == 0
    assert main(args + ["export"]) == 0
    assert main(args + ["feedback", A]) == 0
    return dict(course=course, points=points)


def autograded_path(graded, student):
    return graded["course"] / "autograded" / student / A / f"{A}.ipynb"


def outputs_text(nb) -> str:
    """Every text the outputs of a notebook hold."""
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) + "".join(o.get("traceback", []))
                   + "".join(str(v) for v in o.get("data", {}).values()) for o in outputs)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.student)
def test_each_submission_earns_what_its_content_earns(graded, attack):
    rows = {row["student_id"]: row for row in csv.DictReader(
        io.StringIO((graded["course"] / "exports" / "grades.csv").read_text()))}
    expected = attack.points(graded["points"])
    assert {test: float(rows[attack.student][f"{A}/{test}"]) for test in expected} == expected, attack.what


@pytest.mark.parametrize("student", ["stderrafter11mb", "stderrafterlines"])
def test_a_note_on_stderr_fails_its_test_cell_whatever_came_before(graded, student):
    nb = nbformat.read(autograded_path(graded, student), as_version=4)
    cell = nb.cells[corpus.test_cell(nb, "test_lstm_forward")]
    stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr and stderr[0].startswith("lstm_forward: a note on stderr")


@pytest.mark.parametrize("student", GROWN)
def test_the_graded_notebook_stays_under_its_limit_and_says_what_it_cut(graded, student):
    path = autograded_path(graded, student)
    assert path.stat().st_size < 11 * MB
    nb = nbformat.read(path, as_version=4)
    notes = [nb.metadata.get("truncated", "")] + [c.metadata.get("truncated", "") for c in nb.cells]
    assert "the notebook's outputs reached the limit of 10 MB]" in "".join(notes) + outputs_text(nb)


def test_what_was_cut_is_named(graded):
    """In notebook order: the notebook's 8 MB of metadata fit, the cell's metadata and the attachment do not."""
    nb = nbformat.read(autograded_path(graded, "bigmetadata"), as_version=4)
    assert len(nb.metadata.junk) == 8_000_000
    code = nb.cells[corpus.test_cell(nb, "forget_gate")].metadata
    assert "junk" not in code and code.truncated.startswith("[output truncated: metadata junk:")
    markdown = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    assert markdown.attachments == {}
    assert markdown.metadata.truncated.startswith("[output truncated: attachments junk.png:")
    widgets = nbformat.read(autograded_path(graded, "widgetstate"), as_version=4).metadata
    assert widgets.truncated.startswith("[output truncated: widget state:")


def test_the_working_folder_holds_no_notebook(graded):
    printed = outputs_text(nbformat.read(autograded_path(graded, "readsfolder"), as_version=4))
    listing = re.search(r"working folder: (\[.*\])", printed).group(1)
    assert ".ipynb" not in listing


@pytest.mark.parametrize("student", ["readsfolder", "readscells"])
def test_no_hidden_test_line_reaches_the_feedback(graded, student):
    hidden = corpus.hidden_lines()
    assert 'check_function("forget_gate", forget_gate)' in hidden
    page = (graded["course"] / "feedback" / student / A / f"{A}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]*>", "", page))
    assert not any(line in text for line in hidden)


def test_the_running_cells_printed_reach_the_feedback_without_their_hidden_lines(graded):
    page = (graded["course"] / "feedback" / "readscells" / A / f"{A}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]*>", "", page))
    assert "[a line of the hidden tests]" in text and "All visible tests of forget_gate passed." in text


def test_reading_the_working_folder_puts_no_hidden_test_line_in_the_graded_outputs(graded):
    printed = outputs_text(nbformat.read(autograded_path(graded, "readsfolder"), as_version=4))
    assert not any(line in printed for line in corpus.hidden_lines())
