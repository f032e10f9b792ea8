"""A page's pointer stream closes at its Submit: late batches within a short grace are kept, later ones refused.

The tracker flushes its last batches as Submit is pressed (and sendBeacon may
land a moment after the page's summary), so batches keep coming for
``GRACE_MS``; after that a batch for a submitted page is refused with 409, so
pointer data cannot change after the worker's answer was stored. One small
key per submitted page, kept as long as a token can live, in the shard of the
page's assignment: the append script reads it in the same round trip as it
appends (services/ingest/stream.py), at no extra cost to the endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from .stream import GRACE_MS, closed_key, ingest_client, shard_of  # noqa: F401  (GRACE_MS: this module's rule)

KEEP_S = 2 * 24 * 3600  # longer than any assignment token lives (services/accounts/identity.py)


def page_closed_key(config: Mapping, assignment_id: int, page: int) -> str:
    return closed_key(shard_of(assignment_id, config["INGEST_SHARDS"]), assignment_id, page)


def close(config: Mapping, assignment_id: int, page: int) -> None:
    """Mark the page submitted, now (the first Submit counts: a retried one does not move the time)."""
    ingest_client(config).set(page_closed_key(config, assignment_id, page), int(time.time() * 1000), nx=True, ex=KEEP_S)
