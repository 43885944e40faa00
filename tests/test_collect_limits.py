"""Bombs and look-alikes at collect, through the real `autograder` command.

A zip entry of a gigabyte of zeros (a megabyte compressed) is skipped with its
reason while collect's memory stays far below the gigabyte; the whole collect
stops at its bound and says what it collected. A notebook nested too deeply
for Python or holding a number Python refuses to read fails with a stated
reason in the export. Two Canvas users with the same name part are two
students, each graded on their own notebook.
"""

import csv
import subprocess
import sys
import zipfile

import pytest

from tests.support import ROOT
from tests.support import corpus_tiny as tiny

BOMB_MB = 1024  # zeros in the bomb's one entry
TOO_LARGE = "larger than {} MB, the most collect copies of one file (--max-file)"
# A fresh interpreter runs the command and reports its own peak memory, VmHWM in KiB: unlike ru_maxrss, which
# keeps the peak of the process it was forked from (a test worker holding TensorFlow), it starts anew at exec.
MEASURED = ("import re, sys\nfrom autograder.pipeline.cli import main\nrc = main(sys.argv[1:])\n"
            "print('peak', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
            "sys.exit(rc)\n")


def notebook(paths, kind):
    add, mul, _ = tiny.SUBMISSIONS[kind]
    return tiny.student_notebook(paths["release_dir"], add, mul)


def grades(paths) -> dict:
    assert tiny.run(paths, "export") == 0
    return {row["student_id"]: row for row in csv.DictReader(open(paths["course_dir"] / "exports" / "grades.csv"))}


def test_a_zip_bomb_is_skipped_the_others_collected_and_memory_stays_bounded(tmp_path):
    paths = tiny.released_course(tmp_path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("ann_1_11_tiny.ipynb", notebook(paths, "correct"))
        bomb = zipfile.ZipInfo("bomb_2_12_tiny.ipynb")
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with out.open(bomb, "w", force_zip64=True) as entry:
            for _ in range(BOMB_MB):
                entry.write(bytes(2**20))
        out.writestr("zoe_3_13_tiny.ipynb", notebook(paths, "wrong"))
    assert archive.stat().st_size < 2**20 * BOMB_MB / 500  # a real bomb: hundreds of times its size
    done = subprocess.run([sys.executable, "-c", MEASURED, *tiny.cli_args(paths), "collect", tiny.ASSIGNMENT,
                           str(archive)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert f"skipped    bomb_2_12_tiny.ipynb: {TOO_LARGE.format(50)}" in done.stdout
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["ann", "zoe"]
    peak_mb = int(done.stdout.split("peak ")[1]) / 1024
    assert peak_mb < BOMB_MB / 4, f"collect used {peak_mb:.0f} MB for a zip of {BOMB_MB} MB of zeros"


def test_a_file_over_the_limit_in_a_folder_is_skipped(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    (source / "ann_1_11_tiny.ipynb").write_text(notebook(paths, "correct"))
    (source / "big_2_12_tiny.ipynb").write_text(notebook(paths, "correct") + " " * 20_000)
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--max-file", 0.01) == 0
    assert f"skipped    big_2_12_tiny.ipynb: {TOO_LARGE.format(0.01)}" in capsys.readouterr().out
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["ann"]


def test_collect_stops_at_its_bound_and_says_what_it_collected(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    for k, student in enumerate(("ann", "bob", "cat", "dan")):
        (source / f"{student}_{k + 1}_{k + 11}_tiny.ipynb").write_text(notebook(paths, "correct"))
    size = len(notebook(paths, "correct").encode()) + len("2025-03-01 12:00:00.000000 UTC")  # + timestamp.txt
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source, "--max-collect", 2.5 * size / 2**20) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("autograder collect: stopped before cat: it would pass ")
    assert "collected the 2 students before it (listed above), not cat and the 1 after it" in err
    assert "collected  ann" in out and "collected  bob" in out
    assert sorted(p.name for p in (paths["course_dir"] / "submitted").iterdir()) == ["ann", "bob"]


@pytest.mark.requires_root
def test_notebooks_python_cannot_read_fail_with_a_stated_reason(tmp_path):
    paths = tiny.released_course(tmp_path)
    source = tmp_path / "download"
    source.mkdir()
    honest = notebook(paths, "correct")
    (source / "ann_1_11_tiny.ipynb").write_text(honest)
    too_deep = "[" * 100_000 + "]" * 100_000  # deeper than Python's recursion limit
    for name, value in (("deep_2_12", too_deep), ("digits_3_13", "7" * 5000)):
        (source / f"{name}_tiny.ipynb").write_text(honest.replace('"metadata": {', f'"metadata": {{"x": {value},', 1))
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, source) == 0
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0
    rows = grades(paths)
    assert (rows["deep"]["tiny"], rows["deep"]["tiny/note"]) == ("", "not a valid notebook (nested too deeply to read)")
    assert (rows["digits"]["tiny"], rows["digits"]["tiny/note"]) == (
        "", f"not a valid notebook (it holds a number of more than {sys.get_int_max_str_digits()} digits)")
    assert float(rows["ann"]["tiny"]) == tiny.SUBMISSIONS["correct"][2]


@pytest.mark.requires_root
def test_two_canvas_users_with_one_name_are_two_students(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as out:  # the right notebook is the older file
        out.writestr(zipfile.ZipInfo("smithj_101_1001_tiny.ipynb", (2025, 3, 1, 12, 0, 0)), notebook(paths, "correct"))
        out.writestr(zipfile.ZipInfo("smithj_202_1002_tiny.ipynb", (2025, 3, 1, 13, 0, 0)), notebook(paths, "wrong"))
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, archive) == 0
    out = capsys.readouterr().out
    assert "2 collected" in out and "duplicate  " not in out
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 1) == 0
    rows = grades(paths)
    assert float(rows["smithj_101"]["tiny"]) == tiny.SUBMISSIONS["correct"][2]
    assert float(rows["smithj_202"]["tiny"]) == tiny.SUBMISSIONS["wrong"][2]
    canvas = {row[2]: row[1] for row in csv.reader(open(paths["course_dir"] / "exports" / "canvas.csv"))}
    assert (canvas["smithj_101"], canvas["smithj_202"]) == ("101", "202")  # Canvas' user ID, for its import


def test_a_student_keeps_their_id_when_a_namesake_arrives(tmp_path, capsys):
    paths = tiny.released_course(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "smithj_101_1001_tiny.ipynb").write_text(notebook(paths, "wrong"))
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, first) == 0
    (second / "smithj_101_1003_tiny.ipynb").write_text(notebook(paths, "correct"))
    (second / "smithj_202_1004_tiny.ipynb").write_text(notebook(paths, "add_only"))
    capsys.readouterr()
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, second) == 0
    out = capsys.readouterr().out
    assert "collected  smithj                   smithj_101_1003_tiny.ipynb" in out
    assert "collected  smithj_202               smithj_202_1004_tiny.ipynb" in out
    submitted = paths["course_dir"] / "submitted"
    assert (submitted / "smithj" / "tiny" / "tiny.ipynb").read_text() == notebook(paths, "correct")
    assert (submitted / "smithj_202" / "tiny" / "tiny.ipynb").read_text() == notebook(paths, "add_only")
