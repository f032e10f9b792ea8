"""The batch page's tabs: each tab has its own URL; a tab click swaps only the tab, anything else gets the whole page.

A click on a tab is an htmx request aimed at ``#batch-tab`` (pushed into the history), a list
inside a tab (paging, filters) aims at its own element and gets that list's partial, and a direct
load, a reload or a history restore gets the whole page. The answer varies on those headers so
no cache hands a partial to a full load.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, make_response, render_template, request

from ..models import Batch
from ..services import jobs
from ..services.annotation import places
from ..services.batches import builder
from ..services.review import progress
from . import job_events, partials

TAB_TARGET = "batch-tab"


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    endpoint: str


TABS = (
    Tab("overview", "Overview", "batches.show"),
    Tab("hits", "HITs", "batches.hits"),
    Tab("links", "Lab links", "batches.links"),
    Tab("mturk", "MTurk", "mturk.tab"),
    Tab("review", "Review", "review.assignments"),
    Tab("results", "Results", "review.results"),
    Tab("exports", "Exports", "review.exports_view"),
)


def render_tab(
    tab: str, template: str, batch: Batch, partial: str | None = None, status: int = 200, **context
) -> Response:
    """``template`` (which extends ``batch_layout``) as a tab swap or a whole page; ``partial`` for a list's swap."""
    swap = partials.wanted()
    if swap and request.htmx.target == TAB_TARGET:
        layout = "batches/_tab.html"
    elif swap and partial:
        layout = None
    else:
        layout = "batches/_page.html"
    context.setdefault("progress", batch_progress(batch))
    if layout == "batches/_page.html":  # the whole page hears, from now on, what jobs nobody on it started announce
        heard, _ = job_events.announcements(batch.organization_id, jobs.batch_scope(batch.id), None)
        context.setdefault("announced", heard)
    body = render_template(template if layout else partial, batch=batch, tab=tab, batch_layout=layout, **context)
    response = make_response(body, status)
    response.vary.add("HX-Target")  # partials adds HX-Request and HX-History-Restore-Request
    return response


def batch_progress(batch: Batch) -> progress.BatchProgress:
    """The figures above the tabs and on the Overview (services/review/progress.py), with the places' rule of which
    unfinished assignments are still being worked on (services/annotation/places.py): every view that draws them
    reads them here. A build whose job RQ will never run is settled failed first (services/batches/builder.settle),
    so ``batch`` (updated in place) and the figures say so, and no view polls it as building forever."""
    builder.settle(batch)
    return progress.batch_progress(batch, places.working(batch))
