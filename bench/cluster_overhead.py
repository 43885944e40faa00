"""What grading on a Dask cluster costs per notebook, against the local process pool, on this machine.

Collects one class of 40 generated ex3_lstm_gates submissions (the submissions of
bench/grade_speed.py) into one course, copies it, and in one run grades each copy
with `autograder grade`, alternately (the machine's load moves, so rounds interleave):
  1. the local process pool, `--workers 2`;
  2. a Dask cluster on this machine, `dask scheduler` + 2 x `dask worker --nworkers 1
     --nthreads 1` on 127.0.0.1 (tests/support/dask_cluster.py), already running as an
     instructor's would be: `--cluster tcp://127.0.0.1:PORT`.
Prints each run's wall time and CPU time (the command's, its children's and the cluster's
processes': less moved by other work on the machine than wall time) per notebook, the
ratios cluster / pool per round (the goal is at most 1.10), whether the exports are the same bytes, and the mean grading
time of a notebook inside a worker (bench/scheduler_scale.py simulates with it).
With `--ex4 K` it also grades K copies of ex4's solution (TensorFlow) with the pool,
for its per-notebook cost.

    .venv/bin/python -m bench.cluster_overhead [--rounds 2] [--students 40] [--ex4 4]
"""

import argparse
import ctypes
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.grade_speed import make_class
from tests.support import corpus_ex3 as corpus
from tests.support.dask_cluster import DaskCluster
from tests.support.exercise_course import source_notebook

AUTOGRADER = Path(sys.executable).parent / "autograder"
WORKERS = 2
EX4 = "ex4_keras_lstm"
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
CLUSTERS = []  # the clusters this bench started


def autograder(course: Path, tmp: Path, *args) -> float:
    """Wall seconds of one `autograder` command on the course (its output discarded)."""
    return measured(course, tmp, *args)[0]


def measured(course: Path, tmp: Path, *args, cluster: DaskCluster | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `autograder` command: its own and its children's (the pool's workers
    and their kernels), and the cluster's processes' (scheduler, nannies, workers and their kernels)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cluster_before, started = cluster_cpu(cluster), time.perf_counter()
    subprocess.run([str(AUTOGRADER), "--course-dir", str(course), "--release", str(tmp / "exercises"),
                    *map(str, args)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu + cluster_cpu(cluster) - cluster_before


def become_subreaper() -> None:
    """Be the parent of whatever the commands leave behind (the pool's forkserver outlives `grade` a moment
    and is not waited for by it): once reaped here, its CPU time and its workers' and kernels' count."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans() -> None:
    """Wait for every child but the cluster's processes (which stay up for the next run)."""
    ours = {process.pid for cluster in CLUSTERS for process in cluster.processes.values()}
    for child in psutil.Process().children():
        if child.pid not in ours:
            os.waitpid(child.pid, 0)


def cluster_cpu(cluster: DaskCluster | None) -> float:
    """CPU seconds the cluster's processes and every child they have waited for have used so far."""
    if cluster is None:
        return 0.0
    total = 0.0
    for process in cluster.processes.values():
        tree = psutil.Process(process.pid)
        for member in [tree, *tree.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:  # a kernel that ended meanwhile: counted in its parent's children
                continue
            total += times.user + times.system + times.children_user + times.children_system
    return total


def inside_seconds(course: Path, assignment: str) -> list[float]:
    return [e["seconds"] for e in json.loads((course / "results" / f"{assignment}.json").read_text()).values()]


def ex4_cost(tmp: Path, copies: int) -> tuple[float, float]:
    """(wall seconds per notebook with the pool of WORKERS, mean seconds inside a worker) for ex4's solution."""
    course, download = tmp / "ex4", tmp / "ex4-download"
    download.mkdir()
    autograder(course, tmp, "release", EX4)
    for n in range(copies):
        shutil.copy(source_notebook(EX4), download / f"solved{n}_{n + 1}_{n + 1}_{EX4}.ipynb")
    autograder(course, tmp, "collect", EX4, download)
    wall = autograder(course, tmp, "grade", EX4, "--workers", WORKERS)
    return wall / copies, statistics.mean(inside_seconds(course, EX4))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--ex4", type=int, default=0, metavar="K", help="also grade K copies of ex4's solution")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # a stopped bench still stops its cluster
    become_subreaper()
    tmp = Path(tempfile.mkdtemp(prefix="cluster-overhead-"))
    cluster = DaskCluster(tmp / "dask")
    CLUSTERS.append(cluster)
    try:
        base = tmp / "base"
        autograder(base, tmp, "release", corpus.ASSIGNMENT)
        autograder(base, tmp, "collect", corpus.ASSIGNMENT, make_class(tmp, args.students))
        n = len(list((base / "submitted").iterdir()))
        cluster.start(workers=WORKERS)
        load = os.getloadavg()[0]
        pool, dask, inside, exports = [], [], [], set()
        for k in range(args.rounds):
            for kind, runs in (("pool", pool), ("dask", dask)):
                course = tmp / f"{kind}{k}"
                shutil.copytree(base, course)
                where = ["--cluster", cluster.address] if kind == "dask" else ["--workers", WORKERS]
                runs.append(measured(course, tmp, "grade", corpus.ASSIGNMENT, *where,
                                     cluster=cluster if kind == "dask" else None))
                inside += inside_seconds(course, corpus.ASSIGNMENT)
                autograder(course, tmp, "export")
                exports.add((course / "exports" / "grades.csv").read_bytes())
        print(f"{n} submissions of {corpus.ASSIGNMENT}, {os.cpu_count()} cores, {WORKERS} workers each way; "
              f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
        for k, ((p, p_cpu), (d, d_cpu)) in enumerate(zip(pool, dask)):
            print(f"round {k + 1}: pool {p:6.1f} s ({p / n:.2f} s per notebook, {p_cpu / n:.2f} s CPU), "
                  f"dask {d:6.1f} s ({d / n:.2f} s per notebook, {d_cpu / n:.2f} s CPU): "
                  f"ratio {d / p:.2f} wall, {d_cpu / p_cpu:.2f} CPU")
        for what, i in (("wall time", 0), ("CPU time", 1)):
            ratios = [d[i] / p[i] for p, d in zip(pool, dask)]
            print(f"per-notebook {what}, cluster / pool: median {statistics.median(ratios):.2f} of "
                  f"{', '.join(f'{r:.2f}' for r in ratios)} (goal <= 1.10)")
        print(f"exports identical across all {2 * args.rounds} runs: {len(exports) == 1}")
        print(f"mean grading time of an ex3 notebook inside a worker: {statistics.mean(inside):.2f} s; "
              f"wall seconds per notebook of this machine with {WORKERS} workers: "
              f"{statistics.median(d for d, _ in dask) / n:.2f} s (dask)")
        if args.ex4:
            wall, mean = ex4_cost(tmp, args.ex4)
            print(f"{EX4}, {args.ex4} copies of the solution, pool of {WORKERS}: {wall:.2f} s per notebook "
                  f"(mean {mean:.2f} s inside a worker)")
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
