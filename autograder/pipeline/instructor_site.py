"""The instructor website's sources: for teaching assistants, never deployed.

``python -m autograder.pipeline.instructor_site DEST`` (``make instructor``)
writes a Jupyter Book to DEST: one page per assignment in which every cell the
student version changes (a solution, a test with hidden parts, a written
answer) is shown twice, as the student sees it and as the instructor wrote it,
and a rubric page with every answer graded by hand, its points and the rubric
text of its cell. Nothing on it is executed.
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import yaml

from ..course.api import FUNCTIONS
from .course_folder import ROOT

CONFIG = """# The instructor website (make instructor): solutions, hidden tests and rubrics. Never deploy it.
title: "LSTMs from the ground up: instructor edition"
only_build_toc_files: true
execute:
  execute_notebooks: "off"
html:
  use_repository_button: false
"""


CHAPTER_LINK = re.compile(r"\]\(\.\./\.\./book/([\w-]+)\.md\)")  # an exercise's link to a chapter


def on_the_website(markdown):
    """The exercise's links to chapters, pointed at the public website (the chapters are not on this one)."""
    baseurl = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    return CHAPTER_LINK.sub(lambda link: f"]({baseurl}book/{link[1]}.html)", markdown)


def cells(path):
    return notebook(path).cells


def notebook(path):
    return nbformat.read(path, as_version=4)


def label(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", cell.get("id", "?"))


def side_by_side(assignment):
    """One notebook: the instructor's cells, each changed one preceded by the student's version."""
    student = {label(c): c for c in cells(ROOT / "exercises" / assignment / f"{assignment}.ipynb")}
    instructor = notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    page = nbformat.v4.new_notebook(metadata=instructor.metadata)  # its kernel: the code's language
    page.cells.append(nbformat.v4.new_markdown_cell(
        f"# {assignment}: instructor edition\n\nEvery cell the student version changes appears twice: "
        "**student version**, then **instructor version** (solutions, hidden tests, model answers)."))
    for cell in instructor.cells:
        given = student.get(label(cell))
        if given is not None and given.source == cell.source:
            page.cells.append(cell)
            continue
        for title, version in (("Student version", given), ("Instructor version", cell)):
            if version is not None:
                page.cells.append(nbformat.v4.new_markdown_cell(f"**{title}** of `{label(cell)}`:"))
                page.cells.append(version)
    page.cells = [nbformat.from_dict(json.loads(json.dumps(c))) for c in page.cells]  # shown twice: copies
    for number, cell in enumerate(page.cells):
        cell["id"] = f"cell-{number}"  # a cell shown twice must not repeat its id
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.source = on_the_website(cell.source)
    return page


def rubric():
    """Markdown: every answer graded by hand, per assignment, with its points and its cell's text."""
    lines = ["# Rubric of the answers graded by hand", ""]
    for assignment in FUNCTIONS:
        for cell in cells(ROOT / "solutions" / assignment / f"{assignment}.ipynb"):
            grading = cell.metadata.get("nbgrader", {})
            written_answer = grading.get("grade") and grading.get("solution") and cell.cell_type == "markdown"
            if written_answer or grading.get("task"):
                lines += [f"## {assignment}: `{grading['grade_id']}` ({grading.get('points', 0)} points)", "",
                          cell.source, ""]
    return "\n".join(lines)


def write_book(dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "_config.yml").write_text(CONFIG)
    pages = []
    for assignment in FUNCTIONS:
        nbformat.write(side_by_side(assignment), dest / f"{assignment}.ipynb")
        pages.append(assignment)
    (dest / "rubric.md").write_text(rubric(), encoding="utf-8")
    (dest / "intro.md").write_text("# Instructor edition\n\nFor teaching assistants: keep it private.\n")
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": p} for p in [*pages, "rubric"]]}
    (dest / "_toc.yml").write_text(json.dumps(toc, indent=2))  # JSON is YAML
    return dest


if __name__ == "__main__":
    write_book(sys.argv[1])
