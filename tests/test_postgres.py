"""The gradebook on a real PostgreSQL server (`tests/support/postgres.py`), through the `autograder` command.

* A term's workflow (release, collect with a roster, grade, feedback, a
  resubmission, grade --student, export, report) gives the scores written by
  hand in corpus_tiny.SUBMISSIONS, and exports byte-identical to the same term
  on SQLite.
* The grader killed (SIGKILL) in the middle of a student's transaction leaves
  the students recorded before complete and the killed one without a row; a
  re-run ends with the export of a run that never crashed. On SQLite too. The
  server crashing in the middle of a run is one line, and the same holds.
* The workers' snapshot of the server is one moment, while others write.
* Grades entered in nbgrader's formgrader go into the server's gradebook; the
  formgrader's config, which holds the URL and its password, is private.
* An unreachable server, a wrong password or a missing database is one line
  naming host, port and database, never the password, and nothing is written.
"""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import zipfile

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy import event

from autograder.pipeline import database, record
from autograder.pipeline.database import sqlalchemy_url
from tests.support import ROOT
from tests.support import corpus_tiny as tiny
from tests.support.postgres import free_port, postgres_server
from tests.test_cli_workflow import tree_state
from tests.test_manual_grading import (
    ANSWER,
    MANUAL_SCORE,
    enter_manual_grade,
    exported,
    instructor_notebook_with_written_answer,
    student_notebook,
)

pytestmark = pytest.mark.xdist_group("postgres")  # one worker, one server for the whole file

# student id -> (kind of submission, Canvas user id); the roster maps the ids and gives names
CLASS = {"s_correct": ("correct", 101), "s_addonly": ("add_only", 102), "s_hidden": ("hidden_fail", 103),
         "s_wrong": ("wrong", 104), "s_blank": ("blank", 105), "s_syntax": ("syntax_error", 106),
         "s_late": ("correct", 107)}
ROSTER = "lms_id,student_id,first_name,last_name\n" + "".join(
    f"{lms_id},{student},First{k},Last{k}\n" for k, (student, (_, lms_id)) in enumerate(CLASS.items()))
NOT_A_NOTEBOOK = ("s_broken", 108)


@pytest.fixture(scope="session")
def postgres():
    with postgres_server() as server:
        yield server


def write_zip(path, files: dict) -> None:
    """files: name -> (content, day of March 2025)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (content, day) in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, day, 12, 0, 0)), content)


def run_term(tmp_path, db_url=None) -> dict:
    """The workflow on the tiny course; returns the final exports' bytes."""
    paths = dict(tiny.make_course(tmp_path), db_url=db_url)
    assert tiny.run(paths, "release", tiny.ASSIGNMENT, "--due", "2025-03-03 00:00:00 UTC") == 0

    def notebook(kind):
        add, mul, _ = tiny.SUBMISSIONS[kind]
        return tiny.student_notebook(paths["release_dir"], add, mul)

    files = {}
    for k, (student, (kind, lms_id)) in enumerate(CLASS.items()):
        late = student == "s_late"  # handed in after the due date
        name = f"{student.replace('_', '')}{'_LATE' * late}_{lms_id}_{k}_tiny.ipynb"
        files[name] = (notebook(kind), 3 if late else 1)
    files[f"broken_{NOT_A_NOTEBOOK[1]}_9_tiny.ipynb"] = ("{ this is not a notebook", 1)
    write_zip(tmp_path / "class.zip", files)
    (tmp_path / "roster.csv").write_text(ROSTER + f"{NOT_A_NOTEBOOK[1]},{NOT_A_NOTEBOOK[0]},,\n")
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, tmp_path / "class.zip", "--roster", tmp_path / "roster.csv") == 0
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 2, "--late-policy", "zero") == 0
    assert tiny.run(paths, "feedback", tiny.ASSIGNMENT) == 0
    page = paths["course_dir"] / "feedback" / "s_hidden" / "tiny" / "tiny.html"
    assert "Tests you did not pass" in page.read_text()

    write_zip(tmp_path / "again.zip", {"wrong_104_20_tiny-1.ipynb": (notebook("correct"), 2)})  # a resubmission
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, tmp_path / "again.zip") == 0
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 2, "--late-policy", "zero") == 0
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--student", "s_hidden", "--late-policy", "zero") == 0
    assert tiny.run(paths, "export") == 0
    assert tiny.run(paths, "report", tiny.ASSIGNMENT) == 0
    assert "| test_add |" in (paths["course_dir"] / "reports" / "tiny.md").read_text()
    exports = paths["course_dir"] / "exports"
    return {name: (exports / name).read_bytes() for name in ("grades.csv", "canvas.csv")}


def expected_score(student: str) -> str:
    if student == NOT_A_NOTEBOOK[0]:
        return ""  # not graded: its reason is in the note
    kind = "correct" if student == "s_wrong" else CLASS[student][0]  # s_wrong resubmitted the right answer
    return "0" if student == "s_late" else f"{tiny.SUBMISSIONS[kind][2]:g}"


def test_a_term_on_postgresql_exports_the_bytes_of_the_same_term_on_sqlite(postgres, tmp_path):
    on_postgres = run_term(tmp_path / "postgres", postgres.new_database())
    rows = {row["student_id"]: row for row in csv.DictReader(on_postgres["grades.csv"].decode().splitlines())}
    assert {student: row["tiny"] for student, row in rows.items()} == {
        student: expected_score(student) for student in [*CLASS, NOT_A_NOTEBOOK[0]]}
    assert rows["s_broken"]["tiny/note"].startswith("not a valid notebook")
    canvas = list(csv.reader(on_postgres["canvas.csv"].decode().splitlines()))
    assert ["Last0, First0", "101", "s_correct", "", "", "5"] in canvas  # the roster's names and LMS ids

    on_sqlite = run_term(tmp_path / "sqlite")
    assert on_postgres == on_sqlite


# --- killed mid-transaction ------------------------------------------------------------

# The grader and its workers killed as a power cut would (its process group: a worker orphaned by a killed
# parent would wait forever for work), in the middle of the third student's transaction.
KILLED_AT_THE_THIRD = """
import os, signal, sys
from autograder.pipeline import record
from autograder.pipeline.cli import main
save, saved = record.Recorder._save_grades, []
def save_then_die(self, graded):
    save(self, graded)  # every row of this student flushed into the open transaction...
    if len(saved) == 2:
        os.killpg(0, signal.SIGKILL)  # ...and the grader killed before it commits
    saved.append(graded.student)
record.Recorder._save_grades = save_then_die
sys.exit(main(sys.argv[1:]))
"""
CRASH_CLASS = {"ann": "correct", "ben": "hidden_fail", "cat": "wrong", "dan": "add_only"}


def collected_course(tmp_path, db_url=None) -> dict:
    paths = dict(tiny.make_course(tmp_path), db_url=db_url)
    assert tiny.run(paths, "release", tiny.ASSIGNMENT) == 0
    download = tmp_path / "download"
    download.mkdir()
    for k, (student, kind) in enumerate(CRASH_CLASS.items()):
        add, mul, _ = tiny.SUBMISSIONS[kind]
        (download / f"{student}_{k}_{k}_tiny.ipynb").write_text(tiny.student_notebook(paths["release_dir"], add, mul))
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, download) == 0
    return paths


def gradebook_scores(paths) -> dict:
    """{student: {test: auto_score}} of every submission in the course's gradebook (SQLite or the server)."""
    url = sqlalchemy_url(paths["db_url"] or f"sqlite:///{paths['course_dir'] / 'gradebook.db'}")
    with Gradebook(url, "lstm_course") as gb:
        return {s.student_id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                for s in gb.find_assignment(tiny.ASSIGNMENT).submissions}


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_grader_killed_mid_transaction_loses_and_duplicates_nothing(postgres, tmp_path, backend):
    clean = collected_course(tmp_path / "clean")
    assert tiny.run(clean, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0
    assert tiny.run(clean, "export") == 0

    paths = collected_course(tmp_path / "killed", postgres.new_database() if backend == "postgresql" else None)
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_THE_THIRD, *tiny.cli_args(paths),
                             "grade", tiny.ASSIGNMENT, "--workers", "1"],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    results = json.loads((paths["course_dir"] / "results" / f"{tiny.ASSIGNMENT}.json").read_text())
    assert len(results) == 2
    in_gradebook = gradebook_scores(paths)
    assert set(in_gradebook) == set(results), "the killed student's rows were rolled back"
    assert in_gradebook == {s: scores for s, scores in gradebook_scores(clean).items() if s in results}

    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0  # grades the two left, once each
    assert gradebook_scores(paths) == gradebook_scores(clean)
    assert tiny.run(paths, "export") == 0
    export = "exports/grades.csv"
    assert (paths["course_dir"] / export).read_bytes() == (clean["course_dir"] / export).read_bytes()


def test_the_server_lost_mid_run_is_one_line_and_a_rerun_finishes(postgres, tmp_path, monkeypatch, capsys):
    clean = collected_course(tmp_path / "clean")
    assert tiny.run(clean, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0
    assert tiny.run(clean, "export") == 0

    paths = collected_course(tmp_path / "lost", postgres.new_database())
    save, saved = record.Recorder._save_grades, []

    def lose_the_server_at_the_third(self, graded):
        if len(saved) == 2:
            postgres.stop("immediate")  # as a crash of the server's machine: no goodbye to its clients
        save(self, graded)
        saved.append(graded.student)

    monkeypatch.setattr(record.Recorder, "_save_grades", lose_the_server_at_the_third)
    capsys.readouterr()
    try:
        assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 1) == 1
    finally:
        monkeypatch.undo()
        postgres.start()
    err = capsys.readouterr().err
    line = err[err.index("autograder grade:"):]  # after the progress line
    assert line.startswith(f"autograder grade: cannot reach the PostgreSQL gradebook at 127.0.0.1:{postgres.port}, "
                           f"database ") and line.count("\n") == 1 and postgres.password not in err, err
    results = json.loads((paths["course_dir"] / "results" / f"{tiny.ASSIGNMENT}.json").read_text())
    assert sorted(results) == sorted(saved) and len(saved) == 2
    assert set(gradebook_scores(paths)) == set(saved)

    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0
    assert tiny.run(paths, "export") == 0
    export = "exports/grades.csv"
    assert (paths["course_dir"] / export).read_bytes() == (clean["course_dir"] / export).read_bytes()


# --- the workers' snapshot ----------------------------------------------------------------

def test_the_workers_snapshot_is_one_moment_of_the_server_while_another_client_writes(postgres, tmp_path,
                                                                                      monkeypatch):
    paths = dict(tiny.make_course(tmp_path), db_url=postgres.new_database())
    assert tiny.run(paths, "release", tiny.ASSIGNMENT) == 0  # nbgrader's tables
    url = sqlalchemy_url(paths["db_url"])
    with Gradebook(url, "lstm_course") as gb:
        gb.add_student("before")
    opened, written = database.open_server, []

    def open_and_write_meanwhile(url, **options):
        engine = opened(url, **options)

        @event.listens_for(engine, "after_cursor_execute")
        def write_after_the_first_table(*_):  # the course table is read; the student table is still to come
            if not written:
                written.append(True)
                with Gradebook(url, "lstm_course") as other:
                    other.add_student("meanwhile")  # committed by another client
        return engine

    monkeypatch.setattr(database, "open_server", open_and_write_meanwhile)
    database.snapshot_to_sqlite(url, tmp_path / "snapshot.db")
    monkeypatch.undo()
    assert written
    with sqlite3.connect(tmp_path / "snapshot.db") as snapshot:
        assert snapshot.execute("SELECT id FROM student").fetchall() == [("before",)]
        assert snapshot.execute("SELECT name FROM assignment").fetchall() == [(tiny.ASSIGNMENT,)]
    database.snapshot_to_sqlite(url, tmp_path / "later.db")
    with sqlite3.connect(tmp_path / "later.db") as later:
        assert sorted(later.execute("SELECT id FROM student").fetchall()) == [("before",), ("meanwhile",)]
        assert later.execute("SELECT version_num FROM alembic_version").fetchall() == \
            sqlite3.connect(tmp_path / "snapshot.db").execute("SELECT version_num FROM alembic_version").fetchall()


# --- the formgrader on the server's gradebook --------------------------------------------

@pytest.mark.requires_root
def test_the_formgrader_grades_into_the_server_and_keeps_its_password_private(postgres, tmp_path):
    paths = dict(tiny.make_course(tmp_path), db_url=postgres.new_database())
    nbformat.write(instructor_notebook_with_written_answer(), paths["source_dir"] / "tiny" / "tiny.ipynb")
    assert tiny.run(paths, "release", "tiny") == 0
    write_zip(tmp_path / "day1.zip", {"alice_11_111_tiny.ipynb": (student_notebook(paths, ANSWER), 1)})
    assert tiny.run(paths, "collect", "tiny", tmp_path / "day1.zip") == 0
    assert tiny.run(paths, "grade", "tiny", "--workers", 1) == 0
    enter_manual_grade(paths)
    assert float(exported(paths)["grades"]["tiny/explain"]) == MANUAL_SCORE
    with Gradebook(sqlalchemy_url(paths["db_url"]), "lstm_course") as gb:
        assert gb.find_grade("explain", "tiny", "tiny", "alice").manual_score == MANUAL_SCORE
    config = paths["course_dir"] / "nbgrader_config.py"
    assert config.stat().st_mode & 0o777 == 0o600
    assert postgres.password in config.read_text()


# --- a server that does not answer ------------------------------------------------------

STEPS = [["release", "tiny"], ["collect", "tiny", "{tmp}/download"], ["grade", "tiny"], ["grade", "tiny", "--student",
         "ann"], ["feedback", "tiny"], ["export"], ["report", "tiny"], ["formgrader"]]


@pytest.mark.parametrize("step", STEPS, ids=lambda step: " ".join(step[:3:2]).replace("{tmp}/", ""))
def test_an_unreachable_server_is_one_line_without_the_password_and_nothing_is_written(tmp_path, capsys, step):
    port = free_port()  # nothing listens there
    paths = dict(tiny.make_course(tmp_path), db_url=f"postgres://grader:the-secret-pw@127.0.0.1:{port}/term1")
    (tmp_path / "download").mkdir()
    (tmp_path / "download" / "ann_1_1_tiny.ipynb").write_text(tiny.not_a_notebook())
    before = tree_state(tmp_path)
    assert tiny.run(paths, *[s.format(tmp=tmp_path) for s in step]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"autograder {step[0]}: cannot reach the PostgreSQL gradebook at 127.0.0.1:{port}, "
                          f"database term1: ") and err.count("\n") == 1, err
    assert "the-secret-pw" not in err
    assert tree_state(tmp_path) == before and not paths["course_dir"].exists()


def test_a_wrong_password_or_database_is_one_line_too(postgres, tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    right = postgres.new_database()
    wrong_password = right.replace(postgres.password, "not-the-password")
    missing_database = right.rsplit("/", 1)[0] + "/nosuch"
    for url, reason in [(wrong_password, 'password authentication failed for user "autograder"'),
                        (missing_database, 'database "nosuch" does not exist')]:
        assert tiny.run(dict(paths, db_url=url), "export") == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and reason in err and postgres.password not in err and "not-the-password" \
            not in err, err
        assert f"127.0.0.1:{postgres.port}, database {url.rsplit('/', 1)[1]}" in err
    assert tiny.run(dict(paths, db_url=right), "export") == 1  # reached, but nothing made there yet
    assert capsys.readouterr().err == (f"autograder export: no gradebook at the PostgreSQL server 127.0.0.1:"
                                       f"{postgres.port}, database {right.rsplit('/', 1)[1]}: run `autograder "
                                       f"release` and `autograder grade` first\n")
    assert not paths["course_dir"].exists()
