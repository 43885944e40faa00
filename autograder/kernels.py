"""Kernels: a fresh kernel for every submission, booted before it is needed.

Starting a Jupyter kernel costs about a second, most of it waiting, not
computing. Each grading worker therefore keeps one spare kernel booting while
the current submission runs, and hands it to nbgrader's ``Execute`` for the
next one. Every submission still gets its own new kernel, used once and shut
down after; only the wait is hidden.
"""

from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute

HISTORY_IN_MEMORY = "--HistoryManager.hist_file=:memory:"  # as nbclient does for IPython kernels


class SpareKernel:
    """The next submission's kernel, already starting."""

    def __init__(self, kernel_name: str, cwd: Path):
        self.kernel_name, self.cwd = kernel_name, cwd
        self.spare = None

    def take(self) -> AsyncKernelManager:
        kernel = self.spare if self.spare is not None and run_sync(self.spare.is_alive)() else self.start()
        self.spare = self.start()
        return kernel

    def start(self) -> AsyncKernelManager:
        kernel = AsyncKernelManager(kernel_name=self.kernel_name)
        run_sync(kernel.start_kernel)(extra_arguments=[HISTORY_IN_MEMORY], cwd=str(self.cwd))
        return kernel

    def close(self) -> None:
        if self.spare is not None:
            run_sync(self.spare.shutdown_kernel)(now=True)
            self.spare = None


class PrestartedExecute(Execute):
    """nbgrader's Execute, run on the worker's spare kernel instead of a new one."""

    spare_kernel: SpareKernel | None = None  # set once per worker process

    def preprocess(self, nb, resources=None, km=None):
        try:
            return super().preprocess(nb, resources, km=self.spare_kernel.take())
        finally:
            if self.km is not None:  # we own this kernel: shut it down, as nbclient would
                self._cleanup_kernel()

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        path = self.resources.get("metadata", {}).get("path")
        if path:  # the kernel booted elsewhere: move it to the notebook's folder, binding no name
            await self.async_wait_for_reply(client.execute(f"__import__('os').chdir({path!r})",
                                                           silent=True, store_history=False))
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)  # nbclient calls this synchronous twin
