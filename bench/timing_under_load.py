"""Run the timing-sensitive tests again and again while every core is kept busy.

A test whose expectation depends on how fast a loaded machine starts a kernel
fails here sooner or later. Usage (from the repository root, as root: the
sandbox tests need it):

    .venv/bin/python bench/timing_under_load.py [RUNS]

Prints each run's outcome and the number of failed runs (the goal is 0).
"""

import multiprocessing
import os
import subprocess
import sys
import time

TIMING_TESTS = ["tests/test_execute.py",
                "tests/test_sandbox.py::test_cpu_limit_kills_an_endless_loop",
                "tests/test_sandbox.py::test_process_limit_stops_a_fork_bomb"]


def burn() -> None:
    while True:
        pass


def main(runs: int) -> int:
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(os.cpu_count() or 1)]
    for burner in burners:
        burner.start()
    failed = 0
    try:
        for run in range(1, runs + 1):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TIMING_TESTS],
                                  capture_output=True, text=True)
            failed += done.returncode != 0
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
            print(f"run {run:2d}: {last}  ({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})",
                  flush=True)
    finally:
        for burner in burners:
            burner.terminate()
    print(f"{failed} of {runs} runs failed, with {len(burners)} processes keeping every core busy")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
