"""Grading strangers' notebooks: an adversarial class through `autograder grade`, sandbox on.

A class of three ordinary students is graded first; then the attacks of
adversarial_corpus (crashes, bombs, tampered checks, fake results, edited test
cells, broken files, reaching for the course) are collected and graded with
them. Every attack must earn exactly what its content earns, cheats must be
failed by the judge outside the kernel, the batch must finish, the classmates'
gradebook rows must not change, every submission must be in the export with a
score or a reason, the feedback must hold neither hidden-test code nor the
hidden inputs, and grading again must give byte-identical exports.
"""

import csv
import hashlib
import html
import io
import json
import re
import socket
import threading

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.course.api import BUILDS_ON
from autograder.pipeline.cli import main
from autograder.pipeline.course_folder import KEY_FILE, folder_digest
from autograder.pipeline.secret_inputs import draw_inputs
from tests.support import adversarial_corpus as corpus
from tests.support import corpus_ex3 as ex3

pytestmark = [pytest.mark.sandboxed, pytest.mark.xdist_group("adversarial")]  # one worker grades the class

A = ex3.ASSIGNMENT
CLASSMATES = {"classmate1": "correct", "classmate2": "wrong", "classmate3": "blank"}
CELL_TIMEOUT = 20  # the honest cells need well under a second: many multiples, even on a loaded machine
LIMITS = ["--workers", "2", "--cell-timeout", str(CELL_TIMEOUT), "--time-limit", "300"]


class Server:
    """A server on this machine that would hand out the right forget_gate to any caller."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port, self.accepted = self.socket.getsockname()[1], []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)
            connection.sendall(b"def forget_gate(*args):\n    return 0\n")


def rows_digest(db_url: str, students) -> str:
    """A digest of everything the gradebook holds about these students' submissions."""
    with Gradebook(db_url, "lstm_course") as gb:
        rows = []
        for student in sorted(students):
            submission = gb.find_submission(A, student)
            rows.append([gb.find_student(student).to_dict(), submission.to_dict()])
            for notebook in submission.notebooks:
                rows += [grade.to_dict() for grade in notebook.grades]
                rows += [comment.to_dict() for comment in notebook.comments]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def leaves(value):
    """Every number in nested dicts of arrays."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif hasattr(value, "flat"):
        yield from (float(v) for v in value.flat)


def read_csv(path):
    return {row["student_id"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adversarial")
    course = tmp / "grading"
    args = ["--course-dir", str(course), "--source", str(ex3.ROOT / "solutions"), "--release", str(tmp / "exercises")]
    assert main(args + ["release", A]) == 0
    released = tmp / "exercises" / A / f"{A}.ipynb"
    solutions, points = ex3.read_solution()

    classmates = {s: ex3.student_notebook(released, solutions, {f: kind for f in solutions})
                  for s, kind in CLASSMATES.items()}
    corpus.write_zip(tmp / "class.zip", classmates)
    assert main(args + ["collect", A, str(tmp / "class.zip")]) == 0
    assert main(args + ["grade", A, *LIMITS]) == 0
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    before = rows_digest(db_url, CLASSMATES)

    server = Server()
    places = {"SOLUTION_PATH": ex3.SOLUTION, "GRADEBOOK_PATH": course / "gradebook.db", "COURSE_DIR": course,
              "SERVER_PORT": server.port}
    corpus.write_zip(tmp / "attacks.zip", {a.student: corpus.submission(a, released, solutions, places)
                                    for a in corpus.ATTACKS})
    assert main(args + ["collect", A, str(tmp / "attacks.zip")]) == 0
    assert main(args + ["grade", A, *LIMITS]) == 0
    assert main(args + ["export"]) == 0
    assert main(args + ["feedback", A]) == 0
    server.socket.close()
    return dict(tmp=tmp, course=course, args=args, points=points, db_url=db_url, before=before, server=server,
                export=(course / "exports" / "grades.csv").read_bytes())


def results(graded):
    return json.loads((graded["course"] / "results" / f"{A}.json").read_text())


def autograded(graded, student):
    return nbformat.read(graded["course"] / "autograded" / student / A / f"{A}.ipynb", as_version=4)


def test_the_corpus_is_large_and_varied():
    assert len(corpus.ATTACKS) >= 20 and len({a.student for a in corpus.ATTACKS}) == len(corpus.ATTACKS)
    assert sum(bool(a.caught_outside) for a in corpus.ATTACKS) >= 12


@pytest.mark.parametrize("attack", [a for a in corpus.ATTACKS if a.raw is None], ids=lambda a: a.student)
def test_each_attack_earns_what_its_content_earns(graded, attack):
    row = read_csv(graded["course"] / "exports" / "grades.csv")[attack.student]
    expected = attack.points(graded["points"])
    assert {test: float(row[f"{A}/{test}"]) for test in expected} == expected, attack.what
    assert float(row[A]) == sum(expected.values())


@pytest.mark.parametrize("attack", [a for a in corpus.ATTACKS if a.caught_outside], ids=lambda a: a.student)
def test_cheats_that_pass_in_the_kernel_are_failed_by_the_judge_outside(graded, attack):
    tests = {t["grade_id"]: t for t in results(graded)[attack.student]["tests"]}
    for test in attack.caught_outside:
        function = test.removeprefix("test_")
        assert tests[test]["score"] == 0
        failing = [earlier for earlier in BUILDS_ON.get(function, ()) if fails(attack, earlier)]
        blame = f"fix `{failing[0]}` first (its test fails): {function} calls it. " if failing else ""
        assert tests[test]["message"].startswith(f"AssertionError: {blame}{function}: "), (test, tests[test]["message"])


def fails(attack, function) -> bool:
    """Whether an attack's content fails this function's test: it is broken or builds on one that fails."""
    return function in attack.broken or any(fails(attack, earlier) for earlier in BUILDS_ON.get(function, ()))


def test_files_that_are_not_notebooks_are_listed_with_their_reason(graded):
    rows, entries = read_csv(graded["course"] / "exports" / "grades.csv"), results(graded)
    for attack in corpus.ATTACKS:
        if attack.raw is not None:
            assert entries[attack.student]["status"] == "failed"
            assert rows[attack.student][A] == "" and attack.reason in rows[attack.student][f"{A}/note"], attack.what
    everyone = {a.student for a in corpus.ATTACKS} | set(CLASSMATES)
    assert set(rows) == everyone, "every submission is in the export"
    assert all(rows[s][A] or rows[s][f"{A}/note"] for s in everyone), "a score or a reason for each"


def test_the_classmates_rows_are_unchanged(graded):
    assert rows_digest(graded["db_url"], CLASSMATES) == graded["before"]
    canvas = (graded["course"] / "exports" / "canvas.csv").read_text().splitlines()
    # 16 for the test cells and 4 for the written answers, as the notebook's introduction says
    assert canvas[1].endswith(",20"), "changed points metadata does not change the assignment's points"


def test_the_sandbox_kept_the_course_out_of_reach(graded):
    def printed(student):
        return "".join(o.get("text", "") for c in autograded(graded, student).cells for o in c.get("outputs", []))
    assert "reachable from the sandbox: []" in printed("stealsolution")
    assert "gradebook not reachable: unable to open database file" in printed("writegradebook")
    assert "network not reachable: ConnectionRefusedError" in printed("callhome")
    assert "reference not importable: ModuleNotFoundError" in printed("importreference")
    assert graded["server"].accepted == []


def test_crashes_and_bombs_cost_only_their_own_cell(graded):
    entries = results(graded)
    for student, why in [("osexit", "the kernel died"), ("shutdown", "the kernel died"),
                         ("loops", f"this cell ran longer than {CELL_TIMEOUT} s")]:
        assert entries[student]["status"] == "graded" and why in entries[student]["note"], student
    path = graded["course"] / "autograded" / "prints20mb" / A / f"{A}.ipynb"
    assert path.stat().st_size < 11 * 2**20
    assert "[output truncated: the notebook's outputs reached the limit of 10 MB]" in path.read_text()


def found_in(text, needles) -> set:
    """The needles that occur in text, exactly as `needle in text`, in one pass over text.

    An occurrence lies inside one run of the needles' characters, so searching the
    distinct runs (a few kilobytes) instead of the whole page finds the same ones.
    """
    if not needles:
        return set()
    alphabet = re.escape("".join(set("".join(needles))))
    runs = "\0".join(set(re.findall(f"[{alphabet}]+", text)))  # a NUL is in no needle: no match spans two runs
    return {needle for needle in needles if needle in runs}


def test_feedback_holds_no_hidden_test_code_and_no_hidden_inputs(graded):
    course = graded["course"]
    hidden = corpus.hidden_lines()
    assert 'check_function("forget_gate", forget_gate)' in hidden
    key = (course / KEY_FILE).read_text().strip()
    functions = list(corpus.FUNCTIONS)
    checked = 0
    for attack in corpus.ATTACKS:
        if attack.raw is not None:
            continue
        page = (course / "feedback" / attack.student / A / f"{A}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]*>", "", page))
        assert "HIDDEN TESTS" not in text and not any(line in text for line in hidden), attack.student
        fingerprint = folder_digest(course / "submitted" / attack.student / A)
        inputs = draw_inputs(functions, key, A, A, attack.student, fingerprint)
        values = {v for cases in inputs.values() for case in cases for v in leaves(case)}
        assert not found_in(page, {repr(v) for v in values}), attack.student
        outputs = "".join(o.get("text", "") + o.get("evalue", "") for c in autograded(graded, attack.student).cells
                          for o in c.get("outputs", []))
        assert not found_in(outputs, {f"{abs(v):.6f}" for v in values if abs(v) > 1e-3}), attack.student
        checked += 1
    assert checked == sum(a.raw is None for a in corpus.ATTACKS)


def test_grading_again_gives_byte_identical_exports(graded):
    assert main(graded["args"] + ["grade", A, "--force", *LIMITS]) == 0
    assert main(graded["args"] + ["export"]) == 0
    assert (graded["course"] / "exports" / "grades.csv").read_bytes() == graded["export"]
