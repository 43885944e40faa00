"""Feedback pages a submission cannot run code in.

``FeedbackExporter`` renders every piece of HTML a submission made (HTML and
Markdown outputs, Markdown cells) through ``safe_html``, an allowlist of
formatting tags without scripts, styles, frames, forms, event handlers or
``javascript:`` links; drops JavaScript and widget outputs; shows SVG only as an
image (where it cannot run); and heads the page with a Content-Security-Policy
(``feedback_policy``) that runs one script only, the page's own MathJax (allowed by
its hash), so what the allowlist might miss still does not run. ``SafeOutputMetadata``
keeps output metadata from writing attributes into the page.

A page goes to its student alone (the exchange and an LMS pass on the .html file,
nothing beside it), so it carries its MathJax inline, in place of nbgrader's CDN
script: its maths typesets offline, from any folder.
"""

import base64
import hashlib
import json
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import bleach
from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, default

# One script, by its hash: the page's MathJax (no other inline script, handler, eval or script file runs); styles
# inline, as nbgrader's template writes them; images and fonts from the site or embedded; nothing else (no
# frames, plugins, forms, connections, <base>).
FEEDBACK_POLICY = ("default-src 'none'; script-src '{script_hash}'; style-src 'self' 'unsafe-inline'; "
                   "img-src 'self' data:; font-src 'self' data:; base-uri 'none'; form-action 'none'")

# MathJax 3 with every TeX extension and its SVG fonts in one file: typesetting fetches nothing more.
MATHJAX_FILE = Path("es5") / "tex-svg-full.js"
# nbgrader's delimiters (those of its MathJax 2 configuration). A submission's maths may not make links,
# classes, styles or ids (TeX's html package) nor load more code (require).
MATHJAX_CONFIG = {
    "tex": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
            "processEscapes": True, "processEnvironments": True, "tags": "ams",
            "packages": {"[-]": ["html", "require"]}},
    "svg": {"fontCache": "local"},  # each formula self-contained: no shared <svg> of glyphs in the page
}
# Replaces nbconvert's mathjax macro, which the feedback template calls for the CDN's MathJax 2.
MATHJAX_MACRO = "{%- macro mathjax(url=None) -%}<script>{{ offline_mathjax() }}</script>{%- endmacro %}"

# What HTML from a submission may keep: formatting, tables, links and images. Any other tag is shown as text.
SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul"})
SAFE_ATTRIBUTES = {"*": {"class", "id", "title", "align"}, "a": {"href", "name"},
                   "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
                   "th": {"colspan", "rowspan", "scope"}, "ol": {"start"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})  # and links without a scheme: anchors, relative paths
EMBEDDED_IMAGE = re.compile(r"data:image/[a-z.+-]+[;,]", re.IGNORECASE)  # in <img> even SVG cannot run
PAGE_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def safe_attribute(tag: str, name: str, value: str) -> bool:
    if name not in SAFE_ATTRIBUTES["*"] | SAFE_ATTRIBUTES.get(tag, set()):
        return False
    if name == "src":
        # embedded, or a path on the page's own site (no scheme, no "//host")
        return bool(EMBEDDED_IMAGE.match(value)) or not (value.startswith("//") or ":" in value.split("/")[0])
    return name != "href" or not value.lower().startswith("data:")


def safe_html(fragment) -> str:
    """HTML a submission made, with only formatting left: no script, style, frame, form, handler or javascript: URL."""
    return bleach.clean(str(fragment), tags=SAFE_TAGS, attributes=safe_attribute,
                        protocols=LINK_SCHEMES | {"data"}, strip_comments=True)


@cache
def offline_mathjax() -> str:
    """The page's one script: MathJax's configuration, then MathJax itself (the PyPI package
    django-static-mathjax, as on the course website)."""
    spec = find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError("MathJax is not installed: run `make install` (package django-static-mathjax)")
    source = (Path(spec.origin).parent / "static" / "mathjax" / MATHJAX_FILE).read_text(encoding="utf-8")
    if "</script" in source.lower():
        raise RuntimeError(f"{MATHJAX_FILE} cannot be inlined: it contains </script")
    return f"window.MathJax = {json.dumps(MATHJAX_CONFIG)};\n{source}"


def feedback_policy() -> str:
    digest = hashlib.sha256(offline_mathjax().encode("utf-8")).digest()
    return FEEDBACK_POLICY.format(script_hash="sha256-" + base64.b64encode(digest).decode())


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback template, with every piece of a submission's HTML made safe, the policy on top and
    MathJax inline."""

    # nbconvert then leaves out JavaScript and widget outputs and passes HTML ones through ``clean_html``
    sanitize_html = Bool(True)

    @default("extra_loaders")
    def _extra_loaders_default(self):
        return [DictLoader({"mathjax.html.j2": MATHJAX_MACRO})]

    def _create_environment(self):
        environment = super()._create_environment()
        environment.globals["offline_mathjax"] = offline_mathjax
        return environment

    def default_filters(self):
        yield from super().default_filters()
        yield ("clean_html", safe_html)

    @pass_context
    def markdown2html(self, context, source):
        # Markdown cells and outputs: nbgrader's template renders them without nbconvert's cleaning
        return safe_html(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = super().from_notebook_node(nb, resources, **kw)
        return with_policy(page, feedback_policy()), resources


def with_policy(page: str, policy: str) -> str:
    """The page with its Content-Security-Policy first in <head>, before any script; no head, no page."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    page, found = PAGE_HEAD.subn(lambda head: head.group(0) + meta, page, count=1)
    if not found:
        raise ValueError("the feedback template wrote no <head> to put the security policy in")
    return page


class SafeOutputMetadata(NbGraderPreprocessor):
    """Keep only numeric image sizes from output metadata: the template writes them as unquoted attributes,
    where text could add an event handler; drop output file names, which would make an image's URL."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            metadata = output.get("metadata", {})
            metadata.pop("filenames", None)
            for mimetype in [key for key in metadata if isinstance(metadata[key], dict)]:
                for size in ("width", "height"):
                    if size in metadata[mimetype] and not is_number(metadata[mimetype][size]):
                        del metadata[mimetype][size]
        return cell, resources


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or str(value).isdigit()
