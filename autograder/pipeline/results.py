"""The plain data the grading steps hand each other.

A worker grades a submission and returns a ``Graded``; ``record`` stores it,
``feedback``, ``export`` and ``report`` read it back. ``TestResult`` is one
test cell's score as nbgrader decides it (``scores``); ``error_output`` is how a
step marks a cell failed (nbgrader gives a test cell with an error no points).
"""

from dataclasses import dataclass, field

from nbformat import NotebookNode


@dataclass(frozen=True)
class TestResult:
    notebook: str
    grade_id: str
    score: float
    points: float
    message: str  # "" when passed

    @property
    def passed(self) -> bool:
        return self.score >= self.points


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
    late_penalties: dict = field(default_factory=dict)  # notebook -> penalty or None, set by record
    tests: list = field(default_factory=list)     # TestResult, notebook order
    autograded: str = ""       # scratch folder holding the graded notebooks


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
