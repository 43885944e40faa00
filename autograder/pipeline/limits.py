"""What one graded submission may use, what collect may copy, and the defaults: defined here once.

The command line's defaults, ``autograde.RunOptions`` and the traits of the
sandboxed execution and kernel manager all read these.
"""

CELL_TIMEOUT = 30     # seconds one cell may run (nbgrader's default)
TIME_LIMIT = 300      # seconds a whole notebook may run, its restarts included
MAX_RESTARTS = 3      # fresh kernels a notebook may get after a cell killed or hung one
MEMORY_MB = 2048      # private writable memory of each kernel process, MiB
PROCESSES = 64        # processes and threads of one kernel
CPU_SECONDS = 600     # CPU time of one kernel
TMP_MB = 256          # the kernel's private writable /tmp, MiB
MAX_OUTPUT_MB = 10    # cell outputs kept in a graded notebook, MiB
MAX_FILE_MB = 50      # one submitted file that collect copies (a zip entry, a file of a folder or the exchange), MiB
MAX_COLLECT_MB = 2048  # everything one collect writes, MiB
DB_CONNECT_SECONDS = 10  # a PostgreSQL gradebook's server must answer within this, or the command says so
CLUSTER_TIMEOUT = 10  # seconds to reach a Dask scheduler, and to wait for its first worker
CLUSTER_RETRIES = 2   # reruns of a task that raised; one whose worker died the scheduler reruns (allowed-failures)
CLUSTER_AHEAD = 4     # submissions queued per worker thread ahead of the results: the scheduler's memory stays bounded
MANUAL_ANSWER_CHARS = 32_000  # of a written answer in the manual-grading CSV (a spreadsheet cell holds 32,767)
