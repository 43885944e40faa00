"""The instructor website shows every secret next to the student version, and the rubric; it is never deployed.

Built as ``make instructor`` builds it (the sources from
``autograder.pipeline.instructor_site``, then Jupyter Book with warnings as
errors) into a temporary folder. Its pages must hold every solution and
hidden-test block the public website must not (the telltales of
``tests/test_site_no_leak.py``), each changed cell's student version, and a
rubric with every answer graded by hand and its points.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.course.api import FUNCTIONS
from autograder.pipeline.instructor_site import write_book
from tests.support import ROOT
from tests.test_site_no_leak import published_text, solution_notebooks, telltales


@pytest.fixture(scope="module")
def instructor_html(tmp_path_factory):
    source = write_book(tmp_path_factory.mktemp("instructor") / "book")
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(source),
                            "-W", "-n", "--keep-going"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return source / "_build" / "html"


@pytest.mark.parametrize("notebook", solution_notebooks(), ids=lambda p: p.stem)
def test_every_solution_and_hidden_test_is_shown_after_the_student_version(instructor_html, notebook):
    page = published_text(instructor_html / f"{notebook.stem}.html")
    source = published_text(instructor_html / "_sources" / f"{notebook.stem}.ipynb")  # markdown before rendering
    missing = [t for t in telltales([notebook]) if t.text not in (page if t.cell_type == "code" else source)]
    assert not missing, f"{notebook.stem}: not shown: {missing[:3]}"
    assert "YOUR CODE HERE" in page and "raise NotImplementedError()" in page  # the student's version too
    assert page.index("Student version") < page.index("Instructor version")


def test_the_rubric_lists_every_answer_graded_by_hand(instructor_html):
    rubric = published_text(instructor_html / "rubric.html")
    manual = [(a, c["metadata"]["nbgrader"]) for a in FUNCTIONS
              for c in json.loads((ROOT / "solutions" / a / f"{a}.ipynb").read_text())["cells"]
              if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")]
    assert manual, "no answer is graded by hand: nothing to check"
    for assignment, grading in manual:
        assert f"{assignment}: {grading['grade_id']} ({grading['points']} points)" in rubric
    assert "Rubric for TAs" in rubric


def test_the_public_workflow_deploys_only_the_public_website():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    uploads = [step["with"]["path"] for job in workflow["jobs"].values() for step in job["steps"]
               if "upload-pages-artifact" in step.get("uses", "")]
    assert uploads == ["_build/html"]
