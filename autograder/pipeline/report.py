"""Report: how a class did on one assignment, for the instructor.

Per-question pass rates and a score histogram come from the gradebook; the
most frequent failing tests (with their messages) and the slowest submissions
come from the results of the last grading run. Written as Markdown or HTML,
with the histogram as a PNG beside it. The HTML escapes every text and carries
a Content-Security-Policy that runs no script.
"""

import html
import io
from collections import Counter
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course_folder import Course, CourseError, write_atomically

# The HTML report runs no script at all: its text (students' ids, failure messages) is escaped, and should
# something get through, the browser still runs nothing and loads nothing but the histogram beside it.
REPORT_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def write_report(course: Course, assignment: str, fmt: str = "md", out_dir: Path | None = None,
                 top: int = 10) -> Path:
    course.require_gradebook()
    course.require_assignment(assignment)
    out_dir = Path(out_dir or course.course_dir / "reports")
    totals, questions, max_score = class_scores(course, assignment)
    results = course.load_results(assignment)
    histogram = out_dir / f"{assignment}_scores.png"
    write_atomically(histogram, histogram_png(totals, max_score, assignment))

    graded = sum(entry["status"] == "graded" for entry in results.values())
    failed = sorted((s, e["reason"]) for s, e in results.items() if e["status"] == "failed")
    skipped = sorted((s, e["note"]) for s, e in results.items() if e.get("note"))
    failing = Counter((t["grade_id"], t["message"]) for entry in results.values() if entry["status"] == "graded"
                      for t in entry["tests"] if t["score"] < t["points"])
    slowest = sorted(results.items(), key=lambda item: (-item[1]["seconds"], item[0]))[:top]
    mean = sum(totals) / len(totals) if totals else 0.0
    sections = [
        ("Summary", ["submissions in the gradebook", "graded in the last runs", "failed to grade",
                     "mean score"],
         [[len(totals), graded, len(failed), f"{mean:.2f} of {max_score:g}"]]),
        ("Per-question pass rates", ["question", "points", "full marks", "pass rate", "mean score"],
         [[q, f"{p:g}", f"{n_full}/{n}", f"{n_full / n:.0%}" if n else "-", f"{s / n:.2f}" if n else "-"]
          for q, p, n_full, n, s in questions]),
        ("Most frequent failing tests", ["test", "students", "message"],
         [[grade_id, count, message] for (grade_id, message), count
          in sorted(failing.items(), key=lambda item: (-item[1], item[0]))[:top]]),
        ("Slowest submissions", ["student", "seconds", "status"],
         [[s, f"{e['seconds']:.1f}", e["status"]] for s, e in slowest]),
        ("Submissions that could not be graded", ["student", "reason"], [list(f) for f in failed]),
        ("Submissions graded without some cells (a crash, a hang, the time limit)", ["student", "why"],
         [list(s) for s in skipped]),
    ]
    title = f"Grading report: {assignment}"
    render = render_html if fmt == "html" else render_markdown
    path = out_dir / f"{assignment}.{'html' if fmt == 'html' else 'md'}"
    write_atomically(path, render(title, histogram.name, sections))
    return path


def class_scores(course: Course, assignment: str):
    """(totals per submission, [(question, points, full marks, submissions, sum)], max score)."""
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(f"{assignment} is not in the gradebook yet: run `autograder grade {assignment}`")
        submissions = sorted(record.submissions, key=lambda s: s.student_id)
        totals = [s.score - (s.late_submission_penalty or 0) for s in submissions]
        questions = []
        for notebook in sorted(record.notebooks, key=lambda n: n.name):
            for cell in sorted(notebook.grade_cells + notebook.task_cells, key=lambda c: c.name):
                scores = [gb.find_grade(cell.name, notebook.name, assignment, s.student_id).score
                          for s in submissions]
                scores = [s for s in scores if s is not None]
                full = sum(s >= cell.max_score for s in scores)
                questions.append((cell.name, cell.max_score, full, len(scores), sum(scores)))
        return totals, questions, record.max_score


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
