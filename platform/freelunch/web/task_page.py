"""The worker's task page, drawn for a worker (the annotate blueprint) and for a requester's preview of a HIT
(the batch page's HITs tab), so the preview is exactly what a worker sees."""

import json
from urllib.parse import urlencode

from flask import abort, render_template, url_for

from ..models import VERSION_MEANINGS, ImageClass
from ..services.annotation import image_refs
from ..services.annotation import pages as annotation


def _term(image_class: ImageClass) -> str:
    """The class's names as the seed shows them: each capitalised, joined with ', '."""
    return ", ".join(name[:1].upper() + name[1:] for name in image_class.names) or image_class.key


def _image_sources(view: annotation.PageView, token: str, assignment_id: int | None):
    """(ref, src) of each image the page shows, grid and spares, by image id: nothing in either names the image.

    A stored image loads through the annotate blueprint's image route, by the page's token (a preview's: its
    HIT, signed) and the image's ref; an image imported by URL loads from the requester's URL, as given.
    """
    hit_page = view.hit_page
    page_scope = image_refs.scope(view.pageno, assignment_id=assignment_id, hit_id=hit_page.hit_id)
    refs = image_refs.refs(page_scope, [i.id for i in view.images + view.spares])
    prefix = url_for("annotate.image", pageno=view.pageno, ref="-")[:-1]  # one url_for, not one per image
    query = urlencode({"token": token} if assignment_id else {"preview": image_refs.preview_key(hit_page.hit_id)})
    return {i.id: (refs[i.id], i.url or f"{prefix}{refs[i.id]}?{query}") for i in view.images + view.spares}


def render_task(
    state: annotation.HitPages,
    version: str,
    token: str,
    partial: bool,
    debug: bool = False,
    assignment_id: int | None = None,
    **extra,
):
    """The page ``state`` is at (``partial``: the task alone, for an htmx swap), as the worker draws and submits it.

    ``assignment_id``: the assignment ``token`` is for; without one (a preview) the page's refs are the HIT's.
    """
    view = annotation.page_view(state.current, len(state.pages))
    image_class = view.hit_page.image_class
    sources = _image_sources(view, token, assignment_id)
    spares = [{"id": sources[i.id][0], "src": sources[i.id][1]} for i in view.spares]
    context = dict(
        view=view,
        version=version,
        image_class=image_class,
        term=_term(image_class),
        definition=image_class.description[:1].upper() + image_class.description[1:],
        token=token,
        preview=not token,
        debug=debug,
        images=[sources[i.id] for i in view.images],
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
