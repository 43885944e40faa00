"""Every assignment graded by real nbgrader, end to end, in a temporary course.

One `nbgrader autograde` run per assignment grades, as separate students, the
solution, the blank student version and every mistake of the catalogue.
"""

import nbformat
import pytest

from tests.support import ASSIGNMENTS
from tests.support.exercise_course import ExerciseCourse, solved, source_notebook, student_version, validate
from tests.support.mistakes import MISTAKES


def by_assignment(values, assignment=lambda value: value):
    """Parameters in one group per assignment: one worker grades an assignment's course, once."""
    return [pytest.param(v, marks=pytest.mark.xdist_group(assignment(v))) for v in values]


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(assignment) -> the course, autograded once per test session."""
    courses = {}

    def graded(assignment):
        if assignment not in courses:
            course = ExerciseCourse(tmp_path_factory.mktemp(assignment), assignment)
            course.submit("solution", solved(assignment))
            course.submit("blank", nbformat.read(course.released, as_version=4))
            for mistake in MISTAKES:
                if mistake.assignment == assignment:
                    course.submit(mistake.name, mistake.inject(solved(assignment)))
            course.autograde()
            courses[assignment] = course
        return courses[assignment]

    return graded


@pytest.mark.parametrize("assignment", by_assignment(ASSIGNMENTS))
def test_solution_earns_full_marks(graded, assignment):
    course = graded(assignment)
    assert course.scores()["solution"] == course.max_scores()


@pytest.mark.parametrize("assignment", by_assignment(ASSIGNMENTS))
def test_blank_student_version_earns_zero(graded, assignment):
    course = graded(assignment)
    scores = course.scores()["blank"]
    assert set(scores) == set(course.max_scores()) and not any(scores.values()), scores
    assert all("NotImplementedError" in error for error in course.errors("blank").values())


@pytest.mark.parametrize("mistake", by_assignment(MISTAKES, lambda m: m.assignment), ids=lambda m: m.name)
def test_mistake_loses_points_and_is_named(graded, mistake):
    course = graded(mistake.assignment)
    scores = course.scores()[mistake.name]
    assert scores[mistake.grade_cell] < course.max_scores()[mistake.grade_cell], \
        f"{mistake.name} kept all points of {mistake.grade_cell}"
    errors = course.errors(mistake.name)
    for cell, phrase in ((mistake.grade_cell, mistake.phrase), *mistake.seen_through):
        assert scores[cell] < course.max_scores()[cell], f"{mistake.name} kept all points of {cell}"
        assert phrase in errors.get(cell, ""), f"{cell} failed with {errors.get(cell)!r}, not naming the mistake"


def test_one_wrong_gradient_costs_only_the_cells_that_judge_it(graded):
    """A wrong output gate's gradient spoils dz_o and what sums it (dx_t, dh_prev): nothing else."""
    course = graded("ex5_lstm_backward")
    scores, full = course.scores()["wrong_sign_output_gate"], course.max_scores()
    spoiled = {"test_backward_output_gate", "test_backward_inputs", "test_backward_gradient_check"}
    assert {cell for cell in full if scores[cell] < full[cell]} == spoiled, scores
    assert sum(full.values()) == 10


def test_catalogue_covers_every_assignment_and_is_large_enough():
    assert len(MISTAKES) >= 25
    assert sum(bool(m.seen_through) for m in MISTAKES) >= 5  # mistakes that show through later functions
    assert len({m.name for m in MISTAKES}) == len(MISTAKES)
    assert {m.assignment for m in MISTAKES} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_passes_the_solution_and_fails_the_blank(assignment):
    passed, output = validate(source_notebook(assignment))
    assert passed, output
    passed, output = validate(student_version(assignment))
    assert not passed and "VALIDATION FAILED" in output
