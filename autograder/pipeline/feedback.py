"""Feedback: one HTML page per student, nbgrader's feedback with a summary on top.

nbgrader's ``GenerateFeedback`` renders each graded notebook with its scores;
we add two preprocessors: one takes the hidden tests' code out of the test
cells (and the tracebacks that would quote it), the other puts, above the
notebook, the tests the student did not pass and their messages. The hidden
tests' inputs never reach the graded notebook (``execute.py`` takes the
outcomes out), so they cannot reach the feedback either. Pages are generated into a scratch folder and
moved into ``feedback/<student>/<assignment>/`` whole, so a student never gets
half a page. With an exchange configured they are released to it, where
``nbgrader fetch_feedback`` finds them.

A page is written for each student on their own: one whose notebook cannot be
rendered is reported with the reason, and the others still get theirs.

Whoever opens a page (an instructor, a TA) must not run what the submission put
in it. ``FeedbackExporter`` renders every piece of HTML a submission made (HTML
and Markdown outputs, Markdown cells) through ``safe_html``, an allowlist of
formatting tags without scripts, styles, frames, forms, event handlers or
``javascript:`` links; drops JavaScript and widget outputs; shows SVG only as an
image (where it cannot run); and heads the page with a Content-Security-Policy
(``FEEDBACK_POLICY``) that runs no inline script or handler at all, so what the
allowlist might miss still does not run.
"""

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import bleach
import nbformat
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.api import MissingEntry
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateFeedback, NbGraderException
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseFeedback
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import Bool, default

from autograder.course.api import HIDDEN_BEGIN, HIDDEN_BLOCK

from .course_folder import Course, CourseError, nbgrader_log, replace_folder
from .scores import read_scores

# Scripts only from the page's own site (a MathJax served next to it, configured by a file: inline scripts,
# event handlers and eval never run); styles inline, as nbgrader's template writes them; images and fonts from
# the site or embedded; nothing else (no frames, plugins, forms, connections, <base>).
FEEDBACK_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                   "img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'")

# What HTML from a submission may keep: formatting, tables, links and images. Any other tag is shown as text.
SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul"})
SAFE_ATTRIBUTES = {"*": {"class", "id", "title", "align"}, "a": {"href", "name"},
                   "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
                   "th": {"colspan", "rowspan", "scope"}, "ol": {"start"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})  # and links without a scheme: anchors, relative paths
EMBEDDED_IMAGE = re.compile(r"data:image/[a-z.+-]+[;,]", re.IGNORECASE)  # in <img> even SVG cannot run
PAGE_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def safe_attribute(tag: str, name: str, value: str) -> bool:
    if name not in SAFE_ATTRIBUTES["*"] | SAFE_ATTRIBUTES.get(tag, set()):
        return False
    if name == "src":
        # embedded, or a path on the page's own site (no scheme, no "//host")
        return bool(EMBEDDED_IMAGE.match(value)) or not (value.startswith("//") or ":" in value.split("/")[0])
    return name != "href" or not value.lower().startswith("data:")


def safe_html(fragment) -> str:
    """HTML a submission made, with only formatting left: no script, style, frame, form, handler or javascript: URL."""
    return bleach.clean(str(fragment), tags=SAFE_TAGS, attributes=safe_attribute,
                        protocols=LINK_SCHEMES | {"data"}, strip_comments=True)


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback template, with every piece of a submission's HTML made safe and the policy on top."""

    # nbconvert then leaves out JavaScript and widget outputs and passes HTML ones through ``clean_html``
    sanitize_html = Bool(True)

    def default_filters(self):
        yield from super().default_filters()
        yield ("clean_html", safe_html)

    @pass_context
    def markdown2html(self, context, source):
        # Markdown cells and outputs: nbgrader's template renders them without nbconvert's cleaning
        return safe_html(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = super().from_notebook_node(nb, resources, **kw)
        return with_policy(page, FEEDBACK_POLICY), resources


def with_policy(page: str, policy: str) -> str:
    """The page with its Content-Security-Policy first in <head>, before any script; no head, no page."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    page, found = PAGE_HEAD.subn(lambda head: head.group(0) + meta, page, count=1)
    if not found:
        raise ValueError("the feedback template wrote no <head> to put the security policy in")
    return page


class SafeOutputMetadata(NbGraderPreprocessor):
    """Keep only numeric image sizes from output metadata: the template writes them as unquoted attributes,
    where text could add an event handler; drop output file names, which would make an image's URL."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            metadata = output.get("metadata", {})
            metadata.pop("filenames", None)
            for mimetype in [key for key in metadata if isinstance(metadata[key], dict)]:
                for size in ("width", "height"):
                    if size in metadata[mimetype] and not is_number(metadata[mimetype][size]):
                        del metadata[mimetype][size]
        return cell, resources


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or str(value).isdigit()


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden-test blocks from every cell, and reduce that cell's tracebacks to their last line."""

    def preprocess_cell(self, cell, resources, index):
        if HIDDEN_BEGIN in cell.source:
            cell.source = HIDDEN_BLOCK.sub("", cell.source).rstrip("\n")
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class FailedTestsSummary(NbGraderPreprocessor):
    """Insert, as the first cell, the list of failed tests with their messages."""

    def preprocess(self, nb, resources):
        failed = [t for t in read_scores(resources["nbgrader"]["notebook"], nb) if not t.passed]
        if failed:
            lines = ["### Tests you did not pass", ""]
            for test in failed:
                message = test.message.replace("`", "'")
                lines.append(f"- **{test.grade_id}** ({test.score:g} of {test.points:g} points): `{message}`")
        else:
            lines = ["### All tests passed"]
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


def generate_feedback(course: Course, assignment: str) -> FeedbackReport:
    """Write every graded student's feedback, each on their own."""
    course.require_gradebook()
    course.require_assignment(assignment)
    students = sorted(p.parent.name for p in (course.course_dir / "autograded").glob(f"*/{assignment}"))
    if not students:
        raise CourseError(f"nothing graded yet for {assignment}: run `autograder grade {assignment}` first")
    report = FeedbackReport()
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
    return report


def write_student_feedback(course: Course, assignment: str, student: str, scratch: Path) -> str | None:
    """One student's pages into scratch; the reason if they could not be written."""
    config = course.nbgrader_config()
    config.CourseDirectory.feedback_directory = str(scratch)
    config.GenerateFeedback.preprocessors = [HideHiddenTests, SafeOutputMetadata, GetGrades, FailedTestsSummary,
                                             CSSHTMLHeaderPreprocessor]
    coursedir = course.coursedir(assignment, student)
    coursedir.feedback_directory = str(scratch)
    converter = StudentFeedback(coursedir=coursedir, config=config, log=nbgrader_log())
    converter.force = True
    try:
        converter.start()
    except NbGraderException as error:
        return converter.failure or one_line(error)
    return None


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
