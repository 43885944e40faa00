"""Grade a generated class of ex3_lstm_gates submissions with the real pipeline.

`autograder collect` reads a Canvas-style zip, `autograder grade --workers 2`
runs nbgrader on every submission, `autograder export` writes the CSV; every
per-question score must be the one the submission's known content earns
(corpus_ex3.expected_points). Grading the same zip with one worker must give
a byte-identical export.
"""

import csv
import io

import pytest

from autograder.pipeline.cli import main
from tests.support import corpus_ex3 as corpus
from tests.support.corpus_ex3 import grade_class

pytestmark = pytest.mark.xdist_group("grading_ex3")  # the tests share one graded class (the fixture ex3)


def test_two_workers_give_the_scores_the_content_earns(ex3, capsys):
    collected, summary, export = grade_class(ex3, "g2", 2, capsys)
    subs, points = ex3["subs"], ex3["points"]
    assert "duplicate  twiced" in collected and "skipped    correcta_1_999_notes.txt: not a notebook" in collected
    graded_subs = {s.student: s for s in subs if s.kinds}  # a later file replaces an earlier one
    assert len(graded_subs) >= 30

    rows = {row["student_id"]: row for row in csv.DictReader(io.StringIO(export))}
    assert set(rows) == {s.student for s in subs}, "every collected student is in the export"
    unreadable = rows["notjson"]
    assert unreadable[corpus.ASSIGNMENT] == "" and "not a valid notebook" in unreadable[f"{corpus.ASSIGNMENT}/note"]
    for student, sub in graded_subs.items():
        expected = corpus.expected_points(sub.kinds, points)
        for test, value in expected.items():
            assert float(rows[student][f"{corpus.ASSIGNMENT}/{test}"]) == value, (student, test, sub.kinds)
        total = 0.0 if sub.late else sum(expected.values())  # --late-policy zero
        assert float(rows[student][corpus.ASSIGNMENT]) == total, student
    assert sum(points.values()) == 16  # the test cells' points, as the notebook's introduction says
    assert float(rows["twiced"][f"{corpus.ASSIGNMENT}/test_update_hidden"]) == 0  # the newer file won

    line = next(line for line in summary.splitlines() if line.startswith("notjson "))
    assert "failed" in line and "not a valid notebook" in line
    assert f"graded {len(graded_subs)}, failed 1" in summary


def test_one_worker_gives_the_identical_export(ex3, capsys):
    _, _, two = grade_class(ex3, "g2", 2, capsys)
    _, _, export = grade_class(ex3, "g1", 1, capsys)
    assert export == two
    canvas = [(ex3["tmp"] / g / "exports" / "canvas.csv").read_bytes() for g in ("g1", "g2")]
    assert canvas[0] == canvas[1]


def test_regrading_skips_unchanged_submissions(ex3, capsys):
    args = ex3["base"] + ["--course-dir", str(ex3["tmp"] / "g2")]
    grade_class(ex3, "g2", 2, capsys)
    assert main(args + ["grade", corpus.ASSIGNMENT, "--workers", "2"]) == 0
    summary = capsys.readouterr().out
    graded = len({s.student for s in ex3["subs"] if s.kinds})
    # only the submission that failed is tried again
    assert f"graded 0, failed 1, unchanged {graded}" in summary
