"""A real PostgreSQL server for the tests, from Debian's ``postgresql`` package (`make test` installs it).

    with postgres_server() as server:    # initdb into a fresh folder, pg_ctl start on a free port
        url = server.new_database()     # postgresql://USER:PASSWORD@127.0.0.1:PORT/NAME, empty

The server listens on 127.0.0.1 only, its socket in its own folder, and takes
only its own user with a random password (scram-sha-256): nobody else on the
machine can use it while it runs. It is stopped and its folder removed on the
way out, whatever happened. PostgreSQL refuses to run as root, so as root the
server runs as the system user ``SERVER_USER`` (created if missing, like
``tests/support/unprivileged.py``'s).
"""

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "autograder-postgres"
DB_USER = "autograder"
START_TIMEOUT = 120  # seconds pg_ctl waits for the server; it starts in about one


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server: apt-get install postgresql (`make system-deps` does)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A server's folder and how to run its programs; ``start`` and ``stop`` it (a test may, in between)."""

    def __init__(self, folder: Path, as_user: list):
        self.folder, self.as_user, self.bin_dir = folder, as_user, postgres_bin()
        self.data, self.sockets, self.log = folder / "data", folder / "sockets", folder / "server.log"
        self.password, self.port = secrets.token_hex(16), free_port()
        self.databases = 0

    def url(self, database: str) -> str:
        return f"postgresql://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg
        self.databases += 1
        name = f"gradebook{self.databases}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pg_ctl(self, *args) -> None:
        run([*self.as_user, self.bin_dir / "pg_ctl", *args, "-D", self.data, "-w", "-t", str(START_TIMEOUT)], self.log)

    def start(self) -> None:
        self.pg_ctl("start", "-l", self.log, "-o", f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1")

    def stop(self, mode: str = "fast") -> None:
        """Stop it: "fast" rolls back open transactions and closes; "immediate" is a crash, recovered at start."""
        self.pg_ctl("stop", "-m", mode)


@contextmanager
def postgres_server():
    """A running server of its own (see the module's docstring), stopped and removed at the end."""
    folder, as_user = Path(tempfile.mkdtemp(prefix="autograder-postgres-")), []
    try:
        as_user = ["runuser", "-u", server_user(), "--"] if os.geteuid() == 0 else []
        server = Server(folder, as_user)
        server.sockets.mkdir(mode=0o700)
        pwfile = folder / "password"
        pwfile.write_text(server.password)
        pwfile.chmod(0o600)
        if as_user:
            user = pwd.getpwnam(SERVER_USER)
            for path in (folder, server.sockets, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        run([*as_user, server.bin_dir / "initdb", "-D", server.data, "-U", DB_USER, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
        server.start()
        yield server
    finally:
        # pg_ctl stop, whatever state the server is in (a test may have stopped it; it may never have started)
        if (folder / "data" / "postmaster.pid").exists():
            subprocess.run([*as_user, postgres_bin() / "pg_ctl", "stop", "-D", folder / "data", "-m", "fast", "-w"],
                           capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def server_user() -> str:
    if subprocess.run(["id", "-u", SERVER_USER], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER])
    return SERVER_USER


def run(command: list, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        server_log = log.read_text() if log is not None and log.exists() else ""
        raise RuntimeError(f"{' '.join(map(str, command))} failed: {done.stdout}{done.stderr}{server_log}")
