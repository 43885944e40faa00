"""Feedback: one HTML page per student, nbgrader's feedback with a summary on top.

nbgrader's ``GenerateFeedback`` renders each graded notebook with its scores;
we add two preprocessors: one takes the hidden tests' code out of the test
cells (and the tracebacks that would quote it, and any output line quoting
it: the kernel runs it, so a submission can print it), the other puts, above the
notebook, the tests the student did not pass and their messages. The hidden
tests' inputs never reach the graded notebook (``execute.py`` takes the
outcomes out), so they cannot reach the feedback either. Pages are generated into a scratch folder and
moved into ``feedback/<student>/<assignment>/`` whole, so a student never gets
half a page. With an exchange configured they are released to it, where
``nbgrader fetch_feedback`` finds them.
"""

import shutil

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.auth import Authenticator
from nbgrader.converters import GenerateFeedback, NbGraderException
from nbgrader.exchange import ExchangeError
from nbgrader.exchange.default import ExchangeReleaseFeedback
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from autograder.course.api import HIDDEN_BEGIN, HIDDEN_BLOCK

from .course_folder import Course, CourseError, nbgrader_log, replace_folder
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


def generate_feedback(course: Course, assignment: str) -> list[str]:
    """Write every graded student's feedback; returns the students."""
    course.require_gradebook()
    course.require_assignment(assignment)
    students = sorted(p.parent.name for p in (course.course_dir / "autograded").glob(f"*/{assignment}"))
    if not students:
        raise CourseError(f"nothing graded yet for {assignment}: run `autograder grade {assignment}` first")
    scratch = course.scratch_dir("feedback")
    try:
        config = course.nbgrader_config()
        config.CourseDirectory.feedback_directory = str(scratch)
        config.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, FailedTestsSummary,
                                                 CSSHTMLHeaderPreprocessor]
        coursedir = course.coursedir(assignment)
        coursedir.feedback_directory = str(scratch)
        converter = GenerateFeedback(coursedir=coursedir, config=config, log=nbgrader_log())
        converter.force = True
        try:
            converter.start()
        except NbGraderException as error:
            raise CourseError(f"nbgrader could not write the feedback of {assignment}: {error}")
        for student in students:
            replace_folder(scratch / student / assignment, course.feedback(student, assignment))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if course.exchange_root is not None:
        release_feedback(course, assignment)
    return students


def release_feedback(course: Course, assignment: str) -> None:
    exchange = ExchangeReleaseFeedback(coursedir=course.coursedir(assignment), authenticator=Authenticator(),
                                       config=course.nbgrader_config(), log=nbgrader_log())
    try:
        exchange.start()
    except ExchangeError as error:
        raise CourseError(f"could not release the feedback to the exchange {course.exchange_root}: {error}")
