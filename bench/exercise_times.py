"""How long a student's solved notebook takes to run its visible tests, per assignment.

A "solved student version" is the generated notebook in exercises/ with each
solution cell filled in from solutions/, as a student who got everything right
would hand it in. Each runs in a fresh Python process (plain exec of the code
cells, no Jupyter), which also reports whether TensorFlow got imported: the
NumPy exercises must not need it.

    .venv/bin/python bench/exercise_times.py [assignment ...]
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NUMPY_ONLY = ("ex1_rnn_basics", "ex2_vanishing_gradients", "ex3_lstm_gates", "ex5_lstm_backward")


def solved_student_version(assignment):
    """The student notebook with the instructor's code in every solution cell."""
    student = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    solutions = {c.id: c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in student.cells:
        if cell.id in solutions:
            cell.source = solutions[cell.id]
    return student


def run_here(assignment):
    """Run the solved notebook in this process; the timings as a dict."""
    namespace, visible, start = {"__name__": "__main__"}, 0.0, time.perf_counter()
    for cell in solved_student_version(assignment).cells:
        if cell.cell_type != "code":
            continue
        began = time.perf_counter()
        exec(compile(cell.source, cell.id, "exec"), namespace)
        if cell.metadata.get("nbgrader", {}).get("grade"):
            visible += time.perf_counter() - began
    return {"visible_tests_s": visible, "whole_notebook_s": time.perf_counter() - start,
            "tensorflow_imported": "tensorflow" in sys.modules}


def run_in_fresh_process(assignment):
    out = subprocess.run([sys.executable, __file__, "--here", assignment], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(assignments):
    print(f"{'assignment':<26} {'visible tests':>14} {'whole notebook':>15}  tensorflow imported")
    for assignment in assignments:
        t = run_in_fresh_process(assignment)
        print(f"{assignment:<26} {t['visible_tests_s']:>12.3f} s {t['whole_notebook_s']:>13.3f} s  "
              f"{'yes' if t['tensorflow_imported'] else 'no'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--here"]:
        print(json.dumps(run_here(sys.argv[2])))
    else:
        main(sys.argv[1:] or [a for a in NUMPY_ONLY if (ROOT / "exercises" / a).is_dir()])
