"""Open every page of the built website in a real browser, offline.

Debian's chromium, driven headless by Playwright, loads each page from a local
HTTP server. Every request that would leave localhost is blocked and recorded.
Each page must load with no console error and no failed request, typeset all
its maths with the MathJax copy the site serves, and load every image, each
with alt text, and show no Markdown as raw text; an exercise page's code fits
its width. A full-page screenshot of each page goes to
tests/output/screenshots/ for a person to look at.

Accessibility: axe-core (bundled with axe-playwright-python, so it runs offline)
checks each page, which must have no "serious" or "critical" violation. Then a
keyboard walk presses Tab from the top of the page, and Enter on each collapsed
section or closed menu that hides something to reach. Within as many presses
as the page has focusable elements it must reach every link of the left
navigation, every entry of the launch and download menus and every link to an
exercise, and every element it focuses must be visible.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import offline_browser, served

pytestmark = pytest.mark.xdist_group("site_browser")  # one browser visits every page once
SCREENSHOTS = Path(__file__).resolve().parent / "output" / "screenshots"
PAGE_TIMEOUT_MS = 120_000  # each wait on a page: many times what a loaded machine needs
AXE = Axe()
# Preload media only, not the CSSOM: for it axe-core 4.12 fetches the theme's `@import "../basic.css"` relative to
# the page instead of the stylesheet, a 404 (dequelabs/axe-core#5268). Only css-orientation-lock, experimental and
# off by default, reads the CSSOM.
AXE_OPTIONS = {"resultTypes": ["violations"], "preload": {"assets": ["media"]}}
BLOCKING_IMPACTS = ("serious", "critical")  # axe's "moderate" and "minor" findings are advice

# What a keyboard user must be able to reach, by kind.
TAB_TARGETS = {
    "navigation": "nav.bd-docs-nav a",
    "launch": ".dropdown-launch-buttons .dropdown-item",
    "download": ".dropdown-download-buttons .dropdown-item",
    "exercise link": ".bd-article a[href*='exercises/']",
}
EXERCISE_TAB_KINDS = {"navigation", "launch", "download"}  # other pages need only the navigation
# Tab opens neither a collapsed section nor a closed menu: on their toggles the walk presses Enter, as a person would.
TAB_OPENERS = ("nav.bd-docs-nav details:not([open]) > summary, "
               ".dropdown-launch-buttons > [aria-expanded=false], .dropdown-download-buttons > [aria-expanded=false]")

# Wait for every image (lazy ones too), then report on maths, images and Markdown left as raw text: a table row
# "| a | b |" or a heading "## a" on a line of its own outside code (what a Markdown output rendered as CommonMark
# shows).
INSPECT_PAGE = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = "eager"; });
  const settled = img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); setTimeout(done, 15000);
  });
  await Promise.all(images.map(settled));
  const maths = [...document.querySelectorAll(".math")];
  return {
    math_total: maths.length,
    math_untypeset: maths.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.slice(0, 80)),
    math_errors: [...document.querySelectorAll("mjx-merror")]
        .map(e => e.getAttribute("data-mjx-error") || e.textContent),
    broken_images: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    images_without_alt: images.filter(i => !(i.getAttribute("alt") || "").trim()).map(i => i.currentSrc || i.src),
    image_count: images.length,
    wide_code: [...document.querySelectorAll(".bd-article pre")].filter(p => p.scrollWidth > p.clientWidth)
        .map(p => p.textContent.split("\\n").reduce((a, b) => b.length > a.length ? b : a, "").slice(0, 80)),
    raw_markdown: (() => {
      const prose = (document.querySelector("main") || document.body).cloneNode(true);
      prose.querySelectorAll("pre, code, script, style, mjx-container").forEach(e => e.remove());
      return prose.textContent.split("\\n").map(line => line.trim())
          .filter(line => /^\\|.*\\|$/.test(line) || /^#{1,6} \\S/.test(line)).map(line => line.slice(0, 80));
    })(),
  };
}"""

DESCRIBE = """el => `<${el.tagName.toLowerCase()}> ` + JSON.stringify(
    (el.getAttribute("aria-label") || el.textContent || el.getAttribute("href") || "").trim().slice(0, 50))"""

# Number the targets. The bound on presses is one Tab cycle: the focusable elements shown, and the targets that
# the openers reveal.
MARK_TAB_TARGETS = "targets => { const describe = " + DESCRIBE + """;
  const marked = [];
  for (const [kind, selector] of Object.entries(targets)) {
    for (const el of document.querySelectorAll(selector)) {
      el.dataset.tabTarget = marked.length;
      marked.push({kind, label: describe(el)});
    }
  }
  const focusable = [...document.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")]
      .filter(el => el.tabIndex >= 0 && !el.disabled && el.checkVisibility({visibilityProperty: true}));
  return {targets: marked, bound: new Set([...focusable, ...document.querySelectorAll("[data-tab-target]")]).size};
}"""

# The focused element, once CSS transitions of its focus style are over (the skip link slides in).
FOCUSED = "openers => { const describe = " + DESCRIBE + """;
  document.getAnimations().filter(a => a instanceof CSSTransition).forEach(a => a.finish());
  const el = document.activeElement;
  const onScreen = n => {
    const r = n.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  };
  return {
    target: el.dataset.tabTarget === undefined ? null : Number(el.dataset.tabTarget),
    opener: el.matches(openers),
    visible: el.checkVisibility({opacityProperty: true, visibilityProperty: true})
        && [el, ...el.querySelectorAll("*")].some(onScreen),  // a section toggle is an empty box around its icon
    label: describe(el),
  };
}"""


@dataclass
class PageReport:
    console_errors: list = field(default_factory=list)
    blocked_requests: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    inspection: dict = field(default_factory=dict)
    mathjax_problem: str = ""
    screenshot: Path = None
    axe_violations: list = field(default_factory=list)
    tab_walk: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def site_server(site_html):
    """_build/html served on a free localhost port."""
    with served(site_html) as origin:
        yield origin


def visit(context, origin, page_name, report):
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("console", lambda msg: msg.type == "error" and report.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: report.console_errors.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and report.failed_requests.append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: report.failed_requests.append(f"{r.failure} {r.url}"))
    page.goto(f"{origin}/{page_name}", wait_until="load")
    page.wait_for_load_state("networkidle")
    if page.locator(".math").count():
        try:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
        except PlaywrightTimeout:
            report.mathjax_problem = f"MathJax did not start within {PAGE_TIMEOUT_MS // 1000} s"
    report.inspection = page.evaluate(INSPECT_PAGE)
    report.screenshot = SCREENSHOTS / (page_name.removesuffix(".html").replace("/", "__") + ".png")
    page.screenshot(path=report.screenshot, full_page=True)
    report.axe_violations = [
        {"rule": v["id"], "impact": v["impact"], "targets": [" ".join(map(str, n["target"])) for n in v["nodes"]]}
        for v in AXE.run(page, options=AXE_OPTIONS).response["violations"]]
    report.tab_walk = walk_with_tab(page)  # last: it opens menus and scrolls
    page.close()


def walk_with_tab(page):
    """Press Tab from the top of the page until every target has had focus, at most once per focusable element."""
    plan = page.evaluate(MARK_TAB_TARGETS, TAB_TARGETS)
    targets, unreached, invisible, presses = plan["targets"], set(range(len(plan["targets"]))), [], 0
    while unreached and presses < plan["bound"]:
        page.keyboard.press("Tab")
        presses += 1
        stop = page.evaluate(FOCUSED, TAB_OPENERS)
        unreached.discard(stop["target"])
        if not stop["visible"]:
            invisible.append(stop["label"])
        if stop["opener"]:
            page.keyboard.press("Enter")
    return {"kinds": {t["kind"] for t in targets}, "unreached": [targets[i]["label"] for i in sorted(unreached)],
            "invisible": invisible, "bound": plan["bound"]}


@pytest.fixture(scope="module")
def browser(site_server):
    """(context, record): a fresh chromium profile; a blocked request's URL goes to record["blocked"]."""
    with offline_browser(site_server, viewport={"width": 1280, "height": 900}) as opened:
        yield opened


@pytest.fixture(scope="module")
def page_reports(browser, site_server, site_pages):
    """Visit every page once; the tests below each check one property of the visits."""
    context, record = browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    reports = {}
    for name in site_pages:
        reports[name] = report = PageReport()
        record["blocked"] = report.blocked_requests
        visit(context, site_server, name, report)
    return reports


def test_the_offline_guard_catches_a_cdn_request(browser, site_server):
    """The guard the other tests rely on: a page asking a CDN for MathJax is caught."""
    context, record = browser
    record["blocked"] = blocked = []
    page = context.new_page()
    page.goto(f"{site_server}/genindex.html")  # index.html would redirect mid-test
    cdn_url = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"
    page.evaluate("url => fetch(url).catch(() => null)", cdn_url)
    page.close()
    assert blocked == [cdn_url]


def problems(reports, describe):
    """One line per page that has a problem, as `page: what`."""
    lines = [f"{name}: {what}" for name, report in reports.items() if (what := describe(report))]
    return "\n".join(lines)


def test_no_request_leaves_localhost(page_reports):
    assert not problems(page_reports, lambda r: r.blocked_requests), \
        "pages tried to reach the internet:\n" + problems(page_reports, lambda r: r.blocked_requests)


def test_every_local_request_succeeds(page_reports):
    assert not problems(page_reports, lambda r: r.failed_requests), \
        "requests failed:\n" + problems(page_reports, lambda r: r.failed_requests)


def test_no_console_errors(page_reports):
    assert not problems(page_reports, lambda r: r.console_errors), \
        "console errors:\n" + problems(page_reports, lambda r: r.console_errors)


def test_all_math_is_typeset_by_local_mathjax(page_reports):
    with_math = [name for name, r in page_reports.items() if r.inspection["math_total"]]
    assert with_math, "no page has any maths: the chapters' equations are missing"

    def math_trouble(r):
        return r.mathjax_problem or r.inspection["math_untypeset"] or r.inspection["math_errors"]
    assert not problems(page_reports, math_trouble), "maths not typeset:\n" + problems(page_reports, math_trouble)


def test_every_image_loads_and_has_alt_text(page_reports):
    assert sum(r.inspection["image_count"] for r in page_reports.values()), "the site has no images at all"
    assert not problems(page_reports, lambda r: r.inspection["broken_images"]), \
        "images that did not load:\n" + problems(page_reports, lambda r: r.inspection["broken_images"])
    assert not problems(page_reports, lambda r: r.inspection["images_without_alt"]), \
        "images without alt text:\n" + problems(page_reports, lambda r: r.inspection["images_without_alt"])


def test_no_page_shows_raw_markdown(page_reports):
    assert not problems(page_reports, lambda r: r.inspection["raw_markdown"]), \
        "Markdown shown as text, not rendered:\n" + problems(page_reports, lambda r: r.inspection["raw_markdown"])


def test_exercise_code_needs_no_sideways_scrolling(page_reports):
    """Each code block of an exercise page is as wide as its longest line, at the window's 1280 pixels."""
    exercises = {name: r for name, r in page_reports.items() if name.startswith("exercises/")}
    assert exercises, "the site has no exercise pages"
    assert not problems(exercises, lambda r: r.inspection["wide_code"]), \
        "code blocks that scroll sideways (their longest line):\n" + \
        problems(exercises, lambda r: r.inspection["wide_code"])


def test_a_screenshot_of_every_page(page_reports):
    missing = [name for name, r in page_reports.items() if not (r.screenshot.is_file() and r.screenshot.stat().st_size)]
    assert not missing, f"no screenshot of: {missing}"


def test_no_serious_accessibility_violation(page_reports):
    found = [f"{name}: {v['rule']}: {', '.join(v['targets'][:3])}" for name, r in page_reports.items()
             for v in r.axe_violations if v["impact"] in BLOCKING_IMPACTS]
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)


def test_tab_reaches_the_navigation_and_the_notebook_buttons(page_reports):
    # With nothing to reach the walk would pass: the theme's markup must still match TAB_TARGETS.
    assert any(name.startswith("exercises/") for name in page_reports), "the site has no exercise pages"

    def lacking(name, r):
        return sorted((EXERCISE_TAB_KINDS if name.startswith("exercises/") else {"navigation"}) - r.tab_walk["kinds"])
    missing = [f"{name}: no {kinds}" for name, r in page_reports.items() if (kinds := lacking(name, r))]
    assert not missing, "nothing of these kinds to reach (has the theme's markup changed?):\n" + "\n".join(missing)
    unreached = lambda r: r.tab_walk["unreached"] and f"{r.tab_walk['unreached']} in {r.tab_walk['bound']} presses"
    assert not problems(page_reports, unreached), "Tab does not reach:\n" + problems(page_reports, unreached)


def test_what_tab_focuses_is_visible(page_reports):
    assert not problems(page_reports, lambda r: r.tab_walk["invisible"]), \
        "Tab focuses what cannot be seen:\n" + problems(page_reports, lambda r: r.tab_walk["invisible"])
