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
  capabilities, when the grader is root (``ROOT_MODE``); otherwise
  (``USER_NAMESPACE_MODE``) in an unprivileged user namespace of its own
  (bubblewrap ``--unshare-user``): the grader's user id mapped to itself, no
  capabilities, no further user namespaces, its process count its own;
* with limits on memory (the private writable memory of each process,
  RLIMIT_DATA: TensorFlow reserves far more address space than it uses),
  processes and CPU time (``prlimit``); the wall time
  per notebook and the size of kept outputs are enforced by the runner
  (``execute.py``).

The kernel talks to the grader over Unix sockets in a folder bound into the
sandbox (TCP would need the network the sandbox does not have); once the
kernel listens, the grader (as root) takes that folder back, so nothing on disk is
writable from inside; in a user namespace the kernel owns that folder and it
stays writable (README, *What is not protected*). Of ``autograder`` the kernel sees one folder,
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
ROOT_MODE = "a user id of its own per kernel (root)"
USER_NAMESPACE_MODE = "an unprivileged user namespace per kernel (not root)"
# The system switches that can forbid unprivileged user namespaces, each with the value that forbids them.
USERNS_SWITCHES = {"kernel.unprivileged_userns_clone": "0", "user.max_user_namespaces": "0",
                   "kernel.apparmor_restrict_unprivileged_userns": "1"}
_kernel_numbers = itertools.count()
# Only what Python code prints reaches the notebook: ipykernel would also forward C libraries' own writes
# to the process's stderr (TensorFlow's import banner), and nbgrader gives a test cell with stderr no points.
PYTHON_OUTPUT_ONLY = "--IPKernelApp.capture_fd_output=False"


class SandboxUnavailable(RuntimeError):
    """The machine cannot run the sandbox (message is for the instructor)."""


def sandbox_mode() -> str:
    """How kernels are kept apart here: separate user ids as root, else unprivileged user namespaces."""
    return ROOT_MODE if os.geteuid() == 0 else USER_NAMESPACE_MODE


def namespace_flags() -> list:
    """bubblewrap's namespace options; without root the user namespace is what makes the others possible."""
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if sandbox_mode() == USER_NAMESPACE_MODE:
        flags = ["--unshare-user", "--disable-userns", *flags]
    return flags


def check_sandbox() -> str:
    """The sandbox mode, or SandboxUnavailable with one line saying what this system lacks."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(f"cannot sandbox student code: {', '.join(missing)} not found (install "
                                 "Debian's bubblewrap and util-linux, or pass --no-sandbox on a trusted machine)")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", *namespace_flags(), "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        lacking = "" if sandbox_mode() == ROOT_MODE else f"; {userns_blockers()}"
        raise SandboxUnavailable(f"cannot sandbox student code: bubblewrap fails here ({reason}{lacking}); "
                                 "run as root or allow unprivileged user namespaces, or pass --no-sandbox "
                                 "on a trusted machine")
    return sandbox_mode()


def userns_blockers() -> str:
    """Which of the system's switches forbids unprivileged user namespaces, as the instructor would set it."""
    off = []
    for name, forbidding in USERNS_SWITCHES.items():
        path = Path("/proc/sys", *name.split("."))
        if path.exists() and path.read_text().strip() == forbidding:
            off.append(f"{name}={forbidding}")
    if off:
        return f"the system lacks unprivileged user namespaces: {', '.join(off)}"
    return "the system does not let this user create user namespaces"


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
        binds += [*_open_parents(sys.prefix), "--symlink", os.path.realpath(sys.prefix), sys.prefix]
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
    kernel's sockets. uid: the kernel's user id (as root), or None in a user
    namespace. inbox: the grader's inbox file, mounted read-only, or None.
    """
    argv = ["bwrap", "--die-with-parent", "--new-session", *namespace_flags(),
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
    # In a user namespace only the grader's own id exists: it is the kernel's (uid None).
    become = [] if uid is None else [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    argv += ["--", "setpriv", *become, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
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
        self.uid = sandbox_uid() if sandbox_mode() == ROOT_MODE else None
        self.runtime_dir = self.private_dir / "kernel"
        self.runtime_dir.mkdir()
        self._give_to_kernel(self.runtime_dir)
        self.transport = "ipc"
        self.ip = str(self.runtime_dir / "kernel")
        self.connection_file = str(self.runtime_dir / "connection.json")

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await AsyncKernelManager._async_pre_start_kernel(self, **kw)
        self._give_to_kernel(Path(self.connection_file))  # written 0600 by the grader
        submission = kw.pop("cwd", None)
        kw.pop("env", None)  # the sandbox sets its own, minimal environment
        inbox = self.inbox if self.inbox.exists() else None
        kernel_cmd, kw = self.graded_kernel(kernel_cmd, kw)
        argv = sandbox_argv(kernel_cmd, submission, self.runtime_dir, self.uid, inbox=inbox, memory_mb=self.memory_mb,
                            processes=self.processes, cpu_seconds=self.cpu_seconds, tmp_mb=self.tmp_mb)
        return argv, kw

    def _give_to_kernel(self, path: Path) -> None:
        """As root, the kernel's user must own its socket files; in a user namespace the grader's id is the kernel's."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        await self._seal()

    async def _seal(self, timeout=60):
        """Once the kernel listens on its sockets, take their folder back: nothing on disk stays writable.

        Only root can: in a user namespace the kernel is the folder's owner (README, *What is not protected*).
        """
        if self.uid is None:
            return
        sockets = [Path(f"{self.ip}-{self.get_connection_info()[f'{channel}_port']}")
                   for channel in ("shell", "iopub", "stdin", "control", "hb")]
        for _ in range(timeout * 100):
            if all(s.exists() for s in sockets) or not await self.is_alive():
                break
            await asyncio.sleep(0.01)
        os.chown(self.runtime_dir, 0, 0)
        os.chmod(self.runtime_dir, 0o755)
