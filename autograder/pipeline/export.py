"""Export: the gradebook as CSV files, for a spreadsheet and for Canvas.

``grades.csv`` has one row per student and, per assignment, its score (after
any late penalty), a note (``<assignment>/note``: why the newest submission
could not be graded, if it could not; "on time" or how late it was and the
points the late policy took off) and one column per graded question
(``<assignment>/<grade cell>``). Every collected
submission has a row: one that could not be graded has an empty score and its
reason. ``canvas.csv`` is Canvas' gradebook-import format: the five student
columns Canvas expects, a "Points Possible" row, one column per assignment.
Text that a spreadsheet would run as a formula (a name or id starting with
``=``, ``+``, ``-``, ``@``) is written with a leading apostrophe.
Both are sorted and carry no timestamps, so the same gradebook always gives
the same bytes; each is written whole or not at all.
"""

import csv
import io
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from . import lateness
from .course_folder import FORMULA_STARTS, Course, write_atomically

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def export(course: Course, out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(out_dir or course.course_dir / "exports")
    course.require_gradebook()
    table = read_gradebook(course)
    grades, canvas = out_dir / "grades.csv", out_dir / "canvas.csv"
    write_atomically(grades, grades_csv(table))
    write_atomically(canvas, canvas_csv(table))
    return [grades, canvas]


def read_gradebook(course: Course) -> dict:
    """Everything the exports need, as plain sorted data."""
    with Gradebook(course.db_url, course.course_id) as gb:
        names = [assignment.name for assignment in gb.assignments]
    for name in names:  # penalties as the policy takes them from today's scores (a score given by hand since)
        lateness.record_penalties(course, name)
    with Gradebook(course.db_url, course.course_id) as gb:
        assignments = []
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            questions = sorted((nb.name, cell.name, cell.max_score) for nb in assignment.notebooks
                               for cell in nb.grade_cells + nb.task_cells)
            assignments.append((assignment.name, assignment.max_score, questions))
        results = {name: course.load_results(name) for name, _, _ in assignments}
        dues = {name: lateness.read_dues(course, name, gb) for name, _, _ in assignments}
        known = {student.id: student for student in gb.students}
        students = []
        for student_id in sorted(set(known).union(*results.values())):
            student = known.get(student_id)
            scores = {}
            for name, _, questions in assignments:
                entry = results[name].get(student_id, {})
                reason = entry.get("reason", "")  # not how a crash went: that may vary
                try:
                    submission = gb.find_submission(name, student_id)
                except MissingEntry:
                    late = dues[name].seconds_late(student_id, lateness.collected_time(course, name, student_id))
                    scores[(name, "note")] = "; ".join(filter(None, [reason, lateness.how_late(late)]))
                    continue
                late = lateness.lateness_note(dues[name].seconds_late(student_id, submission.timestamp),
                                              submission.late_submission_penalty)
                scores[(name, "note")] = "; ".join(filter(None, [reason, late]))
                scores[name] = submission.score - (submission.late_submission_penalty or 0)
                for notebook, cell, _ in questions:
                    scores[(name, notebook, cell)] = gb.find_grade(cell, notebook, name, student_id).score
            students.append({"id": student_id, "first_name": getattr(student, "first_name", "") or "",
                             "last_name": getattr(student, "last_name", "") or "",
                             "lms_user_id": getattr(student, "lms_user_id", "") or "", "scores": scores})
    return {"assignments": assignments, "students": students}


def question_column(assignment: str, notebook: str, cell: str, single_notebook: bool) -> str:
    return f"{assignment}/{cell}" if single_notebook else f"{assignment}/{notebook}/{cell}"


def number(value) -> str:
    return spreadsheet_text(value) if isinstance(value, str) else "" if value is None else f"{value:g}"


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as text: one that could start a formula gets a leading apostrophe."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def grades_csv(table: dict) -> str:
    header, keys = ["student_id", "first_name", "last_name"], []
    for name, _, questions in table["assignments"]:
        single = len({notebook for notebook, _, _ in questions}) == 1
        header += [name, f"{name}/note"]
        keys += [name, (name, "note")]
        for notebook, cell, _ in questions:
            header.append(question_column(name, notebook, cell, single))
            keys.append((name, notebook, cell))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for student in table["students"]:
        writer.writerow([spreadsheet_text(student[k]) for k in ("id", "first_name", "last_name")]
                        + [number(student["scores"].get(key)) for key in keys])
    return out.getvalue()


def canvas_csv(table: dict) -> str:
    names = [name for name, _, _ in table["assignments"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CANVAS_STUDENT_COLUMNS + names)
    writer.writerow(["Points Possible", "", "", "", ""] + [number(m) for _, m, _ in table["assignments"]])
    for student in table["students"]:
        display = ", ".join(n for n in (student["last_name"], student["first_name"]) if n) or student["id"]
        writer.writerow([spreadsheet_text(display), spreadsheet_text(student["lms_user_id"]),
                         spreadsheet_text(student["id"]), "", ""]
                        + [number(student["scores"].get(name)) for name in names])
    return out.getvalue()
