"""Repair two pieces of generated HTML that screen readers cannot use.

- pydata-sphinx-theme 0.17 puts a chapter's sub-pages in the left navigation in
  a <details> whose <summary> holds only a chevron icon (role="presentation"):
  a nameless control. It gets an aria-label after the chapter it opens.
- docutils gives each bibliography entry the role doc-biblioentry, which
  DPUB-ARIA 1.1 deprecates, inside a role="list" that then has no list items.
  The entries get role="listitem" instead.
"""


def name_nav_toggles(app, pagename, templatename, context, doctree):
    generate = context.get("generate_toctree_html")
    if generate is None:  # not a pydata-sphinx-theme page
        return

    def generate_named(kind, *args, **kwargs):
        soup = generate(kind, *args, **kwargs)
        if kind == "sidebar":
            for summary in soup.select("li.has-children > details > summary"):
                if not summary.get_text(strip=True):
                    title = summary.find_parent("li").find("a").get_text(" ", strip=True)
                    summary["aria-label"] = f"Pages under {title}"
        return soup

    context["generate_toctree_html"] = generate_named


def citations_as_list_items(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    # After the theme has added generate_toctree_html (priority 500).
    app.connect("html-page-context", name_nav_toggles, priority=900)
    app.connect("html-page-context", citations_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
