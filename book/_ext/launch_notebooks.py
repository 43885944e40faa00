"""Launch buttons open a chapter as a notebook, not as its MyST source.

sphinx-book-theme points Binder and Colab at a page's source file: for a
chapter that is ``book/<chapter>.md``, which Binder opens as plain text (its
environment has no jupytext) and Colab cannot open at all. The student edition
(``autograder publish``) holds each chapter as ``book/<chapter>.ipynb`` too: the
buttons open that.
"""

SOURCE, NOTEBOOK = ".md", ".ipynb"


def open_notebooks(app, pagename, templatename, context, doctree):
    if context.get("page_source_suffix") != SOURCE:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            url = button.get("url", "")
            if url.endswith(pagename + SOURCE):
                button["url"] = url.removesuffix(SOURCE) + NOTEBOOK


def setup(app):
    app.connect("html-page-context", open_notebooks, priority=502)  # after the theme adds them (501)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
