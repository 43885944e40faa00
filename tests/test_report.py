"""The report through the real `autograder` command: who submitted nothing, what collect did not
take, grading by hand, names from the roster, and nothing graded said as such.

The tiny assignment gets a written answer graded by hand (an nbgrader answer cell with
points); a grader's score is given the way formgrader saves it, through nbgrader's
gradebook. Every expected line is worked out by hand from the submissions.
"""

import zipfile

import nbformat
import pytest
from nbgrader.api import Gradebook

from tests.support import corpus_tiny as tiny

WRITTEN_POINTS = 2


def course_with_a_written_answer(tmp_path) -> dict:
    paths = tiny.make_course(tmp_path)
    source = paths["source_dir"] / "tiny" / "tiny.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(tiny.nbgrader_cell(nbformat.v4.new_markdown_cell(
        "Why is the forget gate a sigmoid?\n\n### BEGIN SOLUTION\nIts output is a fraction kept.\n"
        "### END SOLUTION"), "why_sigmoid", solution=True, grade=True, points=WRITTEN_POINTS))
    nbformat.write(nb, source)
    assert tiny.run(paths, "release", "tiny") == 0
    return paths


def answered(notebook: str) -> str:
    """The student's notebook with the written answer written (an unchanged answer cell nbgrader scores 0 itself)."""
    nb = nbformat.reads(notebook, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "why_sigmoid":
            cell.source = "It keeps a fraction, between 0 and 1, of the cell state."
    return nbformat.writes(nb)


def report(paths, capsys) -> str:
    capsys.readouterr()
    assert tiny.run(paths, "report", "tiny") == 0
    return (paths["course_dir"] / "reports" / "tiny.md").read_text()


def section(text: str, heading: str) -> list:
    """The lines of one section of the Markdown report, without its heading and blank lines."""
    part = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in part.splitlines() if line]


@pytest.mark.requires_root
def test_report_lists_non_submitters_skipped_files_hand_grading_and_names(tmp_path, capsys):
    paths = course_with_a_written_answer(tmp_path)
    (tmp_path / "roster.csv").write_text("lms_id,student_id,first_name,last_name\n11,s001,Jane,Smith\n"
                                         "12,s002,Alex,Doe\n13,s003,Kim,Ng\n")
    correct = answered(tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL))
    add_only = answered(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    with zipfile.ZipFile(tmp_path / "class.zip", "w") as archive:
        for name, content in [("smithjane_11_111_tiny.ipynb", correct), ("doealex_12_112_tiny.ipynb", add_only),
                              ("doealex_12_112_plot.png", "PNG")]:
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, 1, 12, 0, 0)), content)
    assert tiny.run(paths, "collect", "tiny", tmp_path / "class.zip", "--roster", tmp_path / "roster.csv") == 0

    text = report(paths, capsys)  # collected, not graded yet
    assert section(text, "Summary")[2] == "| 2 | 0 | 0 | 0 | nothing graded yet | 0 |"
    assert "mean 0" not in text and "0.00 of" not in text
    assert section(text, "Students on the roster who submitted nothing")[2:] == ["| s003 (Kim Ng) |"]
    assert section(text, "Files collect did not take")[2:] == ["| doealex_12_112_plot.png | not a notebook |"]
    assert section(text, "Students")[2:] == [
        "| s001 | Jane Smith | 2025-03-01 12:00:00.000000 UTC | - | not graded | 0 |",
        "| s002 | Alex Doe | 2025-03-01 12:00:00.000000 UTC | - | not graded | 0 |"]

    assert tiny.run(paths, "grade", "tiny", "--workers", 1, "--time-limit", 300) == 0
    text = report(paths, capsys)
    # autograded: Jane 2 + 3, Alex 2; the written answer waits for a grader in both
    assert section(text, "Summary")[2] == "| 2 | 2 | 2 | 0 | 3.50 of 7 | 2 |"
    assert section(text, "Grading by hand")[2:] == ["| why_sigmoid | 2 | 0 | 2 |"]
    assert section(text, "Students")[2:] == [
        "| s001 | Jane Smith | 2025-03-01 12:00:00.000000 UTC | - | 5 | 1 |",
        "| s002 | Alex Doe | 2025-03-01 12:00:00.000000 UTC | - | 2 | 1 |"]

    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:  # as formgrader saves
        grade = gb.find_grade("why_sigmoid", "tiny", "tiny", "s001")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.db.commit()
    text = report(paths, capsys)
    assert section(text, "Grading by hand")[2:] == ["| why_sigmoid | 2 | 1 | 1 |"]
    assert section(text, "Summary")[2] == "| 2 | 2 | 2 | 0 | 4.25 of 7 | 1 |"
    assert section(text, "Students")[2] == "| s001 | Jane Smith | 2025-03-01 12:00:00.000000 UTC | - | 6.5 | 0 |"


def test_a_report_before_any_grading_says_nothing_is_graded(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    text = report(paths, capsys)
    assert section(text, "Summary")[2] == "| 0 | 0 | 0 | 0 | nothing graded yet | 0 |"
    assert section(text, "Students") == ["(none)"]
