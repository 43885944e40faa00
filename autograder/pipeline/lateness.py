"""Lateness: how late a submission was, by whose due date, and what the late policy takes off.

A student's due date is their extension (``autograder extend``, kept in
``extensions/<assignment>.csv``) or else the assignment's (the gradebook's, set by
``release --due``). A submission is late by its time (collect's ``timestamp.txt``, the
gradebook's once graded) minus that date. The assignment's late policy
(``late_policy.json``, set by ``grade --late-policy``) turns that into nbgrader's
per-notebook ``late_submission_penalty``, a number of points taken off the notebook's score:

* ``none``: nothing;
* ``zero``: the whole score (nbgrader's ``zero``);
* ``per-day:P:F``: P% of the score per day late or part of one, never leaving less than F% of it.

The penalty is computed here, in the instructor's process, from what the gradebook holds
(``record_penalties``): a new policy, an extension or a score given by hand is recorded
again without running a notebook, and a manual score is never touched.
"""

import csv
import datetime
import json
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc

from .course_folder import Course, CourseError, printable, write_atomically

DAY = 86400  # seconds
POLICY_EXAMPLES = "none, zero or per-day:PERCENT:FLOOR (e.g. per-day:10:50: 10% off per day late, never below 50%)"
PER_DAY = re.compile(r"per-day:(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)")
NO_EXTENSION = "none"  # `extend A S none` withdraws S's extension


# --- the policy --------------------------------------------------------------------

@dataclass(frozen=True)
class LatePolicy:
    kind: str = "none"      # "none", "zero" or "per-day"
    percent: float = 0.0    # per-day: of the score, per day late or part of one
    floor: float = 0.0      # per-day: the least share of the score kept, in percent

    def __str__(self) -> str:
        return f"per-day:{self.percent:g}:{self.floor:g}" if self.kind == "per-day" else self.kind

    def describe(self) -> str:
        if self.kind == "zero":
            return "zero (a late submission scores 0)"
        if self.kind == "per-day":
            return (f"{self} ({self.percent:g}% of the score off per day late or part of one, "
                    f"keeping at least {self.floor:g}%)")
        return "none (no penalty)"

    def penalty(self, score: float, seconds_late: float | None) -> float | None:
        """Points off a notebook's score (nbgrader's late_submission_penalty); None when nothing is taken."""
        if not seconds_late or seconds_late <= 0 or self.kind == "none":
            return None
        if self.kind == "zero":
            return score
        lost = min(self.percent * math.ceil(seconds_late / DAY), 100 - self.floor)
        return score * lost / 100


def parse_policy(text: str) -> LatePolicy:
    if text in ("none", "zero"):
        return LatePolicy(text)
    match = PER_DAY.fullmatch(text)
    if match and 0 < float(match[1]) <= 100 and float(match[2]) < 100:
        return LatePolicy("per-day", float(match[1]), float(match[2]))
    raise CourseError(f"--late-policy '{printable(text)}' is not a late policy: give {POLICY_EXAMPLES}, "
                      f"with 0 < PERCENT <= 100 and FLOOR < 100")


def load_policy(course: Course, assignment: str) -> LatePolicy:
    return parse_policy(load_policies(course).get(assignment, "none"))


def store_policy(course: Course, assignment: str, policy: LatePolicy) -> None:
    policies = load_policies(course) | {assignment: str(policy)}
    write_atomically(course.late_policy_file(), json.dumps(policies, indent=1, sort_keys=True) + "\n")


def load_policies(course: Course) -> dict:
    path = course.late_policy_file()
    return json.loads(path.read_text()) if path.is_file() else {}


# --- how late -----------------------------------------------------------------------

def how_late(seconds_late: float | None) -> str:
    """'on time', 'late by 1 day 3 h', 'late by 5 h 20 min', 'late by 12 min'; "" without a due date."""
    if seconds_late is None:
        return ""
    if seconds_late <= 0:
        return "on time"
    days, rest = divmod(math.ceil(seconds_late), DAY)  # a part of a second late is late
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"late by {days} day{'s' if days > 1 else ''} {hours} h"
    if hours:
        return f"late by {hours} h {minutes} min"
    return f"late by {minutes} min" if minutes else f"late by {seconds} s"


def lateness_note(seconds_late: float | None, penalty: float | None = None) -> str:
    """How late, and the points the policy took off: 'late by 2 days 0 h, 0.6 points off'."""
    text = how_late(seconds_late)
    return f"{text}, {penalty:g} point{'' if penalty == 1 else 's'} off" if text and penalty else text


def utc_text(when: datetime.datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S} UTC"


@dataclass
class Dues:
    """The due dates of one assignment: the gradebook's, and the students' extensions (naive UTC)."""
    assignment: datetime.datetime | None = None
    extensions: dict = field(default_factory=dict)  # student -> due date

    def of(self, student: str) -> datetime.datetime | None:
        return self.extensions.get(student, self.assignment)

    def seconds_late(self, student: str, submitted: datetime.datetime | None) -> float | None:
        """Of a submission made at ``submitted``; None without a due date or a time."""
        due = self.of(student)
        if due is None or submitted is None:
            return None
        return (submitted - due).total_seconds()


def read_dues(course: Course, assignment: str, gradebook=None) -> Dues:
    """The assignment's due dates; an open gradebook may be given, else it is read if it exists."""
    extensions = load_extensions(course, assignment)
    if gradebook is not None:
        return Dues(assignment_due(gradebook, assignment), extensions)
    if not gradebook_exists(course):
        return Dues(None, extensions)
    from nbgrader.api import Gradebook
    with Gradebook(course.db_url, course.course_id) as gb:
        return Dues(assignment_due(gb, assignment), extensions)


def assignment_due(gb, assignment: str) -> datetime.datetime | None:
    from nbgrader.api import MissingEntry
    try:
        return gb.find_assignment(assignment).duedate
    except MissingEntry:
        return None


def gradebook_exists(course: Course) -> bool:
    """Whether there is a gradebook to read (opening a missing SQLite one would create it)."""
    return not course.db_url.startswith("sqlite:///") or Path(course.db_url.removeprefix("sqlite:///")).is_file()


def collected_time(course: Course, assignment: str, student: str) -> datetime.datetime | None:
    """The time of a student's collected submission (its timestamp.txt), naive UTC; None if it has none."""
    try:
        text = (course.submitted(student, assignment) / "timestamp.txt").read_text().strip()
        return parse_utc(text).astimezone(datetime.UTC).replace(tzinfo=None)
    except (OSError, ValueError):
        return None


# --- due dates as an instructor writes them -------------------------------------------

DUE = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)\s+(\S+)")
OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
DUE_EXAMPLES = "e.g. '2025-03-01 17:00:00 UTC', '2025-03-01 09:00 -08:00' or '2025-03-01 09:00 America/Los_Angeles'"


def parse_due(text: str, what: str = "--due") -> datetime.datetime:
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
        raise CourseError(f"{what} '{printable(text)}' is not a date and time with its time zone, {DUE_EXAMPLES}")
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
            raise CourseError(f"{what} '{printable(text)}': unknown time zone '{printable(zone)}' (abbreviations "
                              f"such as PST are ambiguous), {DUE_EXAMPLES}")
    return when.replace(tzinfo=tz).astimezone(datetime.UTC).replace(tzinfo=None)


# --- extensions ----------------------------------------------------------------------

def load_extensions(course: Course, assignment: str) -> dict:
    """{student: their due date} of the assignment's stored extensions."""
    path = course.extensions_file(assignment)
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        return {row["student_id"]: parse_utc(row["due"]).replace(tzinfo=None) for row in csv.DictReader(handle)}


def read_extensions_csv(path: Path) -> dict:
    """{student: due text} from an instructor's CSV with the columns student_id and due."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read the extensions {path}: {getattr(error, 'strerror', None) or error}")
    if not rows or not {"student_id", "due"} <= set(rows[0]):
        raise CourseError(f"the extensions {path} need the columns student_id and due (and a row per student)")
    wanted = {}
    for line, row in enumerate(rows, start=2):
        student, due = (row["student_id"] or "").strip(), (row["due"] or "").strip()
        if student in wanted:
            raise CourseError(f"the extensions {path} give {printable(student)} twice (line {line})")
        wanted[student] = due
    return wanted


def grant_extensions(course: Course, assignment: str, wanted: dict, source: str = "") -> list[str]:
    """Store {student: due text, or 'none' to withdraw}, given in source (a file, or "" for the command line);
    nothing is stored if a student or date is wrong. Returns one line per student saying their due date now."""
    where = f"{source}: " if source else ""
    known = known_students(course, assignment)
    unknown = sorted(s for s in wanted if s not in known)
    if unknown:
        raise CourseError(f"{where}no student {', '.join(map(printable, unknown))} in the roster, the gradebook "
                          f"or the submissions of {assignment}; nothing was changed")
    parsed = {s: None if due == NO_EXTENSION else parse_due(due, f"{where}the due date of {printable(s)}")
              for s, due in wanted.items()}
    extensions = load_extensions(course, assignment)
    for student, due in parsed.items():
        if due is None:
            extensions.pop(student, None)
        else:
            extensions[student] = due
    store_extensions(course, assignment, extensions)
    dues = read_dues(course, assignment)
    regular = f"the assignment's: {utc_text(dues.assignment)}" if dues.assignment else "the assignment has none"
    return [f"{printable(s)}: due {utc_text(due)} ({regular})" if due else
            f"{printable(s)}: no extension; {regular}" for s, due in sorted(parsed.items())]


def store_extensions(course: Course, assignment: str, extensions: dict) -> None:
    lines = ["student_id,due"] + [f"{s},{utc_text(due)}" for s, due in sorted(extensions.items())]
    write_atomically(course.extensions_file(assignment), "\n".join(lines) + "\n")


def known_students(course: Course, assignment: str) -> set:
    """Who may get an extension: the roster's students, the gradebook's and whoever submitted the assignment."""
    roster = {row["student_id"] for row in (course.roster() or {}).values()}
    gradebook = set(course.lms_ids()) if gradebook_exists(course) else set()
    return roster | gradebook | set(course.submitted_students(assignment))


# --- penalties in the gradebook --------------------------------------------------------

def assign_penalties(gb, submission, policy: LatePolicy, due: datetime.datetime | None) -> dict:
    """Set each notebook's late_submission_penalty (and nbgrader's extension) of a gradebook submission;
    returns {notebook: penalty or None}. Scores are read from the database after the session's changes."""
    regular = submission.assignment.duedate
    submission.extension = due - regular if due is not None and regular is not None and due != regular else None
    late = None if due is None or submission.timestamp is None else (submission.timestamp - due).total_seconds()
    gb.db.flush()
    penalties = {}
    for notebook in submission.notebooks:
        gb.db.expire(notebook, ["score"])  # nbgrader's rule (a manual score wins) on the grades just written
        penalties[notebook.name] = notebook.late_submission_penalty = policy.penalty(notebook.score, late)
    return penalties


@dataclass(frozen=True)
class Change:
    """A graded submission whose penalty a re-recording changed."""
    student: str
    lateness: str
    score: float      # before any penalty
    before: float     # penalty recorded before
    after: float      # penalty recorded now


def record_penalties(course: Course, assignment: str, policy: LatePolicy | None = None,
                     students: list | None = None) -> list[Change]:
    """Record again, from the gradebook alone, every graded submission's penalty (only these students, if
    given) under the policy (the stored one by default). Returns the submissions whose penalty changed."""
    if not gradebook_exists(course):
        return []
    from nbgrader.api import Gradebook, MissingEntry
    policy = policy or load_policy(course, assignment)
    changes = []
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            submissions = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return []
        dues = read_dues(course, assignment, gb)
        for submission in sorted(submissions, key=lambda s: s.student_id):
            if students is not None and submission.student_id not in students:
                continue
            before = sum(nb.late_submission_penalty or 0 for nb in submission.notebooks)
            after = sum(p or 0 for p in assign_penalties(gb, submission, policy,
                                                         dues.of(submission.student_id)).values())
            if after != before:
                score = sum(nb.score for nb in submission.notebooks)
                late = dues.seconds_late(submission.student_id, submission.timestamp)
                changes.append(Change(submission.student_id, how_late(late), score, before, after))
        gb.db.commit()  # one transaction; with nothing changed, nothing is written
    return changes
