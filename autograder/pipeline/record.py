"""Record: write what grading found into the one gradebook, serially.

Workers grade in scratch copies of the course; only this module, in the parent
process, writes the course's gradebook (SQLite or PostgreSQL) — the fields
nbgrader's ``SaveAutoGrades`` and ``AssignLatePenalties`` would have written, the
penalty under the course's late policy and the student's due date (``lateness``) — and moves
the graded notebooks into ``autograded/``. Beside the gradebook it keeps
``results/<assignment>.json``: per student, the fingerprint of the graded
submission (so a re-run grades only new or changed ones), the time it took,
the reason it failed, and the judged tests (for feedback and the report).

Each student's rows are written in one database transaction (nbgrader's helpers
commit after every change; here only the last commit counts), so a crash
leaves a student's old rows or new ones, never half of each; the results file,
written last and atomically, marks the student done, so a re-run grades again
exactly the students the crash left unfinished.
"""

import json
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from .course_folder import Course, replace_folder, write_atomically
from .lateness import LatePolicy, assign_penalties, load_policy, read_dues
from .results import Graded


def is_graded(results: dict, student: str, fingerprint: str) -> bool:
    entry = results.get(student)
    return entry is not None and entry["status"] == "graded" and entry["fingerprint"] == fingerprint


class Recorder:
    """One open gradebook for a batch; ``record`` is called once per submission."""

    def __init__(self, course: Course, assignment: str, policy: LatePolicy | None = None):
        self.course, self.assignment = course, assignment
        self.policy = policy or load_policy(course, assignment)
        self.results = course.load_results(assignment)
        self.gradebook = None  # opened at the first record, after the workers have forked

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.gradebook is not None:
            self.gradebook.close()

    def record(self, graded: Graded) -> None:
        if not graded.failure:
            # The gradebook, the graded notebooks, then the results file: if this is
            # interrupted, the submission is simply graded again next time.
            self.save_grades(graded)
            replace_folder(Path(graded.autograded), self.course.autograded(graded.student, self.assignment))
        self.results[graded.student] = {
            "fingerprint": graded.fingerprint,
            "status": "failed" if graded.failure else "graded",
            "reason": graded.failure,
            "note": graded.note,
            "seconds": graded.seconds,
            "tests": [asdict(test) for test in graded.tests],
        }
        write_atomically(self.course.results_file(self.assignment),
                         json.dumps(self.results, indent=1, sort_keys=True))

    def save_grades(self, graded: Graded) -> None:
        with warnings.catch_warnings():
            # nbgrader's add_submission triggers SQLAlchemy autoflush warnings; harmless
            warnings.simplefilter("ignore", SAWarning)
            if self.gradebook is None:
                self.gradebook = Gradebook(self.course.db_url, self.course.course_id)
            with one_transaction(self.gradebook):
                self._save_grades(graded)

    def _save_grades(self, graded: Graded) -> None:
        gb, student, assignment = self.gradebook, graded.student, self.assignment
        gb.update_or_create_student(student)
        timestamp = {"timestamp": graded.timestamp} if graded.timestamp else {}
        submission = gb.update_or_create_submission(assignment, student, **timestamp)
        for notebook in submission.notebooks:  # walk the submission's rows: no query per cell
            for grade in notebook.grades:
                if (notebook.name, grade.name) in graded.grades:
                    grade.auto_score = graded.grades[(notebook.name, grade.name)]
                    # as nbgrader: a manual score or no automatic score needs a person's look
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                if (notebook.name, comment.name) in graded.comments:
                    comment.auto_comment = graded.comments[(notebook.name, comment.name)]
        due = read_dues(self.course, assignment, gb).of(student)
        graded.late_penalties = assign_penalties(gb, submission, self.policy, due)


@contextmanager
def one_transaction(gb: Gradebook):
    """Make nbgrader's many commits one: they only flush, and the end commits (or rolls back) everything."""
    session = gb.db
    session.commit = session.flush  # on this session object only: nbgrader calls self.db.commit()
    try:
        yield
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    session.commit()
