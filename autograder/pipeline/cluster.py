"""Grade on a running Dask cluster: ``autograder grade ASSIGNMENT --cluster tcp://HOST:8786``.

The instructor's process (``Cluster``) keeps everything that must stay with it:
the only gradebook connection (``record`` writes each result as it arrives), the
course's secret key (each submission's secret inputs are drawn here, then sent),
the course folder. A worker gets plain data and needs no shared file system:

* once per batch, on every worker (``client.scatter``): the gradebook snapshot's
  bytes and the assignment's source files (``Batch``);
* per task (``grade_task``): the submission's files as bytes and its secret inputs.

It grades in a scratch course of its own with the local pool's ``autograde.Worker``
and returns the ``Graded`` result with the graded notebooks as bytes (``Shipped``),
which this process puts in place. A worker needs only this package, its Python
environment and bubblewrap: ``dask worker tcp://HOST:8786 --nthreads 1``. One that
cannot start a sandbox is refused (and retired from the cluster) with one line.

A worker that dies mid-task costs nothing: the scheduler runs the task again on
another (distributed's ``allowed-failures``); a task that raised is run again up to
``CLUSTER_RETRIES`` times. Grading is deterministic, so the export is the same bytes.
"""

import atexit
import hashlib
import secrets
import shutil
import tempfile
import threading
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

from . import limits
from .autograde import RunOptions, Worker, copy_gradebook
from .course_folder import Course, CourseError
from .results import Graded
from .secret_inputs import checked_functions, submission_inputs


class SandboxRefused(RuntimeError):
    """This worker cannot start the sandbox: it grades nothing (message: one line, for the instructor)."""


@dataclass(frozen=True)
class Batch:
    """What every task of one batch shares, sent to each worker once."""
    course_id: str
    assignment: str
    snapshot: bytes  # the gradebook's SQLite copy
    source: dict     # {relative path: bytes} of the assignment's source folder
    digest: str = field(default="", compare=False)


@dataclass
class Shipped:
    """A task's answer: the result, and the graded notebooks' folder as {relative path: bytes}."""
    graded: Graded
    autograded: dict


def folder_files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(files: dict, folder: Path) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# --- in the instructor's process --------------------------------------------------------

class Cluster:
    """A connection to a Dask scheduler whose workers passed the sandbox check; ``grade`` dispatches a batch."""

    def __init__(self, address: str, options: RunOptions, progress):
        from distributed import Client
        self.address, self.options, self.progress = address, options, progress
        try:
            self.client = Client(address, timeout=limits.CLUSTER_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise CourseError(f"cannot reach the Dask scheduler at {address} within {limits.CLUSTER_TIMEOUT} s "
                              f"({first_line(error)}): start it with `dask scheduler`, or check --cluster")
        try:
            self.admit_workers()
        except BaseException:
            self.client.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    @property
    def workers(self) -> int:
        """Worker threads: tasks that run at once."""
        return max(1, sum(self.client.nthreads().values()))

    def admit_workers(self) -> None:
        """Say where the dashboard is; refuse (retire) every worker that cannot sandbox; fail if none is left."""
        client = self.client
        try:
            client.wait_for_workers(1, timeout=limits.CLUSTER_TIMEOUT)
        except TimeoutError:
            raise CourseError(f"the Dask scheduler at {self.address} has no workers after "
                              f"{limits.CLUSTER_TIMEOUT} s: start them with `dask worker {self.address}`")
        if "dashboard" in client.scheduler_info()["services"]:
            self.progress.write(f"dashboard: {client.dashboard_link}\n")
        if not self.options.sandbox:
            return
        checks = client.run(worker_sandbox)
        refused = {address: line for address, (works, line) in checks.items() if not works}
        for address, line in sorted(refused.items()):
            self.progress.write(f"worker {address} refused: {line}\n")
        if refused:
            client.retire_workers(workers=sorted(refused), close_workers=True)
        if len(refused) == len(checks):
            raise CourseError(f"no worker of {self.address} can grade: {next(iter(refused.values()))}")
        modes = sorted({mode for works, mode in checks.values() if works})
        self.progress.write(f"sandbox: {'; '.join(modes)} ({len(checks) - len(refused)} worker(s))\n")

    def grade(self, course: Course, assignment: str, submissions: dict, key: str):
        """Grade {student: fingerprint} on the cluster; yield a Graded per student as each arrives."""
        scratch = course.scratch_dir("cluster")
        try:
            snapshot = scratch / "gradebook.db"
            copy_gradebook(course.db_url, snapshot)
            batch = make_batch(course.course_id, assignment, snapshot.read_bytes(),
                               folder_files(course.source_dir / assignment))
            shared = self.client.scatter(batch, broadcast=True, hash=False)
            checked = checked_functions(course.db_url, assignment, course.notebooks(assignment))
            batch_id = secrets.token_hex(4)  # task keys of two batches never meet, even on one scheduler
            tasks = (((student, fingerprint), f"grade-{assignment}-{student}-{batch_id}", grade_task,
                      shared, student, assignment, fingerprint, folder_files(course.submitted(student, assignment)),
                      submission_inputs(checked, key, assignment, student, fingerprint), self.options)
                     for student, fingerprint in sorted(submissions.items()))
            for (student, fingerprint), future in run_tasks(self.client, tasks):
                yield self.received(future, student, assignment, fingerprint, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def received(self, future, student: str, assignment: str, fingerprint: str, scratch: Path) -> Graded:
        """A task's Graded, its notebooks written into scratch for ``record``; or the reason it could not run."""
        from distributed import KilledWorker
        try:
            shipped = future.result()
        except KilledWorker:
            return Graded(student, assignment, fingerprint,
                          failure="every worker that tried to grade it died; it is graded again next time")
        except SandboxRefused as error:
            return Graded(student, assignment, fingerprint, failure=str(error))
        except CancelledError:
            return Graded(student, assignment, fingerprint,
                          failure=f"the Dask scheduler at {self.address} dropped the task")
        except Exception as error:  # a worker's own trouble (its disk, its Python): this submission only
            return Graded(student, assignment, fingerprint,
                          failure=f"the worker failed: {type(error).__name__}: {first_line(error)}")
        graded = shipped.graded
        if not graded.failure:
            folder = Path(tempfile.mkdtemp(dir=scratch, prefix="autograded-"))
            write_files(shipped.autograded, folder)
            graded.autograded = str(folder)
        return graded


def run_tasks(client, tasks):
    """Run (tag, key, function, *arguments) of tasks on the cluster; yield (tag, finished future) as each ends.

    Only CLUSTER_AHEAD tasks per worker thread wait at the scheduler at a time, so a batch of any size holds
    little memory there, and each is drawn from tasks only when sent. The worker threads are counted again
    once a window's worth of results has come (workers that join later count too; one question to the
    scheduler per window, not per task).
    """
    from distributed import as_completed
    tasks, sent, running = iter(tasks), {}, as_completed(loop=client.loop)
    window = arrived = 0

    def send_more():
        nonlocal window, arrived
        if arrived >= window:
            window, arrived = limits.CLUSTER_AHEAD * max(1, sum(client.nthreads().values())), 0
        for tag, key, function, *arguments in tasks:
            future = client.submit(function, *arguments, key=key, pure=False, retries=limits.CLUSTER_RETRIES)
            sent[future] = tag
            running.add(future)
            if len(sent) >= window:
                return

    send_more()
    for future in running:
        arrived += 1
        yield sent.pop(future), future
        future.release()
        send_more()


def make_batch(course_id: str, assignment: str, snapshot: bytes, source: dict) -> Batch:
    digest = hashlib.sha256(snapshot)
    for name in sorted(source):
        digest.update(name.encode() + b"\0" + hashlib.sha256(source[name]).digest())
    return Batch(course_id, assignment, snapshot, source, digest.hexdigest())


def first_line(error) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


# --- on a worker ----------------------------------------------------------------------

def worker_sandbox() -> tuple[bool, str]:
    """(True, the sandbox mode of this worker), or (False, the one line saying why it cannot sandbox)."""
    from .sandbox import SandboxUnavailable, check_sandbox
    try:
        return True, check_sandbox()
    except SandboxUnavailable as error:
        return False, str(error)


_local = threading.local()  # per worker thread: its scratch course of the current batch (tasks of one thread
_roots = []                 # run one at a time, so each thread's gradebook copy has one writer)
atexit.register(lambda: [shutil.rmtree(root, ignore_errors=True) for root in _roots])


def grade_task(batch: Batch, student: str, assignment: str, fingerprint: str, files: dict, inputs: dict,
               options: RunOptions) -> Shipped:
    """Grade one submission on this worker, from its files' bytes and its secret inputs."""
    if options.sandbox:
        works, line = _sandbox_check()
        if not works:  # a worker that joined after the batch's check
            from distributed import get_worker
            raise SandboxRefused(f"worker {get_worker().address} refused: {line}")
    worker = _batch_worker(batch, options)
    submitted = worker.course.submitted(student, assignment)
    shutil.rmtree(submitted, ignore_errors=True)
    write_files(files, submitted)
    try:
        graded = worker.autograde(student, assignment, fingerprint, inputs)
        autograded = folder_files(Path(graded.autograded)) if graded.autograded else {}
    finally:
        shutil.rmtree(submitted.parent, ignore_errors=True)
        shutil.rmtree(worker.root / "autograded" / student, ignore_errors=True)
    graded.autograded = ""
    return Shipped(graded, autograded)


def _sandbox_check() -> tuple[bool, str]:
    if not hasattr(_local, "sandbox"):
        _local.sandbox = worker_sandbox()
    return _local.sandbox


def _batch_worker(batch: Batch, options: RunOptions) -> Worker:
    """This thread's autograde.Worker for the batch: a scratch course made from the batch's bytes, once."""
    current = getattr(_local, "batch", None)
    if current is not None and current[0] == (batch.digest, options):
        return current[1]
    if current is not None:
        shutil.rmtree(current[2], ignore_errors=True)
        _roots.remove(current[2])
    root = Path(tempfile.mkdtemp(prefix="autograder-cluster-"))
    _roots.append(root)
    assignment_source = root / "source"
    write_files(batch.source, assignment_source / batch.assignment)
    (root / "gradebook.db").write_bytes(batch.snapshot)
    (root / "scratch").mkdir()
    (root / "kernels").mkdir()
    course = Course(course_dir=root / "course", source_dir=assignment_source, release_dir=root / "release",
                    db_url=f"sqlite:///{root / 'gradebook.db'}", course_id=batch.course_id)
    worker = Worker(course, root / "gradebook.db", root / "scratch", str(root / "kernels"), options)
    _local.batch = ((batch.digest, options), worker, root)
    return worker
