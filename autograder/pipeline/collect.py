"""Collect: bring students' notebooks into the grading folder.

A source is a folder or a zip of notebooks downloaded from an LMS, named by a
pattern (Canvas: ``smithjane_12345_67890_ex3_lstm_gates.ipynb``), or the
inbound folder of an nbgrader exchange. Each student's newest submission of
each notebook is copied, byte for byte, to ``submitted/<student>/<assignment>/``
with a ``timestamp.txt``; older duplicates and files that are not notebooks are
reported, never copied. Nothing in the source is modified.
"""

import csv
import datetime
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc

from .course_folder import Course, CourseError, files_digest, folder_digest, replace_folder

# Canvas: <name>[_LATE]_<user id>_<submission id>_<file name>[-<resubmission>].ipynb
CANVAS_PATTERN = (r"(?P<student>[^_]+?)(?:_late)?_(?P<lms_id>\d+)_\d+_"
                  r"(?P<notebook>.+?)(?:-\d+)?\.ipynb")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's, parsed by nbgrader.utils.parse_utc


@dataclass
class Candidate:
    """One submitted file (or exchange submission) that might be graded."""
    student: str
    timestamp: datetime.datetime  # UTC, naive
    origin: str  # where it came from, as the instructor would name it
    files: dict  # name in the submission folder -> bytes


@dataclass
class CollectReport:
    collected: list = field(default_factory=list)   # (student, origin)
    unchanged: list = field(default_factory=list)   # (student, origin)
    duplicates: list = field(default_factory=list)  # (student, kept origin, dropped origin)
    skipped: list = field(default_factory=list)     # (origin, reason)


def collect(course: Course, assignment: str, source: Path | None, pattern: str = CANVAS_PATTERN,
            roster: Path | None = None, exchange: bool = False) -> CollectReport:
    course.require_assignment(assignment)
    notebooks = course.notebooks(assignment)
    report = CollectReport()
    if exchange:
        candidates = list(read_exchange(course, assignment, report))
    else:
        lookup = read_roster(roster) if roster else None
        for lms_id, row in list((lookup or {}).items()):
            if reason := invalid_student_id(row["student_id"]):
                report.skipped.append((f"roster row {lms_id}", reason))
                del lookup[lms_id]
        files = read_source(Path(source))
        candidates = list(match_lms_files(files, pattern, notebooks, lookup, report))
    course.make_course_dir()
    if roster:
        course.register_students({row["student_id"]: {
            "first_name": row.get("first_name"), "last_name": row.get("last_name"),
            "email": row.get("email"), "lms_user_id": lms_id} for lms_id, row in lookup.items()})
    for student, chosen in sorted(newest_per_student(candidates, report).items()):
        write_submission(course, assignment, student, chosen, report)
    return report


# A student id names folders and gradebook rows: a letter or digit, then letters, digits, ". _ - @", at most 64.
STUDENT_ID = re.compile(r"[^\W_][\w.@-]{0,63}")


def invalid_student_id(student: str) -> str:
    """Why ``student`` cannot be a student id, or "" (ids become paths: no "..", "/", spaces, globs)."""
    if STUDENT_ID.fullmatch(student) and ".." not in student:
        return ""
    return (f"'{student[:64]}' is not a valid student id (a letter or digit, then letters, digits, "
            "'.', '_', '-' or '@'; at most 64)")


# --- reading sources ---------------------------------------------------------

def read_source(source: Path):
    """Yield (relative name, mtime as UTC, read()) for every file of a folder or zip;
    (name, None, reason) for what is not a regular file (a link, a device, a pipe)."""
    if not source.exists():
        raise CourseError(f"no such folder or zip: {source}")
    if source.is_dir():
        for path, reason in regular_files(source):
            if reason:
                yield str(path.relative_to(source)), None, reason
                continue
            mtime = datetime.datetime.fromtimestamp(path.lstat().st_mtime, datetime.UTC)
            yield str(path.relative_to(source)), mtime.replace(tzinfo=None), path.read_bytes
        return
    try:
        archive = zipfile.ZipFile(source)
        broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise CourseError(f"{source} is not a readable zip file ({error}); download it again")
    if broken is not None:
        raise CourseError(f"{source} is corrupted (bad entry {broken}); download it again")
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        kind = stat.S_IFMT(info.external_attr >> 16)  # Unix mode, where the zip recorded one
        if kind not in (0, stat.S_IFREG):
            yield info.filename, None, NOT_A_FILE.get(kind, NOT_A_FILE[None])
            continue
        # A zip stores local time without a zone; LMS exports write UTC.
        yield info.filename, datetime.datetime(*info.date_time), lambda i=info: archive.read(i)


NOT_A_FILE = {stat.S_IFLNK: "a symbolic link, not a file (links are never followed)",
              None: "not a regular file"}


def regular_files(folder: Path):
    """(path, "") for each regular file under folder, (path, reason) for anything else; links never followed."""
    for parent, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs):
            if os.path.islink(os.path.join(parent, name)):
                yield Path(parent, name), NOT_A_FILE[stat.S_IFLNK]
        dirs.sort()
        for name in sorted(names):
            path = Path(parent, name)
            kind = stat.S_IFMT(path.lstat().st_mode)
            yield path, "" if kind == stat.S_IFREG else NOT_A_FILE.get(kind, NOT_A_FILE[None])


def match_lms_files(files, pattern: str, notebooks: list[str], roster: dict | None,
                    report: CollectReport):
    regex = re.compile(pattern, re.IGNORECASE)
    for name, mtime, read in files:
        if mtime is None:  # not a file: read is the reason
            report.skipped.append((name, read))
            continue
        basename = Path(name).name
        if not basename.endswith(".ipynb"):
            report.skipped.append((name, "not a notebook"))
            continue
        match = regex.fullmatch(basename)
        if match is None:
            report.skipped.append((name, "file name does not match the pattern"))
            continue
        groups = match.groupdict()
        notebook = groups.get("notebook") or (notebooks[0] if len(notebooks) == 1 else None)
        if notebook not in notebooks:
            report.skipped.append((name, f"not a notebook of this assignment ({', '.join(notebooks)})"))
            continue
        student = groups["student"]
        if roster is not None:
            key = groups.get("lms_id") or student
            if key not in roster:
                report.skipped.append((name, f"'{key}' is not in the roster"))
                continue
            student = roster[key]["student_id"]
        if reason := invalid_student_id(student):
            report.skipped.append((name, reason))
            continue
        yield Candidate(student, mtime, name, {f"{notebook}.ipynb": read()})


def read_roster(path: Path) -> dict:
    """LMS name or user id -> roster row, from a CSV with the columns lms_id and
    student_id (and optionally first_name, last_name, email)."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CourseError(f"cannot read the roster {path}: {error.strerror}")
    if not rows or not {"lms_id", "student_id"} <= set(rows[0]):
        raise CourseError(f"the roster {path} needs the columns lms_id and student_id")
    return {row["lms_id"].strip(): {k: (v or "").strip() for k, v in row.items()} for row in rows}


def read_exchange(course: Course, assignment: str, report: CollectReport):
    """Submissions in the exchange's inbound folder, named student+assignment+timestamp+random."""
    if course.exchange_root is None:
        raise CourseError("no exchange configured (use --exchange-root)")
    inbound = course.exchange_root / course.course_id / "inbound"
    if not inbound.is_dir():
        raise CourseError(f"no inbound folder in the exchange: {inbound}")
    for folder in sorted(inbound.glob(f"*+{assignment}+*")):
        if folder.is_symlink() or not folder.is_dir():
            report.skipped.append((folder.name, NOT_A_FILE[stat.S_IFLNK] if folder.is_symlink()
                                   else "not a submission folder"))
            continue
        student, _, stamp = folder.name.rsplit("+", 3)[:3]
        if reason := invalid_student_id(student):
            report.skipped.append((folder.name, reason))
            continue
        files = {}
        for path, reason in regular_files(folder):
            name = str(path.relative_to(folder))
            if reason:
                report.skipped.append((f"{folder.name}/{name}", reason))
            elif path.suffix == ".ipynb" or name in ("timestamp.txt", "submission_secret.txt"):
                files[name] = path.read_bytes()
            else:
                report.skipped.append((f"{folder.name}/{name}", "not a notebook"))
        if not any(name.endswith(".ipynb") for name in files):
            report.skipped.append((folder.name, "no notebook in this submission"))
            continue
        timestamp = parse_utc(stamp).astimezone(datetime.UTC).replace(tzinfo=None)
        yield Candidate(student, timestamp, folder.name, files)


# --- choosing and writing ------------------------------------------------------

def newest_per_student(candidates, report: CollectReport) -> dict:
    """Per student, per file: the newest candidate wins; the others are reported."""
    chosen = {}  # student -> {file name: candidate}
    for candidate in sorted(candidates, key=lambda c: (c.student, c.timestamp, c.origin)):
        files = chosen.setdefault(candidate.student, {})
        for name in candidate.files:
            if name.endswith(".ipynb") and name in files:  # this newer candidate replaces an older one
                report.duplicates.append((candidate.student, candidate.origin, files[name].origin))
            files[name] = candidate
    return chosen


def write_submission(course: Course, assignment: str, student: str, chosen: dict,
                     report: CollectReport) -> None:
    dest = course.submitted(student, assignment)
    files = {name: candidate.files[name] for name, candidate in chosen.items()}
    newest = max(chosen.values(), key=lambda c: c.timestamp)
    files.setdefault("timestamp.txt", newest.timestamp.strftime(TIMESTAMP_FORMAT).encode())
    origins = ", ".join(sorted({c.origin for c in chosen.values()}))
    if dest.is_dir() and folder_digest(dest) == files_digest(files):
        report.unchanged.append((student, origins))
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{assignment}."))
    try:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        replace_folder(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.collected.append((student, origins))
