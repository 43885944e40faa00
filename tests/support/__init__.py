"""Corpora and builders the tests and bench/ share: generated classes, hostile notebooks, the
catalogue of mistakes, a throwaway nbgrader course. Nothing here runs a test by itself.

Import it as ``tests.support`` from the repository root (pytest's ``pythonpath``; bench scripts
run as ``python -m bench.<script>``).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
