from functools import lru_cache

import markdown
from flask import Response, abort, current_app, render_template, send_from_directory
from markupsafe import Markup

from ..config import ROOT
from ..services import demo
from . import bp

# Help pages are the repository's own docs, rendered: one text for developers and users, kept in step once.
PAGES = {"imports": ("Import formats", "import-formats.md")}
SAMPLES = {
    "shapes-classes.csv": ("text/csv", demo.sample_classes_csv),
    "shapes-images.zip": ("application/zip", demo.sample_images_zip),
}


@lru_cache(maxsize=len(PAGES))
def _render(filename: str) -> Markup:
    text = (ROOT / "docs" / filename).read_text(encoding="utf-8")
    return Markup(markdown.markdown(text, extensions=["tables", "fenced_code", "toc"]))


@bp.get("/<page>")
def show(page):
    if page not in PAGES:
        abort(404)
    title, filename = PAGES[page]
    return render_template("help/page.html", title=title, body=_render(filename))


def favicon():
    """/favicon.ico for pages without a <link rel="icon">, so no browser logs a 404 (static/favicon.ico is the
    RQ monitor's own link, static/favicon.svg ours)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/x-icon", max_age=86400)


@bp.get("/samples/<name>")
def sample(name):
    """Small files to try the imports with: the demo's shape classes and images (drawn, nothing downloaded)."""
    if name not in SAMPLES:
        abort(404)
    mimetype, make = SAMPLES[name]
    return Response(make(), mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})
