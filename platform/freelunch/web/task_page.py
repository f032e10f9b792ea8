"""The worker's task page, drawn for a worker (the annotate blueprint) and for a requester's preview of a HIT
(the batch page's HITs tab), so the preview is exactly what a worker sees."""

import json

from flask import abort, render_template

from .. import storage
from ..models import VERSION_MEANINGS, ImageClass
from ..services.annotation import pages as annotation


def _term(image_class: ImageClass) -> str:
    """The class's names as the seed shows them: each capitalised, joined with ', '."""
    return ", ".join(name[:1].upper() + name[1:] for name in image_class.names) or image_class.key


def render_task(state: annotation.HitPages, version: str, token: str, partial: bool, debug: bool = False, **extra):
    """The page ``state`` is at (``partial``: the task alone, for an htmx swap), as the worker draws and submits it."""
    view = annotation.page_view(state.current, len(state.pages))
    image_class = view.hit_page.image_class
    spares = [{"key": i.key, "src": storage.image_src(i)} for i in view.spares]
    context = dict(
        view=view,
        version=version,
        image_class=image_class,
        term=_term(image_class),
        definition=image_class.description[:1].upper() + image_class.description[1:],
        token=token,
        preview=not token,
        debug=debug,
        images=[(i, storage.image_src(i)) for i in view.images],
        spares=json.dumps(spares),
        **extra,
    )
    return render_template("annotate/_task.html" if partial else "annotate/page.html", **context)


def requester_preview(hit_id: int, pageno: int, version: str, **bar):
    """A page of a HIT exactly as a worker sees it, recording nothing, with the debug overlay.

    ``bar`` is what the preview bar needs: ``batch_id`` and the batch's ``versions``.
    """
    state = annotation.hit_pages(hit_id)
    state = annotation.HitPages(state.pages, {p.pageno for p in state.pages if p.pageno < pageno})
    if state.current is None:
        abort(404)
    return render_task(state, version, "", partial=False, debug=True, version_meanings=VERSION_MEANINGS, **bar)
