"""The hidden tests' one entry point: ``check_function("forget_gate", forget_gate)``.

Under the course's grader the kernel finds a mailbox inbox: the function runs
on the inputs the grader drew and the outcomes are posted, nothing is judged
here. Without an inbox (plain ``nbgrader autograde``, an instructor's own
Jupyter) this kernel is itself the trusted grader and judges in place.
"""

from . import mailbox
from .call import call_function


def check_function(name, function, seed=None, only=None):
    """Grade `function` as the API function `name` on hidden inputs.

    only: the keys of a dict result this test cell judges (e.g. one gate's
    gradients), so that one wrong entry costs only the cells that judge it.
    Under the course's grader the judge reads `only` from the instructor's
    source, never from the kernel.

    Under the course's grader: run it and post the outcomes. Otherwise: raise
    AssertionError naming the first problem found on random inputs (the
    message says how to reproduce it with the same `seed`).
    """
    if mailbox.active():
        mailbox.post(name, [vars(call_function(name, function, arguments)) for arguments in mailbox.inputs(name)])
        return
    # No grader outside: only a trusted kernel gets here, which has the whole package (the sandbox never does).
    from autograder.pipeline.compare import check_in_place
    check_in_place(name, function, seed, only)
