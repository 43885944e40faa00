"""A real Dask cluster on 127.0.0.1 for the tests and bench/: `dask scheduler` and `dask worker` processes.

The scheduler takes a free port and writes its address to a scheduler file;
each worker is `dask worker --nworkers 1 --nthreads 1` (with its nanny, as an
instructor starts one), in a process group of its own so that a test can kill
it whole, mid-task. ``stop`` ends every process started here.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"
START_TIMEOUT = 120  # seconds for the scheduler and workers to come up on a loaded machine


class DaskCluster:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = self.folder / "scheduler.json"
        self.processes = {}  # name -> Popen; "scheduler" and one per worker

    def start(self, workers: int = 2, env: dict | None = None) -> "DaskCluster":
        self.launch("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(self.scheduler_file), "--dashboard-address", "127.0.0.1:0"])
        waited = time.monotonic() + START_TIMEOUT
        while not self.scheduler_file.exists():
            if time.monotonic() > waited or self.processes["scheduler"].poll() is not None:
                raise RuntimeError(f"the scheduler did not start; see {self.folder / 'scheduler.log'}")
            time.sleep(0.2)
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        for n in range(workers):
            self.add_worker(f"w{n}", env)
        if workers:
            self.wait_for_workers(workers)
        return self

    def add_worker(self, name: str, env: dict | None = None) -> None:
        self.launch(name, ["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--name", name,
                           "--host", "127.0.0.1", "--local-directory", str(self.folder / name)], env)

    def launch(self, name: str, args: list, env: dict | None = None) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                                                env=env or os.environ.copy(), start_new_session=True)
        log.close()

    def client(self):
        from distributed import Client
        return Client(self.address, timeout=START_TIMEOUT, set_as_default=False)

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=START_TIMEOUT)

    def kill_busy_worker(self) -> str:
        """SIGKILL, nanny and all, a worker the scheduler has a task running on; its name."""
        with self.client() as client:
            waited = time.monotonic() + START_TIMEOUT
            while time.monotonic() < waited:
                names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
                busy = sorted(names[address] for address, keys in client.processing().items() if keys)
                if busy:
                    os.killpg(self.processes[busy[0]].pid, signal.SIGKILL)
                    self.processes.pop(busy[0]).wait()
                    return busy[0]
                time.sleep(0.05)
        raise RuntimeError("no worker had a task to kill")

    def stop(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
