"""Every internal link of the built website leads somewhere.

For each HTML page: every href/src that stays on the site (relative, or under
the site's own base URL) must name a file of _build/html, and a #fragment must
name an id (or <a name>) on the target page.
"""

import posixpath
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

CONFIG = Path(__file__).resolve().parents[1] / "_config.yml"
LINK_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src", "iframe": "src"}


class PageLinks(HTMLParser):
    """The ids a page defines and the links it makes."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(attrs[key] for key in ("id", "name") if attrs.get(key) and (key == "id" or tag == "a"))
        if attrs.get(LINK_ATTRIBUTES.get(tag, "")):
            self.links.append(attrs[LINK_ATTRIBUTES[tag]])


@cache
def parse(path):
    parser = PageLinks()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return parser


def site_base_url():
    return yaml.safe_load(CONFIG.read_text())["html"]["baseurl"]


def local_target(page, link, base_url):
    """(path in the site, fragment) for a link that stays on the site, else None."""
    if link.startswith(base_url):
        link = "/" + link[len(base_url):]
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None  # not ours to check offline
    path = unquote(parts.path)
    if not path:
        target = page
    elif path.startswith("/"):
        target = path.lstrip("/")
    else:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    return target, unquote(parts.fragment)


def test_every_internal_link_and_anchor_resolves(site_html, site_pages):
    base_url = site_base_url()
    broken, checked_files, checked_anchors = [], 0, 0
    for page in site_pages:
        for link in parse(site_html / page).links:
            target = local_target(page, link, base_url)
            if target is None:  # another site, or mailto:/data:/javascript:
                continue
            path, fragment = target
            file = site_html / path
            if file.is_dir():
                file = file / "index.html"
            if not file.resolve().is_relative_to(site_html.resolve()) or not file.is_file():
                broken.append(f"{page}: {link} (no file {path})")
                continue
            checked_files += 1
            if fragment and file.suffix == ".html":
                checked_anchors += 1
                if fragment not in parse(file).ids:
                    broken.append(f"{page}: {link} (no id {fragment!r} in {path})")
    assert not broken, "broken internal links:\n" + "\n".join(broken)
    assert checked_files and checked_anchors, "no internal link or anchor was checked: is the site empty?"
