"""What the notebooks and the book tell students about each other is true.

The truth is read from the sources themselves: chapter titles from the first
heading of each book page that _toc.yml lists, weight names from the reference
implementation's signature and parameter keys. The texts checked are the
Markdown cells of every notebook (the instructor's and the student's) and the
book's pages.
"""

import inspect
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.course import reference
from autograder.course.api import GATES

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(ROOT.glob("solutions/*/*.ipynb")) + sorted(ROOT.glob("exercises/*/*.ipynb"))
MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
DOC_ROLE_WITH_TEXT = re.compile(r"\{doc\}`([^`<]+?)\s*<([^>`]+)>`")
# A pre-activation sum, in code (`x_t @ W_x + h_prev @ W_h + b`) or in TeX ($x_t W_x + h_{t-1} W_h + b$).
CODE_SUM = re.compile(r"x_t\s*@\s*(\w+)\s*\+\s*h_prev\s*@\s*(\w+)\s*\+\s*(\w+)")
TEX_SUM = re.compile(r"x_t\s*(W(?:_\w)?)\s*\+\s*h_\{t-1\}\s*(\w(?:_\w)?)\s*\+\s*(b(?:_\w)?)")


def toc_pages() -> list[Path]:
    """Every book page the website lists, as the file it is built from."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [entry["file"] for entry in part["chapters"] if entry["file"].startswith("book/")]
    return [ROOT / f"{name}.md" for name in files]


def title(page: Path) -> str:
    return next(line[2:].strip() for line in page.read_text().splitlines() if line.startswith("# "))


TITLES = {page.resolve(): title(page) for page in toc_pages()}


def markdown_cells(notebook: Path) -> str:
    return "\n\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")


SOURCES = [*NOTEBOOKS, *sorted(BOOK.glob("*.md"))]
SOURCE_NAMES = [source.relative_to(ROOT).as_posix() for source in SOURCES]


def markdown_of(name: str) -> str:
    """The Markdown text of a notebook (its Markdown cells) or a book page; relative links start from its folder."""
    source = ROOT / name
    return markdown_cells(source) if source.suffix == ".ipynb" else source.read_text()


def wrong_references(folder: Path, text: str) -> list[str]:
    """Links into the book that are absolute, lead to no page of the site, or do not carry the page's title."""
    base_url = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["baseurl"]
    wrong = []
    for text_shown, target in MARKDOWN_LINK.findall(text):
        if target.startswith(base_url):
            wrong.append(f"[{text_shown}]({target}): link to the page's file (a relative path), not the deployed site")
        elif "://" not in target and target.split("#")[0].endswith(".md"):
            page = (folder / target.split("#")[0]).resolve()
            if page not in TITLES:
                wrong.append(f"[{text_shown}]({target}): no page of the website")
            elif " ".join(text_shown.split()) != TITLES[page]:
                wrong.append(f"[{text_shown}]({target}): the page's title is {TITLES[page]!r}")
    for text_shown, target in DOC_ROLE_WITH_TEXT.findall(text):
        page = (folder / f"{target}.md").resolve()
        if page in TITLES and page.parent == BOOK and text_shown.lower() != TITLES[page].lower():
            wrong.append(f"{{doc}}`{text_shown} <{target}>`: the page's title is {TITLES[page]!r}")
    return wrong


def test_the_title_reader_finds_every_chapter():
    assert set(TITLES.values()) >= {"Recurrent networks and mapping types", "Vanishing and exploding gradients",
                                    "Long-term dependencies", "The LSTM", "Build and train an LSTM in Keras"}


def test_the_checker_catches_what_was_wrong():
    """The defects the site once had: a deployed URL, a title the chapter does not have, a page that is not there."""
    folder = ROOT / "exercises" / "ex3_lstm_gates"
    assert len(wrong_references(folder, "[The LSTM cell](https://lstm-course.github.io/lstm-course/book/lstm.html)"
                                        " [The LSTM cell](../../book/lstm.md) [LSTMs](../../book/keras.md)")) == 3
    assert wrong_references(folder, "[The LSTM](../../book/lstm.md) and [Build and train an LSTM in\nKeras]"
                                    "(../../book/keras_lstm.md#the-task)") == []


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_every_chapter_named_exists_under_that_title(name):
    wrong = wrong_references((ROOT / name).parent, markdown_of(name))
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


def allowed_sums() -> set[tuple[str, str, str]]:
    """The RNN's weights as rnn_cell_forward names them; each LSTM gate's as the params keys do (or for any g)."""
    rnn = tuple(list(inspect.signature(reference.rnn_cell_forward).parameters)[2:])  # after x_t, h_prev
    gates = {(f"W_{g}", f"U_{g}", f"b_{g}") for g in GATES}
    assert all(set(weights) <= set(reference.PARAM_KEYS) for weights in gates)
    return {rnn, ("W_g", "U_g", "b_g")} | gates


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_every_pre_activation_uses_the_weights_the_code_uses(name):
    """`x_t @ W + h_prev @ U + b` was promised everywhere while ex1, ex2 and the RNN chapter use W_x, W_h."""
    text = markdown_of(name)
    sums = [tuple(s.replace("{", "").replace("}", "") for s in found)
            for pattern in (CODE_SUM, TEX_SUM) for found in pattern.findall(text)]
    wrong = [s for s in sums if s not in allowed_sums()]
    assert not wrong, f"{name} writes pre-activations with weights no function has: {wrong}"


def test_every_sum_form_is_recognised():
    assert CODE_SUM.findall("`x_t @ W + h_prev @ U + b`") == [("W", "U", "b")]
    assert TEX_SUM.findall("$x_t W + h_{t-1} U + b$") == [("W", "U", "b")]
    assert TEX_SUM.findall(r"\tanh(x_t W_x + h_{t-1} W_h + b)") == [("W_x", "W_h", "b")]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_notebook_says_how_to_validate_it_before_handing_in(notebook):
    intro = nbformat.read(notebook, as_version=4).cells[0].source
    assert f"nbgrader validate {notebook.name}" in intro and "Before you hand in" in intro, notebook.name
    assert "fails" in intro and "hidden tests" in intro, "say what validation checks and what it cannot"


def test_the_exercises_page_says_how_to_validate():
    page = (BOOK / "exercises.md").read_text()
    assert "## Checking before you hand in" in page and "nbgrader validate" in page
    assert "--Execute.timeout" in page, "ex4's training cell needs more than nbgrader's default 30 s"
