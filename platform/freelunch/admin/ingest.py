"""The ingest buffer at a glance: the whole page, or (for htmx polling) just the figures."""
from flask import render_template, request

from ..services.ingest.status import status
from . import bp


@bp.get("/ingest")
def ingest():
    template = "admin/_ingest_status.html" if request.htmx else "admin/ingest.html"
    return render_template(template, status=status())
