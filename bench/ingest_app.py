"""The benchmark's app: production's, plus two comparison endpoints that exist only here.

Both are served like /api/ingest (by the WSGI fast path in front of Flask) and
share its reading, parsing and checking:
- POST /bench/bare drops the batch: the ceiling of this stack;
- POST /bench/direct is the naive design, one INSERT transaction per batch.

Served by gunicorn as ``--pythonpath bench 'ingest_app:create_app()'``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from flask import Flask

from freelunch import create_app as create_production_app
from freelunch.db import database
from freelunch.ingest_middleware.endpoint import ACCEPTED, Answer, Refused, checked_batch
from freelunch.models import PointerChunk


def bare(app: Flask, environ: Mapping) -> Answer:
    try:
        checked_batch(app, environ)
    except Refused as refused:
        return refused.answer
    return ACCEPTED


def direct(app: Flask, environ: Mapping) -> Answer:
    try:
        claims, batch = checked_batch(app, environ)
    except Refused as refused:
        return refused.answer
    database.connect(reuse_if_open=True)  # kept open between requests: the naive design at its best
    with database.atomic():
        PointerChunk.insert(
            assignment=claims.assignment_id,
            pageno=batch.page,
            seq=batch.seq,
            n_events=batch.n_events,
            events=batch.events_json.decode(),
            received_at=int(time.time() * 1000),
        ).on_conflict_ignore().execute()
    return ACCEPTED


def create_app() -> Flask:
    app = create_production_app()
    app.wsgi_app.routes.update({"/bench/bare": bare, "/bench/direct": direct})
    return app
