"""Every assignment through `autograder grade` with the sandbox on: the instructor's
solution earns every point its test cells are worth, the blank student version none.

The points come from the source notebook's metadata; the grader runs each
notebook in the sandbox (Keras included) and judges the hidden tests outside.
"""

import csv

import nbformat
import pytest

from autograder.pipeline.cli import main
from tests.support import ASSIGNMENTS
from tests.support.exercise_course import CELL_TIMEOUT, source_notebook

pytestmark = pytest.mark.sandboxed


def points(assignment):
    cells = nbformat.read(source_notebook(assignment), as_version=4).cells
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"]) for c in cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_every_point_and_blank_none(tmp_path, assignment):
    args = ["--course-dir", str(tmp_path / "grading"), "--release", str(tmp_path / "exercises")]
    assert main(args + ["release", assignment]) == 0
    download = tmp_path / "download"
    download.mkdir()
    (download / f"solution_1_1_{assignment}.ipynb").write_bytes(source_notebook(assignment).read_bytes())
    (download / f"blank_2_2_{assignment}.ipynb").write_bytes(
        (tmp_path / "exercises" / assignment / f"{assignment}.ipynb").read_bytes())
    assert main(args + ["collect", assignment, str(download)]) == 0
    assert main(args + ["grade", assignment, "--workers", "2", "--cell-timeout", str(CELL_TIMEOUT),
                        "--time-limit", str(3 * CELL_TIMEOUT)]) == 0
    assert main(args + ["export"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "grading" / "exports" / "grades.csv"))}
    expected = points(assignment)
    assert {t: float(rows["solution"][f"{assignment}/{t}"]) for t in expected} == expected
    assert {t: float(rows["blank"][f"{assignment}/{t}"]) for t in expected} == dict.fromkeys(expected, 0.0)
