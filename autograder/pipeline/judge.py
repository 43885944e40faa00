"""Judge: after the sandboxed run, judge each test cell's hidden calls outside the kernel.

The outcomes each hidden call posted while its cell ran (``kernel/mailbox.py``,
kept per cell by ``execute``) are compared with the reference (``compare``). A
cell whose function is wrong, whose hidden call never reported, or that did not
run gets an error output naming the problem, so nbgrader's own
``SaveAutoGrades`` gives it no points; the message names the function and what
is wrong, never an input value or the tests' code. A function that builds on
one whose test failed (``api.BUILDS_ON``) is told to fix that one first: its
own result is wrong because of it, as likely as not.
"""

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.course.api import BUILDS_ON
from autograder.kernel.call import Outcome

from .compare import describe, fix_first, judge_outcome
from .results import error_output


class JudgeHiddenTests(NbGraderPreprocessor):
    """After the run: judge each test cell's hidden calls outside the kernel; mark the failures."""

    def preprocess(self, nb, resources):
        hidden = resources.get("hidden_tests", {})
        calls, inputs, outcomes = hidden.get("calls", {}), hidden.get("inputs", {}), hidden.get("outcomes", {})
        only, wrong = hidden.get("only", {}), set()  # wrong: the functions of the test cells failed so far
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                continue
            grade_id = cell.metadata.nbgrader.get("grade_id")
            failed = any(output.output_type == "error" for output in cell.outputs)
            if not failed:
                if cell.execution_count is None:
                    problem = "this test cell did not run"
                else:
                    problem = verdict(calls.get(grade_id, []), outcomes.get(index, []), inputs, only.get(grade_id))
                    problem = problem and blame_first(calls.get(grade_id, []), wrong, problem)
                if problem:
                    cell.outputs.append(error_output("AssertionError", problem))
                    failed = True
            if failed:  # nbgrader reads a result before an error as partial credit: a failed test has none
                wrong.update(calls.get(grade_id, []))
                cell.outputs = [output for output in cell.outputs if output.output_type != "execute_result"]
        return nb, resources


def blame_first(functions: list, wrong: set, problem: str) -> str:
    """The problem, led by the earlier function to fix first when one that these functions call is wrong."""
    for name in functions:
        for earlier in BUILDS_ON.get(name, ()):
            if earlier in wrong:
                return fix_first(earlier, name) + problem
    return problem


def verdict(functions: list, posted: list, inputs: dict, only: dict | None = None) -> str | None:
    """Why a test cell's hidden calls fail, judged against the reference; None when all are right.

    posted: (function, [outcome fields]) per hidden call the cell made, or
    ("", reason) for a message that could not be read. only: {function: the
    keys of its result this cell judges}, for calls that judge a part.
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
                    problem = judge_outcome(name, arguments, Outcome(**outcome), reveal=False,
                                            only=(only or {}).get(name))
                except Exception as error:  # anything the kernel sent that is not a result of the right kind
                    problem = f"its result could not be judged ({type(error).__name__})"
                if problem:
                    return f"{name}: {problem} (on hidden inputs with {describe(arguments)})"
    return None
