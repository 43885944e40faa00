"""Manual grading by spreadsheet: the written answers out to a CSV, a grader's scores and comments back in.

``autograder manual export`` writes one row per student, notebook and question graded by hand (the
answer cells nbgrader leaves to a person) with the student's answer, its points (``max``), whether it
waits for a person's look (``needs_manual_grade``, formgrader's mark) and what a grader has entered so
far (``score``, ``comment``: blank where nothing is). ``autograder manual import`` reads such a file back.
It checks every row before it writes anything (a student with a submission, a question graded by hand,
a score that is a number from 0 to the question's points, no question twice); the first bad row stops
it with one line naming that row. Then it writes what changed into the gradebook's ``manual_score`` and
``manual_comment`` in one transaction, as formgrader saves a grade; ``grade`` never writes those
columns, so regrading keeps them. A blank score or comment leaves the gradebook's as it is, so a file
exported before someone graded in formgrader never erases that work. A row that changes nothing keeps
formgrader's mark, unless its ``needs_manual_grade`` was emptied: that confirms the score as it stands.
"""

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from . import limits
from .course_folder import FORMULA_STARTS, Course, CourseError, write_atomically

COLUMNS = ("student_id", "notebook", "question", "answer", "max", "score", "comment", "needs_manual_grade")
READ_COLUMNS = ("student_id", "notebook", "question", "score", "comment")  # answer and max are for reading
WAITING = "yes"


@dataclass
class Answer:
    """One student's answer to one question graded by hand: its gradebook rows."""
    grade: object    # nbgrader's Grade
    comment: object  # nbgrader's Comment


@dataclass
class Entry:
    """What one valid row of an imported file asks for; None: leave as it is."""
    key: tuple
    score: float | None
    comment: str | None
    confirmed: bool  # needs_manual_grade emptied


def default_csv(course: Course, assignment: str) -> Path:
    return course.course_dir / "exports" / f"{assignment}_manual.csv"


def export_manual(course: Course, assignment: str, out: Path | None = None) -> tuple[Path, int, int]:
    """Write the CSV; returns (its path, rows, rows waiting for a person)."""
    course.require_gradebook()
    course.require_assignment(assignment)
    path = Path(out or default_csv(course, assignment))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    with Gradebook(course.db_url, course.course_id) as gb:
        answers = hand_graded(gb, assignment)
        waiting = 0
        for (student, notebook, question), answer in sorted(answers.items()):
            grade, comment = answer.grade, answer.comment
            waiting += grade.needs_manual_grade
            written = answer_text(course, student, assignment, notebook, question)
            writer.writerow([student, notebook, question, quote(written), f"{grade.max_score:g}",
                             "" if grade.manual_score is None else exact(grade.manual_score),
                             quote(comment.manual_comment or ""),
                             WAITING if grade.needs_manual_grade else ""])
    write_atomically(path, text.getvalue())
    return path, len(answers), waiting


def import_manual(course: Course, assignment: str, csv_path: Path) -> tuple[int, int, int]:
    """Check the whole file, then write it in one transaction; returns (scores, comments, rows unchanged)."""
    course.require_gradebook()
    course.require_assignment(assignment)
    rows = read_rows(Path(csv_path))
    with Gradebook(course.db_url, course.course_id) as gb:
        answers = hand_graded(gb, assignment)
        students, first_row, entries = {student for student, _, _ in answers}, {}, []
        for number, row in rows:
            entry = check_row(number, row, answers, students, assignment, csv_path)
            if entry.key in first_row:
                raise CourseError(f"{csv_path} row {number}: {'/'.join(entry.key)} again (first in row "
                                  f"{first_row[entry.key]}); nothing was imported")
            first_row[entry.key] = number
            entries.append(entry)
        scores = comments = unchanged = 0
        try:
            for entry in entries:
                grade, comment = answers[entry.key].grade, answers[entry.key].comment
                new_score = entry.score is not None and entry.score != grade.manual_score
                new_comment = entry.comment is not None and entry.comment != (comment.manual_comment or "")
                if new_score:
                    grade.manual_score = entry.score
                if new_comment:
                    comment.manual_comment = entry.comment
                has_score = grade.manual_score is not None or grade.auto_score is not None
                if (new_score or new_comment or entry.confirmed) and has_score:
                    grade.needs_manual_grade = False  # as formgrader does when a grade is saved
                scores, comments = scores + new_score, comments + new_comment
                unchanged += not (new_score or new_comment)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
    return scores, comments, unchanged


def hand_graded(gb: Gradebook, assignment: str) -> dict:
    """{(student, notebook, question): Answer} of every submission, for the questions graded by hand."""
    try:
        record = gb.find_assignment(assignment)
    except MissingEntry:
        raise CourseError(f"{assignment} is not in the gradebook yet: run `autograder grade {assignment}`")
    by_hand = {nb.name: {c.name for c in nb.solution_cells} | {c.name for c in nb.task_cells}
               for nb in record.notebooks}
    answers = {}
    for submission in record.submissions:
        for notebook in submission.notebooks:
            comments = {comment.name: comment for comment in notebook.comments}
            for grade in notebook.grades:
                if grade.name in by_hand[notebook.name] and grade.name in comments:
                    answers[(submission.student_id, notebook.name, grade.name)] = Answer(grade, comments[grade.name])
    return answers


def answer_text(course: Course, student: str, assignment: str, notebook: str, question: str) -> str:
    """What the student wrote in that cell of their graded notebook, cut to what a spreadsheet cell holds."""
    path = course.autograded(student, assignment) / f"{notebook}.ipynb"
    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError) as error:
        return f"(not readable: {error})"
    source = next((c.source for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == question),
                  "(no such cell in the graded notebook)")
    if len(source) <= limits.MANUAL_ANSWER_CHARS:
        return source
    return source[:limits.MANUAL_ANSWER_CHARS] + f" [... cut: the whole answer is in {path}]"


def read_rows(path: Path) -> list:
    """[(spreadsheet row number, {column: text})] of the file's rows that are not empty."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's UTF-8 export may start with a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise CourseError(f"{path} is not a CSV file ({error}); nothing was imported")
    if not records:
        raise CourseError(f"{path} is empty; nothing was imported")
    header = [name.strip() for name in records[0]]
    missing = [name for name in READ_COLUMNS if name not in header]
    if missing:
        raise CourseError(f"{path} has no column {', '.join(missing)} (it needs {', '.join(READ_COLUMNS)}, "
                          f"as `autograder manual export` writes); nothing was imported")
    return [(number, dict(zip(header, record))) for number, record in enumerate(records[1:], start=2)
            if any(field.strip() for field in record)]


def check_row(number: int, row: dict, answers: dict, students: set, assignment: str, path) -> Entry:
    def bad(why: str):
        return CourseError(f"{path} row {number}: {why}; nothing was imported")

    student, notebook, question = (row.get(name, "").strip() for name in ("student_id", "notebook", "question"))
    if student not in students:
        raise bad(f"no submission of {assignment} by a student '{student}'")
    key = (student, notebook, question)
    if key not in answers:
        known = sorted({f"{n}/{q}" for _, n, q in answers})
        raise bad(f"'{notebook}/{question}' is not a question of {assignment} graded by hand "
                  f"(those are: {', '.join(known)})")
    points = answers[key].grade.max_score
    text = row.get("score", "").strip()
    score = None
    if text:
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise bad(f"score '{text}' is not a number")
        if not 0 <= score <= points:
            raise bad(f"score {text} is not between 0 and {points:g}, the points of {question}")
    comment = unquote(row.get("comment", ""))
    return Entry(key, score, comment or None, confirmed=not row.get("needs_manual_grade", "").strip())


def exact(score: float) -> str:
    """A score as short as it can be written and read back the same (2, 1.5, 0.3333333333333333)."""
    return f"{score:g}" if float(f"{score:g}") == score else repr(score)


def quote(text: str) -> str:
    """Text a spreadsheet shows as text: before a formula's start (after any apostrophes), one more apostrophe."""
    return f"'{text}" if text.lstrip("'").startswith(FORMULA_STARTS) else text


def unquote(text: str) -> str:
    """A comment as the grader meant it: quote's apostrophe taken off again (a spreadsheet drops its own)."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS) else text
