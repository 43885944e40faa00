"""Written answers graded by hand in nbgrader's real formgrader, started by `autograder formgrader`.

A tiny assignment gets a manually graded written answer. After `grade`, the test
starts the formgrader server on a free localhost port, reads the student's
answer through the pages and REST calls formgrader's own UI makes (token
authentication), enters a manual score and a comment the same way, and then
checks that `grade --force`, a resubmission, `feedback` and `export` keep both
and show them. Expected points are written by hand from the corpus.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

import nbformat
import pytest

from tests.support import ROOT
from tests.support import corpus_tiny as tiny

WRITTEN_POINTS = 2.0
MANUAL_SCORE = 1.5
ANSWER = "The product of many factors below one shrinks geometrically."
COMMENT = "Right idea; say which factor is below one (tanh' times the weights)."
TOKEN = "a-token-for-this-test-only"
STARTUP_GUARD = 300  # seconds: only stops a hung server from hanging the suite; nothing is timed


def instructor_notebook_with_written_answer():
    nb = tiny.instructor_notebook()
    cell = nbformat.v4.new_markdown_cell("Why do gradients vanish?\n\n=== BEGIN MARK SCHEME ===\n"
                                         "Full marks: a product of factors below one.\n=== END MARK SCHEME ===")
    nb.cells.append(tiny.nbgrader_cell(cell, "explain", solution=True, grade=True, points=WRITTEN_POINTS))
    return nb


def student_notebook(paths, answer: str) -> str:
    nb = nbformat.reads(tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain":
            cell.source = answer
    return nbformat.writes(nb)


def write_zip(path, name, content, day):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name, (2025, 3, day, 12, 0, 0)), content)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Formgrader:
    """`autograder formgrader` in a subprocess, and the HTTP calls its UI makes."""

    def __init__(self, paths):
        self.port = free_port()
        env = dict(os.environ, JUPYTER_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder", *tiny.cli_args(paths), "formgrader", "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def call(self, path, method="GET", body=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request) as answer:
            return answer.read().decode()

    def wait_until_serving(self):
        deadline = time.monotonic() + STARTUP_GUARD
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                return json.loads(self.call("/formgrader/api/status"))
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        self.process.kill()
        pytest.fail(f"formgrader did not start:\n{self.process.communicate()[0]}")

    def stop(self):
        self.process.terminate()
        self.process.communicate()


@pytest.fixture
def graded(tmp_path):
    paths = tiny.make_course(tmp_path)
    nbformat.write(instructor_notebook_with_written_answer(), paths["source_dir"] / "tiny" / "tiny.ipynb")
    assert tiny.run(paths, "release", "tiny") == 0
    write_zip(tmp_path / "day1.zip", "alice_11_111_tiny.ipynb", student_notebook(paths, ANSWER), 1)
    assert tiny.run(paths, "collect", "tiny", tmp_path / "day1.zip") == 0
    assert tiny.run(paths, "grade", "tiny", "--workers", 1) == 0
    return paths


def enter_manual_grade(paths):
    server = Formgrader(paths)
    try:
        assert server.wait_until_serving() == {"status": True}
        notebooks = json.loads(server.call("/formgrader/api/submitted_notebooks/tiny/tiny"))
        assert [n["student"] for n in notebooks] == ["alice"]
        submission = notebooks[0]["id"]
        assert ANSWER in server.call(f"/formgrader/submissions/{submission}/")  # the page a TA grades on
        grades = {g["name"]: g for g in json.loads(server.call(f"/formgrader/api/grades?submission_id={submission}"))}
        assert grades["explain"]["needs_manual_grade"] and grades["explain"]["max_score"] == WRITTEN_POINTS
        assert grades["test_add"]["auto_score"] == tiny.ADD_POINTS
        saved = json.loads(server.call(f"/formgrader/api/grade/{grades['explain']['id']}", "PUT",
                                       {"manual_score": MANUAL_SCORE, "extra_credit": None}))
        assert saved["manual_score"] == MANUAL_SCORE and not saved["needs_manual_grade"]
        comments = {c["name"]: c for c in
                    json.loads(server.call(f"/formgrader/api/comments?submission_id={submission}"))}
        server.call(f"/formgrader/api/comment/{comments['explain']['id']}", "PUT", {"manual_comment": COMMENT})
    finally:
        server.stop()


def exported(paths) -> dict:
    assert tiny.run(paths, "export") == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}
    canvas = list(csv.reader(open(paths["course_dir"] / "exports" / "canvas.csv")))
    return {"grades": rows["alice"], "canvas": canvas}


@pytest.mark.requires_root
def test_a_manual_grade_from_formgrader_survives_regrading_and_reaches_export_and_feedback(graded, tmp_path):
    enter_manual_grade(graded)
    total = tiny.ADD_POINTS + tiny.MUL_POINTS + MANUAL_SCORE
    first = exported(graded)
    assert float(first["grades"]["tiny/explain"]) == MANUAL_SCORE and float(first["grades"]["tiny"]) == total
    assert first["canvas"][1][-1] == f"{tiny.ADD_POINTS + tiny.MUL_POINTS + WRITTEN_POINTS:g}"  # Points Possible

    assert tiny.run(graded, "grade", "tiny", "--force", "--workers", 1) == 0
    after_force = exported(graded)
    assert after_force["grades"] == first["grades"]

    # a resubmission keeps the manual grade (nothing entered is lost); the answer is marked for a new look
    write_zip(tmp_path / "day2.zip", "alice_11_112_tiny.ipynb", student_notebook(graded, ANSWER + " Revised."), 2)
    assert tiny.run(graded, "collect", "tiny", tmp_path / "day2.zip") == 0
    assert tiny.run(graded, "grade", "tiny", "--workers", 1) == 0
    assert exported(graded)["grades"] == first["grades"]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{graded['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        grade = gb.find_grade("explain", "tiny", "tiny", "alice")
        assert grade.manual_score == MANUAL_SCORE and grade.needs_manual_grade
        assert gb.find_comment("explain", "tiny", "tiny", "alice").manual_comment == COMMENT

    assert tiny.run(graded, "feedback", "tiny") == 0
    page = (graded["course_dir"] / "feedback" / "alice" / "tiny" / "tiny.html").read_text()
    assert COMMENT in page
    assert f"Score: {MANUAL_SCORE:g} / {WRITTEN_POINTS:.1f}" in page  # the written answer's cell
    assert f"Score: {total:g} / {tiny.ADD_POINTS + tiny.MUL_POINTS + WRITTEN_POINTS:.1f}" in page  # the notebook
