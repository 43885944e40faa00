"""The exercise API's vocabulary (defined in the student package, ``lstm_course.api``) and the hidden-test markers.

``autograder/API.md`` is the contract written for people; this module is the
same contract for code (a test keeps the two equal). The reference, the
graders, the book and the student edition take their names from here. Standard library only: it is
cheap to import anywhere.
"""

import re

from lstm_course.api import *  # noqa: F403  (the vocabulary, re-exported: every part imports it from here)

# Hidden tests sit between these markers in a test cell; nbgrader strips them from the student version.
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# One block with its indentation and its end line; an unclosed one runs to the end of the cell.
HIDDEN_BLOCK = re.compile(rf"[ \t]*{HIDDEN_BEGIN}(.*?)(?:{HIDDEN_END}[^\n]*\n?|\Z)", re.DOTALL)
