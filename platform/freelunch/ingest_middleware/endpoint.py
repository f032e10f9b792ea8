"""The ingest endpoint: read, check, append to Redis, answer 202. Never touches the database."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import lru_cache

import orjson
from flask import Flask
from redis.exceptions import RedisError

from ..services.accounts.identity import TokenClaims, token_claims
from ..services.ingest import stream as ingest_service
from ..services.ingest.validate import MAX_BYTES, Batch, Invalid, parse

RETRY_AFTER_S = 5
Answer = tuple[int, bytes, list[tuple[str, str]]]  # status, JSON body, extra headers
ACCEPTED: Answer = (202, b'{"ok":true}', [])


class Refused(Exception):
    """A request answered with a JSON error: status, error name, message, extra headers."""

    def __init__(self, status: int, error: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.answer: Answer = (status, orjson.dumps({"error": error, "message": message}), headers or [])


@lru_cache(maxsize=65_536)
def _claims_for(app: Flask, secret: str, token: str) -> TokenClaims | None:
    # The signature is the proof: tokens are only issued for assignments that
    # exist, so no database look-up; the cache saves the HMAC for the ~1 batch a
    # second each page sends with the same token. ``secret`` is part of the key
    # so that a rotated SECRET_KEY does not honour old tokens. Expiry is checked
    # on every batch, outside the cache.
    with app.app_context():
        return token_claims(token)


def read_body(environ: Mapping) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        raise Refused(400, "Bad Request", "Content-Length is not a number.") from None
    if length > MAX_BYTES:
        raise Refused(413, "Payload Too Large", f"A batch may have at most {MAX_BYTES} bytes.")
    # JSON, or sendBeacon's text/plain: the content type is not trusted either way.
    body = environ["wsgi.input"].read(length if length >= 0 else MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise Refused(413, "Payload Too Large", f"A batch may have at most {MAX_BYTES} bytes.")
    return body


def checked_batch(app: Flask, environ: Mapping) -> tuple[TokenClaims, Batch]:
    """(the token's claims, batch) of a request, or Refused. Shared with the benchmark's bare endpoint."""
    try:
        batch = parse(read_body(environ), int(time.time() * 1000))
    except Invalid as error:
        raise Refused(400, "Bad Request", str(error)) from None
    claims = _claims_for(app, app.config["SECRET_KEY"], batch.token)
    if claims is None:
        raise Refused(403, "Forbidden", "The token is not a valid assignment token.")
    if claims.expires_at <= time.time():
        raise Refused(403, "Forbidden", "The token has expired with its assignment.")
    if batch.page > claims.pages:
        raise Refused(400, "Bad Request", f"page must be one of the HIT's {claims.pages} pages.")
    return claims, batch


def ingest(app: Flask, environ: Mapping) -> Answer:
    """POST /api/ingest (docs/ingest.md)."""
    config = app.config
    try:
        claims, batch = checked_batch(app, environ)
        assignment_id = claims.assignment_id
        outcome = _append(config, claims, batch)
    except Refused as refused:
        return refused.answer
    if outcome == ingest_service.FLUSH_NEEDED:
        try:
            ingest_service.enqueue_flush(
                config["REDIS_URL"], ingest_service.shard_of(assignment_id, config["INGEST_SHARDS"])
            )
        except RedisError:
            pass  # the batch is stored; the guard lapses and the cron sweep flushes it
    return ACCEPTED


def _append(config: Mapping, claims: TokenClaims, batch: Batch) -> int:
    bounds = ingest_service.Bounds.of(
        claims.assignment_id, claims.pages, claims.expires_at, claims.hit_id, claims.page_bytes, claims.hit_bytes
    )
    try:
        outcome = ingest_service.append(
            config, claims.assignment_id, batch.page, batch.tab, batch.seq, batch.n_events, batch.events_json, bounds
        )
    except RedisError:
        raise Refused(
            503,
            "Service Unavailable",
            "The event buffer is unreachable; keep the batch and retry.",
            [("Retry-After", str(RETRY_AFTER_S))],
        ) from None
    if outcome == ingest_service.FULL:
        raise Refused(
            503,
            "Service Unavailable",
            "The event buffer is full while the database catches up; retry.",
            [("Retry-After", str(RETRY_AFTER_S))],
        )
    if outcome == ingest_service.CLOSED:
        raise Refused(409, "Conflict", "This page was submitted; its pointer data is closed.")
    if outcome == ingest_service.PAGE_FULL:
        raise Refused(
            409,
            "Conflict",
            "This page has sent more pointer data than a worker's page holds (docs/ingest.md); the rest is refused.",
        )
    if outcome == ingest_service.HIT_FULL:
        raise Refused(
            409, "Conflict", "This HIT has stored as much pointer data as all its assignments may; the rest is refused."
        )
    if outcome == ingest_service.FLOOD:
        raise Refused(
            429,
            "Too Many Requests",
            "Too many batches for this assignment; slow down.",
            [("Retry-After", str(ingest_service.RATE_WINDOW_S))],
        )
    return outcome
