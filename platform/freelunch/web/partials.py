"""Page or partial: the one place that decides whether a request gets a fragment or the whole page.

An htmx request (``HX-Request``) swaps part of a page, so it gets the fragment. Anything else gets
the whole page, and so does a history restore (``HX-History-Restore-Request``): after Back, when
htmx's history cache has no copy, htmx requests the pushed URL and puts the answer in place of the
whole body, so a list that pushed its URL must answer with its page, not its fragment.

A response whose request asked ``wanted()`` differs by those headers, so it says
``Vary: HX-Request, HX-History-Restore-Request`` (added after the view returns): no cache
hands a fragment to a full load or the reverse.
"""

from __future__ import annotations

from flask import Flask, Response, g, render_template, request

VARY = ("HX-Request", "HX-History-Restore-Request")


def wanted() -> bool:
    """True when the request swaps part of a page; the response then varies by the htmx headers."""
    g.varies_on_htmx = True
    return bool(request.htmx) and not request.htmx.history_restore_request


def render(page: str, partial: str, status: int = 200, /, **context) -> tuple[str, int]:
    """``partial`` for an htmx swap, else ``page`` (which includes the partial), with the same context.

    (Positional-only, so that the context may hold a ``page`` of its own: a pagination page.)
    """
    return render_template(partial if wanted() else page, **context), status


def _vary(response: Response) -> Response:
    if g.get("varies_on_htmx"):
        response.vary.update(VARY)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_vary)
