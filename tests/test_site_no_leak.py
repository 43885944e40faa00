"""No solution and no hidden test reaches the published website.

The instructor's notebooks solutions/<name>/<name>.ipynb hold the model answers
(between nbgrader's solution delimiters, or whole markdown cells marked as
solutions) and the hidden tests. Every file under _build/html (pages, _sources,
search index, images) is searched for

* a byte-for-byte copy of any file of solutions/, or a path through solutions/;
* any solution or hidden-test block, as text with whitespace collapsed;
* any line of such a block (30 characters or more) that the student notebook
  exercises/<name>/<name>.ipynb does not show anyway;
* nbgrader's delimiters themselves.

The last test proves the search fires: it builds a throwaway book whose only
page is a solution notebook and requires every secret to be found in it.
"""

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
from traitlets.config.loader import PyFileConfigLoader

from autograder.pipeline.publish import revealed_by_make
from tests.support import ROOT

SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
MIN_BLOCK_CHARS = 20  # shorter blocks ("return h") are too generic to point at a leak
MIN_LINE_CHARS = 30

nbgrader_config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
_solutions = ClearSolutions(config=nbgrader_config)
_hidden = ClearHiddenTests(config=nbgrader_config)
DELIMITERS = {
    "solution": (_solutions.begin_solution_delimeter, _solutions.end_solution_delimeter),
    "hidden test": (_hidden.begin_test_delimeter, _hidden.end_test_delimeter),
}


def collapse(text):
    return " ".join(text.split())


def delimited_blocks(source, begin, end):
    """The text between each begin/end delimiter line, as nbgrader finds them."""
    blocks, current = [], None
    for line in source.splitlines():
        if begin in line:
            current = []
        elif end in line and current is not None:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def notebook_secrets(path):
    """Every solution and hidden-test block of one instructor notebook, as raw text."""
    secrets = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        found = False
        for kind, (begin, end) in DELIMITERS.items():
            for block in delimited_blocks(source, begin, end):
                secrets.append((kind, cell["cell_type"], block))
                found = True
        if not found and cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get("solution"):
            secrets.append(("solution", "markdown", source))  # a written answer: the whole cell
    return secrets


def student_text(name):
    student = EXERCISES / name / f"{name}.ipynb"
    if not student.is_file():
        return ""
    return collapse("\n".join("".join(c["source"]) for c in json.loads(student.read_text(encoding="utf-8"))["cells"]))


@dataclass(frozen=True)
class Telltale:
    """A piece of secret text that must not appear in a published file."""
    notebook: str
    kind: str
    cell_type: str
    text: str


def telltales(notebooks):
    found = []
    for path in notebooks:
        public = student_text(path.stem)
        for kind, cell_type, raw in notebook_secrets(path):
            block = collapse(raw)
            if len(block) >= MIN_BLOCK_CHARS:
                found.append(Telltale(path.stem, kind, cell_type, block))
            found += [Telltale(path.stem, f"{kind} line", cell_type, line)
                      for line in map(collapse, raw.splitlines())
                      if len(line) >= MIN_LINE_CHARS and line not in public and line != block]
    return found


class VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def published_text(path):
    """The text a reader could get out of one built file, whitespace collapsed ('' if binary)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""
    if path.suffix in (".html", ".htm"):
        parser = VisibleText()
        parser.feed(raw)
        raw = "".join(parser.parts)  # highlighted code is split into spans: join them back
    elif path.suffix in (".ipynb", ".json"):
        try:
            raw = "\n".join(json_strings(json.loads(raw)))
        except json.JSONDecodeError:
            pass
    return collapse(raw)


def find_leaks(site, notebooks):
    """Every (built file, what leaked) for the given instructor notebooks."""
    site_files = [p for p in site.rglob("*") if p.is_file()]
    leaks = [(p.relative_to(site).as_posix(), "path through solutions/") for p in site_files
             if "solutions" in p.relative_to(site).parts]
    solution_hashes = {hashlib.sha256(p.read_bytes()).hexdigest(): p.relative_to(ROOT).as_posix()
                       for p in SOLUTIONS.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    secrets = telltales(notebooks)
    delimiters = [d for pair in DELIMITERS.values() for d in pair]
    for p in site_files:
        name = p.relative_to(site).as_posix()
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest in solution_hashes:
            leaks.append((name, f"copy of {solution_hashes[digest]}"))
        text = published_text(p)
        leaks += [(name, f"nbgrader delimiter {d!r}") for d in delimiters if d in text]
        leaks += [(name, secret) for secret in secrets if secret.text in text]
    return leaks


def solution_notebooks():
    notebooks = sorted(p for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name)
    if not notebooks:
        pytest.fail(f"no instructor notebook solutions/<name>/<name>.ipynb in {SOLUTIONS}: nothing to check against",
                    pytrace=False)
    return notebooks


def test_solution_notebooks_have_secrets_to_look_for():
    for notebook in solution_notebooks():
        kinds = {t.kind for t in telltales([notebook])}
        assert {"solution", "hidden test"} <= kinds, f"{notebook.name}: found only {kinds} (delimiters changed?)"


def test_no_solution_or_hidden_test_in_the_built_site(site_html):
    """Of every assignment whose solutions make's REVEAL does not reveal (the site was built with it)."""
    leaks = find_leaks(site_html, [nb for nb in solution_notebooks() if nb.stem not in revealed_by_make()])
    assert not leaks, "the website leaks:\n" + "\n".join(f"{file}: {what}" for file, what in leaks)


def test_the_search_finds_a_solution_notebook_put_on_a_website(tmp_path):
    """Build a throwaway book of one solution notebook: every secret must be found."""
    notebook = solution_notebooks()[0]
    (tmp_path / notebook.name).write_bytes(notebook.read_bytes())
    (tmp_path / "_config.yml").write_text("title: leak check\nexecute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text(f"format: jb-book\nroot: {notebook.stem}\n")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run([str(jupyter_book), "build", str(tmp_path)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    site = tmp_path / "_build" / "html"

    page = site / f"{notebook.stem}.html"
    page_text = published_text(page)
    code_secrets = [t for t in telltales([notebook]) if t.cell_type == "code"]
    assert code_secrets and all(t.text in page_text for t in code_secrets), "rendered code was not recognised"
    leaked = {what for _, what in find_leaks(site, [notebook])}
    assert set(telltales([notebook])) <= leaked
    assert any(isinstance(what, str) and what.startswith("copy of solutions/") for what in leaked)
