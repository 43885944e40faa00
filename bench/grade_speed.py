"""How much faster `autograder grade` is than plain `nbgrader autograde`.

Grades one class of 40 generated ex3_lstm_gates submissions (tests/support/corpus_ex3.py)
three ways, in one run, on the same input:
  1. plain `nbgrader autograde` (one process, one submission after another);
  2. `autograder grade --workers N` (default: the number of cores), sandbox on;
  3. the bare-kernel floor: start a kernel and run each notebook with nbclient,
     no grading at all, with one process and with as many processes as workers.
Prints the wall times, the speed-up, the per-notebook cost against the floor,
and whether both graders gave every student the same score on every test.

    .venv/bin/python -m bench.grade_speed [--workers N] [--students 40]
"""

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.api import Gradebook

from tests.support import ROOT
from tests.support import corpus_ex3 as corpus

BIN = Path(sys.executable).parent


def make_class(tmp: Path, students: int) -> Path:
    """A folder of 40 Canvas-named notebooks, one per student (the newest of each)."""
    solutions, _ = corpus.read_solution()
    subs = [s for s in corpus.class_corpus(list(solutions), size=students + 1) if s.kinds]
    newest = {s.student: s for s in subs}  # later entries are the newer resubmissions
    chosen = list(newest.values())[:students]
    released = tmp / "exercises" / corpus.ASSIGNMENT / f"{corpus.ASSIGNMENT}.ipynb"
    folder = tmp / "download"
    folder.mkdir()
    for n, sub in enumerate(chosen):
        name = f"{sub.student}_{sub.lms_id}_{1000 + n}_{corpus.ASSIGNMENT}.ipynb"
        (folder / name).write_bytes(corpus.student_notebook(released, solutions, sub.kinds))
    return folder


def timed(command, **kwargs) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and everything it started: workers, kernels)."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def autograder(tmp: Path, *args) -> tuple[float, float]:
    return timed([str(BIN / "autograder"), "--course-dir", str(tmp / "ours"), "--release", str(tmp / "exercises"),
                  *map(str, args)])


def plain_nbgrader(tmp: Path) -> tuple[float, float]:
    """nbgrader autograde over a copy of the same collected submissions and gradebook."""
    course = tmp / "plain"
    course.mkdir()
    shutil.copytree(tmp / "ours" / "submitted", course / "submitted")
    shutil.copy(tmp / "ours" / "gradebook.db", course / "gradebook.db")
    (course / "nbgrader_config.py").write_text(
        (ROOT / "autograder" / "nbgrader_config.py").read_text() + "\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
        f"c.CourseDirectory.release_directory = {str(tmp / 'exercises')!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        "c.CourseDirectory.course_id = 'lstm_course'\n")
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ["PATH"]]))
    return timed([str(BIN / "nbgrader"), "autograde", corpus.ASSIGNMENT, "--log-level=ERROR"], cwd=course, env=env)


def run_bare(path: Path) -> float:
    """Seconds to start a kernel and run one notebook with nbclient, nothing else."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=30, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - started


def bare_kernel_floor(tmp: Path, runners: int) -> tuple[float, list[float]]:
    """(wall seconds, seconds per notebook) to run every submission bare, with `runners` processes."""
    paths = sorted((tmp / "ours" / "submitted").glob(f"*/{corpus.ASSIGNMENT}/*.ipynb"))
    stderr = os.dup(2)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # the kernels' start-up warnings
    try:
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(runners) as pool:
            times = pool.map(run_bare, paths, chunksize=1)
        return time.perf_counter() - started, times
    finally:
        os.dup2(stderr, 2)


def scores(db: Path) -> dict:
    """{(student, test): points} as the gradebook holds them."""
    with Gradebook(f"sqlite:///{db}", "lstm_course") as gb:
        return {(s.student_id, g.name): g.auto_score for s in gb.find_assignment(corpus.ASSIGNMENT).submissions
                for nb in s.notebooks for g in nb.grades}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--students", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="grade-speed-"))
    try:
        autograder(tmp, "release", corpus.ASSIGNMENT)  # also warms the disk cache for both graders
        folder = make_class(tmp, args.students)
        autograder(tmp, "collect", corpus.ASSIGNMENT, folder)
        n = len(list((tmp / "ours" / "submitted").iterdir()))

        load = os.getloadavg()[0]
        plain, plain_cpu = plain_nbgrader(tmp)
        ours, ours_cpu = autograder(tmp, "grade", corpus.ASSIGNMENT, "--workers", args.workers)
        floor_wall, floor = bare_kernel_floor(tmp, 1)
        floor_par_wall, _ = bare_kernel_floor(tmp, args.workers)

        inside = [e["seconds"] for e in json.loads((tmp / "ours" / "results" / f"{corpus.ASSIGNMENT}.json")
                                                   .read_text()).values()]
        plain_scores, our_scores = scores(tmp / "plain" / "gradebook.db"), scores(tmp / "ours" / "gradebook.db")
        same = plain_scores == our_scores and len(our_scores) == len(corpus.read_solution()[1]) * n
        floor_each = statistics.mean(floor)
        print(f"{n} submissions of {corpus.ASSIGNMENT}, {os.cpu_count()} cores, {args.workers} workers; "
              f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
        print(f"plain nbgrader autograde (serial):   {plain:7.1f} s  ({plain / n:.2f} s per notebook, "
              f"{plain_cpu / n:.2f} s CPU per notebook)")
        print(f"autograder grade --workers {args.workers}:       {ours:7.1f} s  ({ours / n:.2f} s per notebook, "
              f"{ours_cpu / n:.2f} s CPU per notebook)")
        print(f"speed-up:                            {plain / ours:7.2f}x")
        print(f"bare-kernel floor, 1 runner:         {floor_wall:7.1f} s  ({floor_each:.2f} s per notebook)")
        print(f"bare-kernel floor, {args.workers} runners:        {floor_par_wall:7.1f} s  "
              f"({floor_par_wall / n:.2f} s per notebook)")
        print(f"per-notebook cost, autograder vs floor with the same {args.workers} processes: "
              f"{ours / floor_par_wall:.2f}x")
        print(f"per-notebook time inside a worker (mean {statistics.mean(inside):.2f} s) vs 1-runner floor: "
              f"{statistics.mean(inside) / floor_each:.2f}x")
        print(f"scores identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
