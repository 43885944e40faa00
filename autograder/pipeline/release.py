"""Release: generate the student versions and, on JupyterHub, hand them out.

``nbgrader generate_assignment`` strips the solutions and hidden tests from
``solutions/<assignment>/`` into ``exercises/<assignment>/`` (the same step as
``make``) and records the assignment — its notebooks, grade cells and points —
in the gradebook, which grading needs. With an exchange configured, the
student versions are then released to it for ``nbgrader fetch_assignment``.
"""

import datetime
import re
import shutil
import zoneinfo
from dataclasses import replace

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateAssignment, NbGraderException
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseAssignment

from .course_folder import Course, CourseError, nbgrader_log


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


DUE = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)\s+(\S+)")
OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
DUE_EXAMPLES = "e.g. '2025-03-01 17:00:00 UTC', '2025-03-01 09:00 -08:00' or '2025-03-01 09:00 America/Los_Angeles'"


def parse_due(text: str) -> datetime.datetime:
    """A due date with its time zone, as the gradebook keeps it: naive UTC.

    nbgrader's own parse_utc reads '-0800' as -800 seconds and an unknown
    abbreviation such as 'PST' as UTC, silently; here a zone is required and
    must be UTC, an offset or an IANA name.
    """
    match = DUE.fullmatch(text.strip())
    try:
        when = datetime.datetime.fromisoformat(match[1]) if match else None
    except ValueError:
        when = None
    if when is None:
        raise CourseError(f"--due '{text}' is not a date and time with its time zone, {DUE_EXAMPLES}")
    zone = match[2]
    if zone in ("UTC", "Z"):
        tz = datetime.UTC
    elif offset := OFFSET.fullmatch(zone):
        sign = -1 if offset[1] == "-" else 1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(offset[2]), minutes=int(offset[3])))
    else:
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise CourseError(f"--due '{text}': unknown time zone '{zone}' (abbreviations such as PST are "
                              f"ambiguous), {DUE_EXAMPLES}")
    return when.replace(tzinfo=tz).astimezone(datetime.UTC).replace(tzinfo=None)


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
