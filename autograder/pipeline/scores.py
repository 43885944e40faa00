"""Scores: which tests of a graded notebook passed, and why the others failed.

nbgrader scores an autograded test cell by its output (an error means no
points); this module reads the same outputs with nbgrader's own rule and keeps
the message a student needs: the error and its first line, e.g.
``AssertionError: forget_gate is wrong for h_prev != 0``.
"""

import re

from nbgrader import utils

from .results import TestResult

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def read_scores(notebook: str, nb) -> list[TestResult]:
    """The autograded test cells of an executed notebook, in notebook order."""
    results = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            continue
        score, points = utils.determine_grade(cell)
        message = failure_message(cell) if score < points else ""
        results.append(TestResult(notebook, cell.metadata.nbgrader["grade_id"],
                                  float(score), float(points), message))
    return results


def failure_message(cell) -> str:
    """One line saying why a test cell did not get its points."""
    for output in cell.outputs:
        if output.output_type == "error":
            lines = [line.strip() for line in ANSI.sub("", output.evalue).splitlines() if line.strip()]
            return f"{output.ename}: {lines[0]}" if lines else output.ename
        if output.output_type == "stream" and output.name == "stderr":
            lines = ANSI.sub("", output.text).strip().splitlines()
            return lines[-1] if lines else "wrote to stderr"
    return "partial credit"
