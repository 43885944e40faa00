"""Run a submission's kernel inside a bubblewrap sandbox.

nbgrader executes student code with the instructor's permissions. Here the
kernel of each submission instead runs:

* under bubblewrap, in its own mount, network, PID, IPC and UTS namespaces:
  no network at all, a read-only view of the system and of the Python
  installation, and one writable folder, the submission's own; the course
  (solutions/, the gradebook, other submissions, the instructor's home) is
  simply not mounted;
* as the unprivileged user ``nobody`` with no capabilities, so that resource
  limits hold (root is exempt from the process limit);
* with limits on memory, processes and CPU time (``prlimit``); the wall time
  per notebook and the size of kept outputs are enforced by the runner.

The kernel talks to the grader over Unix sockets in a folder bound into the
sandbox (TCP would need the network the sandbox does not have).

Use it from nbgrader/nbclient with
``c.Execute.kernel_manager_class = "autograder.sandbox.SandboxedKernelManager"``.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Int, List, Unicode

SANDBOX_USER = 65534  # nobody
SANDBOX_LIB = "/sandbox/lib"  # where the modules the kernel may import are mounted
TOOLS = ("bwrap", "prlimit", "setpriv")


class SandboxUnavailable(RuntimeError):
    """The machine cannot run the sandbox (message is for the instructor)."""


def check_sandbox() -> None:
    """Raise SandboxUnavailable, with one line saying what to do, unless a sandbox can start here."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(f"cannot sandbox student code: {', '.join(missing)} not found "
                                 "(install Debian's bubblewrap and util-linux, or pass --no-sandbox on a trusted machine)")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        raise SandboxUnavailable(f"cannot sandbox student code: bubblewrap fails here ({reason}); "
                                 "allow user namespaces, or pass --no-sandbox on a trusted machine")


def _open_parents(path):
    """Create path's missing parent folders traversable: bwrap would make them 0700, closed to nobody."""
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


def sandbox_argv(kernel_argv, workdir, runtime_dir, lib_files=(), memory_mb=2048, processes=64, cpu_seconds=600):
    """The command that runs kernel_argv in the sandbox.

    workdir: the submission's folder, the only writable place the kernel sees
    (and its working directory). runtime_dir: holds the connection file and the
    kernel's sockets. lib_files: (source, name) pairs mounted read-only under
    SANDBOX_LIB, e.g. the test helper module the hidden tests import.
    """
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/var/tmp",
            *_system_binds(),
            *_open_parents(workdir), "--bind", str(workdir), str(workdir),
            *_open_parents(runtime_dir), "--bind", str(runtime_dir), str(runtime_dir)]
    for source, name in lib_files:
        argv += ["--ro-bind", str(source), f"{SANDBOX_LIB}/{name}"]
    argv += ["--chdir", str(workdir), "--clearenv",
             "--setenv", "PATH", f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
             "--setenv", "HOME", "/tmp", "--setenv", "PYTHONPATH", SANDBOX_LIB,
             "--setenv", "MPLBACKEND", "Agg", "--setenv", "OPENBLAS_NUM_THREADS", "1",
             "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "PYTHONNOUSERSITE", "1"]
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # needed by this CPU's OpenBLAS, see env docs
        if name in os.environ:
            argv += ["--setenv", name, os.environ[name]]
    memory = memory_mb * 1024 * 1024
    argv += ["--", "setpriv", f"--reuid={SANDBOX_USER}", f"--regid={SANDBOX_USER}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
             "prlimit", f"--as={memory}", f"--nproc={processes}", f"--cpu={cpu_seconds}", "--core=0", "--",
             *kernel_argv]
    return argv


def prepare_workdir(path) -> None:
    """Make a submission's folder writable by the sandbox user (the kernel's only writable place)."""
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, SANDBOX_USER, SANDBOX_USER)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox (configure limits with traitlets)."""

    memory_mb = Int(2048, config=True, help="Address-space limit of the kernel, in MiB.")
    processes = Int(64, config=True, help="Most processes the sandbox user may run at once.")
    cpu_seconds = Int(600, config=True, help="CPU time limit of the kernel, in seconds.")
    lib_files = List(config=True, help="(source, name) pairs mounted read-only for the kernel to import.")
    runtime_root = Unicode("", config=True, help="Where to put per-kernel socket folders (default: system temp).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._runtime_dir = tempfile.mkdtemp(prefix="autograder-kernel-", dir=self.runtime_root or None)
        os.chown(self._runtime_dir, SANDBOX_USER, SANDBOX_USER)
        self.transport = "ipc"
        self.ip = os.path.join(self._runtime_dir, "kernel")
        self.connection_file = os.path.join(self._runtime_dir, "connection.json")

    async def _async_pre_start_kernel(self, **kw):
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        os.chown(self.connection_file, SANDBOX_USER, SANDBOX_USER)  # written 0600 by root
        workdir = Path(kw.get("cwd") or os.getcwd()).resolve()
        prepare_workdir(workdir)
        kw.pop("env", None)  # the sandbox sets its own, minimal environment
        argv = sandbox_argv(kernel_cmd, workdir, self._runtime_dir, self.lib_files,
                            self.memory_mb, self.processes, self.cpu_seconds)
        return argv, kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
