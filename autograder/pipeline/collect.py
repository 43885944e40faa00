"""Collect: bring students' notebooks into the grading folder.

A source is a folder or a zip of notebooks downloaded from an LMS, named by a
pattern (Canvas: ``smithjane_12345_67890_ex3_lstm_gates.ipynb``), or the
inbound folder of an nbgrader exchange. Each student's newest submission of
each notebook is copied, byte for byte, to ``submitted/<student>/<assignment>/``
with a ``timestamp.txt``; older duplicates and files that are not notebooks are
reported, never copied. Nothing in the source is modified.

A student is their LMS user id (or the roster's student id for it), never the
name part of a file name: two users named alike are two students (``lms_identities``).
A course with a roster (given once, then stored in the course folder) collects only the
students it lists: anyone else stops collect before it writes anything.
Files are read through a bound (``limits.MAX_FILE_MB`` each, never more than that
plus one byte in memory) and the whole collect writes at most ``limits.MAX_COLLECT_MB``:
a zip bomb costs a skipped file, not the machine.
"""

import csv
import datetime
import os
import pwd
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import parse_utc

from . import limits
from .course_folder import ROSTER_COLUMNS, Course, CourseError, files_digest, folder_digest, replace_folder
from .lateness import how_late, read_dues

# Canvas: <name>[_LATE]_<user id>_<submission id>_<file name>[-<resubmission>].ipynb
CANVAS_PATTERN = (r"(?P<student>[^_]+?)(?P<late>_late)?_(?P<lms_id>\d+)_\d+_"
                  r"(?P<notebook>.+?)(?:-\d+)?\.ipynb")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's, parsed by nbgrader.utils.parse_utc


@dataclass
class Candidate:
    """One submitted file (or exchange submission) that might be graded."""
    student: str
    timestamp: datetime.datetime  # UTC, naive
    origin: str  # where it came from, as the instructor would name it
    files: dict  # name in the submission folder -> read(): its bytes, or TooLarge
    marked_late: bool = False  # the LMS named it late (Canvas's _LATE); its time decides


@dataclass
class CollectReport:
    collected: list = field(default_factory=list)   # (student, origin)
    unchanged: list = field(default_factory=list)   # (student, origin)
    duplicates: list = field(default_factory=list)  # (student, kept origin, dropped origin)
    older: list = field(default_factory=list)       # (student, origin, time of the newer one kept)
    skipped: list = field(default_factory=list)     # (origin, reason)
    unknown: list = field(default_factory=list)     # (origin, LMS id or name) of students not in the roster
    foreign: list = field(default_factory=list)     # notebook names of files of other assignments
    lateness: dict = field(default_factory=dict)    # student -> "on time" or "late by ..." (with a due date)
    roster: str = ""  # what was done with a given roster
    stopped: str = ""  # why collect stopped before the end (the bound on what it writes), "" if it did not


class TooLarge(Exception):
    """A file larger than collect copies; its message is the reason."""


def too_large(limit: int) -> str:
    return f"larger than {round(limit / 2**20, 3):g} MB, the most collect copies of one file (--max-file)"


def bounded_read(handle, limit: int) -> bytes:
    """The whole of an open file, reading at most limit + 1 bytes: a bomb never fills memory."""
    with handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(too_large(limit))
    return data


def collect(course: Course, assignment: str, source: Path | None, pattern: str = CANVAS_PATTERN,
            roster: Path | None = None, exchange: bool = False, max_file_mb: float = limits.MAX_FILE_MB,
            max_collect_mb: float = limits.MAX_COLLECT_MB) -> CollectReport:
    """Collect one assignment. Nothing is written if a file is of a student the roster does not list
    (the given roster, else the course's stored one) or if no notebook of the assignment is found."""
    course.require_assignment(assignment)
    notebooks = course.notebooks(assignment)
    max_file = int(max_file_mb * 2**20)
    report = CollectReport()
    lms_users = {}  # student id -> LMS user id, to record in the gradebook
    given = read_roster(Path(roster)) if roster else None
    lookup = given if given is not None else course.roster()
    refused = refuse_invalid_rows(lookup, report)
    if exchange:
        candidates = list(read_exchange(course, assignment, max_file, report))
        if lookup is not None:
            students = {row["student_id"] for row in lookup.values()}
            report.unknown += [(c.origin, c.student) for c in candidates if c.student not in students]
        where = f"the exchange {course.exchange_root}"
    else:
        files = read_source(Path(source), max_file)
        known = {} if lookup is not None else course.lms_ids()
        candidates = list(match_lms_files(files, pattern, notebooks, lookup, refused, known, lms_users, report))
        where = str(source)
    if report.unknown:
        raise CourseError(not_in_roster(report.unknown, roster or course.roster_file()))
    if not candidates:
        raise CourseError(nothing_found(course, assignment, where, report))
    course.make_course_dir()
    if given is not None:
        report.roster = store_roster(course, given, roster)
    if lookup is not None:
        course.register_students({row["student_id"]: {
            "first_name": row.get("first_name"), "last_name": row.get("last_name"),
            "email": row.get("email"), "lms_user_id": lms_id} for lms_id, row in lookup.items()
            if lms_id not in refused})
    elif lms_users:
        course.register_students({student: {"lms_user_id": lms_id} for student, lms_id in lms_users.items()})
    course.add_skipped(assignment, report.skipped)
    room = int(max_collect_mb * 2**20)  # bytes this collect may still write
    chosen = sorted(newest_per_student(candidates, report).items())
    dues = read_dues(course, assignment)
    for done, (student, files) in enumerate(chosen):
        report.lateness[student] = lateness_text(dues, student, files.values())
        room -= write_submission(course, assignment, student, files, room, report)
        if room < 0:
            report.stopped = (f"stopped before {student}: it would pass {max_collect_mb:g} MB, the most one collect "
                              f"writes (--max-collect); collected the {done} students before it (listed above), "
                              f"not {student} and the {len(chosen) - done - 1} after it")
            break
    return report


def lateness_text(dues, student: str, chosen) -> str:
    """How late the newest of a student's chosen files is; one Canvas named late that is on time here
    (Canvas's due date or extension is not this course's) says so."""
    text = how_late(dues.seconds_late(student, max(c.timestamp for c in chosen)))
    if text == "on time" and any(c.marked_late for c in chosen):
        return f"{text} (Canvas named it _LATE, by a due date of its own)"
    return text


def refuse_invalid_rows(roster: dict | None, report: CollectReport) -> set:
    """The roster's keys whose student id cannot be one (reported); their files are skipped, not collected."""
    refused = set()
    for lms_id, row in sorted((roster or {}).items()):
        if reason := invalid_student_id(row["student_id"]):
            report.skipped.append((f"roster row {lms_id}", reason))
            refused.add(lms_id)
    return refused


def not_in_roster(unknown: list, roster: Path) -> str:
    ids = sorted({student for _, student in unknown})
    return (f"{len(unknown)} file(s) of {len(ids)} student(s) not in the roster {roster}: {', '.join(ids)}; "
            f"nothing was collected: add them to the roster and collect again with --roster")


def nothing_found(course: Course, assignment: str, where: str, report: CollectReport) -> str:
    """What a source without one notebook of the assignment held, and whose notebooks they are."""
    reasons = Counter(reason for _, reason in report.skipped)
    found = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0])))
    owners = sorted(other for other in course.assignments()
                    if other != assignment and set(report.foreign) & set(course.notebooks(other)))
    hint = f"; they are notebooks of {', '.join(owners)}: is this its download?" if owners else ""
    return f"no notebook of {assignment} in {where}, nothing collected; found: {found or 'no files'}{hint}"


def store_roster(course: Course, roster: dict, path: Path) -> str:
    """Keep the given roster in the course folder for later collects; says what it replaced."""
    before = course.roster()
    course.store_roster(roster)
    stored = f"{path} ({len(roster)} students) stored as {course.roster_file()}, used by later collects"
    if before is None:
        return stored
    return f"{stored}; it replaces the roster stored before ({len(before)} students)"


# A student id names folders and gradebook rows: a letter or digit, then letters, digits, ". _ - @", at most 64.
STUDENT_ID = re.compile(r"[^\W_][\w.@-]{0,63}")


def invalid_student_id(student: str) -> str:
    """Why ``student`` cannot be a student id, or "" (ids become paths: no "..", "/", spaces, globs)."""
    if STUDENT_ID.fullmatch(student) and ".." not in student:
        return ""
    return (f"'{student[:64]}' is not a valid student id (a letter or digit, then letters, digits, "
            "'.', '_', '-' or '@'; at most 64)")


# --- reading sources ---------------------------------------------------------

def read_source(source: Path, max_file: int):
    """Yield (relative name, mtime as UTC, read()) for every file of a folder or zip;
    (name, None, reason) for what is not a regular file (a link, a device, a pipe) or is too large."""
    if not source.exists():
        raise CourseError(f"no such folder or zip: {source}")
    if source.is_dir():
        for path, reason in regular_files(source):
            if reason:
                yield str(path.relative_to(source)), None, reason
                continue
            status = path.lstat()
            if status.st_size > max_file:
                yield str(path.relative_to(source)), None, too_large(max_file)
                continue
            mtime = datetime.datetime.fromtimestamp(status.st_mtime, datetime.UTC)
            yield str(path.relative_to(source)), mtime.replace(tzinfo=None), file_reader(path, max_file)
        return
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise CourseError(f"{source} is not a readable zip file ({error}); download it again")
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        kind = stat.S_IFMT(info.external_attr >> 16)  # Unix mode, where the zip recorded one
        if kind not in (0, stat.S_IFREG):
            yield info.filename, None, NOT_A_FILE.get(kind, NOT_A_FILE[None])
            continue
        if not entry_fits(source, archive, info, max_file):
            yield info.filename, None, too_large(max_file)
            continue
        # A zip stores local time without a zone; LMS exports write UTC.
        yield (info.filename, datetime.datetime(*info.date_time),
               lambda i=info: bounded_read(archive.open(i), max_file))


def entry_fits(source: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_file: int) -> bool:
    """Whether a zip entry holds at most max_file bytes, decompressing at most max_file + 1 of them
    in chunks (never its declared size, which a bomb can make anything); one that fits has its CRC checked."""
    size = 0
    try:
        with archive.open(info) as entry:
            while size <= max_file and (chunk := entry.read(min(2**20, max_file + 1 - size))):
                size += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise CourseError(f"{source} is corrupted (bad entry {info.filename}: {error}); download it again")
    return size <= max_file


def file_reader(path: Path, max_file: int):
    return lambda: bounded_read(open(path, "rb"), max_file)


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


def match_lms_files(files, pattern: str, notebooks: list[str], roster: dict | None, refused: set, known: dict,
                    lms_users: dict, report: CollectReport):
    """Candidates from the files whose names match; lms_users gets {student id: LMS id} of those without a roster.
    With a roster, a file of a student it does not list goes to report.unknown (collect then stops)."""
    matched = list(matching_files(files, pattern, notebooks, report))
    identities = lms_identities([(g["student"], g["lms_id"]) for _, g, *_ in matched if g.get("lms_id")], known)
    for name, groups, notebook, mtime, read in matched:
        student, lms_id = groups["student"], groups.get("lms_id")
        if roster is not None:
            key = lms_id or student
            if key in refused:
                report.skipped.append((name, f"its roster row {key} is refused (see above)"))
                continue
            if key not in roster:
                report.unknown.append((name, key))
                continue
            student = roster[key]["student_id"]
        elif lms_id:
            student = identities[lms_id]
        if reason := invalid_student_id(student):
            report.skipped.append((name, reason))
            continue
        if roster is None and lms_id:
            lms_users[student] = lms_id
        yield Candidate(student, mtime, name, {f"{notebook}.ipynb": read}, bool(groups.get("late")))


def lms_identities(users: list, known: dict) -> dict:
    """{LMS id: student id} for the (name part, LMS id) of each file, given the gradebook's {student id: LMS id}.

    A user the gradebook knows keeps their id. A new user is named by their file's name part, unless that
    name belongs to another LMS id (in the gradebook, or a second user in these files): then name_lmsid,
    which no Canvas name part can be (they have no "_"). A student recorded without an LMS id (collected
    before ids were recorded) is the first user of that name seen now."""
    registered = {lms_id: student for student, lms_id in known.items() if lms_id}
    names = {}
    for name, lms_id in sorted(users):
        names.setdefault(lms_id, name)
    new_names = Counter(name for lms_id, name in names.items() if lms_id not in registered)
    identities = {}
    for lms_id, name in names.items():
        if lms_id in registered:
            identities[lms_id] = registered[lms_id]
        elif new_names[name] == 1 and known.get(name, "") in ("", lms_id):
            identities[lms_id] = name
        else:
            identities[lms_id] = f"{name}_{lms_id}"
    return identities


def matching_files(files, pattern: str, notebooks: list[str], report: CollectReport):
    """(name, the pattern's groups, notebook, mtime, read) for each file named as the pattern says, of this
    assignment."""
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
            report.foreign.append(notebook)
            report.skipped.append((name, f"not a notebook of this assignment ({', '.join(notebooks)})"))
            continue
        yield name, groups, notebook, mtime, read


# Canvas's gradebook export (Grades > Export): its user id is "ID", its name "Last, First".
CANVAS_ROSTER_COLUMNS = {"Student", "ID", "SIS User ID"}
CANVAS_TEST_STUDENT = "Student, Test"  # the user Canvas's "Student View" creates: not a student


def read_roster(path: Path) -> dict:
    """LMS name or user id -> row of ROSTER_COLUMNS, from our CSV (lms_id, student_id and optionally
    first_name, last_name, email, section) or from Canvas's gradebook export."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # Canvas writes a byte-order mark
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read the roster {path}: {getattr(error, 'strerror', None) or error}")
    columns = set(rows[0]) if rows else set()
    if {"lms_id", "student_id"} <= columns:
        roster = [{k: (row.get(k) or "").strip() for k in ROSTER_COLUMNS} for row in rows]
    elif CANVAS_ROSTER_COLUMNS <= columns:
        roster = [canvas_roster_row(row) for row in rows if is_canvas_student(row)]
    else:
        raise CourseError(f"the roster {path} needs the columns lms_id and student_id, or Canvas's "
                          f"{', '.join(sorted(CANVAS_ROSTER_COLUMNS))} (its gradebook export)")
    twice = sorted(key for key, n in Counter(row["lms_id"] for row in roster).items() if n > 1)
    if twice:
        raise CourseError(f"the roster {path} lists {', '.join(twice)} more than once")
    return {row["lms_id"]: row for row in roster}


def is_canvas_student(row: dict) -> bool:
    """Not the "Points Possible" row, nor a row without a user id (the "Muted" or "Manual Posting"
    row of posting policies), nor Canvas's test student."""
    name = (row.get("Student") or "").strip()
    return bool((row.get("ID") or "").strip()) and name not in ("Points Possible", CANVAS_TEST_STUDENT)


def canvas_roster_row(row: dict) -> dict:
    """One student of a Canvas export: the SIS User ID is the student id (else the SIS Login ID, else ID)."""
    value = {k: (row.get(k) or "").strip() for k in ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")}
    last, _, first = value["Student"].partition(",")
    return {"lms_id": value["ID"], "student_id": value["SIS User ID"] or value["SIS Login ID"] or value["ID"],
            "first_name": first.strip(), "last_name": last.strip(), "email": "", "section": value["Section"]}


def read_exchange(course: Course, assignment: str, max_file: int, report: CollectReport):
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
        if reason := invalid_student_id(student) or not_written_by(student, folder):
            report.skipped.append((folder.name, reason))
            continue
        files = {}
        for path, reason in regular_files(folder):
            name = str(path.relative_to(folder))
            if not reason and path.lstat().st_size > max_file:
                reason = too_large(max_file)
            if reason:
                report.skipped.append((f"{folder.name}/{name}", reason))
            elif path.suffix == ".ipynb" or name in ("timestamp.txt", "submission_secret.txt"):
                files[name] = file_reader(path, max_file)
            else:
                report.skipped.append((f"{folder.name}/{name}", "not a notebook"))
        if not any(name.endswith(".ipynb") for name in files):
            report.skipped.append((folder.name, "no notebook in this submission"))
            continue
        timestamp = utc_time(stamp)
        yield Candidate(student, timestamp, folder.name, files)


def submission_time(folder: Path) -> datetime.datetime | None:
    """The time (UTC, naive) in a collected submission's timestamp.txt, None if it has none."""
    try:
        return utc_time((folder / "timestamp.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def utc_time(text: str) -> datetime.datetime:
    """nbgrader's time text as a naive UTC datetime, as collect compares them."""
    return parse_utc(text).astimezone(datetime.UTC).replace(tzinfo=None)


def history_folder(course: Course, student: str, assignment: str, time: datetime.datetime | None) -> Path:
    """Where a replaced submission is kept: history/<student>/<assignment>/<its time>-<its digest>."""
    dest = course.submitted(student, assignment)
    stamp = time.strftime("%Y-%m-%dT%H%M%S.%fZ") if time else "no-timestamp"
    return course.course_dir / "history" / student / assignment / f"{stamp}-{folder_digest(dest)[:12]}"


def not_written_by(student: str, folder: Path) -> str:
    """Why a submission folder named for a local user is not theirs ("" if it is, or cannot be told).

    nbgrader's `submit` runs as the student, so on a server where students are local users
    their folder and files are theirs; anyone can name a folder for another student, but
    not make it theirs. A student who is no local user (one shared account) cannot be checked.
    """
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        return ""
    owners = {path.lstat().st_uid for path in [folder, *folder.rglob("*")]}
    if owners != {uid}:
        others = ", ".join(owner_name(owner) for owner in sorted(owners - {uid}))
        return f"written by {others}, not by the local user {student}"
    return ""


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


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


def write_submission(course: Course, assignment: str, student: str, chosen: dict, room: int,
                     report: CollectReport) -> int:
    """Write one student's chosen files if they fit in room (bytes); return how many it wrote or would write."""
    dest = course.submitted(student, assignment)
    files = {}
    for name, candidate in chosen.items():
        try:
            files[name] = candidate.files[name]()
        except TooLarge as error:  # it grew since it was listed (a student's exchange folder can)
            report.skipped.append((candidate.origin, str(error)))
    chosen = {name: candidate for name, candidate in chosen.items() if name in files}
    if not any(name.endswith(".ipynb") for name in files):
        return 0
    newest = max(chosen.values(), key=lambda c: c.timestamp)
    files.setdefault("timestamp.txt", newest.timestamp.strftime(TIMESTAMP_FORMAT).encode())
    origins = ", ".join(sorted({c.origin for c in chosen.values()}))
    if dest.is_dir() and folder_digest(dest) == files_digest(files):
        report.unchanged.append((student, origins))
        return 0
    collected_before = submission_time(dest)
    if collected_before is not None and collected_before > newest.timestamp:  # an older download: keep the newer
        report.older.append((student, origins, collected_before.strftime(TIMESTAMP_FORMAT)))
        return 0
    size = sum(len(data) for data in files.values())
    if size > room:
        return size
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{assignment}."))
    try:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        if dest.is_dir():  # what it replaces is kept: nothing a student handed in is ever lost
            shutil.copytree(dest, history_folder(course, student, assignment, collected_before), symlinks=True)
        replace_folder(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.collected.append((student, origins))
    return size
