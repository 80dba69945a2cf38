"""Sphinx extension: drop repeated <script> tags from every page.

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts on
``env-before-read-docs``, which Jupyter Book 1.x fires more than once; the page then declares
``const THEBE_JS_URL`` twice and the browser logs a SyntaxError. Keeping the first copy of each script
(same file and same inline body) is exactly the page the extensions meant to produce.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (str(script), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
