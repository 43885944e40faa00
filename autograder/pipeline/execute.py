"""Run a submission's notebook in the sandbox, and take the hidden tests' outcomes out of it.

``SandboxedExecute`` is nbgrader's ``Execute`` step with four changes:

* the kernel runs in the sandbox (``sandbox.py``; or unconfined with
  ``sandbox=False``, for trusted submissions), with the hidden tests' secret
  inputs in its inbox (drawn by the instructor's process, ``secret_inputs``);
* outcome messages the hidden tests post (``mailbox.OUTCOME``) are taken out of
  the notebook as they arrive and kept, per cell, for ``judge.JudgeHiddenTests``;
* a cell that kills the kernel (``os._exit``, running out of memory) or runs
  past its timeout is skipped: the notebook runs again on a fresh kernel
  without it, so the cells after it still earn their points; the whole
  notebook has a wall-time limit, after which the cells left are marked as not run.
  A kernel that dies without acknowledging a cell may have been killed by the
  cell before (one that stopped the kernel after it had finished): a run more
  asks the kernel, just before that cell, whether it still serves;
* the outputs kept in the graded notebook are capped as they arrive (a
  submission that prints 100 MB keeps the first ``max_output`` bytes and a
  note), widget state and output metadata included; each cell's first error
  and first text on stderr are kept past the cap, shortened: they fail the cell.

``CapGradedNotebook``, in place of nbgrader's ``LimitOutput``, then holds the
whole graded notebook (its metadata, each cell's metadata, attachments and
outputs) to ``max_output`` bytes as written, keeping every cell's failure first.
"""

import copy
import json
import math
import time
from collections import defaultdict

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute, LimitOutput
from traitlets import Bool, Enum, Integer

from autograder.kernel import mailbox

from . import limits
from .results import error_output
from .sandbox import MailboxKernelManager, SandboxedKernelManager

MAX_ERROR_TEXT = 2000  # characters kept of an error's message and of each traceback line
MAX_TRACEBACK = 60     # traceback lines kept
TRUNCATED = "truncated"  # metadata key of a notebook or cell: what of it was cut to keep the notebook in its limit
GRADER_METADATA = {"notebook": ("kernelspec", "language_info"), "cell": ("nbgrader",)}  # ours: never cut


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
            self.outcomes, self.kept, self.truncated, self.failed = defaultdict(list), 0, set(), set()
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
        size = output_size(kind, content)
        if self.kept + size <= self.max_output:
            self.kept += size
            return self.keep_output(outs, msg, display_id, cell_index)
        room = max(0, self.max_output - self.kept)
        self.kept = self.max_output
        if is_failure(kind, content) and cell_index not in self.failed:
            # A cell's first error or stderr decides its score (nbgrader's rule): it outlives the cap, shortened.
            if kind == "stream":
                content["text"] = content["text"][:MAX_ERROR_TEXT]
            self.keep_output(outs, msg, display_id, cell_index)
        elif kind == "stream" and room:
            content["text"] = content["text"][:room]
            self.keep_output(outs, msg, display_id, cell_index)
        if cell_index not in self.truncated:
            self.truncated.add(cell_index)
            note = {"msg_type": "stream", "parent_header": msg["parent_header"],
                    "header": dict(msg["header"], msg_type="stream"),  # nbformat reads the type from the header
                    "metadata": {}, "content": {"name": "stdout", "text": f"\n{truncation_note(self.max_output)}\n"}}
            return super().output(outs, note, None, cell_index)
        return None

    def keep_output(self, outs, msg, display_id, cell_index):
        if is_failure(msg["msg_type"], msg["content"]):
            self.failed.add(cell_index)
        return super().output(outs, msg, display_id, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget state (nbclient keeps it in the notebook's metadata) counts against the cap like outputs."""
        size = output_size(msg["msg_type"], msg["content"]) + sum(len(b) for b in msg.get("buffers") or [])
        if self.kept + size > self.max_output:
            self.kept = self.max_output
            self.nb.metadata[TRUNCATED] = truncation_note(self.max_output, "widget state")
            return
        self.kept += size
        try:
            super().handle_comm_msg(outs, msg, cell_index)
        except (KeyError, TypeError, AttributeError, ValueError):  # not a widget nbclient can read: ignored
            self.log.warning("ignored a malformed widget message of cell %s", cell_index)

    def _update_display_id(self, display_id, msg):
        content = dict(msg["content"])
        if isinstance(content.get("data"), dict):
            content["data"] = {k: v for k, v in content["data"].items() if k != mailbox.OUTCOME}
        if msg["msg_type"] == "update_display_data":  # replaces an output: capped like a new one
            size = output_size(msg["msg_type"], content)
            if self.kept + size > self.max_output:
                content["data"] = {"text/plain": truncation_note(self.max_output)}
                content["metadata"] = {}
            self.kept = min(self.max_output, self.kept + size)
        super()._update_display_id(display_id, dict(msg, content=content))

    def take_outcome(self, cell_index, data) -> None:
        """Keep one hidden call's outcomes for the cell that was running; a malformed one as its reason."""
        try:
            self.outcomes[cell_index].append(mailbox.read_outcome(data))
        except (mailbox.Malformed, RecursionError, ValueError) as error:
            self.outcomes[cell_index].append(("", f"a malformed outcome ({str(error)[:200]})"))


def output_size(kind: str, content) -> int:
    """About the characters an output message adds to the notebook (a stream's text, or all of the rest)."""
    if kind == "stream":
        return len(content.get("text", ""))
    if kind == "error":  # as shorten_error will keep it
        return min(len(str(content.get("evalue"))), MAX_ERROR_TEXT) + min(
            len(str(content.get("traceback"))), MAX_ERROR_TEXT * MAX_TRACEBACK)
    return len(json.dumps({key: value for key, value in content.items() if key != "transient"}, default=str))


def is_failure(kind: str, content) -> bool:
    """Whether an output fails its cell for nbgrader: an error, or text on stderr."""
    return kind == "error" or kind == "stream" and content.get("name") == "stderr"


def truncation_note(limit: int, what: str = "") -> str:
    return f"[output truncated{': ' + what if what else ''}: the notebook's outputs reached the limit of " \
           f"{limit / 2**20:g} MB]"


def shorten_error(output) -> None:
    output.evalue = output.evalue[:MAX_ERROR_TEXT]
    lines = [line[:MAX_ERROR_TEXT] for line in output.traceback]
    output.traceback = lines[:MAX_TRACEBACK // 2] + lines[-MAX_TRACEBACK // 2:] if len(lines) > MAX_TRACEBACK else lines


class CapGradedNotebook(LimitOutput):
    """nbgrader's LimitOutput, then the whole graded notebook held to ``max_output`` bytes.

    Whether a cell failed is kept first: its first error and first stderr (nbgrader's rule of a failed
    cell) survive both limits, shortened if need be. Then everything else a submission can make the notebook
    hold is kept in notebook order while it fits, counted as nbformat writes it: the notebook's metadata
    (widget state included), each cell's metadata, attachments and outputs. What does not fit is removed
    (a stream is cut), and the notebook or cell says so (its ``truncated`` metadata, a note in its outputs).
    The cells' sources are the notebook itself, not capped.
    """

    max_output = Integer(limits.MAX_OUTPUT_MB * 2**20, config=True, help="Bytes of outputs and metadata kept.")

    def _limit_stream_output(self, cell):
        before = list(cell.get("outputs", []))
        stderr = next((o for o in before if o.output_type == "stream" and o.get("name") == "stderr"), None)
        cell = super()._limit_stream_output(cell)
        if stderr is not None and not any(o is stderr for o in cell.outputs):
            position = sum(any(o is kept for kept in cell.outputs) for o in before[:before.index(stderr)])
            cell.outputs.insert(position, nbformat.v4.new_output("stream", name="stderr",
                                                                 text=stderr.text[:MAX_ERROR_TEXT]))
        return cell

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        self.room = self.max_output
        failures = {id(o) for cell in nb.cells for o in first_failures(cell)}
        for cell in nb.cells:
            for output in first_failures(cell):
                self.room -= self.fit_failure(output)
        self.fit_mapping("metadata", nb.metadata, GRADER_METADATA["notebook"], depth=2, owner=nb.metadata)
        for cell in nb.cells:
            self.fit_mapping("metadata", cell.metadata, GRADER_METADATA["cell"], depth=4, owner=cell.metadata)
            if "attachments" in cell:
                self.fit_mapping("attachments", cell.attachments, (), depth=4, owner=cell.metadata)
            if cell.cell_type == "code":
                self.fit_outputs(cell, failures)
        return nb, resources

    def fit_failure(self, output) -> int:
        """Keep a failure signal; shortened to its first MAX_ERROR_TEXT characters if it does not fit."""
        size = written_size(output, 5)
        if size > self.room:
            if output.output_type == "error":
                output.evalue = output.evalue[:MAX_ERROR_TEXT]
                output.traceback = [f"{output.ename}: {output.evalue}"]
            else:
                output.text = output.text[:MAX_ERROR_TEXT]
            size = written_size(output, 5)
        return size

    def fit_mapping(self, kind, mapping, ours, depth, owner) -> None:
        """Keep the entries of a metadata or attachments mapping that fit; note the names of those removed."""
        removed = []
        for name in [name for name in mapping if name not in ours]:
            size = written_size(mapping[name], depth) + len(name) + 4
            if size <= self.room:
                self.room -= size
            else:
                del mapping[name]
                removed.append(name)
        if removed:
            owner[TRUNCATED] = truncation_note(self.max_output, f"{kind} {', '.join(removed)[:200]}")

    def fit_outputs(self, cell, failures) -> None:
        kept, cut = [], False
        for output in cell.outputs:
            if id(output) in failures:
                kept.append(output)
                continue
            size = written_size(output, 5)
            if size > self.room and output.output_type == "stream":
                wrapping = size - written_size(output.text, 5)
                cut, output.text = True, cut_text(output.text, self.room - wrapping)
                size = written_size(output, 5)
            if size <= self.room and output.get("text") != "":
                self.room -= size
                kept.append(output)
            else:
                cut = True
        note = truncation_note(self.max_output)
        if cut and not any(note in o.get("text", "") for o in kept):
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=f"\n{note}\n"))
        cell.outputs = kept


def first_failures(cell) -> list:
    """A code cell's first error and first stderr output: what fails it."""
    outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
    error = next((o for o in outputs if o.output_type == "error"), None)
    stderr = next((o for o in outputs if o.output_type == "stream" and o.get("name") == "stderr"), None)
    return [o for o in (error, stderr) if o is not None]


def written_size(value, depth: int) -> float:
    """At least the bytes value takes in the file nbformat writes, nested depth levels deep: one space of
    indentation per level, and every text of several lines as a list of lines (nbformat splits some)."""
    try:
        text = json.dumps(as_lines(value), indent=1, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested too deep to write, or a cycle: it does not fit
        return math.inf
    return len(text.encode("utf-8", "surrogatepass")) + text.count("\n") * depth


def as_lines(value):
    if isinstance(value, str):
        return value.splitlines(True) if "\n" in value else value
    if isinstance(value, dict):
        return {key: as_lines(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_lines(item) for item in value]
    return value


def cut_text(text: str, room: float) -> str:
    """The longest start of text (found in a few tries) whose written size fits in room."""
    while text and written_size(text, 5) > room:
        text = text[:int(len(text) * max(0, room) / written_size(text, 5)) - 1]
    return text
