"""The course's roster, collect's refusals and release's folder, through the real `autograder` command.

A roster given once is stored in the course folder and used by every later
collect: a file of a student it does not list stops collect with one line
naming them, and nothing is written. Canvas's own gradebook export is a
roster. A source with no notebook of the assignment (an empty download,
another assignment's zip) is an error saying what it held. `release` with a
grading folder of its own writes the student versions there, not into the
repository, and says the due date it set. Expectations are written by hand.
"""

import csv
import hashlib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline.cli import main
from tests.support import corpus_tiny as tiny

# Canvas's gradebook export (Grades > Export > Export Entire Gradebook): a byte-order mark, "Last, First"
# names, a "Manual Posting" row under a posting policy, the "Points Possible" row and the Student View user.
CANVAS_EXPORT = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,tiny (4471),Current Score,Final Score\n"
    ",,,,,Manual Posting,,\n"
    "    Points Possible,,,,,5.00,(read only),(read only)\n"
    '"Smith, Jane",12345,s001,jsmith,LSTM 101 - 01,,0,0\n'
    '"Doe, Alex",12346,s002,adoe,LSTM 101 - 01,,0,0\n'
    '"Ng, Kim",12347,,kng,LSTM 101 - 02,,0,0\n'
    '"Student, Test",99999,,,LSTM 101 - 01,,0,0\n'
)


def tree_state(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_zip(path: Path, files: dict, day: int = 1) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, day, 12, 0, 0)), content)
    return path


def canvas_zip(paths, path: Path, users: dict, day: int = 1) -> Path:
    """users: {Canvas name part: user id}; each hands in the correct tiny notebook."""
    notebook = tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL)
    return write_zip(path, {f"{name}_{uid}_{uid + 1000}_tiny.ipynb": notebook for name, uid in users.items()}, day)


def submitted(paths) -> list:
    return sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir())


def test_a_stored_roster_is_used_by_later_collects_and_strangers_stop_collect(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id,first_name,last_name\n12345,s001,Jane,Smith\n12346,s002,Alex,Doe\n")
    first = canvas_zip(paths, tmp_path / "first.zip", {"smithjane": 12345, "doealex": 12346})
    capsys.readouterr()
    assert tiny.run(paths, "collect", "tiny", first, "--roster", roster) == 0
    out = capsys.readouterr().out
    stored = paths["course_dir"] / "roster.csv"
    assert f"roster:    {roster} (2 students) stored as {stored}, used by later collects\n" in out
    assert submitted(paths) == ["s001", "s002"]

    # a later download without --roster: the stored roster names the students; no new students appear
    again = canvas_zip(paths, tmp_path / "again.zip", {"smithjane": 12345}, day=2)
    assert tiny.run(paths, "collect", "tiny", again) == 0
    assert "collected  s001" in capsys.readouterr().out
    assert submitted(paths) == ["s001", "s002"]

    # a student the roster does not list: one line naming them, and nothing written
    strangers = canvas_zip(paths, tmp_path / "strangers.zip",
                           {"smithjane": 12345, "newkid": 555, "other": 556}, day=3)
    before = tree_state(paths["course_dir"])
    assert tiny.run(paths, "collect", "tiny", strangers) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (f"autograder collect: 2 file(s) of 2 student(s) not in the roster {stored}: "
                                 f"555, 556; nothing was collected: add them to the roster and collect again "
                                 f"with --roster\n")
    assert tree_state(paths["course_dir"]) == before

    # a new roster with them replaces the stored one, and says so
    roster.write_text(roster.read_text() + "555,s003,New,Kid\n556,s004,Ann,Other\n")
    assert tiny.run(paths, "collect", "tiny", strangers, "--roster", roster) == 0
    out = capsys.readouterr().out
    assert f"roster:    {roster} (4 students) stored as {stored}, used by later collects; it replaces the roster " \
           f"stored before (2 students)\n" in out
    assert submitted(paths) == ["s001", "s002", "s003", "s004"]
    assert [row["student_id"] for row in csv.DictReader(open(stored))] == ["s001", "s002", "s003", "s004"]


def test_a_given_roster_that_misses_a_student_writes_nothing_not_even_itself(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n12345,s001\n")
    download = canvas_zip(paths, tmp_path / "class.zip", {"smithjane": 12345, "stranger": 777})
    before = tree_state(tmp_path)
    capsys.readouterr()
    assert tiny.run(paths, "collect", "tiny", download, "--roster", roster) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"autograder collect: 1 file(s) of 1 student(s) not in the roster {roster}: 777;")
    assert err.count("\n") == 1
    assert tree_state(tmp_path) == before, "no roster stored, no submission written"


def test_canvas_gradebook_export_is_a_roster(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    (tmp_path / "export.csv").write_text(CANVAS_EXPORT, encoding="utf-8")
    download = canvas_zip(paths, tmp_path / "class.zip", {"smithjane": 12345, "doealex": 12346, "ngkim": 12347})
    assert tiny.run(paths, "collect", "tiny", download, "--roster", tmp_path / "export.csv") == 0
    assert "(3 students) stored as" in capsys.readouterr().out  # not the Points Possible, posting or test rows
    # the SIS User ID is the student id; Kim has none, so her SIS Login ID is
    assert submitted(paths) == ["kng", "s001", "s002"]
    assert tiny.run(paths, "export") == 0
    rows = list(csv.reader(open(paths["course_dir"] / "exports" / "canvas.csv")))
    assert rows[2:] == [["Ng, Kim", "12347", "kng", "", "", ""], ["Smith, Jane", "12345", "s001", "", "", ""],
                        ["Doe, Alex", "12346", "s002", "", "", ""]]  # not graded yet: no score


def test_a_roster_without_its_columns_is_one_line(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    (tmp_path / "roster.csv").write_text("name,id\nJane,1\n")
    download = canvas_zip(paths, tmp_path / "class.zip", {"smithjane": 12345})
    capsys.readouterr()
    assert tiny.run(paths, "collect", "tiny", download, "--roster", tmp_path / "roster.csv") == 1
    err = capsys.readouterr().err
    assert "needs the columns lms_id and student_id, or Canvas's ID, SIS User ID, Student" in err
    assert err.count("\n") == 1


def two_assignment_course(tmp_path) -> dict:
    """tiny, and "other" whose one notebook is other.ipynb."""
    paths = tiny.make_course(tmp_path)
    (paths["source_dir"] / "other").mkdir()
    nbformat.write(tiny.instructor_notebook(), paths["source_dir"] / "other" / "other.ipynb")
    assert tiny.run(paths, "release") == 0
    return paths


def test_another_assignments_download_collects_nothing_and_says_whose_it_is(tmp_path, capsys):
    paths = two_assignment_course(tmp_path)
    download = canvas_zip(paths, tmp_path / "tiny.zip", {"smithjane": 12345, "doealex": 12346})
    with zipfile.ZipFile(download, "a") as archive:
        archive.writestr("smithjane_12345_13345_notes.pdf", b"%PDF")
    before = tree_state(tmp_path)
    capsys.readouterr()
    assert tiny.run(paths, "collect", "other", download) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == (f"autograder collect: no notebook of other in {download}, nothing collected; "
                                 f"found: 2 not a notebook of this assignment (other), 1 not a notebook; "
                                 f"they are notebooks of tiny: is this its download?\n")
    assert tree_state(tmp_path) == before


def test_an_empty_download_is_an_error(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    (tmp_path / "empty").mkdir()
    capsys.readouterr()
    assert tiny.run(paths, "collect", "tiny", tmp_path / "empty") == 1
    assert capsys.readouterr().err == (f"autograder collect: no notebook of tiny in {tmp_path / 'empty'}, "
                                       f"nothing collected; found: no files\n")
    assert not (paths["course_dir"] / "submitted").exists()


def test_release_follows_the_grading_folder_and_says_the_due_date(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    course = ["--course-dir", str(tmp_path / "term"), "--source", str(paths["source_dir"])]
    repository = Path(__file__).resolve().parents[1] / "exercises"
    before = tree_state(repository)
    capsys.readouterr()
    assert main(course + ["release", "tiny", "--due", "2025-03-01 17:00:00 UTC"]) == 0
    out = capsys.readouterr().out
    assert out == (f"tiny: generated {tmp_path / 'term' / 'exercises' / 'tiny'}\n"
                   f"tiny: due: 2025-03-01 17:00:00 UTC\n")
    assert (tmp_path / "term" / "exercises" / "tiny" / "tiny.ipynb").is_file()
    assert tree_state(repository) == before and not (repository / "tiny").exists()

    assert main(course + ["release", "tiny"]) == 0  # released again: the gradebook keeps the date
    assert "tiny: due date kept: 2025-03-01 17:00:00 UTC\n" in capsys.readouterr().out
    assert main(course + ["--release", str(tmp_path / "given"), "release", "tiny"]) == 0
    assert (tmp_path / "given" / "tiny" / "tiny.ipynb").is_file()

    assert main(course + ["release", "tiny", "--due", "next friday-ish"]) == 1
    assert capsys.readouterr().err.startswith("autograder release: --due 'next friday-ish' is not a date and time "
                                              "with its time zone, e.g. '2025-03-01 17:00:00 UTC'")


@pytest.mark.parametrize("due, stored", [  # worked by hand: 09:00 at UTC-8 (PST in March) is 17:00 UTC
    ("2025-03-01 09:00 -08:00", "2025-03-01 17:00:00"), ("2025-03-01 09:00 -0800", "2025-03-01 17:00:00"),
    ("2025-03-01 09:00 America/Los_Angeles", "2025-03-01 17:00:00"),
    ("2025-07-01 09:00 America/Los_Angeles", "2025-07-01 16:00:00"),  # PDT: UTC-7
    ("2025-03-01 23:30:00 +05:30", "2025-03-01 18:00:00"), ("2025-03-01 17:00:00 UTC", "2025-03-01 17:00:00")])
def test_release_reads_the_due_dates_time_zone(tmp_path, capsys, due, stored):
    paths = tiny.make_course(tmp_path)
    course = ["--course-dir", str(tmp_path / "term"), "--source", str(paths["source_dir"])]
    assert main(course + ["release", "tiny", "--due", due]) == 0
    assert f"tiny: due: {stored} UTC\n" in capsys.readouterr().out


@pytest.mark.parametrize("due", ["2025-03-01 17:00 PST", "2025-03-01 17:00", "2025-02-30 17:00 UTC"])
def test_a_due_date_without_a_known_time_zone_is_refused(tmp_path, capsys, due):
    paths = tiny.make_course(tmp_path)
    course = ["--course-dir", str(tmp_path / "term"), "--source", str(paths["source_dir"])]
    assert main(course + ["release", "tiny", "--due", due]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"autograder release: --due '{due}'") and error.count("\n") == 1
    assert not (tmp_path / "term" / "exercises" / "tiny").exists()


def test_the_stored_roster_also_holds_for_the_exchange(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    (tmp_path / "roster.csv").write_text("lms_id,student_id\n12345,alice\n")
    assert tiny.run(paths, "collect", "tiny", canvas_zip(paths, tmp_path / "class.zip", {"alice": 12345}),
                    "--roster", tmp_path / "roster.csv") == 0
    inbound = tmp_path / "exchange" / "lstm_course" / "inbound"
    for student in ("alice", "mallory"):
        folder = inbound / f"{student}+tiny+2025-03-02 12:00:00.000000 UTC+1"
        folder.mkdir(parents=True)
        (folder / "tiny.ipynb").write_text(tiny.student_notebook(paths["release_dir"], tiny.ADD, None))
    before = tree_state(paths["course_dir"])
    capsys.readouterr()
    assert tiny.run(paths, "--exchange-root", tmp_path / "exchange", "collect", "tiny", "--exchange") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"autograder collect: 1 file(s) of 1 student(s) not in the roster "
                          f"{paths['course_dir'] / 'roster.csv'}: mallory;") and err.count("\n") == 1
    assert tree_state(paths["course_dir"]) == before
