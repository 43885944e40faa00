"""Fixtures shared by the website tests (tests/test_site_*.py)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE_HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def site_html():
    """The built website. The site tests check a build; they never make one."""
    if not (SITE_HTML / "index.html").is_file():
        pytest.fail(f"no built website at {SITE_HTML}: run `make` first (`make test` does)", pytrace=False)
    return SITE_HTML


@pytest.fixture(scope="session")
def site_pages(site_html):
    """Every HTML page of the site, as paths relative to _build/html."""
    return sorted(p.relative_to(site_html).as_posix() for p in site_html.rglob("*.html")
                  if p.relative_to(site_html).parts[0] not in ("_static", "_sources"))
