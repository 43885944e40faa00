"""Secret inputs: the hidden tests' inputs, drawn by the instructor's process before a submission is sent out.

Which API functions each test cell's hidden tests check is read from the
instructor's source cells in the gradebook, never from the submission
(``hidden_test_sources``). In the instructor's process, ``submission_inputs`` draws
their inputs (``cases.draw``) from a seed only it can compute: an HMAC of the
submission under the course's secret key. A grading worker (a local process or
a cluster's) gets those inputs as plain data and never the key:
``SecretInputs`` hands them on to ``execute`` (the kernel's inbox) and
``judge`` (which compares the outcomes). The same submission always gets the
same inputs (grading is deterministic); any change to it gets new ones, so
inputs a student has seen never come back.
"""

import ast
import hashlib
import hmac
import re
import textwrap

import numpy as np
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

from autograder.course.api import HIDDEN_BLOCK

from . import cases

HIDDEN_CALL = re.compile(r"""check_function\(\s*["'](\w+)["']""")


def hidden_calls(source: str) -> list[str]:
    """The API functions a test cell's hidden tests check, in order, e.g. ['forget_gate']."""
    found = [HIDDEN_CALL.findall(block) for block in HIDDEN_BLOCK.findall(source)]
    return list(dict.fromkeys(name for names in found for name in names))


def judged_parts(source: str) -> dict:
    """{function: the keys its hidden call judges} for the calls of a test cell that pass `only=`."""
    parts = {}
    for block in HIDDEN_BLOCK.findall(source):
        for node in ast.walk(ast.parse(textwrap.dedent(block))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_function" and node.args:
                only = [ast.literal_eval(k.value) for k in node.keywords if k.arg == "only"]
                if only:
                    parts[ast.literal_eval(node.args[0])] = tuple(only[0])
    return parts


def secret_rng(key: str, *parts: str) -> np.random.Generator:
    """A generator seeded by HMAC-SHA256(key, parts): reproducible by the grader, unguessable by anyone else."""
    digest = hmac.new(bytes.fromhex(key), "\0".join(parts).encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def draw_inputs(functions, key: str, *parts: str) -> dict:
    """{function: [arguments of each hidden call]}, secret and reproducible."""
    return {name: cases.draw(name, secret_rng(key, *parts, name)) for name in functions}


def hidden_test_sources(db_url: str, assignment: str, notebook: str) -> dict:
    """{test cell: its source}, the instructor's copy in the gradebook, of the notebook's autograded code cells."""
    with Gradebook(db_url) as gb:
        found = gb.find_notebook(notebook, assignment)
        tests = {cell.name for cell in found.grade_cells}
        return {cell.name: cell.source for cell in found.source_cells
                if cell.name in tests and cell.cell_type == "code"}


def checked_functions(db_url: str, assignment: str, notebooks: list[str]) -> dict:
    """{notebook: the API functions its hidden tests check}, read once for a batch."""
    checked = {}
    for notebook in notebooks:
        calls = [hidden_calls(source) for source in hidden_test_sources(db_url, assignment, notebook).values()]
        checked[notebook] = list(dict.fromkeys(name for names in calls for name in names))
    return checked


def submission_inputs(checked: dict, key: str, assignment: str, student: str, fingerprint: str) -> dict:
    """{notebook: {function: [arguments of each hidden call]}} of one submission; fingerprint: of everything
    the kernel can see of it. Runs where the key is (the instructor's process), before the submission goes out."""
    return {notebook: draw_inputs(functions, key, assignment, notebook, student, fingerprint)
            for notebook, functions in checked.items()}


class SecretInputs(NbGraderPreprocessor):
    """Before the run: which functions each test cell checks, and the inputs drawn for them outside this worker."""

    inputs = Dict(help="{notebook: {function: [arguments]}}, from submission_inputs in the instructor's process."
                  ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        sources = hidden_test_sources(info["db_url"], info["assignment"], info["notebook"])
        calls = {name: hidden_calls(source) for name, source in sources.items()}
        only = {name: judged_parts(source) for name, source in sources.items()}
        inputs = self.inputs.get(info["notebook"], {})
        missing = sorted({name for names in calls.values() for name in names} - set(inputs))
        if missing:
            raise ValueError(f"no secret inputs were drawn for {', '.join(missing)}")
        resources["hidden_tests"] = {"calls": calls, "inputs": inputs, "only": only}
        return nb, resources
