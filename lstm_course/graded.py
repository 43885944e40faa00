"""The graded functions the chapters call, resolved per assignment.

The rule, for every assignment in ``api.FUNCTIONS`` (first match wins):

1. ``lstm_course/revealed/<assignment>.py`` exists: the instructor revealed its
   solutions (``autograder publish DEST --reveal <assignment>``), and that file
   is the course's NumPy reference of its functions;
2. ``autograder.course.reference`` can be imported, i.e. this is the
   instructor's repository (the website built by ``make`` shows the
   reference's outputs, whatever is revealed);
3. otherwise (a student edition, solutions not revealed) the Keras stand-ins
   of ``keras_equivalents``, proven equal to the reference by
   ``tests/test_keras_equivalents.py``. They exist only for the functions the
   chapters call; the others stay the exercises' business.

``SOURCES`` says which of ``"revealed"``, ``"reference"`` and ``"keras"`` each
assignment got. Assignments resolve in the order of ``FUNCTIONS``, so a revealed
file may import an earlier assignment's functions from this module.
"""

import importlib

from .api import FUNCTIONS

SOURCES = {}


def _functions_of(assignment):
    """(module, source) that provides an assignment's functions."""
    try:
        return importlib.import_module(f"{__package__}.revealed.{assignment}"), "revealed"
    except ModuleNotFoundError as missing:
        if missing.name not in (f"{__package__}.revealed", f"{__package__}.revealed.{assignment}"):
            raise  # a revealed file that is broken is an error, not a fallback
    try:
        return importlib.import_module("autograder.course.reference"), "reference"
    except ModuleNotFoundError as missing:
        if missing.name not in ("autograder", "autograder.course", "autograder.course.reference"):
            raise
    return importlib.import_module(f"{__package__}.keras_equivalents"), "keras"


for _assignment, _names in FUNCTIONS.items():
    _module, SOURCES[_assignment] = _functions_of(_assignment)
    globals().update({name: getattr(_module, name) for name in _names if hasattr(_module, name)})
