"""A page's pointer stream closes at its Submit: late batches within a short grace are kept, later ones refused.

The tracker flushes its last batches as Submit is pressed (and sendBeacon may
land a moment after the page's summary), so batches keep coming for
``GRACE_MS``; after that a batch for a submitted page is refused with 409, so
pointer data cannot change after the worker's answer was stored. One small
key per submitted page, kept as long as a token can live; the ingest endpoint
reads it with one GET, apart from the append script.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

from .stream import ingest_client

GRACE_MS = 10_000
KEEP_S = 2 * 24 * 3600  # longer than any assignment token lives (services/accounts/identity.py)


def closed_key(assignment_id: int, page: int) -> str:
    return f"ingest:closed:{assignment_id}:{page}"


def close(config: Mapping, assignment_id: int, page: int) -> None:
    """Mark the page submitted, now (the first Submit counts: a retried one does not move the time)."""
    ingest_client(config).set(closed_key(assignment_id, page), int(time.time() * 1000), nx=True, ex=KEEP_S)


def is_closed(config: Mapping, assignment_id: int, page: int, now_ms: int) -> bool:
    """Whether the page was submitted more than the grace ago."""
    closed_at = ingest_client(config).get(closed_key(assignment_id, page))
    return closed_at is not None and now_ms > int(closed_at) + GRACE_MS
