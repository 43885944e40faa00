"""Hidden tests, judged outside the student's kernel.

Two nbgrader preprocessors around the sandboxed run (``execute.py``):

* ``DrawSecretInputs`` (before the run) reads which API functions each test
  cell's hidden tests check — from the instructor's source cells in the
  gradebook, never from the submission — and draws their inputs
  (``cases.draw``, completed by ``checks.prepare``) from a seed only the grader
  can compute: an HMAC of the submission under the course's secret key. The
  same submission always gets the same inputs (grading is deterministic); any
  change to it gets new ones, so inputs a student has seen never come back.
* ``JudgeHiddenTests`` (after the run) judges each test cell from outside:
  the outcomes its hidden calls posted while it ran (``mailbox.py``) are
  compared with the reference by ``checks.judge``, in this trusted process.
  A cell whose function is wrong, whose hidden call never reported, or that
  did not run gets an error output naming the problem, so nbgrader's own
  ``SaveAutoGrades`` gives it no points; the message names the function and
  what is wrong, never an input value or the tests' code.
"""

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import numpy as np
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from . import cases, checks
from .execute import error_output

HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.DOTALL)
HIDDEN_CALL = re.compile(r"""check_function\(\s*["'](\w+)["']""")
KEY_FILE = "secret_key"


def hidden_calls(source: str) -> list[str]:
    """The API functions a test cell's hidden tests check, in order, e.g. ['forget_gate']."""
    found = [HIDDEN_CALL.findall(block) for block in HIDDEN_BLOCK.findall(source)]
    return list(dict.fromkeys(name for names in found for name in names))


def course_key(course_dir: Path) -> str:
    """The course's secret key (hex), made on first use; readable by the instructor only."""
    path = Path(course_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def secret_rng(key: str, *parts: str) -> np.random.Generator:
    """A generator seeded by HMAC-SHA256(key, parts): reproducible by the grader, unguessable by anyone else."""
    digest = hmac.new(bytes.fromhex(key), "\0".join(parts).encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def draw_inputs(functions, key: str, *parts: str) -> dict:
    """{function: [arguments of each hidden call]}, secret and reproducible."""
    return {name: [checks.prepare(name, case) for case in cases.draw(name, secret_rng(key, *parts, name))]
            for name in functions}


class DrawSecretInputs(NbGraderPreprocessor):
    """Before the run: which functions each test cell checks, and their secret inputs."""

    key = Unicode("", help="The course's secret key, hex (see course_key).").tag(config=True)
    submission = Unicode("", help="Fingerprint of everything the kernel can see of the submission.").tag(config=True)

    def preprocess(self, nb, resources):
        if not self.key or not self.submission:
            raise ValueError("DrawSecretInputs needs the course's key and the submission's fingerprint")
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            tests = {cell.name for cell in notebook.grade_cells}
            calls = {cell.name: hidden_calls(cell.source) for cell in notebook.source_cells
                     if cell.name in tests and cell.cell_type == "code"}
        functions = dict.fromkeys(name for names in calls.values() for name in names)
        inputs = draw_inputs(functions, self.key, info["assignment"], info["notebook"], info["student"],
                             self.submission)
        resources["hidden_tests"] = {"calls": calls, "inputs": inputs}
        return nb, resources


class JudgeHiddenTests(NbGraderPreprocessor):
    """After the run: judge each test cell's hidden calls outside the kernel; mark the failures."""

    def preprocess(self, nb, resources):
        hidden = resources.get("hidden_tests", {})
        calls, inputs, outcomes = hidden.get("calls", {}), hidden.get("inputs", {}), hidden.get("outcomes", {})
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                continue
            failed = any(output.output_type == "error" for output in cell.outputs)
            if not failed:
                if cell.execution_count is None:
                    problem = "this test cell did not run"
                else:
                    problem = verdict(calls.get(cell.metadata.nbgrader.get("grade_id"), []),
                                      outcomes.get(index, []), inputs)
                if problem:
                    cell.outputs.append(error_output("AssertionError", problem))
                    failed = True
            if failed:  # nbgrader reads a result before an error as partial credit: a failed test has none
                cell.outputs = [output for output in cell.outputs if output.output_type != "execute_result"]
        return nb, resources


def verdict(functions: list, posted: list, inputs: dict) -> str | None:
    """Why a test cell's hidden calls fail, judged against the reference; None when all are right.

    posted: (function, [outcome fields]) per hidden call the cell made, or
    ("", reason) for a message that could not be read.
    """
    for name, fields in posted:
        if not name:
            return f"a hidden test sent {fields}"
    for name in functions:
        calls = [fields for called, fields in posted if called == name]
        if not calls:
            return f"{name}: the hidden test did not report a result (was the test helper replaced?)"
        for fields in calls:
            if len(fields) != len(inputs[name]):
                return f"{name}: the hidden test reported {len(fields)} results for {len(inputs[name])} inputs"
            for arguments, outcome in zip(inputs[name], fields):
                try:
                    problem = checks.judge(name, arguments, checks.Outcome(**outcome), reveal=False)
                except Exception as error:  # anything the kernel sent that is not a result of the right kind
                    problem = f"its result could not be judged ({type(error).__name__})"
                if problem:
                    return f"{name}: {problem} (on hidden inputs with {checks.describe(arguments)})"
    return None

