"""``python -m autograder``: the instructor's command (see ``pipeline/cli.py``)."""

import sys

from .pipeline.cli import main

sys.exit(main())
