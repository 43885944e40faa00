"""Write each inline <script> once per page.

Sphinx 7.4 keeps an inline script that an extension adds after the builder has
started (sphinx-thebe does, for its settings) twice: once with filename None,
and again with filename '' when it prepares to write. Both render as the same
<script>, and the second `const THEBE_JS_URL = ...` is a SyntaxError in the
reader's browser console.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: the builder restores its list after each page


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=900)  # after every script is added
    return {"parallel_read_safe": True, "parallel_write_safe": True}
