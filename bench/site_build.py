"""How long the course website takes to build: cold, then warm.

Copies the repository's tracked files (as they are in the work tree) into a
temporary folder, so nothing is cached, and builds the site there twice with
the same command as `make`:

* cold: empty _build, every chapter executed;
* warm: the same again, unchanged: chapters come from the execution cache.

Prints both times and how long each chapter's execution took in the cold build.
Usage: .venv/bin/python bench/site_build.py
"""

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
EXECUTED = re.compile(r"^(\S+): Executed notebook in ([\d.]+) seconds", re.M)


def fresh_copy(target):
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def build(book):
    """Seconds the build took, and its log."""
    start = time.perf_counter()
    run = subprocess.run([str(JUPYTER_BOOK), "build", str(book), "-W", "-n", "--keep-going"],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"the build in {book} failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    return seconds, run.stdout + run.stderr


def main():
    with tempfile.TemporaryDirectory(prefix="site-build-bench-") as folder:
        book = Path(folder)
        fresh_copy(book)
        cold, log = build(book)
        warm, _ = build(book)
    print(f"{'build':<8}{'seconds':>9}")
    print(f"{'cold':<8}{cold:>9.1f}   (fresh copy, empty _build)")
    print(f"{'warm':<8}{warm:>9.1f}   (unchanged, {cold / warm:.1f}x faster)")
    print("\nchapter execution in the cold build:")
    for path, seconds in EXECUTED.findall(log):
        print(f"  {float(seconds):6.1f} s  {Path(path).relative_to(book)}")


if __name__ == "__main__":
    main()
