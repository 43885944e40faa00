"""The layout's promises: one vocabulary equal to the written API, a kernel folder that
reaches nothing of the grader, pipeline steps that do not import each other, and an
autograde chain that is nbgrader 0.9.6's own with exactly our substitutions."""

import ast
import json
import re
import sys
from pathlib import Path

import numpy as np
from nbgrader.converters import Autograde

from autograder.course import api, reference
from autograder.pipeline import autograde, cli, limits
from tests.support import ROOT

PACKAGE = ROOT / "autograder"
API_MD = (PACKAGE / "API.md").read_text()


def api_sections() -> dict:
    """{assignment: its part of API.md}."""
    parts = re.split(r"^## (ex\d_\w+):.*$", API_MD, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_the_functions_of_each_assignment_are_those_of_api_md():
    written = {assignment: tuple(re.findall(r"^(?:\| )?`(\w+)\(", text, flags=re.MULTILINE))
               for assignment, text in api_sections().items()}
    assert written == api.FUNCTIONS
    assert set(api.OUTPUT_NAMES) == {name for names in api.FUNCTIONS.values() for name in names}


def test_the_output_names_are_those_of_api_md():
    compared = 0
    for row in re.findall(r"^\| `(\w+)\(.*?\)` \| `([^`]*)`", API_MD, flags=re.MULTILINE):
        function, returned = row
        tuple_names = re.fullmatch(r"\(([\w, ]+)\)", returned)
        single = re.match(r"([A-Za-z_]\w*)(?: =|$)", returned)
        if tuple_names:
            assert api.OUTPUT_NAMES[function] == tuple(n.strip() for n in tuple_names.group(1).split(",")), function
        elif single:
            assert api.OUTPUT_NAMES[function] == single.group(1), function
        else:
            continue  # a formula such as sigmoid's, or a name written in maths (c̃_t)
        compared += 1
    assert compared >= 14


def test_params_gates_and_the_cache_are_those_of_api_md():
    keys = re.search(r"exactly the twelve keys\s+`([^`]+)`", API_MD).group(1).split()
    assert tuple(keys) == api.PARAM_KEYS
    keras = re.search(r"in the order \*\*([a-z, ]+)\*\*", API_MD).group(1)
    assert tuple(keras.replace(" ", "").split(",")) == api.KERAS_GATES
    assert tuple(re.search(r"for each gate `g` in `([a-z ]+)`", API_MD).group(1).split()) == api.GATES
    written_cache = re.search(r"`cache` a dict with `([^`]+)`", API_MD).group(1).split()
    rng = np.random.default_rng(0)
    params = {k: rng.standard_normal({"W": (2, 3), "U": (3, 3), "b": (3,)}[k[0]]) for k in api.PARAM_KEYS}
    _, _, cache = reference.lstm_cell_forward(rng.standard_normal((1, 2)), np.zeros((1, 3)), np.zeros((1, 3)), params)
    assert list(cache) == written_cache


# --- who may import what -------------------------------------------------------------

def imports(path: Path):
    """(absolute module name or '.relative', inside a function?) for every import in a file."""
    tree = ast.parse(path.read_text())
    nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in nested) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level + (node.module or ""), id(node) in nested)


def test_the_kernel_folder_imports_nothing_of_the_course_or_the_pipeline():
    outside = set()
    for path in sorted((PACKAGE / "kernel").glob("*.py")):
        for module, in_function in imports(path):
            top = module.split(".")[0]
            if module.startswith(".") or top in sys.stdlib_module_names or top in ("numpy", "IPython"):
                continue
            outside.add((path.name, module, in_function))
    # The one exception: check_function without a grader (plain nbgrader) judges in a trusted kernel.
    # It sits in a function the sandbox never reaches; test_sandbox shows the modules a sandboxed kernel loads.
    assert outside == {("check.py", "autograder.pipeline.compare", True)}


STEPS = {"release", "collect", "secret_inputs", "execute", "judge", "record", "feedback", "export", "report",
         "manual"}


def test_pipeline_steps_do_not_import_each_other():
    sideways = {}
    for step in sorted(STEPS):
        found = {module.lstrip(".").split(".")[0] for module, _ in imports(PACKAGE / "pipeline" / f"{step}.py")
                 if module.startswith(".")} & STEPS
        if found:
            sideways[step] = found
    assert sideways == {}


def test_the_autograde_chain_is_nbgraders_with_exactly_our_substitutions():
    # nbgrader 0.9.6's defaults, written out: an upgrade that changes them fails here.
    nbgrader_sanitize = ["ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "OverwriteCells", "CheckCellMetadata"]
    nbgrader_autograde = ["Execute", "IgnorePattern", "ClearMetadataPreprocessor", "LimitOutput", "SaveAutoGrades",
                          "AssignLatePenalties", "CheckCellMetadata"]
    traits = Autograde.class_traits()
    assert [s.__name__ for s in traits["sanitize_preprocessors"].default()] == nbgrader_sanitize
    assert [s.__name__ for s in traits["autograde_preprocessors"].default()] == nbgrader_autograde
    assert [s.__name__ for s in autograde.SANITIZE_STEPS] == [
        "ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "RestoreTestCells", "CheckCellMetadata"]
    assert [s.__name__ for s in autograde.AUTOGRADE_STEPS] == [
        "SecretInputs", "SandboxedExecute", "JudgeHiddenTests", "IgnorePattern", "ClearMetadataPreprocessor",
        "CapGradedNotebook", *nbgrader_autograde[4:]]


def test_the_limits_reach_the_command_line_the_options_and_the_traits():
    from autograder.pipeline.execute import SandboxedExecute
    from autograder.pipeline.sandbox import SandboxedKernelManager
    args = cli.parser().parse_args(["grade", "ex1_rnn_basics"])
    options = autograde.RunOptions()
    expected = {"cell_timeout": 30, "time_limit": 300, "memory_mb": 2048, "processes": 64, "cpu_seconds": 600,
                "max_output_mb": 10}
    assert {k: getattr(options, k) for k in expected} == expected
    assert (args.cell_timeout, args.time_limit, args.memory, args.processes, args.cpu_time, args.max_output) == (
        30, 300, 2048, 64, 600, 10)
    execute = SandboxedExecute()
    assert (execute.time_limit, execute.max_output, execute.max_restarts) == (300, 10 * 2**20, limits.MAX_RESTARTS)
    manager = SandboxedKernelManager.class_traits()
    assert [manager[k].default() for k in ("memory_mb", "processes", "cpu_seconds", "tmp_mb")] == [2048, 64, 600, 256]


def test_what_builds_on_what_is_api_md_and_what_the_solutions_call():
    table = API_MD.split("## What builds on what")[1].split("\n## ")[0]
    written = {row[0]: tuple(row[1].split("` `"))
               for row in re.findall(r"^\| `(\w+)` \| `([\w` ]+)` \|$", table, flags=re.MULTILINE)}
    assert written == api.BUILDS_ON
    called = {}
    for assignment, functions in api.FUNCTIONS.items():
        notebook = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text())
        for cell in notebook["cells"]:
            if cell.get("id") in functions:
                names = {node.func.id for node in ast.walk(ast.parse("".join(cell["source"])))
                         if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
                earlier = functions[:functions.index(cell["id"])]
                if uses := tuple(name for name in earlier if name in names):
                    called[cell["id"]] = uses
    assert {name: set(uses) for name, uses in called.items()} == \
        {name: set(uses) for name, uses in api.BUILDS_ON.items()}
