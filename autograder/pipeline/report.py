"""Report: how a class did on one assignment, for the instructor.

Per-question pass rates, the progress of grading by hand (nbgrader's
``needs_manual_grade``), students' names, how late each submission was (against
their due date, ``lateness``) and a score histogram come from the
gradebook; the most frequent failing tests (with their messages) and the
slowest submissions from the results of the last grading run; who on the
roster submitted nothing, and which files collect did not take and why, from
the course folder. With nothing graded yet it says so, not a mean of 0. Written as Markdown or HTML,
with the histogram as a PNG beside it. The HTML escapes every text and carries
a Content-Security-Policy that runs no script.
"""

import html
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from . import lateness
from .course_folder import Course, CourseError, write_atomically

# The HTML report runs no script at all: its text (students' ids, failure messages) is escaped, and should
# something get through, the browser still runs nothing and loads nothing but the histogram beside it.
REPORT_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def write_report(course: Course, assignment: str, fmt: str = "md", out_dir: Path | None = None,
                 top: int = 10) -> Path:
    course.require_gradebook()
    course.require_assignment(assignment)
    out_dir = Path(out_dir or course.course_dir / "reports")
    lateness.record_penalties(course, assignment)  # as the policy takes them from today's scores
    scores = class_scores(course, assignment)
    results = course.load_results(assignment)
    histogram = out_dir / f"{assignment}_scores.png"
    write_atomically(histogram, histogram_png(list(scores.totals.values()), scores.max_score, assignment))
    title = f"Grading report: {assignment}"
    render = render_html if fmt == "html" else render_markdown
    path = out_dir / f"{assignment}.{'html' if fmt == 'html' else 'md'}"
    write_atomically(path, render(title, histogram.name, sections(course, assignment, scores, results, top)))
    return path


@dataclass
class ClassScores:
    """What the gradebook holds of one assignment."""
    totals: dict        # student -> score after any late penalty, of each graded submission
    questions: list     # (question, points, full marks, submissions, sum of scores)
    by_hand: list       # (question, points, graded by hand, still to grade) of the manually graded questions
    to_grade: dict      # student -> manually graded questions still to grade
    names: dict         # student -> "First Last", of those the gradebook has a name for
    max_score: float
    late: dict          # student -> "on time", or how late and the points taken off (with a due date)


def sections(course: Course, assignment: str, scores: ClassScores, results: dict, top: int) -> list:
    """(heading, header, rows) of each part of the report."""
    graded = sum(entry["status"] == "graded" for entry in results.values())
    failed = sorted((s, e["reason"]) for s, e in results.items() if e["status"] == "failed")
    skipped = sorted((s, e["note"]) for s, e in results.items() if e.get("note"))
    failing = Counter((t["grade_id"], t["message"]) for entry in results.values() if entry["status"] == "graded"
                      for t in entry["tests"] if t["score"] < t["points"])
    slowest = sorted(results.items(), key=lambda item: (-item[1]["seconds"], item[0]))[:top]
    submitted = course.submitted_students(assignment)
    missing = sorted(set(roster_students(course)) - set(submitted))
    who = student_label(scores.names)
    return [
        ("Summary", ["submissions collected", "submissions in the gradebook", "graded in the last runs",
                     "failed to grade", "mean score", "still to grade by hand"],
         [[len(submitted), len(scores.totals), graded, len(failed), mean_score(scores),
           sum(scores.to_grade.values())]]),
        ("Lateness", ["late policy", "graded late", "graded on time"],
         [[lateness.load_policy(course, assignment).describe(),
           sum(text.startswith("late") for text in scores.late.values()),
           sum(text == "on time" for text in scores.late.values())]]),
        ("Students", [header for header, _ in STUDENT_COLUMNS],
         [[column(student, scores, course, assignment) for _, column in STUDENT_COLUMNS]
          for student in sorted(set(submitted) | set(scores.totals))]),
        ("Per-question pass rates", ["question", "points", "full marks", "pass rate", "mean score"],
         [[q, f"{p:g}", f"{n_full}/{n}", f"{n_full / n:.0%}" if n else "-", f"{s / n:.2f}" if n else "-"]
          for q, p, n_full, n, s in scores.questions]),
        ("Grading by hand", ["question", "points", "graded", "still to grade"],
         [[q, f"{p:g}", done, left] for q, p, done, left in scores.by_hand]),
        ("Most frequent failing tests", ["test", "students", "message"],
         [[grade_id, count, message] for (grade_id, message), count
          in sorted(failing.items(), key=lambda item: (-item[1], item[0]))[:top]]),
        ("Slowest submissions", ["student", "seconds", "status"],
         [[who(s), f"{e['seconds']:.1f}", e["status"]] for s, e in slowest]),
        ("Submissions that could not be graded", ["student", "reason"], [[who(s), r] for s, r in failed]),
        ("Submissions graded without some cells (a crash, a hang, the time limit)", ["student", "why"],
         [[who(s), why] for s, why in skipped]),
        ("Students on the roster who submitted nothing", ["student"], [[who(s)] for s in missing]),
        ("Files collect did not take", ["file", "reason"], [list(entry) for entry in course.load_skipped(assignment)]),
    ]


def mean_score(scores: ClassScores) -> str:
    if not scores.totals:
        return "nothing graded yet"
    return f"{sum(scores.totals.values()) / len(scores.totals):.2f} of {scores.max_score:g}"


def student_label(names: dict):
    return lambda student: f"{student} ({names[student]})" if names.get(student) else student


def submitted_at(student: str, course: Course, assignment: str) -> str:
    stamp = course.submitted(student, assignment) / "timestamp.txt"
    return stamp.read_text().strip() if stamp.is_file() else "-"


# The per-student table: a header and what it shows of a student. A new fact about each
# student (how late the submission was) is one more entry here.
STUDENT_COLUMNS = [
    ("student", lambda student, scores, course, assignment: student),
    ("name", lambda student, scores, course, assignment: scores.names.get(student, "")),
    ("submitted", lambda student, scores, course, assignment: submitted_at(student, course, assignment)),
    ("late", lambda student, scores, course, assignment: late_text(student, scores, course, assignment)),
    ("score", lambda student, scores, course, assignment:
        f"{scores.totals[student]:g}" if student in scores.totals else "not graded"),
    ("to grade by hand", lambda student, scores, course, assignment: scores.to_grade.get(student, 0)),
]


def late_text(student: str, scores: ClassScores, course: Course, assignment: str) -> str:
    """The graded submission's lateness, else the collected one's (not graded yet); "-" without a due date."""
    if student in scores.late:
        return scores.late[student]
    dues = lateness.read_dues(course, assignment)
    return lateness.how_late(dues.seconds_late(student, lateness.collected_time(course, assignment, student))) or "-"


def roster_students(course: Course) -> list:
    """The student ids of the course's stored roster (none without one)."""
    return sorted({row["student_id"] for row in (course.roster() or {}).values() if row["student_id"]})


def class_scores(course: Course, assignment: str) -> ClassScores:
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(f"{assignment} is not in the gradebook yet: run `autograder grade {assignment}`")
        submissions = sorted(record.submissions, key=lambda s: s.student_id)
        totals = {s.student_id: s.score - (s.late_submission_penalty or 0) for s in submissions}
        dues = lateness.read_dues(course, assignment, gb)
        late = {s.student_id: lateness.lateness_note(dues.seconds_late(s.student_id, s.timestamp),
                                                     s.late_submission_penalty) for s in submissions}
        names = {student.id: " ".join(n for n in (student.first_name, student.last_name) if n)
                 for student in gb.students}
        questions, by_hand, to_grade = [], [], Counter()
        for notebook in sorted(record.notebooks, key=lambda n: n.name):
            manual = {cell.name for cell in notebook.solution_cells} | {cell.name for cell in notebook.task_cells}
            for cell in sorted(notebook.grade_cells + notebook.task_cells, key=lambda c: c.name):
                grades = [gb.find_grade(cell.name, notebook.name, assignment, s.student_id) for s in submissions]
                scores = [g.score for g in grades if g.score is not None]
                full = sum(score >= cell.max_score for score in scores)
                questions.append((cell.name, cell.max_score, full, len(scores), sum(scores)))
                if cell.name in manual:
                    left = [s.student_id for s, g in zip(submissions, grades) if g.needs_manual_grade]
                    done = sum(g.manual_score is not None and not g.needs_manual_grade for g in grades)
                    by_hand.append((cell.name, cell.max_score, done, len(left)))
                    to_grade.update(left)
        return ClassScores(totals, questions, by_hand, dict(to_grade), names, record.max_score,
                           {s: text for s, text in late.items() if text})


def histogram_png(totals: list, max_score: float, assignment: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(totals, bins=[x - 0.5 for x in range(int(max_score) + 2)], color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (of {max_score:g})", ylabel="students", title=f"{assignment}: scores")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})  # no version stamp: same scores, same bytes
    plt.close(fig)
    return out.getvalue()


def render_markdown(title: str, image: str, sections: list) -> str:
    lines = [f"# {title}", "", f"![score histogram]({image})", ""]
    for heading, header, rows in sections:
        lines += [f"## {heading}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def render_html(title: str, image: str, sections: list) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"{REPORT_POLICY}\"><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
             "</style></head><body>", f"<h1>{e(title)}</h1>", f"<img src='{e(image)}' alt='score histogram'>"]
    for heading, header, rows in sections:
        parts.append(f"<h2>{e(heading)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
