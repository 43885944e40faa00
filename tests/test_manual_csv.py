"""Written answers graded in a spreadsheet: `autograder manual export`, fill in, `autograder manual import`.

The tiny assignment gets two written answers graded by hand (2 points and 1 point); alice answers both,
bob only the first. After `grade`, the real `autograder` command (a subprocess, as an instructor runs it)
exports the CSV, a TA's scores and comments are filled in and imported, and everything is checked against
numbers worked out by hand: the gradebook (read through nbgrader's own API), grades.csv, the feedback
page, the report, a second export, and all of them again after `grade --force`. A score entered in
formgrader meanwhile survives an import of a file exported before it. Every bad file is refused with one
line naming its row, and the gradebook file is byte for byte what it was.
"""

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from tests.support import ROOT
from tests.support import corpus_tiny as tiny

pytestmark = pytest.mark.requires_root  # grading runs the sandbox
AUTOGRADER = Path(sys.executable).parent / "autograder"
GUARD = 600  # seconds: only stops a hung command from hanging the suite; nothing is timed
WRITTEN = {"explain": 2.0, "why_sigmoid": 1.0}  # question -> points
ANSWERS = {"alice": {"explain": "Each step multiplies the gradient by tanh' W_h, below one: it shrinks.",
                     "why_sigmoid": "=A gate keeps a fraction, between 0 and 1."},  # a formula's start
           "bob": {"explain": "Gradients get smaller."}}
BLANK = "YOUR ANSWER HERE"  # what bob left in why_sigmoid (nbgrader scores an unchanged answer 0 itself)
FULL_MARKS = tiny.ADD_POINTS + tiny.MUL_POINTS + sum(WRITTEN.values())  # 8


def instructor_notebook():
    nb = tiny.instructor_notebook()
    for question, points in WRITTEN.items():
        cell = nbformat.v4.new_markdown_cell(f"Model answer to {question}.\n\nRubric: full marks for the idea.")
        nb.cells.append(tiny.nbgrader_cell(cell, question, solution=True, grade=True, points=points))
    return nb


def submission(paths, student, add, mul) -> str:
    nb = nbformat.reads(tiny.student_notebook(paths["release_dir"], add, mul), as_version=4)
    for cell in nb.cells:
        cell.source = ANSWERS[student].get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manual")
    paths = tiny.make_course(tmp)
    nbformat.write(instructor_notebook(), paths["source_dir"] / "tiny" / "tiny.ipynb")
    assert tiny.run(paths, "release", "tiny") == 0
    with zipfile.ZipFile(tmp / "class.zip", "w") as archive:
        for name, content in [("alice_11_111_tiny.ipynb", submission(paths, "alice", tiny.ADD, tiny.MUL)),
                              ("bob_12_112_tiny.ipynb", submission(paths, "bob", tiny.ADD, None))]:
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, 1, 12, 0, 0)), content)
    assert tiny.run(paths, "collect", "tiny", tmp / "class.zip") == 0
    assert tiny.run(paths, "grade", "tiny", "--workers", 1) == 0
    return paths


@pytest.fixture
def course(graded_once, tmp_path):
    """A copy of the graded course of its own: each test changes its gradebook."""
    shutil.copytree(graded_once["course_dir"], tmp_path / "grading")
    return dict(graded_once, course_dir=tmp_path / "grading")


def autograder(paths, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(AUTOGRADER), *tiny.cli_args(paths), *map(str, args)], capture_output=True,
                          text=True, timeout=GUARD, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def manual_export(paths) -> str:
    done = autograder(paths, "manual", "export", "tiny")
    assert done.returncode == 0, done.stderr
    return (paths["course_dir"] / "exports" / "tiny_manual.csv").read_text()


def manual_import(paths, text: str) -> subprocess.CompletedProcess:
    path = paths["course_dir"].parent / "filled.csv"
    path.write_text(text)
    return autograder(paths, "manual", "import", "tiny", path)


def table(text: str) -> list:
    return list(csv.reader(io.StringIO(text)))


def as_csv(rows: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


HEADER = ["student_id", "notebook", "question", "answer", "max", "score", "comment", "needs_manual_grade"]
EXPORTED = [HEADER,  # after grading: nothing graded by hand; bob's unchanged answer is already scored 0
            ["alice", "tiny", "explain", ANSWERS["alice"]["explain"], "2", "", "", "yes"],
            ["alice", "tiny", "why_sigmoid", "'" + ANSWERS["alice"]["why_sigmoid"], "1", "", "", "yes"],
            ["bob", "tiny", "explain", ANSWERS["bob"]["explain"], "2", "", "", "yes"],
            ["bob", "tiny", "why_sigmoid", BLANK, "1", "", "", ""]]
ALICE_COMMENT = "+1 for the product of factors; say which factor is below one."  # a formula's start too
FORMGRADER_SCORE, FORMGRADER_COMMENT = 2 / 3, "Names the effect, not the cause."  # a score :g would round


def filled() -> list:
    """The export as a TA fills it in: alice's two answers and bob's blank one; bob's explain is left blank."""
    rows = [list(row) for row in EXPORTED]
    rows[1][5:7] = ["1.5", ALICE_COMMENT]
    rows[2][5:7] = ["1", "Right."]
    rows[4][5:7] = ["0", "No answer."]
    return rows


def enter_in_formgrader(paths):
    """bob's explain graded meanwhile, saved the way formgrader's API saves it (tests/test_manual_grading.py)."""
    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        grade = gb.find_grade("explain", "tiny", "tiny", "bob")
        grade.manual_score, grade.needs_manual_grade = FORMGRADER_SCORE, False
        gb.find_comment("explain", "tiny", "tiny", "bob").manual_comment = FORMGRADER_COMMENT
        gb.db.commit()


def gradebook(paths) -> dict:
    """{(student, question): (manual score, manual comment, needs manual grade)}, read by nbgrader."""
    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        return {(s, q): (gb.find_grade(q, "tiny", "tiny", s).manual_score,
                         gb.find_comment(q, "tiny", "tiny", s).manual_comment,
                         gb.find_grade(q, "tiny", "tiny", s).needs_manual_grade)
                for s in ANSWERS for q in WRITTEN}


def grades_csv(paths) -> dict:
    assert tiny.run(paths, "export") == 0
    return {row["student_id"]: row for row in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}


def section(report: str, heading: str) -> list:
    part = report.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in part.splitlines() if line][2:]


def test_a_filled_in_csv_reaches_gradebook_exports_feedback_and_report_and_survives_regrading(course):
    exported = manual_export(course)
    assert table(exported) == EXPORTED
    enter_in_formgrader(course)  # after the export: the file's blank for bob's explain must not erase it

    done = manual_import(course, as_csv(filled()))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.endswith(": 3 scores and 3 comments written; rows left as they were: 1\n"), done.stdout
    entered = {("alice", "explain"): (1.5, ALICE_COMMENT, False), ("alice", "why_sigmoid"): (1.0, "Right.", False),
               ("bob", "explain"): (FORMGRADER_SCORE, FORMGRADER_COMMENT, False),
               ("bob", "why_sigmoid"): (0.0, "No answer.", False)}
    assert gradebook(course) == entered

    again = filled()  # the second export: what the gradebook now holds, formulas' starts quoted
    again[1][5:8] = ["1.5", "'" + ALICE_COMMENT, ""]
    again[2][7] = again[3][7] = ""
    again[3][5:7] = ["0.6666666666666666", FORMGRADER_COMMENT]  # exactly: the round trip must not round it
    second = manual_export(course)
    assert table(second) == again
    done = manual_import(course, second)  # the round trip changes nothing
    assert done.returncode == 0 and done.stdout.endswith(": 0 scores and 0 comments written; "
                                                         "rows left as they were: 4\n"), done.stdout
    assert gradebook(course) == entered

    alice = 2 + 3 + 1.5 + 1  # add, mul, explain, why_sigmoid; bob: 2 + 2/3 + 0 (no mul), 2.66667 as :g writes it
    rows = grades_csv(course)
    assert [rows["alice"][k] for k in ("tiny", "tiny/explain", "tiny/why_sigmoid")] == [f"{alice:g}", "1.5", "1"]
    assert [rows["bob"][k] for k in ("tiny", "tiny/explain", "tiny/why_sigmoid")] == ["2.66667", "0.666667", "0"]

    assert tiny.run(course, "feedback", "tiny") == 0
    page = (course["course_dir"] / "feedback" / "alice" / "tiny" / "tiny.html").read_text()
    assert ALICE_COMMENT in page and "Right." in page
    assert f"Score: 1.5 / {WRITTEN['explain']:.1f}" in page and f"Score: {alice:g} / {FULL_MARKS:.1f}" in page

    assert tiny.run(course, "report", "tiny") == 0
    report = (course["course_dir"] / "reports" / "tiny.md").read_text()
    assert section(report, "Grading by hand") == ["| explain | 2 | 2 | 0 |", "| why_sigmoid | 1 | 2 | 0 |"]
    assert section(report, "Students") == [f"| alice |  | 2025-03-01 12:00:00.000000 UTC | - | {alice:g} | 0 |",
                                           "| bob |  | 2025-03-01 12:00:00.000000 UTC | - | 2.66667 | 0 |"]

    assert tiny.run(course, "grade", "tiny", "--force", "--workers", 1) == 0
    # regrading keeps every manual score and comment, and marks each for a look, as nbgrader's autograde does
    assert gradebook(course) == {key: (score, comment, True) for key, (score, comment, _) in entered.items()}
    assert grades_csv(course) == rows
    for row in again[1:]:
        row[7] = "yes"
    final = manual_export(course)
    assert table(final) == again
    out = course["course_dir"].parent / "for_the_tas.csv"
    done = autograder(course, "manual", "export", "tiny", "--out", out)
    assert done.returncode == 0 and done.stdout == f"wrote {out}: 4 answers graded by hand, 4 waiting for a grade\n"
    assert out.read_text() == final


def changed(row: int, column: str, value: str) -> list:
    rows = filled()
    rows[row][HEADER.index(column)] = value
    return rows


BAD_FILES = {  # name -> (rows of the file, the one line it gets); the valid rows before the bad one are not written
    "unknown student": (changed(3, "student_id", "mallory"), "row 4: no submission of tiny by a student 'mallory'"),
    "unknown question": (changed(3, "question", "explian"),
                         "row 4: 'tiny/explian' is not a question of tiny graded by hand "
                         "(those are: tiny/explain, tiny/why_sigmoid)"),
    "an autograded test": (changed(3, "question", "test_add"),
                           "row 4: 'tiny/test_add' is not a question of tiny graded by hand "
                           "(those are: tiny/explain, tiny/why_sigmoid)"),
    "unknown notebook": (changed(3, "notebook", "other"),
                         "row 4: 'other/explain' is not a question of tiny graded by hand "
                         "(those are: tiny/explain, tiny/why_sigmoid)"),
    "above the points": (changed(3, "score", "2.5"), "row 4: score 2.5 is not between 0 and 2, the points of explain"),
    "negative": (changed(4, "score", "-1"), "row 5: score -1 is not between 0 and 1, the points of why_sigmoid"),
    "a decimal comma": (changed(3, "score", "1,5"), "row 4: score '1,5' is not a number"),
    "not a number": (changed(3, "score", "nan"), "row 4: score 'nan' is not a number"),
    "a question twice": (filled() + [filled()[1]], "row 6: alice/tiny/explain again (first in row 2)"),
    "no score column": (changed(0, "score", "points"), "has no column score (it needs student_id, notebook, "
                        "question, score, comment, as `autograder manual export` writes)"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_one_line_naming_its_row_and_nothing_is_written(course, name):
    rows, message = BAD_FILES[name]
    database = course["course_dir"] / "gradebook.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    done = manual_import(course, as_csv(rows))
    assert done.returncode == 1 and done.stdout == ""
    path = course["course_dir"].parent / "filled.csv"
    assert done.stderr == f"autograder manual: {path} {message}; nothing was imported\n"
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert gradebook(course) == {("alice", "explain"): (None, None, True), ("alice", "why_sigmoid"): (None, None, True),
                                 ("bob", "explain"): (None, None, True), ("bob", "why_sigmoid"): (None, None, False)}
