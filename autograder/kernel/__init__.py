"""What runs inside a student's kernel: the only code of the course a stranger's code can touch.

The sandbox mounts this folder, alone, into every graded kernel (``pipeline/sandbox.py``).
The hidden tests' one call, ``check.check_function``, calls the student's function
on the grader's secret inputs (``call``) and posts what it did through the
``mailbox``; the grader judges outside. Nothing here judges, draws inputs, or
imports the reference or the pipeline: only the standard library, NumPy, each
other, and IPython's display (to post). The one exception is the trusted path
of ``check_function`` without a grader (plain nbgrader), which the sandbox
never takes: there the pipeline's comparison runs in the kernel. A test keeps it so.
"""
