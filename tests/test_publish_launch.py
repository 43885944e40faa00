"""The student edition runs on its own: what Binder does, here.

From a fresh copy of the edition ``autograder publish`` writes (revealing what
make's REVEAL reveals), in a fresh virtualenv whose only packages are those of
the edition's ``requirements.txt`` (installed by pip from the package index
this machine's pip is configured with), every chapter notebook executes top to
bottom, and every student notebook runs with errors only where the blanks are
designed to fail: its solution cells (``raise NotImplementedError()``) and its
visible tests (which call them). Nothing of the instructor's repository is
importable there, so the chapters run on the Keras stand-ins of every
unrevealed assignment.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from autograder.course.api import FUNCTIONS
from autograder.pipeline.publish import revealed_by_make
from tests.support import ROOT

pytestmark = pytest.mark.xdist_group("student_edition_venv")  # one virtualenv for the whole module
NOTEBOOK_TIMEOUT = 900  # seconds a notebook may run: the Keras chapter trains 25 models
DESIGNED_ERRORS = {"NotImplementedError", "AssertionError"}  # a blank, and a visible test of a blank


def alone(bin_dir):
    """The environment of a process of the edition's virtualenv: nothing points back at this repository."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


@pytest.fixture(scope="module")
def fresh_edition(tmp_path_factory, site_html):
    """(copy of the edition, its virtualenv's bin/) made from nothing but the edition."""
    tmp = tmp_path_factory.mktemp("launch")
    reveal = [arg for assignment in sorted(revealed_by_make()) for arg in ("--reveal", assignment)]
    done = subprocess.run([sys.executable, "-m", "autograder", "publish", str(tmp / "published"), *reveal],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    edition = tmp / "clone"
    shutil.copytree(tmp / "published", edition)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(tmp / "venv")], check=True)
    bin_dir = tmp / "venv" / "bin"
    install = subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "-r", "requirements.txt"],
                             capture_output=True, text=True, cwd=edition, env=alone(bin_dir))
    assert install.returncode == 0, install.stderr[-3000:]
    return edition, bin_dir


def execute(bin_dir, notebook, allow_errors=False):
    """Run a notebook in the virtualenv's own Jupyter, in its folder. Returns the executed notebook."""
    out = notebook.with_name(f"{notebook.stem}.executed.ipynb")
    command = [str(bin_dir / "jupyter"), "nbconvert", "--to", "notebook", "--execute", str(notebook),
               "--output", out.name, f"--ExecutePreprocessor.timeout={NOTEBOOK_TIMEOUT}"]
    done = subprocess.run(command + (["--allow-errors"] if allow_errors else []), capture_output=True, text=True,
                          cwd=notebook.parent, env=alone(bin_dir))
    assert done.returncode == 0, f"{notebook.name}:\n{done.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def chapters():
    return sorted(p.stem for p in (ROOT / "book").glob("*.md") if "{code-cell}" in p.read_text(encoding="utf-8"))


def test_nothing_of_the_instructor_is_importable_and_unrevealed_functions_are_keras(fresh_edition):
    edition, bin_dir = fresh_edition
    code = "import importlib.util as u, lstm_course.graded as g; print(u.find_spec('autograder'), g.SOURCES)"
    done = subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True, cwd=edition.parent,
                          env=alone(bin_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    expected = {a: "revealed" if a in revealed_by_make() else "keras" for a in FUNCTIONS}
    assert done.stdout.strip().splitlines()[-1] == f"None {expected}"


@pytest.mark.parametrize("chapter", chapters())
def test_every_chapter_runs_top_to_bottom(fresh_edition, chapter):
    edition, bin_dir = fresh_edition
    executed = execute(bin_dir, edition / "book" / f"{chapter}.ipynb")
    code = [cell for cell in executed["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell.get("execution_count") for cell in code
                        if "skip-execution" not in cell["metadata"].get("tags", []))


def test_every_student_notebook_fails_only_where_its_blanks_are(fresh_edition):
    edition, bin_dir = fresh_edition
    for notebook in sorted((edition / "exercises").glob("*/*.ipynb")):
        executed = execute(bin_dir, notebook, allow_errors=True)
        blanks_failing = 0
        for cell in executed["cells"]:
            errors = [o["ename"] for o in cell.get("outputs", []) if o["output_type"] == "error"]
            grading = cell["metadata"].get("nbgrader", {})
            if errors:
                where = f"{notebook.name}, cell {grading.get('grade_id', '?')}"
                assert grading.get("solution") or grading.get("grade"), f"{where} (given code) failed: {errors}"
                assert set(errors) <= DESIGNED_ERRORS, f"{where} failed otherwise than on a blank: {errors}"
                blanks_failing += 1
        assert blanks_failing, f"{notebook.name}: no blank failed, so its visible tests test nothing"
