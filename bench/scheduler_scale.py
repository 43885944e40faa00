"""How far one Dask scheduler carries `autograder grade --cluster`: a simulated class of 10,000.

A real `dask scheduler` process on 127.0.0.1 and 200 simulated workers (real
``distributed.Worker`` objects, one thread each, 50 to a process) run 10,000 tasks
that each stand for a submission: the task gets a real ex3 submission's bytes and
its drawn secret inputs, sleeps for the mean grading time of a notebook scaled
down (``--mean``, measured by bench/cluster_overhead.py, / ``--scale``), and sends
back the submission's bytes as the graded notebook. They are dispatched by the
command's own loop (``cluster.run_tasks``: CLUSTER_AHEAD tasks per worker thread
queued). Prints the throughput, the overhead per task, and from these and the
measured per-notebook cost of a machine of this size (``--ex3-cost``, ``--ex4-cost``:
wall seconds per notebook of one machine with its 2 workers) the projected wall time
of 10,000 ex3 and 2,000 ex4 submissions on N such machines.

    .venv/bin/python -m bench.scheduler_scale --mean 2.4 --ex3-cost 1.3 --ex4-cost 30
"""

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.pipeline import limits
from autograder.pipeline.cluster import run_tasks
from autograder.pipeline.secret_inputs import draw_inputs
from tests.support import ROOT
from tests.support import corpus_ex3 as corpus
from tests.support.dask_cluster import DaskCluster

TASKS, WORKERS, PER_PROCESS = 10_000, 200, 50
MACHINES = (1, 10, 25, 50, 100)
SERVE = "--serve"


def submission(seconds: float, files: dict, inputs: dict) -> dict:
    """Stands for grading one submission: as long as a (scaled) grading, with a graded notebook's bytes back."""
    time.sleep(seconds)
    return {"autograded": files, "inputs": len(inputs)}


async def serve(address: str, count: int) -> None:
    from distributed import Worker
    workers = [Worker(address, nthreads=1, memory_limit=0, dashboard=False) for _ in range(count)]
    await asyncio.gather(*workers)
    await asyncio.Event().wait()  # until the bench stops this process


def start_workers(address: str, folder: Path, count: int) -> list:
    processes = []
    for n in range(count // PER_PROCESS):
        log = open(folder / f"workers{n}.log", "wb")
        processes.append(subprocess.Popen([sys.executable, "-m", "bench.scheduler_scale", SERVE, address],
                                          stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
        log.close()
    return processes


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"simulated, {PER_PROCESS} to a process")
    parser.add_argument("--mean", type=float, required=True, help="mean grading seconds of an ex3 notebook")
    parser.add_argument("--scale", type=float, default=100, help="the simulated grading is mean / scale")
    parser.add_argument("--ex3-cost", type=float, required=True, help="wall s per ex3 notebook of one machine")
    parser.add_argument("--ex4-cost", type=float, required=True, help="wall s per ex4 notebook of one machine")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # a stopped bench still stops its cluster
    tmp = Path(tempfile.mkdtemp(prefix="scheduler-scale-"))
    cluster, workers = DaskCluster(tmp), []
    try:
        cluster.start(workers=0)
        workers = start_workers(cluster.address, tmp, args.workers)
        cluster.wait_for_workers(args.workers // PER_PROCESS * PER_PROCESS)
        solutions, _ = corpus.read_solution()
        files = {f"{corpus.ASSIGNMENT}.ipynb": corpus.SOLUTION.read_bytes(),  # a solved submission's size
                 "timestamp.txt": b"2025-03-01 12:00:00.000000 UTC"}
        key, sleep = "00" * 32, args.mean / args.scale
        with cluster.client() as client:
            load = os.getloadavg()[0]
            tasks = ((n, f"sim-{n}", submission, sleep, files,
                      draw_inputs(list(solutions), key, corpus.ASSIGNMENT, corpus.ASSIGNMENT, f"s{n}", str(n)))
                     for n in range(args.tasks))
            started = time.perf_counter()
            done = sum(future.result()["inputs"] > 0 for _, future in run_tasks(client, tasks))
            wall = time.perf_counter() - started
        assert done == args.tasks
        ideal = args.tasks * sleep / args.workers
        throughput = args.tasks / wall
        overhead = wall * args.workers / args.tasks - sleep
        print(f"{args.tasks} tasks on {args.workers} simulated workers ({args.workers // PER_PROCESS} processes), "
              "one scheduler, "
              f"{os.cpu_count()} cores; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
        print(f"each task: {sum(map(len, files.values())) / 1024:.0f} KiB of submission + its secret inputs, "
              f"sleeps {sleep * 1000:.0f} ms (mean {args.mean:.2f} s / {args.scale:g}); "
              f"{limits.CLUSTER_AHEAD} queued per worker thread")
        print(f"wall {wall:.1f} s against {ideal:.1f} s of sleeping spread over the workers: "
              f"throughput {throughput:.0f} tasks/s, overhead {overhead * 1000:.1f} ms per task on a worker")
        print("projected wall time (grading at the measured per-notebook cost of one machine like this, "
              "or the scheduler's throughput, whichever binds):")
        for name, count, cost in (("ex3", 10_000, args.ex3_cost), ("ex4", 2_000, args.ex4_cost)):
            cells = [f"{m} machine(s) {hours(count * max(cost / m, 1 / throughput))}" for m in MACHINES]
            print(f"  {count} {name} submissions ({cost:.2f} s per notebook): {', '.join(cells)}")
        print(f"the scheduler binds beyond {args.ex3_cost * throughput:.0f} machines for ex3, "
              f"{args.ex4_cost * throughput:.0f} for ex4")
    finally:
        for process in workers:
            process.kill()
            process.wait()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == [SERVE]:  # a process of simulated workers, started by main
        asyncio.run(serve(sys.argv[2], PER_PROCESS))
    else:
        main()
