"""A generated class of submissions of ex3_lstm_gates, each of known content.

Every submission is the released student notebook with each answer cell
(one per API function) filled in one of five ways: the instructor's solution,
a typical wrong version (each fails its visible test), the untouched stub, a
syntax error, or a function that raises. The points each submission earns
follow from that content and the points of the grade cells (read from the
instructor notebook's metadata): a test passes only if its function and every
function that function calls are correct — no grader is run to find them.
"""

import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course.api import BUILDS_ON
from autograder.pipeline.cli import main

from . import ROOT

ASSIGNMENT = "ex3_lstm_gates"
DUE = "2025-03-02 00:00:00 UTC"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
KINDS = ("correct", "wrong", "blank", "syntax_error", "exception")

# Which API functions each function calls: a test of lstm_cell_forward fails if any gate it calls is wrong.
CALLS = BUILDS_ON

# One typical mistake per function; each fails the function's visible test.
WRONG = {
    "forget_gate": "def forget_gate(x_t, h_prev, W_f, U_f, b_f):\n"
                   "    return np.tanh(x_t @ W_f + h_prev @ U_f + b_f)  # tanh instead of sigmoid\n",
    "input_gate": "def input_gate(x_t, h_prev, W_i, U_i, b_i):\n"
                  "    return sigmoid(x_t @ W_i + h_prev @ U_i)  # no bias\n",
    "candidate_memory": "def candidate_memory(x_t, h_prev, W_c, U_c, b_c):\n"
                        "    return sigmoid(x_t @ W_c + h_prev @ U_c + b_c)  # sigmoid instead of tanh\n",
    "output_gate": "def output_gate(x_t, h_prev, W_o, U_o, b_o):\n"
                   "    return sigmoid(x_t @ U_o + h_prev @ W_o + b_o)  # W and U swapped\n",
    "update_cell": "def update_cell(c_prev, f_t, i_t, c_tilde):\n"
                   "    c_prev *= f_t  # changes the caller's array\n"
                   "    return c_prev + i_t * c_tilde\n",
    "update_hidden": "def update_hidden(c_t, o_t):\n"
                     "    return o_t * c_t  # no tanh\n",
    "lstm_cell_forward": "def lstm_cell_forward(x_t, h_prev, c_prev, params):\n"
                         "    p = params  # gates read c_prev instead of h_prev\n"
                         "    f = forget_gate(x_t, c_prev, p['W_f'], p['U_f'], p['b_f'])\n"
                         "    i = input_gate(x_t, c_prev, p['W_i'], p['U_i'], p['b_i'])\n"
                         "    c_tilde = candidate_memory(x_t, c_prev, p['W_c'], p['U_c'], p['b_c'])\n"
                         "    o = output_gate(x_t, c_prev, p['W_o'], p['U_o'], p['b_o'])\n"
                         "    c_t = update_cell(c_prev, f, i, c_tilde)\n"
                         "    h_t = update_hidden(c_t, o)\n"
                         "    cache = dict(x_t=x_t, h_prev=h_prev, c_prev=c_prev, f=f, i=i, c_tilde=c_tilde,\n"
                         "                 o=o, c_t=c_t, h_t=h_t, params=params)\n"
                         "    return h_t, c_t, cache\n",
    "lstm_forward": "def lstm_forward(x, h0, c0, params):\n"
                    "    steps, h = [], h0\n"
                    "    for t in range(x.shape[1]):\n"
                    "        h, c, _ = lstm_cell_forward(x[:, t], h, c0, params)  # c is not carried on\n"
                    "        steps.append(h)\n"
                    "    return np.stack(steps, axis=1), h, c\n",
}


def read_solution():
    """(functions in notebook order with their solution code, {test grade_id: points})."""
    nb = nbformat.read(SOLUTION, as_version=4)
    solutions, points = {}, {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":  # written answers are graded by hand
            solutions[meta["grade_id"]] = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source)
        elif meta.get("grade") and cell.cell_type == "code":
            points[meta["grade_id"]] = float(meta["points"])
    return solutions, points


def answer(function: str, kind: str, solution: str) -> str | None:
    """The code of an answer cell; None leaves the released stub in place."""
    if kind == "correct":
        return solution
    if kind == "wrong":
        return WRONG[function]
    if kind == "syntax_error":
        return solution.replace("):\n", ")\n", 1)  # the def line loses its colon
    if kind == "exception":
        return f"def {function}(*args):\n    return args[99]  # IndexError when called\n"
    return None


def expected_points(kinds: dict, points: dict) -> dict:
    """{test grade_id: points earned} for one submission, from what its cells contain."""
    def works(function):
        return kinds[function] == "correct" and all(works(f) for f in CALLS.get(function, ()))
    return {f"test_{f}": points[f"test_{f}"] if works(f) else 0.0 for f in kinds}


@dataclass
class Submission:
    student: str
    lms_id: int
    kinds: dict            # function -> kind; empty for a file that cannot be graded
    minute: int = 0        # submitted at 2025-03-01 12:<minute> (the zip entry's time)
    late: bool = False
    raw: bytes = b""       # content for submissions that are not made of kinds


def class_corpus(functions: list, size: int = 34, seed: int = 3) -> list[Submission]:
    """A class of `size` students (at least 30) covering every kind of submission."""
    rng = random.Random(seed)
    every = lambda kind: {f: kind for f in functions}  # noqa: E731
    subs = [Submission("correcta", 1, every("correct")), Submission("correctb", 2, every("correct")),
            Submission("blankc", 3, every("blank"))]
    for k, function in enumerate(functions):  # one function wrong, the rest right
        subs.append(Submission(f"wrong{function.replace('_', '')}", 10 + k,
                               dict(every("correct"), **{function: "wrong"})))
    for k, done in enumerate((2, 5, 7)):  # ran out of time after `done` functions
        subs.append(Submission(f"partial{done}", 20 + k, {f: "correct" if j < done else "blank"
                                                           for j, f in enumerate(functions)}))
    subs.append(Submission("syntaxa", 30, dict(every("correct"), update_cell="syntax_error")))
    subs.append(Submission("syntaxb", 31, dict(every("correct"), forget_gate="syntax_error")))
    subs.append(Submission("raisesa", 32, dict(every("correct"), output_gate="exception")))
    subs.append(Submission("raisesb", 33, dict(every("correct"), lstm_forward="exception")))
    subs.append(Submission("latec", 40, every("correct"), minute=0, late=True))
    # a resubmission: the newer file (minute 30) is the one graded
    subs.append(Submission("twiced", 41, every("correct"), minute=5))
    subs.append(Submission("twiced", 41, dict(every("correct"), update_hidden="wrong"), minute=30))
    subs.append(Submission("notjson", 50, {}, raw=b"{this is not a notebook"))
    k = 0
    while len({s.student for s in subs}) < size:
        subs.append(Submission(f"mixed{k:02d}", 60 + k, {f: rng.choice(KINDS) for f in functions}))
        k += 1
    return subs


def student_notebook(released: Path, solutions: dict, kinds: dict) -> bytes:
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        function = cell.metadata.get("nbgrader", {}).get("grade_id")
        if function in kinds:
            code = answer(function, kinds[function], solutions[function])
            if code is not None:
                cell.source = code
    return nbformat.writes(nb).encode()


def write_canvas_zip(subs: list, released: Path, solutions: dict, path: Path) -> None:
    """The zip Canvas gives for "Download submissions": one file per submission, plus noise."""
    with zipfile.ZipFile(path, "w") as archive:
        for n, sub in enumerate(subs):
            late = "_LATE" if sub.late else ""
            name = f"{sub.student}{late}_{sub.lms_id}_{1000 + n}_{ASSIGNMENT}.ipynb"
            data = sub.raw or student_notebook(released, solutions, sub.kinds)
            day = 3 if sub.late else 1
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, day, 12, sub.minute, 0)), data)
        archive.writestr(zipfile.ZipInfo("correcta_1_999_notes.txt", (2025, 3, 1, 12, 0, 0)), "my notes")


# --- the class through the `autograder` command (the tests' shared fixture ex3, tests/conftest.py) ---------

def make_class(tmp: Path) -> dict:
    """The class's Canvas zip and a first course, g2, with the assignment released."""
    solutions, points = read_solution()
    functions = list(solutions)
    subs = class_corpus(functions)
    base = ["--source", str(ROOT / "solutions"), "--release", str(tmp / "exercises")]
    assert main(base + ["--course-dir", str(tmp / "g2"), "release", ASSIGNMENT, "--due", DUE]) == 0
    released = tmp / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    write_canvas_zip(subs, released, solutions, tmp / "submissions.zip")
    return dict(tmp=tmp, base=base, subs=subs, points=points, functions=functions)


def collect_class(ex3, course_dir) -> list:
    """Release (but in g2) and collect the class in a course of its own; the command's options for that course."""
    args = ex3["base"] + ["--course-dir", str(ex3["tmp"] / course_dir)]
    if course_dir != "g2":
        assert main(args + ["release", ASSIGNMENT, "--due", DUE]) == 0
    assert main(args + ["collect", ASSIGNMENT, str(ex3["tmp"] / "submissions.zip")]) == 0
    return args


def grade_class(ex3, course_dir, workers, capsys):
    """Collect, grade with local workers (late submissions earn zero) and export: (collected, summary, grades.csv).

    Once per course folder: the tests of the group share the graded class in whatever order they run."""
    done = ex3.setdefault("graded", {})
    if course_dir not in done:
        done[course_dir] = _grade_class(ex3, course_dir, workers, capsys)
    return done[course_dir]


def _grade_class(ex3, course_dir, workers, capsys):
    args = collect_class(ex3, course_dir)
    collected = capsys.readouterr().out
    assert main(args + ["grade", ASSIGNMENT, "--workers", str(workers), "--late-policy", "zero"]) == 0
    summary = capsys.readouterr().out
    assert main(args + ["export"]) == 0
    capsys.readouterr()
    return collected, summary, (ex3["tmp"] / course_dir / "exports" / "grades.csv").read_text()
