"""Secret inputs: before the sandboxed run, draw the hidden tests' inputs.

``DrawSecretInputs`` reads which API functions each test cell's hidden tests
check — from the instructor's source cells in the gradebook, never from the
submission — and draws their inputs (``cases.draw``) from a seed only the
grader can compute: an HMAC of the submission under the course's secret key.
The same submission always gets the same inputs (grading is deterministic); any
change to it gets new ones, so inputs a student has seen never come back.
``execute`` hands them to the kernel's inbox; ``judge`` compares the outcomes.
"""

import ast
import hashlib
import hmac
import re
import textwrap

import numpy as np
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

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


class DrawSecretInputs(NbGraderPreprocessor):
    """Before the run: which functions each test cell checks, and their secret inputs."""

    key = Unicode("", help="The course's secret key, hex (see Course.secret_key).").tag(config=True)
    submission = Unicode("", help="Fingerprint of everything the kernel can see of the submission.").tag(config=True)

    def preprocess(self, nb, resources):
        if not self.key or not self.submission:
            raise ValueError("DrawSecretInputs needs the course's key and the submission's fingerprint")
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            tests = {cell.name for cell in notebook.grade_cells}
            sources = {cell.name: cell.source for cell in notebook.source_cells
                       if cell.name in tests and cell.cell_type == "code"}
        calls = {name: hidden_calls(source) for name, source in sources.items()}
        only = {name: judged_parts(source) for name, source in sources.items()}
        functions = dict.fromkeys(name for names in calls.values() for name in names)
        inputs = draw_inputs(functions, self.key, info["assignment"], info["notebook"], info["student"],
                             self.submission)
        resources["hidden_tests"] = {"calls": calls, "inputs": inputs, "only": only}
        return nb, resources
