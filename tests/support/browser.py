"""A real browser offline: Debian's chromium driven by Playwright, over a folder served on localhost.

``served(folder)`` serves a folder on a free localhost port; ``offline_browser(origin)``
opens chromium in a fresh profile where every request that would leave that origin is
aborted and its URL recorded, so a page that reaches for a CDN is caught, not helped.
"""

import contextlib
import functools
import http.server
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder):
    """The origin (http://127.0.0.1:port) of `folder` served by a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def offline_browser(origin, **context_options):
    """(context, record): a chromium context whose requests may not leave `origin`;
    each blocked URL is appended to record["blocked"] (a test may give it a fresh list)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make system-deps`)", pytrace=False)
    host = urlsplit(origin).netloc
    record = {"blocked": []}

    def keep_local(route):
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            record["blocked"].append(route.request.url)
            route.abort()

    with tempfile.TemporaryDirectory(prefix="browser-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **context_options)
        context.route("**/*", keep_local)
        try:
            yield context, record
        finally:
            context.close()
