"""Grading on a real Dask cluster gives the local export byte for byte, even when a worker is killed mid-run.

A scheduler and two workers run as processes on 127.0.0.1 (`dask scheduler`,
`dask worker --nworkers 1`, tests/support/dask_cluster.py), with a third worker
that has no bubblewrap on its PATH: `autograder grade --cluster` must refuse it
with one line and grade the 34-submission ex3 class on the other two (and a
cluster of such workers alone grades nothing). Its export
must be the bytes the local process pool gave (the class graded by
test_grading_ex3.py, shared through the fixture ex3). Then some students are
graded again and a worker busy with one of them is killed (SIGKILL, nanny and
all) once the first result is in: the batch must finish on the worker left,
with the same export. A scheduler nobody listens for is one line and changes nothing.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.pipeline import limits
from autograder.pipeline.cli import main
from tests.support import corpus_ex3 as corpus
from tests.support import corpus_tiny as tiny
from tests.support.dask_cluster import DaskCluster

pytestmark = pytest.mark.xdist_group("grading_ex3")  # the local export of the class is test_grading_ex3's
AUTOGRADER = Path(sys.executable).parent / "autograder"
EXPORTS = ("grades.csv", "canvas.csv")
REGRADED = ["correcta", "partial5", "raisesa", "syntaxb", "twiced", "wrongforgetgate", "mixed00", "mixed01"]
RUN_TIMEOUT = 1800  # seconds a whole `grade` of the class may take on a loaded machine (it takes about 100)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    started = DaskCluster(folder)
    try:
        started.start(workers=2)
        empty = folder / "no-tools"
        empty.mkdir()
        started.add_worker("nobwrap", dict(os.environ, PATH=str(empty)))
        started.wait_for_workers(3)
        yield started
    finally:
        started.stop()


def local_exports(ex3, capsys) -> dict:
    """The bytes of the class's exports graded by the local pool (test_grading_ex3's course g2)."""
    corpus.grade_class(ex3, "g2", 2, capsys)
    folder = ex3["tmp"] / "g2" / "exports"
    return {name: (folder / name).read_bytes() for name in EXPORTS}


@pytest.fixture(scope="module")
def on_cluster(ex3, cluster):
    """The class collected in a course of its own and graded once on the cluster: (options, stdout, stderr)."""
    args = corpus.collect_class(ex3, "gd")
    done = subprocess.run([str(AUTOGRADER), *args, "grade", corpus.ASSIGNMENT, "--late-policy", "zero",
                           "--cluster", cluster.address], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return args, done.stdout, done.stderr


def exports(ex3, args, course_dir) -> dict:
    assert main(args + ["export"]) == 0
    folder = ex3["tmp"] / course_dir / "exports"
    return {name: (folder / name).read_bytes() for name in EXPORTS}


def test_the_cluster_refuses_a_worker_without_a_sandbox_and_gives_the_local_export(ex3, on_cluster, capsys):
    args, summary, progress = on_cluster
    refused = [line for line in progress.split("\n") if " refused: " in line]
    assert len(refused) == 1 and re.fullmatch(
        r"worker tcp://127\.0\.0\.1:\d+ refused: cannot sandbox student code: bwrap, prlimit, setpriv not found "
        r"\(install Debian's bubblewrap and util-linux, or pass --no-sandbox on a trusted machine\)", refused[0])
    assert re.search(r"^dashboard: http://127\.0\.0\.1:\d+/status$", progress, re.M)
    graded = len({s.student for s in ex3["subs"] if s.kinds})
    assert f"{graded + 1}/{graded + 1}  1 failed" in progress and "ETA" in progress
    assert f"graded {graded}, failed 1, unchanged 0; total" in summary and "with 2 worker(s)" in summary
    assert exports(ex3, args, "gd") == local_exports(ex3, capsys)


def test_a_worker_killed_mid_task_costs_nothing(ex3, cluster, on_cluster, capsys):
    args = on_cluster[0]
    command = [str(AUTOGRADER), *args, "grade", corpus.ASSIGNMENT, "--late-policy", "zero", "--cluster",
               cluster.address] + [arg for student in REGRADED for arg in ("--student", student)]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    progress = Reader(run.stderr)
    try:
        progress.wait_for(f"] 1/{len(REGRADED)} ")
        killed = cluster.kill_busy_worker()
        stdout, _ = run.communicate(timeout=RUN_TIMEOUT)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, progress.text()
    assert killed in ("w0", "w1")
    summary = stdout.decode()
    assert f"graded {len(REGRADED)}, failed 0" in summary, summary
    assert exports(ex3, args, "gd") == local_exports(ex3, capsys)


def tiny_course(tmp_path) -> list:
    """A course with one collected submission of the tiny assignment; its command-line options."""
    paths = tiny.make_course(tmp_path)
    args = tiny.cli_args(paths)
    assert main(args + ["release", tiny.ASSIGNMENT]) == 0
    download = tmp_path / "download"
    download.mkdir()
    add, mul, _ = tiny.SUBMISSIONS["correct"]
    (download / "ann_1_1_tiny.ipynb").write_text(tiny.student_notebook(paths["release_dir"], add, mul))
    assert main(args + ["collect", tiny.ASSIGNMENT, str(download)]) == 0
    return args


def test_a_cluster_with_no_worker_that_can_sandbox_grades_nothing(tmp_path, capsys):
    args = tiny_course(tmp_path / "course")
    cluster = DaskCluster(tmp_path / "dask")
    try:
        cluster.start(workers=0)
        (tmp_path / "no-tools").mkdir()
        cluster.add_worker("nobwrap", dict(os.environ, PATH=str(tmp_path / "no-tools")))
        cluster.wait_for_workers(1)
        capsys.readouterr()
        assert main(args + ["grade", tiny.ASSIGNMENT, "--cluster", cluster.address]) == 1
    finally:
        cluster.stop()
    dashboard, refused, error = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"dashboard: http://127\.0\.0\.1:\d+/status", dashboard)
    assert re.fullmatch(r"worker tcp://127\.0\.0\.1:\d+ refused: cannot sandbox student code: .*", refused)
    assert error == (f"autograder grade: no worker of {cluster.address} can grade: "
                     f"{refused.split(' refused: ')[1]}")
    assert not (tmp_path / "course" / "grading" / "results").exists()


def test_an_unreachable_scheduler_is_one_line_and_changes_nothing(tmp_path, capsys):
    args = tiny_course(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    capsys.readouterr()
    assert main(args + ["grade", tiny.ASSIGNMENT, "--cluster", address]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"autograder grade: cannot reach the Dask scheduler at {address} within {limits.CLUSTER_TIMEOUT} s (")
    assert err.endswith("): start it with `dask scheduler`, or check --cluster\n")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


class Reader:
    """A pipe read on a thread as it is written (grade's progress line), so a test can wait for a text in it."""

    def __init__(self, pipe):
        self.chunks, self.pipe = [], pipe
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while chunk := self.pipe.read1(4096):
            self.chunks.append(chunk)

    def text(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def wait_for(self, needle: str) -> None:
        waited = time.monotonic() + RUN_TIMEOUT
        while needle not in self.text():
            assert time.monotonic() < waited, self.text()
            time.sleep(0.05)
