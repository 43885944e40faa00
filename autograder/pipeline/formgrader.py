"""Formgrader: nbgrader's own web page for grading written answers by hand, on this course's gradebook.

nbgrader 0.9 has no standalone formgrader: it is a Jupyter server extension
that reads nbgrader's configuration from the folder the server starts in. So
``autograder formgrader`` writes the course's paths into
``COURSE_DIR/nbgrader_config.py`` and runs ``jupyter server`` there with only
the formgrader extension, on localhost, behind a token. What a grader enters
(manual scores, comments) goes into the gradebook's ``manual_score`` and
``manual_comment`` columns, which ``grade`` never writes (``record.py`` writes
only the automatic ones), so later commands keep them.
"""

import os
import secrets
import sys

from .course_folder import Course, write_atomically

FORMGRADER_EXTENSION = "nbgrader.server_extensions.formgrader"
FORMGRADER_PORT = 8866  # not Jupyter's 8888, so it can run beside a notebook server


def formgrader_config(course: Course) -> str:
    """The nbgrader_config.py the formgrader extension loads from the server's folder."""
    config = course.nbgrader_config().CourseDirectory
    lines = ["# Written by `autograder formgrader`: this course's folders for nbgrader's formgrader.",
             "c = get_config()  # noqa: F821"]
    for name in ("root", "source_directory", "release_directory", "db_url", "course_id"):
        lines.append(f"c.CourseDirectory.{name} = {config[name]!r}")
    if course.exchange_root is not None:
        lines.append(f"c.Exchange.root = {str(course.exchange_root)!r}")
    return "\n".join(lines) + "\n"


def server_command(course: Course, port: int, ip: str, token: str) -> list[str]:
    extensions = "{" + repr(FORMGRADER_EXTENSION) + ": True}"
    command = [sys.executable, "-m", "jupyter_server", f"--ServerApp.root_dir={course.course_dir}",
               f"--ServerApp.jpserver_extensions={extensions}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.ip={ip}", "--ServerApp.open_browser=False",
               f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    return command


def run_formgrader(course: Course, port: int, ip: str) -> None:
    """Become the formgrader's server until interrupted; the token is JUPYTER_TOKEN's, or a new random one.

    The command is replaced by the server (exec), so Ctrl-C or a signal reaches the server itself and none is
    left running without its parent.
    """
    course.require_gradebook()
    # mode 0600: the config holds the gradebook's URL, a PostgreSQL server's password with it
    write_atomically(course.course_dir / "nbgrader_config.py", formgrader_config(course), mode=0o600)
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    print(f"formgrader: http://{ip}:{port}/formgrader?token={token}  (Ctrl-C stops it)", flush=True)
    command = server_command(course, port, ip, token)
    os.chdir(course.course_dir)
    os.execv(command[0], command)
