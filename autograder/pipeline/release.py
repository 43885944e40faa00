"""Release: generate the student versions and, on JupyterHub, hand them out.

``nbgrader generate_assignment`` strips the solutions and hidden tests from
``solutions/<assignment>/`` into ``exercises/<assignment>/`` (the same step as
``make``) and records the assignment — its notebooks, grade cells and points —
in the gradebook, which grading needs. With an exchange configured, the
student versions are then released to it for ``nbgrader fetch_assignment``.
"""

import shutil
from dataclasses import replace

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateAssignment, NbGraderException
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseAssignment

from .course_folder import Course, CourseError, nbgrader_log
from .lateness import parse_due


def release(course: Course, assignment: str, due: str | None = None) -> list[str]:
    """Generate (and release) one assignment; returns what was done, one line each."""
    course.require_assignment(assignment)
    course.make_course_dir()
    generate_assignment(course, assignment, due)
    done = [f"generated {course.release_dir / assignment}", due_line(course, assignment, due)]
    if course.exchange_root is not None:
        coursedir = course.coursedir(assignment, ".")
        exchange = ExchangeReleaseAssignment(coursedir=coursedir, authenticator=Authenticator(),
                                             config=course.nbgrader_config(), log=nbgrader_log())
        exchange.force = True
        try:
            exchange.start()
        except ExchangeError as error:
            raise CourseError(f"could not release {assignment} to the exchange {course.exchange_root}: {error}")
        done.append(f"released to the exchange {course.exchange_root} (course {course.course_id})")
    return done


def due_line(course: Course, assignment: str, due: str | None) -> str:
    """The due date the gradebook now holds (as nbgrader read --due), or that there is none."""
    with Gradebook(course.db_url, course.course_id) as gb:
        duedate = gb.find_assignment(assignment).duedate
    if duedate is None:
        return "no due date (give --due to set one: lateness is measured against it)"
    return f"{'due' if due is not None else 'due date kept'}: {duedate:%Y-%m-%d %H:%M:%S} UTC"


def generate_assignment(course: Course, assignment: str, due: str | None = None) -> None:
    if due is not None:
        duedate = parse_due(due)
        with Gradebook(course.db_url, course.course_id) as gb:
            gb.update_or_create_assignment(assignment, duedate=duedate)
    converter = GenerateAssignment(coursedir=course.coursedir(assignment, "."),
                                   config=course.nbgrader_config(), log=nbgrader_log())
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        raise CourseError(f"nbgrader could not generate {assignment}: {error}")


def ensure_in_gradebook(course: Course, assignment: str) -> None:
    """Grading needs the assignment's cells in the gradebook; add them if missing,
    generating into a scratch folder so that exercises/ is left as it is."""
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    scratch = course.scratch_dir("release")
    try:
        generate_assignment(replace(course, release_dir=scratch), assignment)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
