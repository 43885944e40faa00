"""Feedback and report pages: a submission's content never runs in the browser, one student never stops the rest.

A tiny class is graded through the real `autograder` command: a correct
student, a hostile one whose outputs and cells carry every way we know to run a
script in a page (a <script> in HTML and Markdown, event handlers, a JavaScript
output, an SVG with onload, an image size that would add a handler, an error
message that is HTML), and one whose autograded notebook is then cut short (as a
full disk or an interrupted copy leaves it). Each payload, if it ran, would add
its name to ``window.__pwned`` or change ``document.title``.

The pages are opened in Debian's chromium (Playwright), served from localhost;
any request that would leave localhost is blocked and recorded. The two walls
are tested each on its own too: the page with its security policy taken out
(the sanitizer alone), and the page with a script the sanitizer did not see put
back in (the policy alone). The pages typeset their maths with the MathJax they
carry, also opened as a lone file with nothing beside it, as a student gets one.

Grading runs with --no-sandbox: the payloads are ours, and what is tested is
the feedback and report steps, which do not depend on how the notebooks ran
(the sandbox has its own tests); it also keeps this module fast and root-free.
"""

import base64
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbconvert.exporters import HTMLExporter

from tests.support import corpus_tiny as tiny
from tests.support.browser import offline_browser, served

pytestmark = pytest.mark.xdist_group("feedback_safety")  # one graded class, one browser
PWNED = "(window.__pwned = window.__pwned || []).push(`{}`)"  # backquotes: no clash with the payloads' quotes
ONE_PIXEL_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cf000000030101005e5f3b4b0000000049454e44ae426082")).decode()

# The hostile student's add cell (add itself is right): one output per way in.
HOSTILE_ADD = tiny.ADD + f'''
from IPython.display import HTML, SVG, Javascript, Markdown, display
display(HTML("<b>bold text</b><script>{PWNED.format('html-script')}</script>"
             "<img src=x onerror=\\"{PWNED.format('html-onerror')}\\">"
             "<a href=\\"javascript:{PWNED.format('html-link')}\\">a link</a>"))
display(Javascript("{PWNED.format('javascript')}; document.title = 'pwned'"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
            'onload="{PWNED.format('svg-onload')}"><circle r="5"/>'
            '<script>{PWNED.format('svg-script')}</script></svg>'))
display(Markdown("*markdown output*<script>{PWNED.format('markdown-output')}</script>"))
display({{"image/png": "{ONE_PIXEL_PNG}"}}, raw=True,
        metadata={{"image/png": {{"width": "1 onload=document.title=`pwned`"}}}})  # an unquoted attribute
print("<script>{PWNED.format('stdout')}</script>")
'''
# Its mul raises an error whose message is HTML: it reaches the failed-tests summary and the report.
HOSTILE_MUL = f'def mul(a, b):\n    raise ValueError("<img src=x onerror={PWNED.format("error-message")}>")\n'
HOSTILE_MARKDOWN = (f"## Notes of the student\n\n<script>{PWNED.format('markdown-cell')}</script>\n\n"
                    f"<img src=x onerror=\"{PWNED.format('markdown-onerror')}\">\n\n"
                    "Some **notes** and a formula: $$x^2 + y^2$$ inline too, $h_t = \\tanh(z_t)$.\n\n"
                    "Maths that links: $\\href{javascript:document.title='pwned'}{click}$")


def hostile_notebook(release_dir: Path) -> str:
    nb = nbformat.reads(tiny.student_notebook(release_dir, HOSTILE_ADD, HOSTILE_MUL), as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(HOSTILE_MARKDOWN))
    return nbformat.writes(nb)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Three students graded; then one's autograded notebook cut short; then `autograder feedback` and `report`."""
    tmp = tmp_path_factory.mktemp("feedback-safety")
    paths = tiny.make_course(tmp)
    assert tiny.run(paths, "release", tiny.ASSIGNMENT) == 0
    correct = tiny.student_notebook(paths["release_dir"], tiny.ADD, tiny.MUL)
    files = {"correct_1_101_tiny.ipynb": correct, "hostile_2_102_tiny.ipynb": hostile_notebook(paths["release_dir"]),
             "broken_3_103_tiny.ipynb": correct}
    with zipfile.ZipFile(tmp / "class.zip", "w") as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2025, 3, 1, 12, 0, 0)), content)
    assert tiny.run(paths, "collect", tiny.ASSIGNMENT, tmp / "class.zip") == 0
    assert tiny.run(paths, "grade", tiny.ASSIGNMENT, "--workers", 2, "--no-sandbox") == 0
    graded = paths["course_dir"] / "autograded" / "broken" / tiny.ASSIGNMENT / "tiny.ipynb"
    graded.write_bytes(graded.read_bytes()[:len(graded.read_bytes()) // 2])
    return paths


@pytest.fixture(scope="module")
def feedback_run(graded_class):
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = tiny.run(graded_class, "feedback", tiny.ASSIGNMENT)
        assert tiny.run(graded_class, "report", tiny.ASSIGNMENT, "--format", "html") == 0
    return status, out.getvalue(), err.getvalue()


def feedback_page(paths, student) -> Path:
    return paths["course_dir"] / "feedback" / student / tiny.ASSIGNMENT / "tiny.html"


def test_one_broken_notebook_costs_only_its_students_feedback(graded_class, feedback_run):
    status, out, err = feedback_run
    assert status == 1
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("no feedback for broken: tiny.ipynb: ") and "JSON" in lines[0], err
    assert lines[1] == "autograder feedback: 1 of 3 students got no feedback (reasons above)"
    assert "feedback for 2 students" in out
    for student in ("correct", "hostile"):
        assert feedback_page(graded_class, student).is_file(), student
    assert not feedback_page(graded_class, "broken").parent.exists()


@pytest.fixture(scope="module")
def served_pages(graded_class, feedback_run):
    """A localhost server over a folder holding the class's pages and variants of them (see the tests)."""
    root = Path(tempfile.mkdtemp(prefix="feedback-pages-"))
    shutil.copytree(graded_class["course_dir"] / "feedback", root / "feedback")
    shutil.copytree(graded_class["course_dir"] / "reports", root / "reports")
    with served(root) as origin:
        yield root, origin
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def browser(served_pages):
    """Chromium whose requests may not leave localhost; yields (context, blocked URLs)."""
    with offline_browser(served_pages[1]) as (context, record):
        yield context, record["blocked"]


def visit(browser, origin, page_name, before_check=None) -> dict:
    """Load a page, let any handler fire, and say what ran and what it shows."""
    context, _ = browser
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{origin}/{page_name}", wait_until="load")
    page.wait_for_load_state("networkidle")
    if before_check:
        before_check(page)
    state = page.evaluate("""() => ({pwned: window.__pwned || [], title: document.title,
        text: document.body.innerText, bold: [...document.querySelectorAll('b')].map(b => b.textContent),
        headings: [...document.querySelectorAll('h2, h4')].map(h => h.textContent.replace('¶', '').trim()),
        markup: {scripts: document.querySelectorAll('body script').length,
                 handlers: [...document.querySelectorAll('body *')]
                     .filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
                 script_links: document.querySelectorAll('[href^="javascript:" i]').length,
                 svg: document.querySelectorAll('body svg:not(mjx-container svg)').length}})""")
    page.close()
    return dict(state, errors=errors)


def write_variant(root: Path, name: str, page: str) -> str:
    """A variant of the hostile page, beside it (same folder, same relative paths)."""
    (root / "feedback" / "hostile" / tiny.ASSIGNMENT / name).write_text(page)
    return f"feedback/hostile/{tiny.ASSIGNMENT}/{name}"


def test_nothing_a_submission_put_in_its_page_runs_and_its_work_still_shows(browser, served_pages):
    root, origin = served_pages
    state = visit(browser, origin, f"feedback/hostile/{tiny.ASSIGNMENT}/tiny.html")
    assert state["pwned"] == [] and state["title"] == "tiny", state["pwned"]
    assert f"tiny (Score: {tiny.ADD_POINTS:.1f} / {tiny.ADD_POINTS + tiny.MUL_POINTS:.1f})" in state["headings"]
    assert "Notes of the student" in state["headings"] and "bold text" in state["bold"]
    for shown in ("Tests you did not pass", "test_mul", "ValueError", "markdown output", "a link",
                  "def add(a, b):", "Some notes and a formula"):
        assert shown in state["text"], shown
    assert state["markup"] == {"scripts": 0, "handlers": 0, "script_links": 0, "svg": 0}, "it survived as markup"


def test_the_payloads_run_in_a_page_made_without_these_defences(browser, served_pages, graded_class):
    """The control: nbconvert's own HTML of the same graded notebook runs them (not counted: its JavaScript output
    needs the jQuery it asks a CDN for, SVG is an image there too, and inline Markdown keeps its script as text)."""
    root, origin = served_pages
    graded = graded_class["course_dir"] / "autograded" / "hostile" / tiny.ASSIGNMENT / "tiny.ipynb"
    plain, _ = HTMLExporter(template_name="classic").from_filename(str(graded))
    state = visit(browser, origin, write_variant(root, "plain.html", plain))
    assert {"html-script", "html-onerror", "markdown-cell", "markdown-onerror"} <= set(
        state["pwned"]) and state["title"] == "pwned", state["pwned"]


def test_the_sanitizer_alone_runs_nothing(browser, served_pages):
    root, origin = served_pages
    page = (root / "feedback" / "hostile" / tiny.ASSIGNMENT / "tiny.html").read_text()
    without_policy, found = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    assert found == 1
    state = visit(browser, origin, write_variant(root, "no-policy.html", without_policy))
    assert state["pwned"] == [] and state["title"] == "tiny"


def test_the_policy_alone_runs_nothing(browser, served_pages):
    """What the sanitizer might miss: an inline script, a handler, a script from elsewhere, put into the page."""
    root, origin = served_pages
    _, blocked = browser
    page = (root / "feedback" / "hostile" / tiny.ASSIGNMENT / "tiny.html").read_text()
    missed = (f"<script>{PWNED.format('inline')}</script><img src=x onerror=\"{PWNED.format('handler')}\">"
              f"<svg onload=\"{PWNED.format('svg')}\"></svg><script src=\"https://example.com/x.js\"></script>")
    injected = page.replace("<body>", "<body>" + missed, 1)
    assert injected != page
    blocked.clear()
    state = visit(browser, origin, write_variant(root, "injected.html", injected))
    assert state["pwned"] == [] and state["title"] == "tiny"
    assert "https://example.com/x.js" not in blocked, "the policy, not the offline guard, must stop it"


def typeset_maths(page) -> dict:
    """Wait for the page's MathJax to finish; what it typeset (as TeX) and the TeX it could not."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise.then(() => true)")
    return page.evaluate("""() => ({
        typeset: MathJax.startup.document.getMathItemsWithin(document.body).map(m => m.math.trim()),
        drawn: [...document.querySelectorAll('mjx-container')].filter(c => c.querySelector('svg')).length,
        errors: [...document.querySelectorAll('mjx-container [data-mml-node="merror"]')]
            .map(e => e.getAttribute('data-mjx-error'))})""")


def test_a_page_alone_typesets_its_maths_offline(browser, graded_class, tmp_path):
    """A student gets the .html file alone: opened from a folder holding nothing else, its maths (inline and
    displayed) is drawn by the MathJax it carries, no request leaves the machine, and TeX cannot
    make a link (its html package is off)."""
    context, blocked = browser
    page_file = tmp_path / "tiny.html"
    shutil.copy(feedback_page(graded_class, "hostile"), page_file)
    blocked.clear()
    page, errors = context.new_page(), []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route(page_file.as_uri(), lambda route: route.continue_())  # the page itself; all else as offline_browser
    page.goto(page_file.as_uri(), wait_until="load")
    maths = typeset_maths(page)
    links = page.evaluate("() => document.querySelectorAll('mjx-container a, mjx-container [href]').length")
    pwned = page.evaluate("() => window.__pwned || []")
    page.locator("mjx-container").last.click()  # on the would-be link
    title = page.evaluate("() => document.title")
    page.close()
    assert "x^2 + y^2" in maths["typeset"] and "h_t = \\tanh(z_t)" in maths["typeset"], maths
    assert maths["drawn"] == len(maths["typeset"]), maths
    assert len(maths["typeset"]) == 3 and maths["errors"] == [], maths  # \href shown as an unknown command
    left = [url for url in blocked if not url.startswith("file:")]  # the hostile <img src=x> asks for a file
    assert links == 0 and title == "tiny" and pwned == [] and errors == [] and left == [], (
        links, title, pwned, errors, left)


def test_the_report_page_runs_nothing(browser, served_pages):
    root, origin = served_pages
    page = (root / "reports" / f"{tiny.ASSIGNMENT}.html").read_text()
    assert "Content-Security-Policy" in page
    state = visit(browser, origin, f"reports/{tiny.ASSIGNMENT}.html")
    assert state["pwned"] == [] and state["title"] == f"Grading report: {tiny.ASSIGNMENT}"
    assert f"ValueError: <img src=x onerror={PWNED.format('error-message')}>" in state["text"]
