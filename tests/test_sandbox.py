"""The kernel sandbox holds: what student code can see, reach and use up."""

import os
import socket
import subprocess
import sys
import threading

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from autograder.pipeline.sandbox import (
    ROOT_MODE,
    SANDBOX_WORK,
    UID_BASE,
    USER_NAMESPACE_MODE,
    SandboxedKernelManager,
    check_sandbox,
)
from tests.support import ROOT

AS_ROOT = os.geteuid() == 0  # root: a user id per kernel; anyone else: a user namespace per kernel


def run_in_sandbox(workdir, *sources, timeout=60, **limits):
    """Execute code cells in a sandboxed kernel; return each cell's printed text or 'ErrorName: message'."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    for name, value in limits.items():
        setattr(config.SandboxedKernelManager, name, value)
    client = NotebookClient(nb, config=config, kernel_manager_class=SandboxedKernelManager, timeout=timeout,
                            allow_errors=True, resources={"metadata": {"path": str(workdir)}})
    client.execute()
    results = []
    for cell in nb.cells:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        results.append((text + "".join(errors)).strip())
    return results


@pytest.fixture
def submission(tmp_path):
    """A submission folder with an instructor's secret beside it, as in a real course directory."""
    (tmp_path / "secret_gradebook.db").write_text("the gradebook")
    work = tmp_path / "autograded" / "alice" / "ex3_lstm_gates"
    work.mkdir(parents=True)
    (work / "data.txt").write_text("alice's data")
    return work


def test_the_sandbox_can_start_here_in_the_mode_of_this_user():
    assert check_sandbox() == (ROOT_MODE if AS_ROOT else USER_NAMESPACE_MODE)


def test_kernel_sees_only_its_submission_and_the_system(submission):
    who, files, course, own, theirs = run_in_sandbox(
        submission,
        "import os; print(os.getuid(), os.getcwd())",
        f"print(sorted(os.listdir('.')), "
        f"os.path.exists({str(submission.parent.parent.parent)!r} + '/secret_gradebook.db'))",
        f"print(os.path.exists({str(ROOT)!r} + '/solutions'), os.path.exists({str(ROOT)!r} + '/autograder'), "
        "os.path.exists('/root/.ssh'))",
        "open('notes.txt', 'w').write('ok'); print(open('data.txt').read())",
        "open('data.txt', 'w')",
    )
    uid, cwd = who.split()
    assert int(uid) >= UID_BASE if AS_ROOT else int(uid) == os.geteuid()
    assert cwd == SANDBOX_WORK
    assert files == "['data.txt'] False"
    assert course == "False False False"
    assert own == "alice's data"
    assert theirs.startswith("OSError") and "Read-only file system" in theirs
    assert (submission / "data.txt").read_text() == "alice's data" and not (submission / "notes.txt").exists()


@pytest.mark.requires_root  # only root can give kernels user ids
def test_two_kernels_at_once_run_as_different_users():
    first, second = SandboxedKernelManager(), SandboxedKernelManager()
    assert first.uid != second.uid and min(first.uid, second.uid) >= UID_BASE
    for km in (first, second):
        run_sync(km.cleanup_resources)()
        assert not km.private_dir.exists()


def test_each_kernel_has_user_namespace_of_its_own_without_root_and_can_make_no_other(submission):
    """Without root, what keeps two kernels' process counts and files apart is a user namespace each."""
    probe = ("import os, subprocess; print(os.readlink('/proc/self/ns/user'), "
             "subprocess.run(['unshare', '--user', 'true'], capture_output=True).returncode)")
    (first,), (second,) = run_in_sandbox(submission, probe), run_in_sandbox(submission, probe)
    (first_ns, nested), (second_ns, _) = first.split(), second.split()
    own = os.readlink("/proc/self/ns/user")
    if AS_ROOT:
        assert first_ns == second_ns == own  # root gives user ids instead
    else:
        assert len({first_ns, second_ns, own}) == 3
        assert nested != "0"  # --disable-userns: no namespace of its own to gain capabilities in


def test_system_is_read_only_and_reference_is_not_importable(submission):
    write, reference, helpers = run_in_sandbox(
        submission, "open('/usr/lib/x', 'w')", "import autograder.course.reference",
        "import autograder.kernel.check, sys; "
        "print(sorted(m for m in sys.modules if m.startswith('autograder')))")
    assert write.startswith("OSError") and "Read-only file system" in write
    assert reference.startswith("ModuleNotFoundError")
    # the modules the hidden tests need import, and pull in no reference
    assert helpers == ("['autograder', 'autograder.kernel', 'autograder.kernel.call', 'autograder.kernel.check', "
                       "'autograder.kernel.mailbox']")


def test_nothing_on_disk_is_writable_and_tmp_is_bounded(submission):
    sockets, home, tmp = run_in_sandbox(
        submission,
        "import glob, os; folder = os.path.dirname(glob.glob('/tmp/autograder-kernel-*/kernel/connection.json')[0]); "
        "open(folder + '/x', 'w')",
        "print(os.path.expanduser('~'), os.access(os.path.expanduser('~'), os.W_OK))",
        "open('/tmp/big', 'wb').write(bytes(64 * 1024**2))", tmp_mb=32)
    # root takes the socket folder back; in a user namespace the kernel owns it (README: not protected)
    assert sockets.startswith("PermissionError") if AS_ROOT else sockets == "", sockets
    assert home == "/tmp True"
    assert tmp.startswith("OSError") and "No space left on device" in tmp


def test_no_network_even_to_this_machine(submission):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    (result,) = run_in_sandbox(submission, f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)")
    server.close()
    assert result.startswith(("ConnectionRefusedError", "OSError", "TimeoutError")), result
    assert not accepted


def test_memory_limit_stops_a_memory_bomb(submission):
    bomb, after = run_in_sandbox(submission, "b = bytearray(3 * 1024**3)", "print('still here')", memory_mb=1024)
    assert bomb.startswith("MemoryError")
    assert after == "still here"


def test_process_limit_stops_a_fork_bomb(submission):
    (result,) = run_in_sandbox(submission, """
import os, time
children = []
try:
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
except OSError as e:
    print('stopped after', len(children), type(e).__name__)
finally:
    for pid in children:
        os.kill(pid, 9)
""", processes=40)
    assert result.startswith("stopped after") and "BlockingIOError" in result
    assert int(result.split()[2]) < 40


def test_cpu_limit_kills_an_endless_loop(submission):
    with pytest.raises(DeadKernelError):
        run_in_sandbox(submission, "while True: pass", cpu_seconds=2, timeout=60)


def test_without_user_namespaces_grade_stops_with_one_line_saying_so(tmp_path):
    """A system that forbids user namespaces, made by bubblewrap's --disable-userns around the command."""
    submitted = tmp_path / "grading" / "submitted" / "alice" / "ex3_lstm_gates"
    submitted.mkdir(parents=True)
    (submitted / "ex3_lstm_gates.ipynb").write_text("{}")  # never read: the sandbox check comes first
    command = [sys.executable, "-m", "autograder", "--course-dir", str(tmp_path / "grading"), "grade", "ex3_lstm_gates"]
    run = subprocess.run(["bwrap", "--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000",
                          "--dev-bind", "/", "/", "--", *command], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert run.returncode == 1 and run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("autograder grade: cannot sandbox student code: bubblewrap fails here")
    assert "user namespaces" in line and "--no-sandbox" in line
    assert sorted(p.name for p in (tmp_path / "grading").iterdir()) == ["submitted"]  # nothing written


def test_a_venv_reached_through_a_symlink_runs_in_the_sandbox(tmp_path):
    """bwrap made the link's missing parent folders 0700: the kernel user could not reach its own Python."""
    link = tmp_path / "elsewhere" / "venv"
    link.parent.mkdir()
    link.symlink_to(os.path.realpath(sys.prefix))
    grader = ("import os, subprocess, sys, tempfile\n"
              "from autograder.pipeline import sandbox\n"
              "uid = sandbox.sandbox_uid() if sandbox.sandbox_mode() == sandbox.ROOT_MODE else None\n"
              "kernel = [sys.executable, '-c', 'import sys; print(sys.prefix)']\n"
              "argv = sandbox.sandbox_argv(kernel, None, tempfile.mkdtemp(), uid)\n"
              "print(subprocess.run(argv, capture_output=True, text=True).stdout.strip())\n")
    run = subprocess.run([link / "bin" / "python", "-c", grader], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.stdout.strip() == str(link), run.stderr
