"""Run a submission's kernel inside a bubblewrap sandbox.

nbgrader executes student code with the instructor's permissions. Here the
kernel of each submission instead runs:

* under bubblewrap, in its own mount, network, PID, IPC and UTS namespaces:
  no network at all, a read-only view of the system and of the Python
  installation, and one writable place, a private ``/tmp`` in memory of
  limited size holding the submission's files (read-only) in
  ``/tmp/submission``, the kernel's working folder; the course (solutions/,
  the gradebook, other submissions, the instructor's home) is simply not there;
* as an unprivileged user id of its own (one per kernel, so that two
  submissions graded at once never share a process limit), with no
  capabilities;
* with limits on memory (the private writable memory of each process,
  RLIMIT_DATA: TensorFlow reserves far more address space than it uses),
  processes and CPU time (``prlimit``); the wall time
  per notebook and the size of kept outputs are enforced by the runner
  (``execute.py``).

The kernel talks to the grader over Unix sockets in a folder bound into the
sandbox (TCP would need the network the sandbox does not have); once the
kernel listens, the grader takes that folder back, so nothing on disk is
writable from inside. Of ``autograder`` the kernel sees one folder,
``autograder/kernel/`` (what the hidden tests run there): never the reference,
the solutions or the grader. The grader's inbox of secret inputs
(``kernel/mailbox.py``) is mounted read-only.

Use it from nbgrader/nbclient with
``c.Execute.kernel_manager_class = "autograder.pipeline.sandbox.SandboxedKernelManager"``.
"""

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Int, Unicode

from autograder import kernel
from autograder.kernel import mailbox

from . import limits

KERNEL_PACKAGE = Path(kernel.__file__).resolve().parent  # mounted as autograder.kernel: all of ours a kernel sees
SANDBOX_LIB = "/sandbox/lib"          # on the kernel's PYTHONPATH; autograder/ there is a namespace package
SANDBOX_INBOX = "/sandbox/inbox.json"
SANDBOX_TMP = "/tmp"                  # the private, size-limited, writable place (also HOME)
SANDBOX_WORK = "/tmp/submission"      # the kernel's working folder
NOTEBOOK_SUFFIX = ".ipynb"            # nbgrader's graded notebooks: never in the working folder
UID_BASE = 200_000                    # sandbox user ids: UID_BASE + 16 * grader pid + kernel number
TOOLS = ("bwrap", "prlimit", "setpriv")
_kernel_numbers = itertools.count()
# Only what Python code prints reaches the notebook: ipykernel would also forward C libraries' own writes
# to the process's stderr (TensorFlow's import banner), and nbgrader gives a test cell with stderr no points.
PYTHON_OUTPUT_ONLY = "--IPKernelApp.capture_fd_output=False"


class SandboxUnavailable(RuntimeError):
    """The machine cannot run the sandbox (message is for the instructor)."""


def check_sandbox() -> None:
    """Raise SandboxUnavailable, with one line saying what to do, unless a sandbox can start here."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(f"cannot sandbox student code: {', '.join(missing)} not found (install "
                                 "Debian's bubblewrap and util-linux, or pass --no-sandbox on a trusted machine)")
    if os.geteuid() != 0:
        raise SandboxUnavailable("cannot sandbox student code: the grader must run as root to give each kernel "
                                 "its own unprivileged user (or pass --no-sandbox on a trusted machine)")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        raise SandboxUnavailable(f"cannot sandbox student code: bubblewrap fails here ({reason}); "
                                 "allow user namespaces, or pass --no-sandbox on a trusted machine")


def sandbox_uid() -> int:
    """A user id no other live kernel has: this process's id and a kernel counter (16 kernels at once)."""
    return UID_BASE + 16 * os.getpid() + next(_kernel_numbers) % 16


def _open_parents(path):
    """Create path's missing parent folders traversable: bwrap would make them 0700, closed to the sandbox user."""
    parents = [p for p in Path(path).parents if str(p) != "/"]
    return [arg for p in reversed(parents) for arg in ("--perms", "0755", "--dir", str(p))]


def _system_binds():
    """Read-only binds of the operating system and of this Python (its base install and its venv)."""
    binds = []
    for path in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):
            binds += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds += ["--ro-bind", path, path]
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}):
        if not prefix.startswith("/usr"):
            binds += [*_open_parents(prefix), "--ro-bind", prefix, prefix]
    if sys.prefix != os.path.realpath(sys.prefix):  # a venv reached through a symlink
        binds += ["--symlink", os.path.realpath(sys.prefix), sys.prefix]
    return binds


def _submission_binds(folder):
    """The submission's files, read-only, in the working folder (symbolic links and notebooks are left out).

    The folder is nbgrader's autograded one: besides the submission's other files it holds the notebooks
    being graded, their test cells restored with the hidden tests. nbgrader copies every file of the
    submission there but its notebooks, so a notebook there is always nbgrader's: the kernel gets none.
    """
    binds = ["--perms", "1777", "--dir", SANDBOX_WORK]
    if folder is not None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if (not entry.is_symlink() and (entry.is_file() or entry.is_dir())
                    and not entry.name.endswith(NOTEBOOK_SUFFIX)):
                binds += ["--ro-bind", entry.path, f"{SANDBOX_WORK}/{entry.name}"]
    return binds


def sandbox_argv(kernel_argv, submission, runtime_dir, uid, inbox=None, memory_mb=limits.MEMORY_MB,
                 processes=limits.PROCESSES, cpu_seconds=limits.CPU_SECONDS, tmp_mb=limits.TMP_MB):
    """The command that runs kernel_argv in the sandbox.

    submission: the folder whose files the kernel sees (read-only) in its
    working folder, or None. runtime_dir: holds the connection file and the
    kernel's sockets. inbox: the grader's inbox file, mounted read-only, or None.
    """
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--dev", "/dev", "--proc", "/proc",
            "--size", str(tmp_mb * 1024 * 1024), "--perms", "1777", "--tmpfs", SANDBOX_TMP,
            "--symlink", SANDBOX_TMP, "/var/tmp",
            *_system_binds(), *_submission_binds(submission),
            *_open_parents(runtime_dir), "--bind", str(runtime_dir), str(runtime_dir)]
    kernel_target = f"{SANDBOX_LIB}/autograder/kernel"
    argv += [*_open_parents(kernel_target), "--ro-bind", str(KERNEL_PACKAGE), kernel_target]
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HOME": SANDBOX_TMP, "USER": "student",
           "PYTHONPATH": SANDBOX_LIB, "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if inbox is not None:
        argv += ["--ro-bind", str(inbox), SANDBOX_INBOX]
        env[mailbox.INBOX_ENV] = SANDBOX_INBOX
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # needed by this CPU's OpenBLAS, see env docs
        if name in os.environ:
            env[name] = os.environ[name]
    argv += ["--chdir", SANDBOX_WORK, "--clearenv"]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
             "prlimit", f"--data={memory_mb * 1024 * 1024}", f"--nproc={processes}", f"--cpu={cpu_seconds}",
             "--core=0", "--", *kernel_argv]
    return argv


class MailboxKernelManager(AsyncKernelManager):
    """A kernel that finds the grader's inbox of hidden inputs; runs unconfined (``--no-sandbox``)."""

    runtime_root = Unicode("", config=True, help="Where to put per-kernel folders (default: system temp).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.private_dir = Path(tempfile.mkdtemp(prefix="autograder-kernel-", dir=self.runtime_root or None))
        self.inbox = self.private_dir / "inbox.json"

    def write_inbox(self, cases: dict) -> None:
        """The hidden tests' inputs {function: [arguments]}, for the kernel that starts next."""
        mailbox.write_inbox(self.inbox, cases)

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.inbox.exists():
            kw["env"] = dict(kw.get("env") or os.environ, **{mailbox.INBOX_ENV: str(self.inbox)})
        return self.graded_kernel(kernel_cmd, kw)

    def graded_kernel(self, kernel_cmd, kw):
        """Python output only in the notebook; the process's own stdout and stderr go nowhere (not to a terminal)."""
        kw.update(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return kernel_cmd + ([PYTHON_OUTPUT_ONLY] if self.ipykernel else []), kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.private_dir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # jupyter_client binds the name to its own method


class SandboxedKernelManager(MailboxKernelManager):
    """A kernel manager whose kernels run in the sandbox (configure limits with traitlets)."""

    memory_mb = Int(limits.MEMORY_MB, config=True, help="Private writable memory of each kernel process, in MiB.")
    processes = Int(limits.PROCESSES, config=True, help="Most processes (and threads) the kernel may run at once.")
    cpu_seconds = Int(limits.CPU_SECONDS, config=True, help="CPU time limit of the kernel, in seconds.")
    tmp_mb = Int(limits.TMP_MB, config=True, help="Size of the kernel's private writable /tmp, in MiB.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.uid = sandbox_uid()
        self.runtime_dir = self.private_dir / "kernel"
        self.runtime_dir.mkdir()
        os.chown(self.runtime_dir, self.uid, self.uid)
        self.transport = "ipc"
        self.ip = str(self.runtime_dir / "kernel")
        self.connection_file = str(self.runtime_dir / "connection.json")

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await AsyncKernelManager._async_pre_start_kernel(self, **kw)
        os.chown(self.connection_file, self.uid, self.uid)  # written 0600 by root
        submission = kw.pop("cwd", None)
        kw.pop("env", None)  # the sandbox sets its own, minimal environment
        inbox = self.inbox if self.inbox.exists() else None
        kernel_cmd, kw = self.graded_kernel(kernel_cmd, kw)
        argv = sandbox_argv(kernel_cmd, submission, self.runtime_dir, self.uid, inbox=inbox, memory_mb=self.memory_mb,
                            processes=self.processes, cpu_seconds=self.cpu_seconds, tmp_mb=self.tmp_mb)
        return argv, kw

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        await self._seal()

    async def _seal(self, timeout=60):
        """Once the kernel listens on its sockets, take their folder back: nothing on disk stays writable."""
        sockets = [Path(f"{self.ip}-{self.get_connection_info()[f'{channel}_port']}")
                   for channel in ("shell", "iopub", "stdin", "control", "hb")]
        for _ in range(timeout * 100):
            if all(s.exists() for s in sockets) or not await self.is_alive():
                break
            await asyncio.sleep(0.01)
        os.chown(self.runtime_dir, 0, 0)
        os.chmod(self.runtime_dir, 0o755)
