"""The student edition written by ``autograder publish`` holds no secret; a revealed solution is in it.

Every file of the edition (the website, the chapters, the student notebooks,
the student package) is searched, as ``tests/test_site_no_leak.py`` searches
the website, for solution and hidden-test text of every instructor notebook
whose assignment is not revealed, for nbgrader's delimiters, for copies of
files of ``solutions/``, ``tests/`` and the grading pipeline, and for the
statements of the reference's functions of every unrevealed assignment (the
NumPy answers: lines of 25 characters or more that no student notebook gives
anyway). The rule for ex5, whose given code is ex3's forward step: it is
published only together with ex3's solutions.

The edition is the real command's output; the revealed edition proves that the
reference search fires (it finds ex3's answers once they are revealed) and that
the chapters then get ex3's functions from the revealed file.
"""

import hashlib
import inspect
import re
import subprocess
import sys

import pytest

from autograder.course import reference
from autograder.course.api import FUNCTIONS
from autograder.pipeline.course_folder import CourseError
from autograder.pipeline.publish import publish as publish_edition
from autograder.pipeline.publish import published_assignments, revealed_by_make
from tests.support import ROOT
from tests.test_site_no_leak import collapse, find_leaks, published_text, solution_notebooks, student_text

MIN_REFERENCE_LINE = 25  # shorter statements ("return h_seq", "h = h0") say nothing about an answer
NEVER_PUBLISHED = ("solutions", "grading", "tests", "autograder", "bench")
REVEALED = revealed_by_make()  # what the website was built with (make's REVEAL); publish reveals the same
UNREVEALED = [a for a in FUNCTIONS if a not in REVEALED]
ALSO_REVEALED = REVEALED | {"ex3_lstm_gates"}
# The Keras chapter builds and compiles its classifier in the open, and ex4 sends students to it:
# build_model's Keras calls are taught there, so they are not looked for.
TAUGHT_IN_CHAPTERS = {"build_model"}


def publish(dest, *reveal):
    command = [sys.executable, "-m", "autograder", "publish", str(dest)]
    command += [arg for assignment in reveal for arg in ("--reveal", assignment)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return dest


@pytest.fixture(scope="module")
def edition(tmp_path_factory, site_html):
    return publish(tmp_path_factory.mktemp("edition") / "student", *sorted(REVEALED))


@pytest.fixture(scope="module")
def revealed_edition(tmp_path_factory, site_html):
    return publish(tmp_path_factory.mktemp("edition") / "student", *sorted(ALSO_REVEALED))


def instructor_notebooks(assignments):
    return [nb for nb in solution_notebooks() if nb.stem in assignments]


def reference_lines(assignments):
    """(function, statement) of the reference's functions of these assignments, without their docstrings."""
    given = " ".join(student_text(a) for a in FUNCTIONS)
    found = []
    for assignment in assignments:
        for name in set(FUNCTIONS[assignment]) - TAUGHT_IN_CHAPTERS:
            function = getattr(reference, name)
            body = inspect.getsource(function).replace(function.__doc__ or "", "")
            found += [(name, line) for line in map(collapse, body.splitlines()[1:])
                      if len(line) >= MIN_REFERENCE_LINE and line not in given and not line.startswith('"""')]
    return found


def reference_leaks(tree, assignments):
    lines = reference_lines(assignments)
    texts = {p.relative_to(tree).as_posix(): published_text(p) for p in tree.rglob("*") if p.is_file()}
    return [(file, name, line) for file, text in texts.items() for name, line in lines if line in text]


def private_copies(tree):
    """Files of the edition that are byte copies of files that must stay private."""
    private = {hashlib.sha256(p.read_bytes()).hexdigest(): p.relative_to(ROOT).as_posix()
               for folder in ("solutions", "tests", "autograder/pipeline") for p in (ROOT / folder).rglob("*")
               if p.is_file() and p.stat().st_size > 0 and "__pycache__" not in p.parts}
    return [(p.relative_to(tree).as_posix(), private[digest]) for p in tree.rglob("*") if p.is_file()
            if (digest := hashlib.sha256(p.read_bytes()).hexdigest()) in private]


def test_the_edition_holds_what_students_need(edition):
    assert (edition / "site" / "index.html").is_file()
    assert {p.stem for p in (edition / "book").glob("*.ipynb")} == {p.stem for p in (ROOT / "book").glob("*.md")
                                                                    if "code-cell" in p.read_text()}
    published = sorted(p.name for p in (edition / "exercises").iterdir())
    assert published == published_assignments(REVEALED)
    assert ("ex5_lstm_backward" in published) == ("ex3_lstm_gates" in REVEALED)
    assert (edition / "lstm_course" / "graded.py").is_file() and (edition / "requirements.txt").is_file()


def test_nothing_private_is_in_the_edition(edition):
    paths = [p.relative_to(edition) for p in edition.rglob("*")]
    assert [p for p in paths if p.parts[0] in NEVER_PUBLISHED or "solutions" in p.parts] == []
    assert private_copies(edition) == []
    leaks = find_leaks(edition, instructor_notebooks(UNREVEALED))
    assert not leaks, "the student edition leaks:\n" + "\n".join(f"{file}: {what}" for file, what in leaks)


def test_no_reference_answer_of_an_unrevealed_assignment_is_in_the_edition(edition):
    assert reference_lines(FUNCTIONS), "no reference statement to look for"
    assert reference_leaks(edition, UNREVEALED) == []


def test_the_website_holds_no_reference_answer(site_html):
    assert reference_leaks(site_html, UNREVEALED) == []


def test_a_revealed_assignment_ships_its_reference_and_ex5_with_it(revealed_edition):
    leaked = {(name, file) for file, name, _ in reference_leaks(revealed_edition, FUNCTIONS)
              if not file.startswith("site/")}
    found = {name for name, _ in reference_lines(["ex3_lstm_gates"])}
    assert found and found <= {name for name, _ in leaked}  # the search fires
    assert {name for name, _ in leaked} <= {name for a in ALSO_REVEALED for name in FUNCTIONS[a]}
    assert {file for _, file in leaked} <= {f"lstm_course/revealed/{a}.py" for a in ALSO_REVEALED}
    assert (revealed_edition / "exercises" / "ex5_lstm_backward").is_dir()
    assert find_leaks(revealed_edition, instructor_notebooks(set(FUNCTIONS) - ALSO_REVEALED)) == []


def test_the_chapters_get_revealed_functions_from_the_revealed_file(revealed_edition):
    """In the edition, without the instructor's package: ex3 is the reference, the rest Keras."""
    code = ("import sys; sys.modules['autograder'] = None; sys.path.insert(0, sys.argv[1]);"
            "from lstm_course import graded; print(sorted(graded.SOURCES.items()));"
            "import numpy as np; print(graded.lstm_cell_forward.__module__, graded.sigmoid.__module__)")
    done = subprocess.run([sys.executable, "-c", code, str(revealed_edition)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    sources, modules = done.stdout.splitlines()[-2:]
    assert sources == str(sorted({a: "revealed" if a in ALSO_REVEALED else "keras" for a in FUNCTIONS}.items()))
    sigmoid_from = "revealed.ex1_rnn_basics" if "ex1_rnn_basics" in ALSO_REVEALED else "keras_equivalents"
    assert modules == f"lstm_course.revealed.ex3_lstm_gates lstm_course.{sigmoid_from}"


def test_publish_refuses_an_unknown_assignment_and_a_used_folder(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    for args, message in [(["publish", str(tmp_path / "new"), "--reveal", "ex9"], "unknown assignment ex9"),
                          (["publish", str(tmp_path / "used")], "is not empty")]:
        done = subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 1 and message in done.stderr and len(done.stderr.splitlines()) == 1
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine" and not (tmp_path / "new").exists()


def test_publish_refuses_a_website_that_shows_ex5_without_ex3_revealed(tmp_path):
    site = tmp_path / "html"
    (site / "exercises" / "ex5_lstm_backward").mkdir(parents=True)
    (site / "index.html").write_text("<html></html>")
    with pytest.raises(CourseError, match="shows ex5_lstm_backward, which gives ex3_lstm_gates's solutions"):
        publish_edition(tmp_path / "student", reveal=["ex1_rnn_basics"], site=site)
    assert not (tmp_path / "student").exists()


# What a page's Binder and Colab buttons open, relative to the student edition's root.
LAUNCHED = re.compile(r'href="https://(?:mybinder\.org/v2/gh/[^/"]+/[^/"]+/[^?"]+\?urlpath=lab/tree/'
                      r'|colab\.research\.google\.com/github/[^/"]+/[^/"]+/blob/[^/"]+/)([^"]+)"')


def test_every_launch_button_opens_a_notebook_of_the_edition(edition, site_html):
    """A chapter's button opened its MyST source, book/<chapter>.md: text on Binder, nothing on Colab."""
    opened = {path for page in site_html.rglob("*.html") for path in LAUNCHED.findall(page.read_text())}
    assert {path.split("/")[0] for path in opened} == {"book", "exercises"}, opened
    assert sorted(p for p in opened if not p.endswith(".ipynb") or not (edition / p).is_file()) == []
