"""A crash in the middle of `autograder grade` leaves the previous state, and a re-run finishes the job.

The crash is the recorder failing for one student after nbgrader's gradebook
helpers have run (which, left alone, commit after every change): that
student's rows must be as they were, the students recorded before it must be
complete, the results file readable, and grading again must end with the same
bytes in the export as a run that never crashed.
"""

import json

import pytest
from nbgrader.api import Gradebook

from autograder.pipeline import record
from autograder.pipeline.cli import main
from tests.support import corpus_tiny as tiny

STUDENTS = {"ann": "correct", "ben": "hidden_fail", "cat": "wrong", "dan": "add_only"}


def course(tmp_path, name):
    paths = tiny.make_course(tmp_path / name)
    args = tiny.cli_args(paths)
    assert main(args + ["release", tiny.ASSIGNMENT]) == 0
    download = tmp_path / name / "download"
    download.mkdir()
    for k, (student, kind) in enumerate(STUDENTS.items()):
        add, mul, _ = tiny.SUBMISSIONS[kind]
        (download / f"{student}_{k}_{k}_tiny.ipynb").write_text(tiny.student_notebook(paths["release_dir"], add, mul))
    assert main(args + ["collect", tiny.ASSIGNMENT, str(download)]) == 0
    return paths, args


def scores(paths):
    """{student: {test: auto_score}} for every submission in the gradebook."""
    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        return {s.student_id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                for s in gb.find_assignment(tiny.ASSIGNMENT).submissions}


def test_a_crash_while_recording_keeps_the_old_rows_and_a_rerun_finishes(tmp_path, monkeypatch):
    clean, clean_args = course(tmp_path, "clean")
    assert main(clean_args + ["grade", tiny.ASSIGNMENT, "--workers", "1"]) == 0
    assert main(clean_args + ["export"]) == 0

    paths, args = course(tmp_path, "crashing")
    recorded, save = [], record.Recorder._save_grades

    def save_then_crash(self, graded):
        save(self, graded)  # every row written (and, by nbgrader, committed along the way)...
        if len(recorded) == 2:
            raise RuntimeError("the power fails")  # ...but not this third student's
        recorded.append(graded.student)

    monkeypatch.setattr(record.Recorder, "_save_grades", save_then_crash)
    with pytest.raises(RuntimeError, match="the power fails"):
        main(args + ["grade", tiny.ASSIGNMENT, "--workers", "1"])
    monkeypatch.undo()

    results = json.loads((paths["course_dir"] / "results" / f"{tiny.ASSIGNMENT}.json").read_text())
    assert sorted(results) == sorted(recorded) and len(recorded) == 2
    in_gradebook = scores(paths)
    assert set(in_gradebook) == set(recorded), "the crashed student left no rows behind"
    assert all(None not in tests.values() for tests in in_gradebook.values())

    assert main(args + ["grade", tiny.ASSIGNMENT, "--workers", "1"]) == 0
    assert main(args + ["export"]) == 0
    assert scores(paths) == scores(clean)
    export = "exports/grades.csv"
    assert (paths["course_dir"] / export).read_bytes() == (clean["course_dir"] / export).read_bytes()
