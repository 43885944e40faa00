"""Autograde: grade submissions with real nbgrader, in parallel worker processes.

Each worker owns a scratch copy of the course (its own gradebook, its own
``submitted/`` and ``autograded/`` folders), so workers never write the same
SQLite file: nbgrader's ``Autograde`` converter grades one student there, and
the worker sends back what nbgrader decided (scores, comments) plus the test
results. The parent records them one at a time, with the late penalty (``record.py``).

nbgrader's own steps run, in its order, with exactly these substitutions
(``SANITIZE_STEPS``, ``AUTOGRADE_STEPS``; a test holds them to nbgrader's
defaults, so an upgrade that changes those fails loudly):

1. every test cell is made the source's again, deleted ones included
   (``sanitize.RestoreTestCells`` for nbgrader's ``OverwriteCells``);
2. the hidden tests' secret inputs, drawn by this (the instructor's) process
   before the submission goes to a worker (``secret_inputs``), are handed on, the notebook
   runs in the sandbox (``execute``, ``sandbox``; for nbgrader's ``Execute``),
   and the hidden tests are judged outside the kernel (``judge``);
3. the graded notebook is held to its size limit, every failed cell still failed
   (``execute.CapGradedNotebook`` for nbgrader's ``LimitOutput``, which would drop a
   cell's stderr after 1,000 lines of stdout: the cell would pass);
4. nbgrader's remaining steps save the scores.

A cell that crashes or hangs the kernel costs only its own points; a file that
is not a notebook comes back as a failure with its reason; the batch always goes on.
"""

import logging
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat import ValidationError
from nbformat.reader import NotJSONError
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, NbGraderException
from nbgrader.preprocessors import Execute, LimitOutput, OverwriteCells

from . import limits
from .course_folder import Course, nbgrader_log
from .database import snapshot_to_sqlite, sqlite_file
from .execute import CapGradedNotebook, SandboxedExecute
from .judge import JudgeHiddenTests
from .results import Graded
from .sanitize import RestoreTestCells
from .scores import read_scores
from .secret_inputs import SecretInputs, checked_functions, submission_inputs

SANITIZE_STEPS = [RestoreTestCells if step is OverwriteCells else step
                  for step in Autograde.class_traits()["sanitize_preprocessors"].default()]
AUTOGRADE_STEPS = [step for default in Autograde.class_traits()["autograde_preprocessors"].default()
                   for step in ((SecretInputs, SandboxedExecute, JudgeHiddenTests) if default is Execute
                                else (CapGradedNotebook,) if default is LimitOutput else (default,))]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    cell_timeout: int = limits.CELL_TIMEOUT
    time_limit: int = limits.TIME_LIMIT
    verbose: bool = False
    sandbox: bool = True       # False: kernels run unconfined, as the grader's user (trusted submissions only)
    memory_mb: int = limits.MEMORY_MB
    processes: int = limits.PROCESSES
    cpu_seconds: int = limits.CPU_SECONDS
    max_output_mb: float = limits.MAX_OUTPUT_MB


def grade_submissions(course: Course, assignment: str, submissions: dict, workers: int,
                      options: RunOptions, key: str):
    """Autograde {student: fingerprint}; yield a Graded per student as each finishes.

    The secret inputs are drawn here, under the course's key: the workers get the inputs, never the key.
    """
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
                                 initargs=(course, snapshot, scratch, kernels, options)) as pool:
            checked = checked_functions(course.db_url, assignment, course.notebooks(assignment))
            futures = {pool.submit(autograde_submission, student, assignment, fingerprint,
                                   submission_inputs(checked, key, assignment, student, fingerprint)):
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
    """A consistent copy of the gradebook in the SQLite file dest: sqlite3's online backup of an SQLite one,
    a PostgreSQL server's tables read in one transaction (``database.snapshot_to_sqlite``)."""
    if sqlite_file(db_url) is None:
        return snapshot_to_sqlite(db_url, dest)
    source = sqlite3.connect(sqlite_file(db_url))
    target = sqlite3.connect(dest)
    with target:
        source.backup(target)
    source.close()
    target.close()


# --- inside a worker process ---------------------------------------------------

class Worker:
    """One grading process's scratch course: its own gradebook copy and folders, used for every submission it gets."""

    def __init__(self, course: Course, snapshot: Path, scratch: Path, kernels: str, options: RunOptions):
        self.course, self.kernels, self.options = course, kernels, options
        self.root = Path(tempfile.mkdtemp(dir=scratch, prefix="worker-"))
        shutil.copy(snapshot, self.root / "gradebook.db")
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}"
        self.gradebook = None  # opened at the first read: one connection per worker costs less than one per read
        log = nbgrader_log()
        log.propagate = False
        log.addHandler(logging.StreamHandler() if options.verbose else logging.NullHandler())
        log.setLevel(logging.INFO if options.verbose else logging.ERROR)

    def autograde(self, student: str, assignment: str, fingerprint: str, inputs: dict) -> Graded:
        """inputs: the secret inputs drawn for this submission (secret_inputs.submission_inputs)."""
        course, root = self.course, self.root
        graded = Graded(student, assignment, fingerprint)
        submitted = root / "submitted" / student / assignment
        shutil.rmtree(submitted.parent, ignore_errors=True)
        shutil.copytree(course.submitted(student, assignment), submitted)
        shutil.rmtree(root / "autograded" / student, ignore_errors=True)

        started = time.perf_counter()
        graded.failure = unreadable_notebooks(submitted, course.notebooks(assignment))
        if graded.failure:
            return graded
        coursedir = course.coursedir(assignment, student, root=root, db_url=self.db_url)
        converter = SubmissionAutograde(coursedir=coursedir, config=self.nbgrader_config(inputs),
                                        log=nbgrader_log())
        converter.force = True
        try:
            converter.start()
        except NbGraderException as error:
            graded.failure = describe_failure(converter.failure) if converter.failure else str(error)
        graded.seconds = round(time.perf_counter() - started, 3)
        if not graded.failure:
            self.read_results(graded, root / "autograded" / student / assignment, course.notebooks(assignment))
        return graded

    def nbgrader_config(self, inputs: dict):
        """nbgrader's configuration for grading one submission in this worker's scratch course."""
        options = self.options
        config = self.course.nbgrader_config(root=self.root, db_url=self.db_url)
        config.Autograde.sanitize_preprocessors = SANITIZE_STEPS
        config.Autograde.autograde_preprocessors = AUTOGRADE_STEPS
        config.SecretInputs.inputs = inputs
        config.SandboxedExecute.sandbox = options.sandbox
        config.SandboxedExecute.timeout = options.cell_timeout
        config.SandboxedExecute.time_limit = options.time_limit
        config.SandboxedExecute.max_output = config.CapGradedNotebook.max_output = int(options.max_output_mb * 2**20)
        config.SandboxedKernelManager.memory_mb = options.memory_mb
        config.SandboxedKernelManager.processes = options.processes
        config.SandboxedKernelManager.cpu_seconds = options.cpu_seconds
        config.MailboxKernelManager.runtime_root = self.kernels
        return config

    def read_results(self, graded: Graded, autograded: Path, notebooks: list[str]) -> None:
        """Copy out what nbgrader saved in the worker's gradebook, and read the tests' scores."""
        if self.gradebook is None:
            self.gradebook = Gradebook(self.db_url, self.course.course_id)
        try:
            submission = self.gradebook.find_submission(graded.assignment, graded.student)
            graded.timestamp = submission.timestamp
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    graded.grades[(notebook.name, grade.name)] = grade.auto_score
                for comment in notebook.comments:
                    graded.comments[(notebook.name, comment.name)] = comment.auto_comment
        finally:
            self.gradebook.db.remove()  # a fresh session next time: nbgrader writes between our reads
        for name in notebooks:
            path = autograded / f"{name}.ipynb"
            if path.exists():
                nb = nbformat.read(path, as_version=4)
                graded.tests += read_scores(name, nb)
                graded.note = graded.note or skipped_cells(nb)
        graded.autograded = str(autograded)


_worker: Worker | None = None  # this process's Worker, made by the pool's initializer


def start_worker(*args) -> None:
    global _worker
    _worker = Worker(*args)
    if not _worker.options.verbose:
        # Kernels inherit this stderr; their start-up warnings and nbgrader's
        # SQLAlchemy warnings are noise between the progress line and the summary.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def autograde_submission(student: str, assignment: str, fingerprint: str, inputs: dict) -> Graded:
    return _worker.autograde(student, assignment, fingerprint, inputs)


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
    if isinstance(error, RecursionError):  # Python's JSON reader and nbformat's checks recurse per level
        return "not a valid notebook (nested too deeply to read)"
    if too_many_digits(error) or too_many_digits(error.__cause__):
        return f"not a valid notebook (it holds a number of more than {sys.get_int_max_str_digits()} digits)"
    if isinstance(error, NotJSONError):
        return "not a valid notebook (the file is not notebook JSON)"
    if isinstance(error, ValidationError):
        return f"not a valid notebook ({str(error).splitlines()[0]})"
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def too_many_digits(error) -> bool:
    """Whether error is Python's refusal to read an integer of more digits than its limit (a plain ValueError
    that only its message tells apart; the limit keeps reading such numbers from taking quadratic time)."""
    return type(error) is ValueError and "integer string conversion" in str(error)


def skipped_cells(nb) -> str:
    """Why cells were skipped or not run (a crash, a hang, the time limit), for the summary; "" if none."""
    reasons = [output.evalue for cell in nb.cells for output in cell.get("outputs", [])
               if output.output_type == "error" and output.ename == "CellSkipped"]
    if not reasons:
        return ""
    first = reasons[0].split(";")[0]
    return f"{len(reasons)} cell(s) skipped: {first}"
