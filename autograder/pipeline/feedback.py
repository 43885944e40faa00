"""Feedback: one HTML page per student, nbgrader's feedback with a summary on top.

nbgrader's ``GenerateFeedback`` renders each graded notebook with its scores;
we add two preprocessors: one takes the hidden tests' code out of the test
cells (and the tracebacks that would quote it, and any output line quoting
it: the kernel runs it, so a submission can print it), the other puts, above the
notebook, when it was submitted against the student's due date (and what the late
policy took off), and the tests the student did not pass and their messages. The hidden
tests' inputs never reach the graded notebook (``execute.py`` takes the
outcomes out), so they cannot reach the feedback either. Pages are generated into a scratch folder and
moved into ``feedback/<student>/<assignment>/`` whole, so a student never gets
half a page. With an exchange configured they are released to it, where
``nbgrader fetch_feedback`` finds them.

A page is written for each student on their own: one whose notebook cannot be
rendered is reported with the reason, and the others still get theirs.

Whoever opens a page (an instructor, a TA) must not run what the submission put
in it: pages are rendered by ``safe_pages.FeedbackExporter``.
"""

import io
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateFeedback, NbGraderException
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseFeedback
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import Unicode, default

from autograder.course.api import HIDDEN_BEGIN, HIDDEN_BLOCK

from . import lateness
from .course_folder import Course, CourseError, nbgrader_log, replace_folder, write_atomically
from .safe_pages import FeedbackExporter, SafeOutputMetadata
from .scores import read_scores

HIDDEN_LINE = "[a line of the hidden tests]\n"

class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test blocks from every cell, and reduce that cell's tracebacks to their last line.

    The kernel runs the hidden tests, so a submission can see their code while it runs (IPython keeps each
    cell's source) and print it: every output line quoting a line of theirs is replaced too.
    """

    def preprocess(self, nb, resources):
        self.hidden = sorted({line.strip() for cell in nb.cells for block in HIDDEN_BLOCK.findall(cell.source)
                              for line in block.splitlines() if line.strip()})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if HIDDEN_BEGIN in cell.source:
            cell.source = HIDDEN_BLOCK.sub("", cell.source).rstrip("\n")
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        for output in cell.get("outputs", []):
            self.hide_in_output(output)
        return cell, resources

    def hide_in_output(self, output) -> None:
        if "text" in output:
            output.text = self.hide(output.text)
        for mime, value in output.get("data", {}).items():
            if isinstance(value, str):
                output.data[mime] = self.hide(value)
        if output.output_type == "error":
            output.evalue = self.hide(output.evalue)
            output.traceback = [self.hide(line) for line in output.traceback]

    def hide(self, text: str) -> str:
        if not any(line in text for line in self.hidden):
            return text
        return "".join(HIDDEN_LINE if any(hidden in line for hidden in self.hidden) else line
                       for line in text.splitlines(True))


class FailedTestsSummary(NbGraderPreprocessor):
    """Insert, as the first cell, when it was submitted and the list of failed tests with their messages."""

    lateness = Unicode("", help="one line: submitted when, against which due date, the points taken off").tag(
        config=True)

    def preprocess(self, nb, resources):
        failed = [t for t in read_scores(resources["nbgrader"]["notebook"], nb) if not t.passed]
        lines = [self.lateness, ""] if self.lateness else []
        if failed:
            lines += ["### Tests you did not pass", ""]
            for test in failed:
                message = test.message.replace("`", "'")
                lines.append(f"- **{test.grade_id}** ({test.score:g} of {test.points:g} points): `{message}`")
        else:
            lines += ["### All tests passed"]
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
        return nb, resources


class StudentFeedback(GenerateFeedback):
    """One student's pages. nbgrader logs a page's error and raises a general one: the first error is kept."""

    failure = None

    @default("exporter_class")
    def _exporter_class_default(self):
        return FeedbackExporter

    def convert_single_notebook(self, notebook_filename):
        try:
            super().convert_single_notebook(notebook_filename)
        except MissingEntry:
            self.failure = f"{Path(notebook_filename).name}: not in the gradebook (grade it again)"
            raise
        except Exception as error:
            self.failure = f"{Path(notebook_filename).name}: {one_line(error)}"
            raise


@dataclass
class FeedbackReport:
    written: list = field(default_factory=list)  # students
    failed: list = field(default_factory=list)   # (student, reason)
    canvas_zip: Path | None = None
    not_in_download: list = field(default_factory=list)  # students with feedback but no file in the download


def generate_feedback(course: Course, assignment: str, canvas_download: Path | None = None) -> FeedbackReport:
    """Write every graded student's feedback, each on their own (and the zip for Canvas, given its download)."""
    course.require_gradebook()
    course.require_assignment(assignment)
    students = sorted(p.parent.name for p in (course.course_dir / "autograded").glob(f"*/{assignment}"))
    if not students:
        raise CourseError(f"nothing graded yet for {assignment}: run `autograder grade {assignment}` first")
    prefixes = None if canvas_download is None else canvas_submissions(Path(canvas_download))  # bad zip: stop now
    report = FeedbackReport()
    lateness.record_penalties(course, assignment)  # as the policy takes them from today's scores
    scratch = course.scratch_dir("feedback")
    try:
        for student in students:
            reason = write_student_feedback(course, assignment, student, scratch)
            if reason:
                report.failed.append((student, reason))
            else:
                replace_folder(scratch / student / assignment, course.feedback(student, assignment))
                report.written.append(student)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if course.exchange_root is not None and report.written:
        release_feedback(course, assignment)
    if prefixes is not None:
        write_canvas_zip(course, assignment, report, prefixes)
    return report


# --- the zip for Canvas' "Re-Upload Submissions" -----------------------------------
# Canvas reads a re-uploaded file's name as its download named it, split at "_": the first two parts that are only
# digits are the user id and the id of a file of that user's current submission; a name without both is ignored.


def canvas_submissions(download: Path) -> dict:
    """{LMS user id: the name prefix "name[_late]_userid_fileid"} of each user's first file in a Canvas download."""
    try:
        with zipfile.ZipFile(download) as archive:
            names = sorted(Path(name).name for name in archive.namelist())
    except (OSError, zipfile.BadZipFile) as error:
        raise CourseError(f"cannot read the Canvas download {download}: {one_line(error)}")
    prefixes = {}
    for name in names:
        parts = name.split("_")
        ids = [k for k, part in enumerate(parts) if part.isdigit()][:2]
        if len(ids) == 2:
            prefixes.setdefault(parts[ids[0]], "_".join(parts[:ids[1] + 1]))
    return prefixes


def write_canvas_zip(course: Course, assignment: str, report: FeedbackReport, prefixes: dict) -> None:
    """feedback/<assignment>_canvas.zip: each page named for its student's file in the download."""
    lms_ids = course.lms_ids()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for student in sorted(report.written):
            prefix = prefixes.get(lms_ids.get(student, ""))
            if prefix is None:
                report.not_in_download.append(student)
                continue
            for page in sorted(course.feedback(student, assignment).glob("*.html")):
                archive.writestr(f"{prefix}_{page.name}", page.read_bytes())
    report.canvas_zip = course.course_dir / "feedback" / f"{assignment}_canvas.zip"
    write_atomically(report.canvas_zip, out.getvalue())


def write_student_feedback(course: Course, assignment: str, student: str, scratch: Path) -> str | None:
    """One student's pages into scratch; the reason if they could not be written."""
    config = course.nbgrader_config()
    config.CourseDirectory.feedback_directory = str(scratch)
    config.GenerateFeedback.preprocessors = [HideHiddenTests, SafeOutputMetadata, GetGrades, FailedTestsSummary,
                                             CSSHTMLHeaderPreprocessor]
    config.FailedTestsSummary.lateness = lateness_line(course, assignment, student)
    coursedir = course.coursedir(assignment, student)
    coursedir.feedback_directory = str(scratch)
    converter = StudentFeedback(coursedir=coursedir, config=config, log=nbgrader_log())
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        return converter.failure or one_line(error)
    return None


def lateness_line(course: Course, assignment: str, student: str) -> str:
    """'Submitted ... (due ...): late by 1 day 3 h; the late policy took 0.6 points off.'; "" without a due date."""
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return ""
        due = lateness.read_dues(course, assignment, gb).of(student)
        submitted, penalty = submission.timestamp, submission.late_submission_penalty
    if due is None or submitted is None:
        return ""
    line = (f"Submitted {lateness.utc_text(submitted)} (due {lateness.utc_text(due)}): "
            f"{lateness.how_late((submitted - due).total_seconds())}")
    return f"{line}; the late policy took {penalty:g} points off." if penalty else f"{line}."


def one_line(error: Exception) -> str:
    """An error's message as one line of at most 200 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def release_feedback(course: Course, assignment: str) -> None:
    exchange = ExchangeReleaseFeedback(coursedir=course.coursedir(assignment), authenticator=Authenticator(),
                                       config=course.nbgrader_config(), log=nbgrader_log())
    try:
        exchange.start()
    except ExchangeError as error:
        raise CourseError(f"could not release the feedback to the exchange {course.exchange_root}: {error}")
