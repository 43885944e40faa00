"""A tiny nbgrader assignment, and student submissions of known content, for
the tests of the grading pipeline that must not wait for the real exercises.

The assignment "tiny" asks for ``add`` and ``mul``; two autograded tests are
worth ADD_POINTS and MUL_POINTS, each with a hidden part. ``SUBMISSIONS``
maps a kind of submission to the code a student wrote and the points that
code earns by the tests' definition (written here by hand, not by grading).
"""

import json
from pathlib import Path

import nbformat

ASSIGNMENT = "tiny"
ADD_POINTS, MUL_POINTS = 2.0, 3.0


def nbgrader_cell(cell, grade_id, *, solution=False, grade=False, points=0, locked=False):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade,
                                 "locked": locked, "schema_version": 3}
    if grade:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def instructor_notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                  "language": "python"}})
    nb.cells = [
        v4.new_markdown_cell("# Tiny\nWrite `add` and `mul`."),
        nbgrader_cell(v4.new_code_cell(
            "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"), "add",
            solution=True),
        nbgrader_cell(v4.new_code_cell(
            "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n"
            "assert add(-1, 5) == 4, 'add is wrong for a negative number'\n### END HIDDEN TESTS"),
            "test_add", grade=True, points=ADD_POINTS, locked=True),
        nbgrader_cell(v4.new_code_cell(
            "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION\n"), "mul",
            solution=True),
        nbgrader_cell(v4.new_code_cell(
            "assert mul(2, 3) == 6\n### BEGIN HIDDEN TESTS\n"
            "assert mul(-2, 4) == -8, 'mul is wrong for a negative number'\n### END HIDDEN TESTS"),
            "test_mul", grade=True, points=MUL_POINTS, locked=True),
    ]
    return nb


ADD = "def add(a, b):\n    return a + b\n"
MUL = "def mul(a, b):\n    return a * b\n"
# kind -> (add cell, mul cell, points earned)
SUBMISSIONS = {
    "correct": (ADD, MUL, ADD_POINTS + MUL_POINTS),
    "add_only": (ADD, None, ADD_POINTS),            # mul left as the stub
    "hidden_fail": (ADD, "def mul(a, b):\n    return abs(a * b)\n", ADD_POINTS),  # passes visible only
    "wrong": ("def add(a, b):\n    return a - b\n", "def mul(a, b):\n    return a + b\n", 0.0),
    "blank": (None, None, 0.0),
    "syntax_error": ("def add(a, b)\n    return a + b\n", MUL, MUL_POINTS),
    "exception": ("def add(a, b):\n    return a + b + undefined_name\n", MUL, MUL_POINTS),
}


def make_course(tmp: Path) -> dict:
    """solutions/tiny/tiny.ipynb under tmp; returns the autograder's path options."""
    source = tmp / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(instructor_notebook(), source / f"{ASSIGNMENT}.ipynb")
    return {"source_dir": tmp / "solutions", "release_dir": tmp / "exercises", "course_dir": tmp / "grading"}


def student_notebook(release_dir: Path, add_code: str | None, mul_code: str | None) -> str:
    """The released student version with the answer cells filled in (None: left as given)."""
    nb = nbformat.read(release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        answer = {"add": add_code, "mul": mul_code}.get(grade_id)
        if answer is not None:
            cell.source = answer
    return nbformat.writes(nb)


def cli_args(paths: dict) -> list[str]:
    """The command's options for these paths; a "db_url" among them (a PostgreSQL server's) is the gradebook."""
    db_url = ["--db-url", paths["db_url"]] if paths.get("db_url") else []
    return ["--course-dir", str(paths["course_dir"]), "--source", str(paths["source_dir"]),
            "--release", str(paths["release_dir"]), *db_url]


def run(paths: dict, *args) -> int:
    """The `autograder` command on the tiny course; returns its exit status."""
    from autograder.pipeline.cli import main
    return main(cli_args(paths) + [str(a) for a in args])


def released_course(tmp: Path) -> dict:
    """make_course, with the assignment released."""
    paths = make_course(tmp)
    assert run(paths, "release", ASSIGNMENT) == 0
    return paths


def not_a_notebook() -> str:
    return json.dumps({"this": "is not a notebook"})
