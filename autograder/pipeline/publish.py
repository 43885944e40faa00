"""``autograder publish DEST``: the student edition, a tree to push to the course's public repository.

It holds the built website (``site/``), the student notebooks (``exercises/``),
the chapters as runnable notebooks (``book/``), the student package
``lstm_course`` (installable: ``pyproject.toml``) and the environment Binder reads
(``requirements.txt``, ``runtime.txt``). It never holds ``solutions/``, hidden tests, ``grading/``, the
grading pipeline or ``tests/``. A graded function's NumPy reference is in it
only for an assignment revealed with ``--reveal`` (after its due date), as
``lstm_course/revealed/<assignment>.py``; the chapters otherwise run on the
package's Keras stand-ins (rule in ``lstm_course/graded.py``).

An assignment whose given code is another's solution goes out only with it:
``ex5_lstm_backward`` gives ex3's ``lstm_cell_forward`` (``PUBLISHED_WITH``).
"""

import inspect
import os
import re
import shutil
from pathlib import Path

from myst_nb.core.read import read_myst_markdown_notebook
from nbformat import write

from ..course import reference
from ..course.api import FUNCTIONS
from .course_folder import ROOT, CourseError

PUBLISHED_WITH = {"ex5_lstm_backward": "ex3_lstm_gates"}  # its given code is the other one's solution
STUDENT_REQUIREMENTS = ("numpy", "matplotlib", "tensorflow_cpu", "keras", "ipywidgets", "ipykernel",
                        "jupyterlab", "myst-nb", "nbgrader")  # chapters (myst_nb's glue), exercises, validate
PYTHON = "python-3.11"
PACKAGE = ROOT / "lstm_course"
PACKAGE_FILES = ("__init__.py", "api.py", "long_gap.py", "graded.py", "keras_equivalents.py")  # long_gap: a link


def revealed_by_make():
    """The assignments make's REVEAL names: the website's table of contents and the tests read it too."""
    return set(os.environ.get("REVEAL", "").split())


def published_assignments(revealed):
    """The assignments whose student notebooks go out, given the revealed ones."""
    return [a for a in FUNCTIONS if a not in PUBLISHED_WITH or PUBLISHED_WITH[a] in revealed]


def revealed_module(assignment):
    """Source of lstm_course/revealed/<assignment>.py: the reference's functions of that assignment."""
    own = FUNCTIONS[assignment]
    bodies = [inspect.getsource(getattr(reference, name)) for name in own]
    earlier = [name for a, names in FUNCTIONS.items() if a != assignment for name in names
               if any(re.search(rf"\b{name}\(", body) for body in bodies)]
    lines = [f'"""{assignment}: the course\'s reference solution, revealed by the instructor."""', "",
             "import numpy as np", "",
             "from ..api import GATES, KERAS_GATES, MAPPINGS, PARAM_KEYS  # noqa: F401"]
    if earlier:
        lines.append(f"from ..graded import {', '.join(earlier)}  # resolved before this assignment")
    return "\n".join(lines) + "\n\n\n" + "\n\n".join(bodies)


def student_requirements():
    """requirements.txt for Binder: the student's packages, pinned as requirements.lock pins them, and
    lstm_course itself (the edition's root, installed so that chapters and exercises import it from any folder)."""
    pins = {line.split("==")[0].lower(): line for line in (ROOT / "requirements.lock").read_text().splitlines()}
    return "".join(pins[name.lower()] + "\n" for name in STUDENT_REQUIREMENTS) + ".\n"


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "lstm-course"
version = "1"
description = "The LSTM course's student package: the long-gap task and the functions the chapters call"
requires-python = ">=3.11"

[tool.setuptools]
packages = {packages}
"""


def publish(dest, reveal=(), site=ROOT / "_build" / "html"):
    """Write the student edition to dest (which must not exist or be empty). Returns what was written."""
    dest = Path(dest)
    unknown = sorted(set(reveal) - set(FUNCTIONS))
    if unknown:
        raise CourseError(f"unknown assignment {', '.join(unknown)}; the assignments are {', '.join(FUNCTIONS)}")
    if dest.exists() and any(dest.iterdir()):
        raise CourseError(f"{dest} is not empty: publish writes a fresh tree (remove it or give a new folder)")
    if not (site / "index.html").is_file():
        raise CourseError(f"no website in {site}: build it first with `make`")
    for held, needs in PUBLISHED_WITH.items():
        if needs not in reveal and (site / "exercises" / held).exists():
            raise CourseError(f"the website in {site} shows {held}, which gives {needs}'s solutions: "
                              f"publish with --reveal {needs}, or rebuild it without {needs} in make's REVEAL")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(site, dest / "site", ignore=shutil.ignore_patterns(".buildinfo", "*.doctree"))
    shutil.copytree(ROOT / "book" / "figures", dest / "book" / "figures")
    for chapter in sorted((ROOT / "book").glob("*.md")):
        notebook = read_myst_markdown_notebook(chapter.read_text(encoding="utf-8"))
        if any(cell.cell_type == "code" for cell in notebook.cells):  # a chapter, not the bibliography
            write(notebook, dest / "book" / f"{chapter.stem}.ipynb")
            shutil.copyfile(chapter, dest / "book" / chapter.name)  # the website's launch buttons open this
    assignments = published_assignments(set(reveal))
    for assignment in assignments:
        shutil.copytree(ROOT / "exercises" / assignment, dest / "exercises" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    package = dest / "lstm_course"
    package.mkdir()
    for name in PACKAGE_FILES:
        shutil.copyfile(PACKAGE / name, package / name)  # follows the links to autograder/course
    if reveal:
        (package / "revealed").mkdir()
        (package / "revealed" / "__init__.py").write_text('"""Solutions the instructor has revealed."""\n')
        for assignment in reveal:
            (package / "revealed" / f"{assignment}.py").write_text(revealed_module(assignment), encoding="utf-8")
    packages = ["lstm_course"] + (["lstm_course.revealed"] if reveal else [])
    (dest / "pyproject.toml").write_text(PYPROJECT.format(packages=str(packages).replace("'", '"')))
    (dest / "requirements.txt").write_text(student_requirements())
    (dest / "runtime.txt").write_text(PYTHON + "\n")
    (dest / "README.md").write_text(README.format(assignments="\n".join(f"- `exercises/{a}/`" for a in assignments),
                                                  revealed=", ".join(sorted(reveal)) or "none"), encoding="utf-8")
    return assignments


README = """# LSTMs from the ground up: the student edition

The course's public repository, written by `autograder publish`. Do not edit it
by hand: it is generated from the instructor's repository.

- `site/`: the course website (what GitHub Pages serves);
- `book/`: the chapters as notebooks (`.ipynb`, and the MyST `.md` the website's launch buttons open);
- `exercises/`: the exercise notebooks:
{assignments}
- `lstm_course/`: the course's package that the chapters import;
- `requirements.txt`, `runtime.txt`, `pyproject.toml`: the environment (Binder reads them; the
  last line of `requirements.txt` installs `lstm_course` from this folder).

Run it on your machine with Python 3.11:

```sh
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/jupyter lab
```

Solutions revealed by the instructor so far: {revealed}. The chapters call the
exercises' functions through `lstm_course.graded`: the instructor's solution
where it is revealed, elsewhere a Keras computation that gives the same numbers.
"""
