"""The ingest buffer at a glance: the whole page, or (for htmx polling) just the figures."""

from ..services.ingest.status import status
from ..web import partials
from . import bp


@bp.get("/ingest")
def ingest():
    return partials.render("admin/ingest.html", "admin/_ingest_status.html", status=status())
