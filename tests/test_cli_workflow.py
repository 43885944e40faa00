"""The instructor's `autograder` command on a tiny assignment made in a temp dir.

Covers collecting (zip and folder, file-name pattern, roster, duplicates, files
that are not notebooks, the source left untouched), the errors an instructor
sees, grading again only what changed, broken submissions that do not stop the
batch, feedback, export and report — all with real nbgrader. The expected
points come from corpus_tiny.SUBMISSIONS, written by hand.
"""

import csv
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests.support import corpus_tiny as tiny

PYTHON_BIN = Path(sys.executable).parent


def tree_state(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_zip(path: Path, files: dict) -> None:
    """files: name -> (content, day of March 2025)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (content, day) in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, day, 12, 0, 0)), content)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    paths = tiny.make_course(tmp_path_factory.mktemp("tiny"))
    assert tiny.run(paths, "release", tiny.ASSIGNMENT, "--due", "2025-03-02 00:00:00 UTC") == 0
    return paths


def notebook(paths, kind):
    add, mul, _ = tiny.SUBMISSIONS[kind]
    return tiny.student_notebook(paths["release_dir"], add, mul)


def test_collect_from_a_folder_with_a_pattern_and_a_roster(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    assert tiny.run(paths, "release", tiny.ASSIGNMENT) == 0
    source = tmp_path / "download"
    (source / "week1").mkdir(parents=True)
    files = {"hw-jsmith.ipynb": notebook(paths, "wrong"), "week1/hw-jsmith-v2.ipynb": notebook(paths, "correct"),
             "hw-adoe.ipynb": notebook(paths, "add_only"),
             "readme.pdf": "not a notebook"}
    for k, (name, content) in enumerate(files.items()):
        (source / name).write_text(content)
        os.utime(source / name, (1_740_000_000 + 60 * k, 1_740_000_000 + 60 * k))  # later file, later time
    (tmp_path / "roster.csv").write_text("lms_id,student_id,first_name,last_name\n"
                                         "jsmith,s001,Jane,Smith\nadoe,s002,Alex,Doe\n")
    before = tree_state(source)
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", r"hw-(?P<student>[a-z]+)(-v\d+)?\.ipynb",
               "--roster", tmp_path / "roster.csv") == 0
    out = capsys.readouterr().out
    assert tree_state(source) == before, "collect must not modify the source"
    assert "duplicate  s001" in out and "kept week1/hw-jsmith-v2.ipynb" in out
    assert "skipped    readme.pdf: not a notebook" in out
    submitted = paths["course_dir"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == ["s001", "s002"]
    assert (submitted / "s001" / "tiny" / "tiny.ipynb").read_text() == files["week1/hw-jsmith-v2.ipynb"]
    assert (submitted / "s001" / "tiny" / "timestamp.txt").read_text() == "2025-02-19 21:21:00.000000 UTC"

    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--pattern", r"hw-(?P<student>[a-z]+)(-v\d+)?\.ipynb",
               "--roster", tmp_path / "roster.csv") == 0
    assert "0 collected, 2 unchanged" in capsys.readouterr().out
    assert tiny.run(paths, "export") == 0
    rows = list(csv.reader(open(paths["course_dir"] / "exports" / "canvas.csv")))
    assert rows[2:] == [["Smith, Jane", "jsmith", "s001", "", "", ""], ["Doe, Alex", "adoe", "s002", "", "", ""]]


@pytest.mark.parametrize("step, expected", [
    (["collect", "nosuch", "{tmp}/x.zip"], "unknown assignment 'nosuch'"),
    (["collect", "tiny", "{tmp}/missing"], "no such folder or zip"),
    (["collect", "tiny", "{tmp}/corrupt.zip"], "is not a readable zip file"),
    (["collect", "tiny", "{tmp}/truncated.zip"], "download it again"),
    (["grade", "tiny"], "no submissions of tiny"),
    (["report", "nosuch"], "no gradebook"),
    (["export", "--out", "{tmp}/a_file/exports"], "cannot write"),
])
def test_errors_are_one_line_and_leave_nothing_behind(tmp_path, capsys, step, expected):
    paths = tiny.make_course(tmp_path)
    (tmp_path / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    write_zip(tmp_path / "whole.zip", {"a_1_2_tiny.ipynb": ("{}" * 5000, 1)})
    (tmp_path / "truncated.zip").write_bytes((tmp_path / "whole.zip").read_bytes()[:3000])
    (tmp_path / "a_file").write_text("a file, not a folder")
    if step[0] == "export":
        assert tiny.run(paths, "release", "tiny") == 0
    capsys.readouterr()
    before = tree_state(tmp_path)
    assert tiny.run(paths, *[s.format(tmp=tmp_path) for s in step]) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    assert tree_state(tmp_path) == before, "a failed step must not write anything"


def test_grading_an_lms_zip_end_to_end(released, tmp_path, capsys):
    paths = dict(released, course_dir=tmp_path / "grading")
    files = {f"{kind.replace('_', '')}_{k}_{100 + k}_tiny.ipynb": (notebook(released, kind), 1)
             for k, kind in enumerate(tiny.SUBMISSIONS)}
    files["late_LATE_90_190_tiny.ipynb"] = (notebook(released, "correct"), 3)
    files["crashes_91_191_tiny.ipynb"] = (tiny.student_notebook(
        released["release_dir"], "import os\nos._exit(1)\n", tiny.MUL), 1)
    files["loops_92_192_tiny.ipynb"] = (tiny.student_notebook(
        released["release_dir"], "while True:\n    pass\n", tiny.MUL), 1)
    write_zip(tmp_path / "class.zip", files)
    assert tiny.run(paths, "release", "tiny", "--due", "2025-03-02 00:00:00 UTC") == 0  # the due date, in the gradebook
    assert tiny.run(paths, "collect", "tiny", tmp_path / "class.zip") == 0
    capsys.readouterr()
    assert tiny.run(paths, "grade", "tiny", "--workers", 2, "--cell-timeout", 5, "--time-limit", 300,
               "--late-policy", "zero") == 0
    summary = capsys.readouterr().out
    # a crash or an endless loop costs the cell it is in, and the notebook goes on
    assert "crashes" in summary and "1 cell(s) skipped: the kernel died while running this cell" in summary
    assert "1 cell(s) skipped: this cell ran longer than 5 s" in summary
    assert "graded 10, failed 0, unchanged 0" in summary

    assert tiny.run(paths, "export") == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}
    for k, (kind, (_, _, points)) in enumerate(tiny.SUBMISSIONS.items()):
        assert float(rows[kind.replace("_", "")]["tiny"]) == points, kind
    assert rows["addonly"]["tiny/test_add"] == "2" and rows["addonly"]["tiny/test_mul"] == "0"
    assert rows["late"]["tiny"] == "0" and rows["late"]["tiny/test_mul"] == "3"  # late: zero overall
    for broken in ("crashes", "loops"):  # add never got defined; mul is right
        assert (rows[broken]["tiny/test_add"], rows[broken]["tiny/test_mul"]) == ("0", "3")
    canvas = (paths["course_dir"] / "exports" / "canvas.csv").read_text().splitlines()
    assert canvas[:2] == ["Student,ID,SIS User ID,SIS Login ID,Section,tiny", "Points Possible,,,,,5"]
    first_export = (paths["course_dir"] / "exports" / "grades.csv").read_bytes()

    assert tiny.run(paths, "feedback", "tiny") == 0
    page = (paths["course_dir"] / "feedback" / "hiddenfail" / "tiny" / "tiny.html").read_text()
    assert "Tests you did not pass" in page and "mul is wrong for a negative number" in page
    assert "All tests passed" in (paths["course_dir"] / "feedback" / "correct" / "tiny" / "tiny.html").read_text()

    # a newer resubmission: only it is graded again
    write_zip(tmp_path / "again.zip", {"wrong_3_300_tiny-1.ipynb": (notebook(released, "correct"), 2)})
    assert tiny.run(paths, "collect", "tiny", tmp_path / "again.zip") == 0
    capsys.readouterr()
    assert tiny.run(paths, "grade", "tiny", "--workers", 2, "--cell-timeout", 5, "--time-limit", 300) == 0
    summary = capsys.readouterr().out
    assert "graded 1, failed 0, unchanged 9" in summary and "\nwrong " in summary
    assert tiny.run(paths, "export") == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}
    # right now, but handed in 12 h after the due date: the stored policy (zero) still applies
    assert (rows["wrong"]["tiny/test_add"], rows["wrong"]["tiny/test_mul"], rows["wrong"]["tiny"]) == ("2", "3", "0")
    assert rows["wrong"]["tiny/note"] == "late by 12 h 0 min, 5 points off"

    for fmt in ("md", "html"):
        assert tiny.run(paths, "report", "tiny", "--format", fmt) == 0
    report = (paths["course_dir"] / "reports" / "tiny.md").read_text()
    assert "| test_add | 2 | 5/10 |" in report  # correct, addonly, hiddenfail, late, wrong (resubmitted)
    assert "mul is wrong for a negative number" in report and "the kernel died while running" in report
    assert (paths["course_dir"] / "reports" / "tiny_scores.png").read_bytes()[:4] == b"\x89PNG"
    assert "<table>" in (paths["course_dir"] / "reports" / "tiny.html").read_text()
    assert first_export != (paths["course_dir"] / "exports" / "grades.csv").read_bytes()


def nbgrader_as(student: str, home: Path, exchange: Path, *args):
    """Run nbgrader's own student commands, as that student, in their home folder."""
    env = dict(os.environ, HOME=str(home), USER=student,
               PATH=os.pathsep.join([str(PYTHON_BIN), os.environ["PATH"]]))
    env.pop("JUPYTER_DATA_DIR", None)
    command = [str(PYTHON_BIN / "nbgrader"), *args, "--course", "lstm_course", f"--Exchange.root={exchange}",
               f"--student={student}"]
    done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_jupyterhub_exchange_round_trip(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    exchange = tmp_path / "exchange"
    hub = ["--exchange-root", exchange]
    assert tiny.run(paths, *hub, "release", "tiny") == 0
    answers = {"alice": "correct", "bob": "hidden_fail"}
    for student, kind in answers.items():
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        nbgrader_as(student, home, exchange, "fetch_assignment", "tiny")
        path = home / "tiny" / "tiny.ipynb"
        nb = nbformat.read(path, as_version=4)
        add, mul, _ = tiny.SUBMISSIONS[kind]
        for cell in nb.cells:
            code = {"add": add, "mul": mul}.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
            cell.source = code or cell.source
        nbformat.write(nb, path)
        nbgrader_as(student, home, exchange, "submit", "tiny")
    # bob submits a second time: the newest submission wins
    nbgrader_as("bob", tmp_path / "home" / "bob", exchange, "submit", "tiny")
    capsys.readouterr()
    assert tiny.run(paths, *hub, "collect", "tiny", "--exchange") == 0
    out = capsys.readouterr().out
    assert "2 collected" in out and "duplicate  bob" in out
    assert tiny.run(paths, *hub, "grade", "tiny", "--workers", 2) == 0
    assert "graded 2, failed 0" in capsys.readouterr().out
    assert tiny.run(paths, *hub, "feedback", "tiny") == 0
    for student, kind in answers.items():
        home = tmp_path / "home" / student
        nbgrader_as(student, home, exchange, "fetch_feedback", "tiny")
        pages = list((home / "tiny" / "feedback").glob("*/tiny.html"))
        assert len(pages) == 1, f"{student} got no feedback"
        page = pages[0].read_text()
        score = tiny.SUBMISSIONS[kind][2]
        assert f"Score: {score:.1f}" in page or f"Score: {score:g}" in page
        assert ("All tests passed" in page) == (kind == "correct")


@pytest.mark.parametrize("command", [[str(PYTHON_BIN / "autograder")], [sys.executable, "-m", "autograder"]])
def test_the_console_script_and_python_m_are_the_command(tmp_path, command):
    paths = tiny.make_course(tmp_path)
    done = subprocess.run(command + tiny.cli_args(paths) + ["collect", "nosuch", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("autograder collect: unknown assignment 'nosuch'") and done.stderr.count("\n") == 1


def test_grade_stops_with_one_line_when_no_sandbox_can_start(released, tmp_path, capsys, monkeypatch):
    from autograder.pipeline import sandbox
    paths = dict(released, course_dir=tmp_path / "grading")
    (tmp_path / "download").mkdir()
    (tmp_path / "download" / "ann_1_1_tiny.ipynb").write_text(notebook(released, "correct"))
    assert tiny.run(paths, "release", "tiny") == 0 and tiny.run(paths, "collect", "tiny", tmp_path / "download") == 0
    monkeypatch.setattr(sandbox, "TOOLS", ("bwrap", "no-such-sandbox-tool"))
    capsys.readouterr()
    assert tiny.run(paths, "grade", "tiny") == 1
    err = capsys.readouterr().err
    assert err.startswith("autograder grade: cannot sandbox student code: no-such-sandbox-tool not found") \
        and "--no-sandbox" in err and err.count("\n") == 1
    assert not (paths["course_dir"] / "results").exists(), "nothing was graded"

    assert tiny.run(paths, "grade", "tiny", "--no-sandbox") == 0  # the trusted way still works, and says so loudly
    out, err = capsys.readouterr()
    assert "WARNING: --no-sandbox: student code runs unconfined with YOUR permissions" in err
    assert "graded 1, failed 0" in out and "\nann " in out and " 5  " in out


def test_an_older_download_never_replaces_a_newer_submission_and_nothing_replaced_is_lost(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    kinds = {day: notebook(paths, kind) for day, kind in [(1, "wrong"), (3, "correct"), (5, "add_only")]}
    for day, content in kinds.items():
        write_zip(tmp_path / f"day{day}.zip", {"jsmith_7_70_tiny.ipynb": (content, day)})
    submitted = paths["course_dir"] / "submitted" / "jsmith" / "tiny"
    history = paths["course_dir"] / "history" / "jsmith" / "tiny"

    assert tiny.run(paths, "collect", "tiny", tmp_path / "day3.zip") == 0
    capsys.readouterr()
    assert tiny.run(paths, "collect", "tiny", tmp_path / "day1.zip") == 0  # downloaded before the resubmission
    out = capsys.readouterr().out
    assert ("older      jsmith                   jsmith_7_70_tiny.ipynb: older than the submission of "
            "2025-03-03 12:00:00.000000 UTC collected before, which is kept") in out
    assert "0 collected" in out and "1 older than collected kept out" in out
    assert (submitted / "tiny.ipynb").read_text() == kinds[3]
    assert not history.exists(), "nothing was replaced"

    assert tiny.run(paths, "collect", "tiny", tmp_path / "day5.zip") == 0
    assert "collected  jsmith" in capsys.readouterr().out
    assert (submitted / "tiny.ipynb").read_text() == kinds[5]
    [kept] = history.iterdir()
    assert kept.name.startswith("2025-03-03T120000.000000Z-")
    assert (kept / "tiny.ipynb").read_text() == kinds[3]
    assert (kept / "timestamp.txt").read_text() == "2025-03-03 12:00:00.000000 UTC"
