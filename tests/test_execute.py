"""The sandboxed run: crashes cost only their own cell, outputs are capped,
hidden calls' outcomes leave the kernel and are judged outside it."""


import nbformat
import pytest
from traitlets.config import Config

from autograder.pipeline.execute import SandboxedExecute
from autograder.pipeline.judge import verdict
from autograder.pipeline.secret_inputs import draw_inputs

pytestmark = pytest.mark.sandboxed

CHECK = "from autograder.kernel.check import check_function\ncheck_function('forget_gate', forget_gate)"
SOLUTION = ("import numpy as np\n"
            "def forget_gate(x_t, h_prev, W_f, U_f, b_f):\n"
            "    z = x_t @ W_f + h_prev @ U_f + b_f\n"
            "    return 1 / (1 + np.exp(-z))\n")


def execute(tmp_path, *sources, inputs=None, sandbox=True, **settings):
    """Run cells through SandboxedExecute; (each cell's outputs as text, the hidden outcomes per cell)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    config.SandboxedExecute.sandbox = sandbox
    for name, value in settings.items():
        setattr(config.SandboxedExecute, name, value)
    resources = {"metadata": {"path": str(tmp_path)}, "hidden_tests": {"inputs": inputs or {}}}
    nb, resources = SandboxedExecute(config=config).preprocess(nb, resources)
    texts = ["".join(o.get("text", "") if o.output_type == "stream"
                     else f"{o.get('ename', '')}: {o.get('evalue', '')}" if o.output_type == "error"
                     else str(o.get("data", "")) for o in cell.outputs) for cell in nb.cells]
    return texts, resources["hidden_tests"]["outcomes"]


def test_a_cell_that_kills_the_kernel_is_skipped_and_the_rest_runs(tmp_path):
    texts, _ = execute(tmp_path, "a = 1", "import os; os._exit(3)", "print('after', a)", timeout=60)
    assert texts[1].startswith("CellSkipped: the kernel died while running this cell")
    assert texts[2] == "after 1\n"


def test_a_kernel_stopped_by_a_cell_that_then_finished_blames_that_cell(tmp_path):
    texts, _ = execute(tmp_path, "a = 1", "import asyncio; asyncio.get_event_loop().stop(); b = 2",
                       "print('after', a)", timeout=60)
    assert texts[1].startswith("CellSkipped: the kernel died while running this cell")
    assert texts[2] == "after 1\n"


def test_a_kernel_stopped_by_a_cell_costs_that_cell_only_however_many_cells_follow(tmp_path):
    """The reply of the stopping cell may arrive before the kernel ends: then the next cell finds it dead
    without a word. Which cell is to blame must not depend on how fast a loaded machine ends a process, and
    finding it must not use up a restart: one is all this notebook gets."""
    later = [f"print({k})" for k in range(6)]
    texts, _ = execute(tmp_path, "a = 1", "import asyncio; asyncio.get_event_loop().stop()", *later, timeout=60,
                       max_restarts=1)
    assert texts[1].startswith("CellSkipped: the kernel died while running this cell")
    assert texts[2:] == [f"{k}\n" for k in range(6)]


def test_a_kernel_that_takes_seconds_to_end_after_a_cell_stopped_it_blames_that_cell(tmp_path):
    """Its process outlives the stop by 3 s (an exit handler): a fixed wait to see it gone would blame the next
    cell. The cell timeout, 30 s, is ten times that; nothing else here depends on how long anything takes."""
    stop = "import asyncio, atexit, time; atexit.register(time.sleep, 3); asyncio.get_event_loop().stop()"
    texts, _ = execute(tmp_path, "a = 1", stop, "print('after', a)", "print('last')", timeout=30)
    assert texts[1].startswith("CellSkipped: the kernel died while running this cell")
    assert texts[2:] == ["after 1\n", "last\n"]


def test_a_cell_past_its_timeout_is_skipped_even_if_it_ignores_interrupts(tmp_path):
    # 5 s is thousands of times what "a = 2" needs; the loop would run forever.
    texts, _ = execute(tmp_path, "a = 2",
                       "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
                       "print('after', a)", timeout=5)
    assert texts[1] == "CellSkipped: this cell ran longer than 5 s; the notebook was run again without it"
    assert texts[2] == "after 2\n"


def test_the_notebook_time_limit_marks_the_cells_left_as_not_run(tmp_path):
    """The limit counts from before the kernel starts: the margins are many multiples of a loaded start-up
    (about 1 s) on one side, and of the limit (a cell that would sleep an hour) on the other."""
    texts, _ = execute(tmp_path, "print('first')", "x = 1", "import time; time.sleep(3600)", "print('last')",
                       timeout=3600, time_limit=60)
    assert texts[0] == "first\n" and texts[1] == ""
    assert texts[2] == texts[3] == "CellSkipped: not run: the notebook reached its time limit of 60 s"


def test_outputs_are_capped_but_errors_kept(tmp_path):
    texts, _ = execute(tmp_path, "print('x' * 5_000_000)", "print('more'); assert False, 'the test failed'",
                       max_output=2**20)
    assert len(texts[0]) < 2**20 + 200 and texts[0].endswith("[output truncated: the notebook's outputs "
                                                             "reached the limit of 1 MB]\n")
    assert texts[1].endswith("AssertionError: the test failed") and "more" not in texts[1]


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "trusted"])
def test_hidden_outcomes_leave_the_kernel_and_are_judged_outside(tmp_path, sandbox):
    inputs = draw_inputs(["forget_gate"], "12" * 32, "ex3", "ex3", "carol", "digest")
    texts, outcomes = execute(tmp_path, SOLUTION, CHECK, "def forget_gate(*args):\n    return args[0] + 1", CHECK,
                              inputs=inputs, sandbox=sandbox)
    assert texts[1] == texts[3] == ""  # taken out of the notebook
    assert set(outcomes) == {1, 3}  # each cell's own calls
    assert verdict(["forget_gate"], outcomes[1], inputs) is None
    assert verdict(["forget_gate"], outcomes[3], inputs).startswith("forget_gate: f_t has shape")


def test_a_kernel_that_drops_its_inbox_cannot_judge_itself(tmp_path):
    """Without the inbox, check_function would compare in the kernel: it needs the pipeline, absent here."""
    texts, outcomes = execute(tmp_path, SOLUTION, "import os; os.environ.pop('AUTOGRADER_INBOX')\n" + CHECK)
    assert texts[1].startswith("ModuleNotFoundError: No module named 'autograder.pipeline'") and outcomes == {}
