"""A throwaway nbgrader course in a temporary folder, to grade an assignment for real.

It uses the course's own nbgrader configuration (code stub, preprocessors) and
only moves the course root, the folders and the gradebook into the temporary
folder, so `nbgrader generate_assignment` and `nbgrader autograde` run exactly
as they do for the instructor.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from . import ROOT

NBGRADER = ROOT / ".venv" / "bin" / "nbgrader"
# ex4 trains in one cell: on a loaded machine that takes many times nbgrader's 30 s, and speed is not under test
CELL_TIMEOUT = 600
COURSE_CONFIG = ROOT / "autograder" / "nbgrader_config.py"
# nbgrader's gradebook runs the `alembic` command, which lives next to it in the virtualenv
os.environ["PATH"] = f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"


def source_notebook(assignment):
    """The instructor's notebook of `assignment`, with solutions and hidden tests."""
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def student_version(assignment):
    """The generated student notebook of `assignment` (exercises/): what a student downloads."""
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


def nbgrader(*args, cwd):
    """Run one nbgrader command; fail with its output if it fails."""
    result = subprocess.run([str(NBGRADER), *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


class ExerciseCourse:
    """An nbgrader course in `root` holding one assignment, released and ready for submissions."""

    def __init__(self, root, assignment):
        self.root, self.assignment = Path(root), assignment
        (self.root / "source" / assignment).mkdir(parents=True)
        shutil.copy(source_notebook(assignment), self.root / "source" / assignment)
        (self.root / "nbgrader_config.py").write_text(
            f"c = get_config()\n"
            f"load_subconfig({str(COURSE_CONFIG)!r})  # the course's settings\n"
            f"c.CourseDirectory.root = {str(self.root)!r}\n"
            f"c.CourseDirectory.source_directory = 'source'\n"
            f"c.CourseDirectory.release_directory = 'release'\n"
            f"c.CourseDirectory.db_url = 'sqlite:///{self.root / 'gradebook.db'}'\n"
            f"c.Execute.timeout = {CELL_TIMEOUT}\n")
        nbgrader("generate_assignment", assignment, "--force", cwd=self.root)

    @property
    def released(self):
        """The student version: what a student downloads, blank."""
        return self.root / "release" / self.assignment / f"{self.assignment}.ipynb"

    def submit(self, student, notebook):
        """Hand in `notebook` (a NotebookNode) as `student`."""
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{self.assignment}.ipynb")

    def autograde(self):
        """Grade every submission in one `nbgrader autograde` run."""
        nbgrader("autograde", self.assignment, "--create", "--force", cwd=self.root)

    def scores(self):
        """{student: {autograded cell id: points earned}} from the gradebook (written answers are graded by hand)."""
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            submissions = gradebook.assignment_submissions(self.assignment)
            return {s.student_id: {g.name: g.score for g in s.notebooks[0].grades if g.cell.cell_type == "code"}
                    for s in submissions}

    def max_scores(self):
        """{autograded cell id: points available}."""
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_assignment(self.assignment).notebooks[0]
            return {cell.name: cell.max_score for cell in notebook.grade_cells if cell.cell_type == "code"}

    def errors(self, student):
        """{grade cell id: the error its test raised} in `student`'s autograded notebook."""
        path = self.root / "autograded" / student / self.assignment / f"{self.assignment}.ipynb"
        errors = {}
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    errors[cell.metadata["nbgrader"]["grade_id"]] = f"{output.ename}: {output.evalue}"
        return errors


def validate(notebook_path):
    """(passed, output) of `nbgrader validate` on one notebook."""
    result = subprocess.run([str(NBGRADER), "validate", str(notebook_path), f"--Execute.timeout={CELL_TIMEOUT}"],
                            capture_output=True, text=True)
    output = result.stdout + result.stderr
    return "Success! Your notebook passes all the tests." in output, output


def solved(assignment):
    """The source notebook read as a student's submission that solves everything."""
    return nbformat.read(source_notebook(assignment), as_version=4)


def dumps(notebook):
    return json.dumps(notebook, sort_keys=True, indent=1)
