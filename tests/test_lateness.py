"""Lateness, extensions and the late policy, through the real `autograder` command on the tiny course.

tiny is due 2025-03-02 00:00 UTC and worth 5 points (add 2, mul 3). Every number
below is worked by hand from the submission times written into the Canvas zip:

| student  | submitted (UTC)  | due (UTC)               | late by      | started days | earned | per-day:10:50 |
| -------- | ---------------- | ----------------------- | ------------ | ------------ | ------ | ------------- |
| ontime   | 03-01 12:00      | 03-02 00:00             | on time      | 0            | 5      | 5             |
| marked   | 03-01 18:00      | 03-02 00:00             | on time      | 0            | 5      | 5 (Canvas: _LATE) |
| latetwo  | 03-03 12:00      | 03-02 00:00             | 1 day 12 h   | 2            | 3      | 3 - 20% = 2.4 |
| verylate | 03-09 06:00      | 03-02 00:00             | 7 days 6 h   | 8 (80%)      | 4 (*)  | floor: 50% = 2 |
| extended | 03-03 12:00      | 03-04 00:00 (extension) | on time      | 0            | 5      | 5             |

(*) 2 for add, and 2 of 3 for mul given by hand, as a TA would in formgrader.
"""

import csv
import hashlib
import zipfile
from pathlib import Path

from nbgrader.api import Gradebook

from tests.support import corpus_tiny as tiny

DUE = "2025-03-02 00:00:00 UTC"
# Canvas file name -> (kind of submission in corpus_tiny, time the zip records: (month, day, hour))
FILES = {
    "ontime_11_111_tiny.ipynb": ("correct", (3, 1, 12)),
    "marked_LATE_12_112_tiny.ipynb": ("correct", (3, 1, 18)),
    "latetwo_LATE_13_113_tiny.ipynb": ("exception", (3, 3, 12)),
    "verylate_LATE_14_114_tiny.ipynb": ("correct", (3, 9, 6)),
    "extended_LATE_15_115_tiny.ipynb": ("correct", (3, 3, 12)),
}


def canvas_zip(paths, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (kind, (month, day, hour)) in FILES.items():
            add, mul, _ = tiny.SUBMISSIONS[kind]
            archive.writestr(zipfile.ZipInfo(name, (2025, month, day, hour, 0, 0)),
                             tiny.student_notebook(paths["release_dir"], add, mul))
    return path


def run(paths, capsys, *args, status=0) -> str:
    capsys.readouterr()
    assert tiny.run(paths, *args) == status, capsys.readouterr()
    captured = capsys.readouterr()
    return captured.out if status == 0 else captured.err


def grades(paths) -> dict:
    assert tiny.run(paths, "export") == 0
    return {row["student_id"]: row for row in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}


def folder_state(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def line_of(text: str, start: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(start)]
    assert len(lines) == 1, (start, text)
    return lines[0]


def test_lateness_extensions_and_a_changed_policy(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    run(paths, capsys, "release", "tiny", "--due", DUE)
    download = canvas_zip(paths, tmp_path / "submissions.zip")

    # an extension for someone the course does not know yet: one line, nothing stored
    err = run(paths, capsys, "extend", "tiny", "extended", "2025-03-03 19:00 -05:00", status=1)
    assert err.count("\n") == 1 and "no student extended in the roster, the gradebook or the submissions" in err
    assert not (paths["course_dir"] / "extensions").exists()

    out = run(paths, capsys, "collect", "tiny", download)
    assert line_of(out, "collected  ontime").endswith("(on time)")
    assert line_of(out, "collected  latetwo").endswith("(late by 1 day 12 h)")
    assert line_of(out, "collected  verylate").endswith("(late by 7 days 6 h)")
    assert line_of(out, "collected  marked").endswith("(on time (Canvas named it _LATE, by a due date of its own))")

    # extensions from a CSV: a bad date or an unknown student is one line, and nothing is stored
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student_id,due\nextended,2025-03-03 19:00 -05:00\nlatetwo,next week\n")
    err = run(paths, capsys, "extend", "tiny", "--extensions", extensions, status=1)
    assert err.count("\n") == 1 and "the due date of latetwo 'next week' is not a date" in err
    extensions.write_text("student_id,due\nextended,2025-03-03 19:00 -05:00\nnobody,2025-03-05 00:00 UTC\n")
    err = run(paths, capsys, "extend", "tiny", "--extensions", extensions, status=1)
    assert err.count("\n") == 1 and "no student nobody" in err
    assert not (paths["course_dir"] / "extensions").exists()
    extensions.write_text("student_id,due\nextended,2025-03-03 19:00 -05:00\n")
    out = run(paths, capsys, "extend", "tiny", "--extensions", extensions)
    assert out == "extended: due 2025-03-04 00:00:00 UTC (the assignment's: 2025-03-02 00:00:00 UTC)\n"

    # graded under the default policy: lateness shown, nothing taken off
    out = run(paths, capsys, "grade", "tiny", "--workers", 2, "--time-limit", 300)
    assert line_of(out, "latetwo ").split()[3:] == ["3", "late", "by", "1", "day", "12", "h"]
    assert line_of(out, "extended ").split()[3:] == ["5", "on", "time"]
    assert "late policy: none (no penalty)" in out
    rows = grades(paths)
    assert (rows["latetwo"]["tiny"], rows["latetwo"]["tiny/note"]) == ("3", "late by 1 day 12 h")
    assert (rows["extended"]["tiny"], rows["extended"]["tiny/note"]) == ("5", "on time")

    # a TA gives verylate's mul 2 of 3 by hand, as formgrader saves it
    with Gradebook(f"sqlite:///{paths['course_dir'] / 'gradebook.db'}", "lstm_course") as gb:
        grade = gb.find_grade("test_mul", "tiny", "tiny", "verylate")
        grade.manual_score, grade.needs_manual_grade = 2.0, False
        gb.db.commit()

    # a new policy applies to what is graded already, from the gradebook: nothing runs again
    graded = folder_state(paths["course_dir"] / "autograded")
    results = (paths["course_dir"] / "results" / "tiny.json").read_bytes()
    out = run(paths, capsys, "grade", "tiny", "--late-policy", "per-day:10:50")
    assert "graded 0, failed 0, unchanged 5" in out
    assert ("late policy: per-day:10:50 (10% of the score off per day late or part of one, keeping at least 50%), "
            "replacing none (no penalty): recorded again for every submission graded before") in out
    assert line_of(out, "re-recorded latetwo").split()[2:] == "late by 1 day 12 h: score 3 -> 2.4".split()
    assert line_of(out, "re-recorded verylate").split()[2:] == "late by 7 days 6 h: score 4 -> 2".split()
    assert out.count("re-recorded") == 2
    assert folder_state(paths["course_dir"] / "autograded") == graded
    assert (paths["course_dir"] / "results" / "tiny.json").read_bytes() == results
    rows = grades(paths)
    assert {s: rows[s]["tiny"] for s in rows} == {"ontime": "5", "marked": "5", "latetwo": "2.4",
                                                  "verylate": "2", "extended": "5"}
    assert rows["latetwo"]["tiny/note"] == "late by 1 day 12 h, 0.6 points off"
    assert rows["verylate"]["tiny/note"] == "late by 7 days 6 h, 2 points off"
    assert rows["verylate"]["tiny/test_mul"] == "2"  # the manual score stays

    # the policy is stored: a later grade keeps it; zero, then none, go back and forth the same way
    assert "late policy: per-day:10:50" in run(paths, capsys, "grade", "tiny")
    run(paths, capsys, "grade", "tiny", "--late-policy", "zero")
    rows = grades(paths)
    assert (rows["latetwo"]["tiny"], rows["verylate"]["tiny"], rows["ontime"]["tiny"]) == ("0", "0", "5")
    run(paths, capsys, "grade", "tiny", "--late-policy", "per-day:10:50")

    # the report and the feedback say it too
    run(paths, capsys, "report", "tiny")
    report = (paths["course_dir"] / "reports" / "tiny.md").read_text()
    assert "| latetwo |  | 2025-03-03 12:00:00.000000 UTC | late by 1 day 12 h, 0.6 points off | 2.4 | 0 |" in report
    assert "| extended |  | 2025-03-03 12:00:00.000000 UTC | on time | 5 | 0 |" in report
    assert "| per-day:10:50 (10% of the score off per day late or part of one, keeping at least 50%) | 2 | 3 |" \
        in report
    run(paths, capsys, "feedback", "tiny")
    page = (paths["course_dir"] / "feedback" / "latetwo" / "tiny" / "tiny.html").read_text()
    assert ("Submitted 2025-03-03 12:00:00 UTC (due 2025-03-02 00:00:00 UTC): late by 1 day 12 h; "
            "the late policy took 0.6 points off.") in page
    page = (paths["course_dir"] / "feedback" / "extended" / "tiny" / "tiny.html").read_text()
    assert "Submitted 2025-03-03 12:00:00 UTC (due 2025-03-04 00:00:00 UTC): on time." in page

    # an extension given after grading is recorded at once; `none` withdraws it
    out = run(paths, capsys, "extend", "tiny", "latetwo", "2025-03-04 00:00 UTC")
    assert "re-recorded latetwo: on time, score 2.4 -> 3 (per-day:10:50)" in out
    out = run(paths, capsys, "extend", "tiny", "latetwo", "none")
    assert "latetwo: no extension; the assignment's: 2025-03-02 00:00:00 UTC" in out
    assert "re-recorded latetwo: late by 1 day 12 h, score 3 -> 2.4 (per-day:10:50)" in out


def test_a_bad_policy_or_a_policy_for_one_student_is_one_line(tmp_path, capsys):
    paths = tiny.make_course(tmp_path)
    run(paths, capsys, "release", "tiny", "--due", DUE)
    run(paths, capsys, "collect", "tiny", canvas_zip(paths, tmp_path / "submissions.zip"))
    before = folder_state(paths["course_dir"])
    for policy in ("per-day:10", "per-day:0:50", "per-day:10:100", "half"):
        err = run(paths, capsys, "grade", "tiny", "--late-policy", policy, status=1)
        assert err.count("\n") == 1 and f"--late-policy '{policy}' is not a late policy" in err
    err = run(paths, capsys, "grade", "tiny", "--late-policy", "zero", "--student", "ontime", status=1)
    assert err == ("autograder grade: a new late policy applies to every student of tiny: "
                   "give --late-policy without --student\n")
    assert folder_state(paths["course_dir"]) == before
