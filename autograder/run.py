"""Run: autograde submissions with real nbgrader, in parallel worker processes.

Each worker owns a scratch copy of the course (its own gradebook, its own
``submitted/`` and ``autograded/`` folders), so workers never write the same
SQLite file: nbgrader's ``Autograde`` converter grades one student there, and
the worker sends back what nbgrader decided (scores, comments, late penalty)
plus the judged tests. The parent records the results one at a time
(``record.py``).

nbgrader's autograding steps run with three changes (``AUTOGRADE_STEPS``):
the secret inputs of the hidden tests are drawn first (``hidden_tests``), the
notebook runs in the sandbox (``execute``, ``sandbox``), and the hidden tests
are judged outside the kernel before nbgrader saves the scores. Before that,
every test cell is made the source's again, deleted ones included (``sanitize``). A cell that crashes or hangs the kernel
costs only its own points; a file that is not a notebook comes back as a
failure with its reason; the batch always goes on.
"""

import logging
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat import ValidationError
from nbformat.reader import NotJSONError
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, NbGraderException
from nbgrader.preprocessors import Execute, OverwriteCells

from .course import Course, CourseError, nbgrader_log
from .execute import SandboxedExecute
from .hidden_tests import DrawSecretInputs, JudgeHiddenTests
from .judge import judge_notebook
from .sanitize import RestoreTestCells

NBGRADER_STEPS = Autograde.class_traits()["autograde_preprocessors"].default()  # nbgrader's, in order
AUTOGRADE_STEPS = [DrawSecretInputs, SandboxedExecute, JudgeHiddenTests] + [
    step for step in NBGRADER_STEPS if step is not Execute]


SANITIZE_STEPS = [RestoreTestCells if step is OverwriteCells else step
                  for step in Autograde.class_traits()["sanitize_preprocessors"].default()]


@dataclass(frozen=True)
class RunOptions:
    cell_timeout: int = 30     # seconds one cell may run (nbgrader's default)
    time_limit: int = 300      # seconds a whole notebook may run
    late_policy: str = "none"  # nbgrader's LateSubmissionPlugin: "none" or "zero"
    verbose: bool = False
    sandbox: bool = True       # False: kernels run unconfined, as the grader's user (trusted submissions only)
    memory_mb: int = 2048      # address space of each kernel process
    processes: int = 64        # processes and threads of one kernel
    cpu_seconds: int = 600     # CPU time of one kernel
    max_output_mb: float = 10  # outputs kept in a graded notebook


@dataclass
class Graded:
    """What grading one submission produced, as plain data for the parent."""
    student: str
    assignment: str
    fingerprint: str
    seconds: float = 0.0
    failure: str = ""          # why it could not be graded; "" when graded
    note: str = ""             # graded, but a cell was skipped or not run: why
    timestamp: object = None   # submission time (datetime, UTC) or None
    grades: dict = field(default_factory=dict)    # (notebook, grade_id) -> auto_score
    comments: dict = field(default_factory=dict)  # (notebook, cell) -> auto_comment
    late_penalties: dict = field(default_factory=dict)  # notebook -> penalty or None
    tests: list = field(default_factory=list)     # judge.TestResult, notebook order
    autograded: str = ""       # scratch folder holding the graded notebooks


def grade_submissions(course: Course, assignment: str, submissions: dict, workers: int,
                      options: RunOptions, key: str):
    """Autograde {student: fingerprint} with the course's secret key; yield a Graded per student as each finishes."""
    scratch = course.scratch_dir("scratch")
    # Kernels' private folders (inbox, sockets) go here: short paths, as Unix sockets need, and
    # removed at the end even if a worker died without cleaning up.
    kernels = tempfile.mkdtemp(prefix="autograder-")
    try:
        snapshot = scratch / "gradebook.db"
        copy_gradebook(course.db_url, snapshot)
        # Workers fork from a clean server process that has imported nbgrader once
        # (seconds saved per worker), not from this process: a parent that has
        # loaded TensorFlow (a notebook, a test) would hand its threads to the fork.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=start_worker,
                                 initargs=(course, snapshot, scratch, kernels, options, key)) as pool:
            futures = {pool.submit(autograde_submission, student, assignment, fingerprint):
                       (student, fingerprint) for student, fingerprint in sorted(submissions.items())}
            for future in as_completed(futures):
                student, fingerprint = futures[future]
                try:
                    yield future.result()
                except BrokenProcessPool:
                    yield Graded(student, assignment, fingerprint, failure="the grading worker crashed")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(kernels, ignore_errors=True)


def copy_gradebook(db_url: str, dest: Path) -> None:
    """A consistent copy of the SQLite gradebook (sqlite3's online backup)."""
    if not db_url.startswith("sqlite:///"):
        raise CourseError(f"grading in parallel needs an SQLite gradebook (sqlite:///...), not {db_url}")
    source = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    target = sqlite3.connect(dest)
    with target:
        source.backup(target)
    source.close()
    target.close()


# --- inside a worker process ---------------------------------------------------

_worker = {}


def start_worker(course: Course, snapshot: Path, scratch: Path, kernels: str, options: RunOptions,
                 key: str) -> None:
    root = Path(tempfile.mkdtemp(dir=scratch, prefix="worker-"))
    shutil.copy(snapshot, root / "gradebook.db")
    log = nbgrader_log()
    log.propagate = False
    log.addHandler(logging.StreamHandler() if options.verbose else logging.NullHandler())
    log.setLevel(logging.INFO if options.verbose else logging.ERROR)
    if not options.verbose:
        # Kernels inherit this stderr; their start-up warnings and nbgrader's
        # SQLAlchemy warnings are noise between the progress line and the summary.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    _worker.update(course=course, root=root, kernels=kernels, options=options, key=key,
                   db_url=f"sqlite:///{root / 'gradebook.db'}")


def autograde_submission(student: str, assignment: str, fingerprint: str) -> Graded:
    course, root, options = _worker["course"], _worker["root"], _worker["options"]
    graded = Graded(student, assignment, fingerprint)
    submitted = root / "submitted" / student / assignment
    shutil.rmtree(submitted.parent, ignore_errors=True)
    shutil.copytree(course.submitted(student, assignment), submitted)
    shutil.rmtree(root / "autograded" / student, ignore_errors=True)

    started = time.perf_counter()
    graded.failure = unreadable_notebooks(submitted, course.notebooks(assignment))
    if graded.failure:
        return graded
    config = autograde_config(course, root, options, _worker["key"], fingerprint)
    coursedir = course.coursedir(assignment, student, root=root, db_url=_worker["db_url"])
    converter = SubmissionAutograde(coursedir=coursedir, config=config, log=nbgrader_log())
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        graded.failure = describe_failure(converter.failure) if converter.failure else str(error)
    graded.seconds = round(time.perf_counter() - started, 3)
    if not graded.failure:
        read_verdict(graded, root / "autograded" / student / assignment, course.notebooks(assignment))
    return graded


def autograde_config(course: Course, root: Path, options: RunOptions, key: str, fingerprint: str):
    """nbgrader's configuration for grading one submission in a worker's scratch course."""
    config = course.nbgrader_config(root=root, db_url=_worker["db_url"])
    config.Autograde.sanitize_preprocessors = SANITIZE_STEPS
    config.Autograde.autograde_preprocessors = AUTOGRADE_STEPS
    config.LateSubmissionPlugin.penalty_method = options.late_policy
    config.DrawSecretInputs.key = key
    config.DrawSecretInputs.submission = fingerprint  # everything the kernel can see of the submission
    config.SandboxedExecute.sandbox = options.sandbox
    config.SandboxedExecute.timeout = options.cell_timeout
    config.SandboxedExecute.time_limit = options.time_limit
    config.SandboxedExecute.max_output = int(options.max_output_mb * 2**20)
    config.SandboxedKernelManager.memory_mb = options.memory_mb
    config.SandboxedKernelManager.processes = options.processes
    config.SandboxedKernelManager.cpu_seconds = options.cpu_seconds
    config.MailboxKernelManager.runtime_root = _worker["kernels"]
    return config


class SubmissionAutograde(Autograde):
    """nbgrader's Autograde for one student, keeping the exception that stopped it."""

    failure = None

    def init_assignment(self, assignment_id, student_id):
        try:
            super().init_assignment(assignment_id, student_id)
        except Exception as error:
            self.failure = error
            raise

    def convert_single_notebook(self, notebook_filename):
        try:
            super().convert_single_notebook(notebook_filename)
        except Exception as error:
            self.failure = error
            raise


def unreadable_notebooks(submitted: Path, notebooks: list[str]) -> str:
    """Why a submitted notebook cannot be read as one, or "" (nbgrader would fail on it, less clearly)."""
    for name in notebooks:
        path = submitted / f"{name}.ipynb"
        try:
            if path.exists():
                nbformat.read(path, as_version=4)
        except Exception as error:  # every way a file can fail to be a notebook
            reason = describe_failure(error)
            return reason if reason.startswith("not a valid notebook") else f"not a valid notebook ({reason})"
    return ""


def describe_failure(error: Exception) -> str:
    if isinstance(error, DeadKernelError):
        return "the kernel died before running any cell (is the memory limit too small?)"
    if isinstance(error, NotJSONError):
        return "not a valid notebook (the file is not notebook JSON)"
    if isinstance(error, ValidationError):
        return f"not a valid notebook ({str(error).splitlines()[0]})"
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def read_verdict(graded: Graded, autograded: Path, notebooks: list[str]) -> None:
    """Copy out what nbgrader saved in the worker's gradebook, and judge the tests."""
    if "gradebook" not in _worker:  # one connection per worker; opening one costs more than the read
        _worker["gradebook"] = Gradebook(_worker["db_url"], _worker["course"].course_id)
    gb = _worker["gradebook"]
    try:
        submission = gb.find_submission(graded.assignment, graded.student)
        graded.timestamp = submission.timestamp
        for notebook in submission.notebooks:
            graded.late_penalties[notebook.name] = notebook.late_submission_penalty
            for grade in notebook.grades:
                graded.grades[(notebook.name, grade.name)] = grade.auto_score
            for comment in notebook.comments:
                graded.comments[(notebook.name, comment.name)] = comment.auto_comment
    finally:
        gb.db.remove()  # a fresh session next time: nbgrader writes between our reads
    for name in notebooks:
        path = autograded / f"{name}.ipynb"
        if path.exists():
            nb = nbformat.read(path, as_version=4)
            graded.tests += judge_notebook(name, nb)
            graded.note = graded.note or skipped_cells(nb)
    graded.autograded = str(autograded)


def skipped_cells(nb) -> str:
    """Why cells were skipped or not run (a crash, a hang, the time limit), for the summary; "" if none."""
    reasons = [output.evalue for cell in nb.cells for output in cell.get("outputs", [])
               if output.output_type == "error" and output.ename == "CellSkipped"]
    if not reasons:
        return ""
    first = reasons[0].split(";")[0]
    return f"{len(reasons)} cell(s) skipped: {first}"
