"""Fixtures and markers shared by the whole suite.

``ROOT`` and ``ASSIGNMENTS`` come from ``tests.support`` (module constants, so that
``parametrize`` can use them); ``@pytest.mark.requires_root`` skips a test unless it runs as
root, which the sandbox needs to give each kernel its own unprivileged user;
``@pytest.mark.sandboxed`` tests run the sandbox in this user's mode (a user id per kernel as
root, a user namespace per kernel otherwise): `make test` runs them again as an ordinary user
(``tests/support/unprivileged.py``).
"""

import os

import pytest

from tests.support import ASSIGNMENTS, ROOT  # noqa: F401 (re-exported for the tests)

SITE_HTML = ROOT / "_build" / "html"


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_root: needs root (the sandbox drops to a user id of its own)")
    config.addinivalue_line("markers", "sandboxed: runs the sandbox, as root or in a user namespace")


def pytest_collection_modifyitems(items):
    """Groups that grade a course run first: the longest jobs start while others can run beside them."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


def pytest_runtest_setup(item):
    if item.get_closest_marker("requires_root") and os.geteuid() != 0:
        pytest.skip("the sandbox drops from root to an unprivileged user")


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


@pytest.fixture(scope="session")
def ex3(tmp_path_factory):
    """The generated ex3 class (corpus_ex3.make_class), graded once locally and again on a cluster by the
    tests of the xdist group "grading_ex3" (one process, so this fixture is made once)."""
    from tests.support import corpus_ex3
    return corpus_ex3.make_class(tmp_path_factory.mktemp("ex3"))
