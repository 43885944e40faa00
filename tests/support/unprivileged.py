"""Run the sandbox's tests again as an ordinary user: the grader without root (a user namespace per kernel).

    python -m tests.support.unprivileged        (as root; `make test` does)

Creates the system user ``USER`` if missing and runs ``TESTS`` as it with this
Python. The chosen tests are the ones that start sandboxed kernels: the sandbox's
own properties, the adversarial corpus through `autograder grade`, and one
assignment's solution and blank version graded end to end (ex3: its hidden tests;
ex4's Keras training would only add minutes, not sandbox).

A Python installed under a folder others cannot enter (pyenv in /root), or a
clone inside one (mktemp -d makes folders of mode 700), is made reachable for
this run only: the tests run in a mount namespace of their own where that
folder is an empty tmpfs holding just the Python installation and the clone,
bound back. Nothing of the machine's permissions changes.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import ROOT

USER = "autograder-tester"
TESTS = ["tests/test_sandbox.py", "tests/test_adversarial.py",
         "tests/test_grading_sandboxed.py::test_solution_earns_every_point_and_blank_none[ex3_lstm_gates]"]


def ensure_user() -> None:
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)


def closed_ancestor(path: Path) -> Path | None:
    """The outermost folder above path that other users cannot enter, or None."""
    for folder in reversed(path.parents):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def reach(paths) -> str:
    """Shell lines that, in a private mount namespace, let others reach these folders (this Python, the clone).

    Each closed outermost ancestor becomes an empty tmpfs holding just the folders asked for, bound back.
    """
    closed = {path: closed_ancestor(path) for path in paths}
    closed = {path: ancestor for path, ancestor in closed.items() if ancestor is not None}
    covers = {ancestor for ancestor in closed.values()
              if not any(other != ancestor and other in ancestor.parents for other in closed.values())}
    stages = {path: tempfile.mkdtemp(prefix="autograder-reach-") for path in closed}
    lines = [f"mount --bind {path} {stage}" for path, stage in stages.items()]
    lines += [f"mount -t tmpfs -o mode=755 tmpfs {cover}" for cover in sorted(covers)]
    lines += [f"mkdir -p {path} && mount --bind {stage} {path}" for path, stage in stages.items()]
    return "".join(f"{line} && " for line in lines)


def main(tests=TESTS) -> int:
    if os.geteuid() != 0:
        print("tests.support.unprivileged: run as root (it creates the user the tests run as)", file=sys.stderr)
        return 1
    ensure_user()
    home = tempfile.mkdtemp(prefix="autograder-tester-home-")
    os.chown(home, *(int(subprocess.check_output(["id", flag, USER])) for flag in ("-u", "-g")))
    pytest = " ".join([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *(f"'{t}'" for t in tests)])
    run_as_user = (f"runuser -u {USER} -- env HOME={home} PYTHONPATH={ROOT} PATH={os.path.dirname(sys.executable)}:"
                   f"/usr/bin:/bin {pytest}")
    reachable = [Path(os.path.realpath(sys.base_prefix)), Path(os.path.realpath(ROOT))]
    script = f"mount --make-rprivate / && {reach(reachable)}cd {ROOT} && {run_as_user}"
    return subprocess.run(["unshare", "--mount", "sh", "-c", script]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or TESTS))
