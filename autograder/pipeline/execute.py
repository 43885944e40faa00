"""Run a submission's notebook in the sandbox, and take the hidden tests' outcomes out of it.

``SandboxedExecute`` is nbgrader's ``Execute`` step with four changes:

* the kernel runs in the sandbox (``sandbox.py``; or unconfined with
  ``sandbox=False``, for trusted submissions), with the hidden tests' secret
  inputs in its inbox (drawn by ``secret_inputs.DrawSecretInputs``);
* outcome messages the hidden tests post (``mailbox.OUTCOME``) are taken out of
  the notebook as they arrive and kept, per cell, for ``judge.JudgeHiddenTests``;
* a cell that kills the kernel (``os._exit``, running out of memory) or runs
  past its timeout is skipped: the notebook runs again on a fresh kernel
  without it, so the cells after it still earn their points; the whole
  notebook has a wall-time limit, after which the cells left are marked as not run.
  A kernel that dies without acknowledging a cell may have been killed by the
  cell before (one that stopped the kernel after it had finished): a run more
  asks the kernel, just before that cell, whether it still serves;
* the outputs kept in the graded notebook are capped (a submission that prints
  100 MB keeps the first ``max_output`` bytes and a note); errors are always
  kept (they decide the score), shortened.
"""

import copy
import time
from collections import defaultdict

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Integer

from autograder.kernel import mailbox

from . import limits
from .results import error_output
from .sandbox import MailboxKernelManager, SandboxedKernelManager

MAX_ERROR_TEXT = 2000  # characters kept of an error's message and of each traceback line
MAX_TRACEBACK = 60     # traceback lines kept


class KernelHung(CellTimeoutError):
    """The kernel neither answered nor died within the cell timeout, after a cell had finished."""


class SandboxedExecute(Execute):
    sandbox = Bool(True, help="Run kernels in the sandbox; False only for trusted submissions.").tag(config=True)
    time_limit = Integer(limits.TIME_LIMIT, config=True, help="Seconds the whole notebook may run (restarts included).")
    max_output = Integer(limits.MAX_OUTPUT_MB * 2**20, config=True, help="Bytes of cell outputs kept in the notebook.")
    max_restarts = Integer(limits.MAX_RESTARTS, config=True,
                           help="Cells that killed or hung the kernel a notebook may skip, each on a fresh kernel "
                                "(finding the cell of a silent death takes one run more, not counted).")
    interrupt_on_timeout = Bool(False)  # a cell past its time is skipped on a fresh kernel instead
    shutdown_kernel = Enum(["graceful", "immediate"], "immediate")  # a used kernel holds nothing worth keeping
    shell_timeout_interval = Integer(1)  # seconds between liveness checks while ask_kernel waits, as during a cell

    def preprocess(self, nb, resources=None, km=None):
        self.deadline = time.monotonic() + self.time_limit
        hidden = resources.setdefault("hidden_tests", {})
        self.inbox_cases = hidden.get("inputs", {})
        original, skipped, self.probe = copy.deepcopy(nb), {}, None
        # Each run ends the loop, skips a cell (at most max_restarts of them), or probes a silent death at a
        # later cell than the probe before: finding a silent death's cell costs one run, not one of the restarts.
        while True:
            nb, self.skipped = copy.deepcopy(original), skipped
            self.running = self.previous = None  # cell indices: being run, last one run
            self.outcomes, self.kept, self.truncated = defaultdict(list), 0, set()
            try:
                nb, resources = super().preprocess(nb, resources)
                break
            except (DeadKernelError, CellTimeoutError) as error:
                if self.running is None:
                    raise  # the kernel did not even start: nothing to grade
                if self.deadline_passed() or len(skipped) == self.max_restarts:
                    self.give_up(nb, self.running, len(skipped))
                    break
                if (isinstance(error, DeadKernelError) and not self.acknowledged and self.previous is not None
                        and (self.probe is None or self.running > self.probe)):
                    # Died without a word at this cell: os._exit can lose even the kernel's acknowledgement,
                    # but a kernel the cell before stopped after it finished is silent too. Run again, and
                    # ask the kernel just before this cell whether it still serves (see preprocess_cell).
                    self.probe = self.running
                    continue
                skipped[self.running], self.probe = self.skip_reason(error), None
        hidden["outcomes"] = dict(self.outcomes)
        return nb, resources

    # --- the kernel --------------------------------------------------------------------

    def create_kernel_manager(self):
        self.kernel_manager_class = SandboxedKernelManager if self.sandbox else MailboxKernelManager
        km = super().create_kernel_manager()
        km.write_inbox(self.inbox_cases)
        return km

    def _get_timeout(self, cell):
        # nbclient treats 0 as "no timeout": past the deadline a cell gets a token 10 ms
        return max(0.01, min(self.timeout, self.deadline - time.monotonic()))

    def deadline_passed(self) -> bool:
        return time.monotonic() >= self.deadline

    # --- cells -------------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        if index in self.skipped:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [error_output("CellSkipped", self.skipped[index])], None
            return cell, resources
        if cell.cell_type == "code" and cell.source.strip():
            if index == self.probe:
                self.ask_kernel(cell)
            self.previous, self.running, self.acknowledged = self.running, index, False
        cell, resources = super().preprocess_cell(cell, resources, index)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                shorten_error(output)
        return cell, resources

    def ask_kernel(self, cell) -> None:
        """Whether the kernel survived the cell run last, by a request only a serving kernel answers.

        nbclient's wait for the reply polls the kernel process: it raises DeadKernelError once the process
        is gone, however long a loaded machine takes to end it. Both that error and KernelHung (no answer
        within the cell timeout) come while ``self.running`` is still the cell run last: it is skipped.
        """
        try:
            self.wait_for_reply(self.kc.kernel_info(), cell)
        except CellTimeoutError:
            raise KernelHung(f"the kernel did not answer within {self.timeout} s") from None

    def skip_reason(self, error) -> str:
        if isinstance(error, KernelHung):
            return (f"the kernel stopped answering after this cell (for {self.timeout} s); "
                    "the notebook was run again without it")
        if isinstance(error, CellTimeoutError):
            return f"this cell ran longer than {self.timeout} s; the notebook was run again without it"
        return ("the kernel died while running this cell (it exited, crashed or ran out of memory); "
                "the notebook was run again without it")

    def give_up(self, nb, index, restarts) -> None:
        """Mark the cell that was running and every code cell after it as not run."""
        reason = (f"not run: the notebook reached its time limit of {self.time_limit} s" if self.deadline_passed()
                  else f"not run: the kernel had already been restarted {restarts} times")
        for cell in nb.cells[index:]:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [error_output("CellSkipped", reason)], None

    # --- outputs -----------------------------------------------------------------------

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "execute_input":
            self.acknowledged = True
        return super().process_message(msg, cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        content, kind = msg["content"], msg["msg_type"]
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        if mailbox.OUTCOME in data:
            outcome = data.pop(mailbox.OUTCOME)
            if kind == "display_data":
                self.take_outcome(cell_index, outcome)
            if not data:
                return None
        if kind == "error":
            return super().output(outs, msg, display_id, cell_index)
        size = output_size(content)
        if self.kept + size > self.max_output:
            room = max(0, self.max_output - self.kept)
            self.kept = self.max_output
            if kind == "stream" and room:
                content["text"] = content["text"][:room]
                super().output(outs, msg, display_id, cell_index)
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                note = {"msg_type": "stream", "parent_header": msg["parent_header"], "header": msg["header"],
                        "metadata": {}, "content": {"name": "stdout", "text": (
                            f"\n[output truncated: the notebook's outputs reached the limit of "
                            f"{self.max_output / 2**20:g} MB]\n")}}
                return super().output(outs, note, None, cell_index)
            return None
        self.kept += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        content = dict(msg["content"])
        if isinstance(content.get("data"), dict):
            content["data"] = {k: v for k, v in content["data"].items() if k != mailbox.OUTCOME}
        if msg["msg_type"] == "update_display_data":  # replaces an output: capped like a new one
            size = output_size(content)
            if self.kept + size > self.max_output:
                content["data"] = {"text/plain": "[output truncated: the notebook's outputs reached their limit]"}
            self.kept = min(self.max_output, self.kept + size)
        super()._update_display_id(display_id, dict(msg, content=content))

    def take_outcome(self, cell_index, data) -> None:
        """Keep one hidden call's outcomes for the cell that was running; a malformed one as its reason."""
        try:
            self.outcomes[cell_index].append(mailbox.read_outcome(data))
        except (mailbox.Malformed, RecursionError, ValueError) as error:
            self.outcomes[cell_index].append(("", f"a malformed outcome ({str(error)[:200]})"))


def output_size(content) -> int:
    """Characters of an output message's visible content."""
    if "text" in content:
        return len(content["text"])
    return sum(len(str(value)) for value in (content.get("data") or {}).values())


def shorten_error(output) -> None:
    output.evalue = output.evalue[:MAX_ERROR_TEXT]
    lines = [line[:MAX_ERROR_TEXT] for line in output.traceback]
    output.traceback = lines[:MAX_TRACEBACK // 2] + lines[-MAX_TRACEBACK // 2:] if len(lines) > MAX_TRACEBACK else lines
