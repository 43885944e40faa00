"""The course folder: where everything of a term lives, and nbgrader's view of it.

An instructor never sees nbgrader's folder conventions. The course has
* ``solutions/<assignment>/`` — the instructor notebooks (nbgrader's "source"),
* ``exercises/<assignment>/`` — the student versions (nbgrader's "release"),
* a grading folder (default ``grading/``, gitignored) holding the SQLite
  gradebook (unless it is on a PostgreSQL server: ``database.py``) and
  nbgrader's working folders ``submitted/``, ``autograded/``, ``feedback/``,
  plus ours: ``results/`` (what each run found), ``exports/``,
  ``reports/``, the course's ``secret_key`` (the hidden inputs derive from it),
  its ``roster.csv`` (stored by the first collect given one), ``skipped/``
  (the files collect did not take, with their reasons), ``extensions/`` (students'
  own due dates) and ``late_policy.json`` (each assignment's late policy).
Every path and the database URL can be changed; defaults are anchored at the
repository, so the command works from any directory. A grading folder other than
the default gets its own ``exercises/`` unless the release folder is given too:
a second course never writes into the repository's.
"""

import csv
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[2]
NBGRADER_CONFIG = ROOT / "autograder" / "nbgrader_config.py"
DEFAULT_COURSE_DIR = ROOT / "grading"
KEY_FILE = "secret_key"
ROSTER_FILE = "roster.csv"
# How the course stores its roster, whatever format it was given in (see collect.read_roster).
ROSTER_COLUMNS = ("lms_id", "student_id", "first_name", "last_name", "email", "section")


class CourseError(Exception):
    """An error an instructor can fix; its message is one line saying how."""


@dataclass(frozen=True)
class Course:
    course_dir: Path = DEFAULT_COURSE_DIR
    source_dir: Path = ROOT / "solutions"
    release_dir: Path | None = None  # default: see default_release_dir
    db_url: str = ""  # default: sqlite:///<course_dir>/gradebook.db; or a PostgreSQL server's postgresql://...
    course_id: str = "lstm_course"
    exchange_root: Path | None = None  # an nbgrader exchange (JupyterHub courses)

    def __post_init__(self):
        for name in ("course_dir", "source_dir", "release_dir", "exchange_root"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).resolve())
        if self.release_dir is None:
            object.__setattr__(self, "release_dir", default_release_dir(self.course_dir))
        from .database import sqlalchemy_url
        db_url = self.db_url or f"sqlite:///{self.course_dir / 'gradebook.db'}"
        object.__setattr__(self, "db_url", sqlalchemy_url(db_url))

    # --- assignments -----------------------------------------------------

    def assignments(self) -> list[str]:
        if not self.source_dir.is_dir():
            raise CourseError(f"no solutions folder at {self.source_dir} (use --source)")
        return sorted(p.name for p in self.source_dir.iterdir() if list(p.glob("*.ipynb")))

    def require_assignment(self, assignment: str) -> None:
        known = self.assignments()
        if assignment not in known:
            raise CourseError(f"unknown assignment '{assignment}' in {self.source_dir} "
                              f"(known: {', '.join(known) or 'none'})")

    def notebooks(self, assignment: str) -> list[str]:
        """Names (without .ipynb) of the assignment's notebooks."""
        return sorted(p.stem for p in (self.source_dir / assignment).glob("*.ipynb"))

    # --- nbgrader's folders ------------------------------------------------

    def submitted(self, student: str, assignment: str) -> Path:
        return self.course_dir / "submitted" / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.course_dir / "autograded" / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        return self.course_dir / "feedback" / student / assignment

    def submitted_students(self, assignment: str) -> list[str]:
        folder = self.course_dir / "submitted"
        if not folder.is_dir():
            return []
        return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())

    def fingerprint(self, student: str, assignment: str) -> str:
        """Of everything the student submitted: a change in any file changes it."""
        return folder_digest(self.submitted(student, assignment))

    def results_file(self, assignment: str) -> Path:
        return self.course_dir / "results" / f"{assignment}.json"

    def load_results(self, assignment: str) -> dict:
        """What grading found per student (see ``record``): {student: entry}."""
        path = self.results_file(assignment)
        return json.loads(path.read_text()) if path.exists() else {}

    # --- the roster, what collect left out, extensions and late policies ----------

    def roster_file(self) -> Path:
        return self.course_dir / ROSTER_FILE

    def roster(self) -> dict | None:
        """The stored roster, {LMS id or name: row of ROSTER_COLUMNS}; None if the course has none yet."""
        path = self.roster_file()
        if not path.is_file():
            return None
        with open(path, newline="") as handle:
            return {row["lms_id"]: row for row in csv.DictReader(handle)}

    def store_roster(self, roster: dict) -> None:
        out = io.StringIO()
        writer = csv.DictWriter(out, ROSTER_COLUMNS, extrasaction="ignore", restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(roster[key] for key in sorted(roster))
        write_atomically(self.roster_file(), out.getvalue())

    def skipped_file(self, assignment: str) -> Path:
        return self.course_dir / "skipped" / f"{assignment}.json"

    def load_skipped(self, assignment: str) -> list:
        """[(file, reason)] of every file the collects of this assignment did not take."""
        path = self.skipped_file(assignment)
        return [tuple(entry) for entry in json.loads(path.read_text())] if path.exists() else []

    def add_skipped(self, assignment: str, skipped: list) -> None:
        """Add what one collect skipped to the assignment's record: the report lists every collect's."""
        entries = set(self.load_skipped(assignment)) | {tuple(entry) for entry in skipped}
        write_atomically(self.skipped_file(assignment), json.dumps(sorted(entries), indent=1) + "\n")

    def extensions_file(self, assignment: str) -> Path:
        return self.course_dir / "extensions" / f"{assignment}.csv"

    def late_policy_file(self) -> Path:
        return self.course_dir / "late_policy.json"

    def require_gradebook(self) -> None:
        from .database import gradebook_exists, server_name, sqlite_file
        if not gradebook_exists(self.db_url):
            where = sqlite_file(self.db_url) or f"the PostgreSQL server {server_name(self.db_url)}"
            raise CourseError(f"no gradebook at {where}: run `autograder release` and `autograder grade` first")

    def scratch_dir(self, prefix: str) -> Path:
        """A private folder inside the grading folder (same file system: renames are atomic)."""
        try:
            return Path(tempfile.mkdtemp(dir=self.course_dir, prefix=f".{prefix}-"))
        except OSError as error:
            raise CourseError(f"cannot write in the grading folder {self.course_dir}: {error.strerror}")

    def make_course_dir(self) -> None:
        try:
            self.course_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CourseError(f"cannot create the grading folder {self.course_dir}: {error.strerror}")
        if not os.access(self.course_dir, os.W_OK):
            raise CourseError(f"the grading folder {self.course_dir} is not writable")

    def secret_key(self) -> str:
        """The course's secret key (hex), made on first use; readable by the instructor only."""
        path = self.course_dir / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return path.read_text().strip()

    def lms_ids(self) -> dict:
        """The gradebook's students: {student_id: LMS user id, or "" if none was recorded}; {} before any."""
        from .database import gradebook_exists
        if not gradebook_exists(self.db_url):
            return {}
        from nbgrader.api import Gradebook
        with Gradebook(self.db_url, self.course_id) as gb:
            return {student.id: student.lms_user_id or "" for student in gb.students}

    def register_students(self, students: dict) -> None:
        """Add or update students in the gradebook: {student_id: {first_name, last_name, email, lms_user_id}}."""
        from nbgrader.api import Gradebook
        with Gradebook(self.db_url, self.course_id) as gb:
            for student, fields in sorted(students.items()):
                gb.update_or_create_student(student, **{k: v for k, v in fields.items() if v})

    # --- nbgrader configuration ---------------------------------------------

    def nbgrader_config(self, root: Path | None = None, db_url: str | None = None) -> Config:
        """The course's nbgrader_config.py, pointed at this course's folders.

        ``root`` and ``db_url`` let a grading worker use a scratch copy of the
        course. Source and release folders are absolute paths, which nbgrader
        accepts in place of folder names under the root.
        """
        config = PyFileConfigLoader(NBGRADER_CONFIG.name, path=str(NBGRADER_CONFIG.parent)).load_config()
        config.CourseDirectory.root = str(root or self.course_dir)
        config.CourseDirectory.source_directory = str(self.source_dir)
        config.CourseDirectory.release_directory = str(self.release_dir)
        config.CourseDirectory.db_url = db_url or self.db_url
        config.CourseDirectory.course_id = self.course_id
        if self.exchange_root is not None:
            config.Exchange.root = str(self.exchange_root)
        return config

    def coursedir(self, assignment: str, student: str = "*", **config_args):
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(config=self.nbgrader_config(**config_args), log=nbgrader_log())
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        return coursedir


def default_release_dir(course_dir: Path) -> Path:
    """The repository's exercises/ for the default grading folder; any other grading folder's own."""
    return ROOT / "exercises" if Path(course_dir).resolve() == DEFAULT_COURSE_DIR else Path(course_dir) / "exercises"


def printable(text) -> str:
    """A file or student name as a terminal shows it harmlessly: control characters (escape
    sequences, newlines that would forge a line of output) written as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


# OWASP's list: a spreadsheet runs a cell starting so as a formula (the CSVs of export and manual quote them)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def nbgrader_log() -> logging.Logger:
    """nbgrader's messages: hidden unless --verbose; ours are one line each."""
    return logging.getLogger("autograder.nbgrader")


def files_digest(files: dict) -> str:
    """Fingerprint of {relative name: bytes}."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    return files_digest({str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()})


# --- atomic writes: a reader never sees a half-written file ----------------------

def write_atomically(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise CourseError(f"cannot write {path}: {error.strerror}")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def replace_folder(new: Path, dest: Path) -> None:
    """Move the folder ``new`` to ``dest``, replacing what was there.

    Both live on one file system, so each rename is atomic; the old folder is
    removed only once the new one is in place.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = dest.with_name(f".{dest.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    if old.exists():
        shutil.rmtree(old)
