"""Serve MathJax from the built site, so the course website reads offline.

MathJax 3.2.2 comes from the PyPI package django-static-mathjax (import name
``mathjax``). At the end of an HTML build this extension copies the files the
site needs into ``_build/html/_static/mathjax/`` and points Sphinx's
``mathjax_path`` (relative to ``_static``) at the copied ``tex-chtml.js``.
"""

import shutil
from importlib.util import find_spec
from pathlib import Path

from sphinx.errors import ExtensionError

# tex-chtml.js itself, the fonts it loads, the TeX extensions its autoloader can
# fetch, and the menu's accessibility modules it loads on demand.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "a11y", "sre", "ui", "adaptors")
TARGET = Path("_static") / "mathjax"


def mathjax_source():
    """The es5/ folder of the installed MathJax distribution."""
    spec = find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise ExtensionError("MathJax is not installed: run `make install` (package django-static-mathjax)")
    return Path(spec.origin).parent / "static" / "mathjax"


def point_mathjax_here(app, config):
    config.mathjax_path = (Path("mathjax") / "tex-chtml.js").as_posix()


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / TARGET
    for part in MATHJAX_PARTS:
        src, dst = source / "es5" / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    shutil.copy2(source / "LICENSE", target / "LICENSE")  # Apache-2.0 asks for it


def setup(app):
    app.connect("config-inited", point_mathjax_here)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
