"""The benchmark's app: production's, plus two comparison endpoints that exist only here.

- POST /bench/bare: the same reading, parsing and checking as /api/ingest, then
  the batch is dropped; the ceiling of this stack.
- POST /bench/direct: the naive design, one INSERT transaction per batch.

Served by gunicorn as ``--pythonpath bench 'ingest_app:create_app()'``.
"""
from __future__ import annotations

import time

from flask import Flask

from freelunch import create_app as create_production_app
from freelunch.db import database
from freelunch.extensions import csrf
from freelunch.ingest.routes import ACCEPTED, Refused, checked_batch
from freelunch.models import PointerChunk


def bare():
    try:
        checked_batch()
    except Refused as refused:
        return refused.response()
    return ACCEPTED


def direct():
    try:
        assignment_id, batch = checked_batch()
    except Refused as refused:
        return refused.response()
    with database.atomic():
        PointerChunk.insert(assignment=assignment_id, pageno=batch.page, seq=batch.seq, n_events=batch.n_events,
                            events=batch.events_json.decode(), received_at=int(time.time() * 1000)
                            ).on_conflict_ignore().execute()
    return ACCEPTED


def create_app() -> Flask:
    app = create_production_app()
    for view in (bare, direct):
        app.add_url_rule(f"/bench/{view.__name__}", view.__name__, csrf.exempt(view), methods=["POST"])
    return app
