"""`autograder grade ASSIGNMENT --student ID`: regrade one student, everyone else as recorded.

Points are corpus_tiny's hand-written ones; "untouched" means the other
student's graded files are the same bytes and their gradebook score is the one
recorded before, although they too handed in something new meanwhile.
"""

import hashlib
import zipfile

import pytest
from nbgrader.api import Gradebook

from tests.support import corpus_tiny as tiny

ALICE, BOB = ("alice", 101), ("bob", 202)  # Canvas name part and user id


def canvas_zip(paths, path, kinds: dict, day: int):
    """kinds: {(name, user id): kind of submission}, all handed in on `day` of March 2025."""
    with zipfile.ZipFile(path, "w") as archive:
        for (name, uid), kind in kinds.items():
            add, mul, _ = tiny.SUBMISSIONS[kind]
            archive.writestr(zipfile.ZipInfo(f"{name}_{uid}_{uid + 1000}_tiny.ipynb", (2025, 3, day, 12, 0, 0)),
                             tiny.student_notebook(paths["release_dir"], add, mul))
    return path


def files_of(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def score(paths, student) -> float:
    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        return gb.find_submission(tiny.ASSIGNMENT, student).score


@pytest.mark.requires_root
def test_grade_one_student_leaves_the_others_as_recorded(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    grade = ["grade", tiny.ASSIGNMENT, "--workers", 1, "--time-limit", 300]
    first = canvas_zip(paths, tmp_path / "first.zip", {ALICE: "correct", BOB: "add_only"}, day=1)
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, first) == 0
    assert tiny.run(paths, *grade) == 0
    assert (score(paths, "alice"), score(paths, "bob")) == (tiny.ADD_POINTS + tiny.MUL_POINTS, tiny.ADD_POINTS)
    bob_graded = files_of(paths["course_dir"] / "autograded" / "bob")

    # Both hand in again; the instructor regrades only alice (her unchanged work would otherwise be skipped).
    second = canvas_zip(paths, tmp_path / "second.zip", {ALICE: "wrong", BOB: "correct"}, day=2)
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, second) == 0
    capsys.readouterr()
    assert tiny.run(paths, *grade, "--student", "alice") == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in table[1:-1]] == [["alice", "graded"]]
    assert table[-1].startswith("graded 1, failed 0, unchanged 0;")
    assert score(paths, "alice") == 0.0
    assert score(paths, "bob") == tiny.ADD_POINTS  # still the first submission's grade
    assert files_of(paths["course_dir"] / "autograded" / "bob") == bob_graded

    assert tiny.run(paths, *grade, "--student", "alice") == 0  # asked for, so graded again though unchanged
    assert "graded 1, failed 0, unchanged 0;" in capsys.readouterr().out
    assert tiny.run(paths, *grade) == 0  # a plain grade then takes bob's newer work, and only his
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in table[1:-1]] == [["bob", "graded"]]
    assert score(paths, "bob") == tiny.ADD_POINTS + tiny.MUL_POINTS


def test_grade_a_student_without_a_submission_is_one_line(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    first = canvas_zip(paths, tmp_path / "first.zip", {ALICE: "correct"}, day=1)
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, first) == 0
    capsys.readouterr()
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--student", "alice", "--student", "carol") == 1
    assert capsys.readouterr().err == "autograder grade: no submission of tiny from carol\n"
    assert not (paths["course_dir"] / "autograded").exists()
