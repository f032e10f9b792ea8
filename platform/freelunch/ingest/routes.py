"""The ingest endpoint: check, append to Redis, answer 202. Never touches the database."""
from __future__ import annotations

import time
from functools import lru_cache

import orjson
from flask import Response, current_app, request
from redis.exceptions import RedisError

from ..services import ingest as ingest_service
from ..services.identity import assignment_from_token
from . import bp
from .validate import MAX_BYTES, Batch, Invalid, parse

ACCEPTED = Response(b'{"ok":true}', 202, mimetype="application/json")
RETRY_AFTER_S = 5


class Refused(Exception):
    """A request answered with a JSON error: status, error name, message, extra headers."""

    def __init__(self, status: int, error: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}

    def response(self) -> Response:
        body = orjson.dumps({"error": self.error, "message": self.message})
        return Response(body, self.status, headers=self.headers, mimetype="application/json")


@lru_cache(maxsize=65_536)
def _assignment_for(secret: str, token: str) -> int | None:
    # The signature is the proof: tokens are only issued for assignments that
    # exist, so no database look-up; the cache saves the HMAC for the ~1 batch a
    # second each page sends with the same token. ``secret`` keys the cache so
    # that a rotated SECRET_KEY does not honour old tokens.
    return assignment_from_token(token)


def checked_batch() -> tuple[int, Batch]:
    """Read, parse and check the request: (assignment id, batch), or Refused. Shared with the benchmark's bare endpoint."""
    length = request.content_length
    if length is not None and length > MAX_BYTES:
        raise Refused(413, "Payload Too Large", f"A batch may have at most {MAX_BYTES} bytes.")
    body = request.stream.read(MAX_BYTES + 1)  # JSON, or sendBeacon's text/plain: the content type is not trusted
    if len(body) > MAX_BYTES:
        raise Refused(413, "Payload Too Large", f"A batch may have at most {MAX_BYTES} bytes.")
    try:
        batch = parse(body, int(time.time() * 1000))
    except Invalid as error:
        raise Refused(400, "Bad Request", str(error)) from None
    assignment_id = _assignment_for(current_app.config["SECRET_KEY"], batch.token)
    if assignment_id is None:
        raise Refused(403, "Forbidden", "The token is not a valid assignment token.")
    return assignment_id, batch


@bp.post("/ingest")
def ingest():
    try:
        assignment_id, batch = checked_batch()
        outcome = _append(assignment_id, batch)
    except Refused as refused:
        return refused.response()
    if outcome == ingest_service.FLUSH_NEEDED:
        try:
            ingest_service.enqueue_flush()
        except RedisError:
            pass  # the batch is stored; the guard lapses and the cron sweep flushes it
    return ACCEPTED


def _append(assignment_id: int, batch: Batch) -> int:
    try:
        outcome = ingest_service.append(assignment_id, batch.page, batch.seq, batch.n_events, batch.events_json)
    except RedisError:
        current_app.logger.warning("ingest: Redis unreachable, answering 503")
        raise Refused(503, "Service Unavailable", "The event buffer is unreachable; keep the batch and retry.",
                      {"Retry-After": str(RETRY_AFTER_S)}) from None
    if outcome == ingest_service.FULL:
        raise Refused(503, "Service Unavailable", "The event buffer is full while the database catches up; retry.",
                      {"Retry-After": str(RETRY_AFTER_S)})
    if outcome == ingest_service.FLOOD:
        raise Refused(429, "Too Many Requests", "Too many batches for this assignment; slow down.",
                      {"Retry-After": str(ingest_service.RATE_WINDOW_S)})
    return outcome
