"""RQ jobs that move pointer events from the Redis streams into the database (services/ingest/flush.py)."""

from __future__ import annotations

import os
import socket

from rq import get_current_job

from freelunch.services.ingest import flush as flush_service


def _consumer() -> str:
    # One consumer per RQ worker (not per forked work horse), so a worker's next
    # flush picks up what its failed flush left pending.
    job = get_current_job()
    return (job.worker_name if job and job.worker_name else None) or f"{socket.gethostname()}.{os.getpid()}"


def flush(shard: int = 0) -> int:
    """Enqueued when batches arrive (at most one pending per shard): store what the shard's stream holds.

    ``shard`` defaults to 0 for jobs enqueued before there were shards.
    """
    return flush_service.flush(_consumer(), shard)


def sweep() -> int:
    """rq cron's safety net: store what is left in every shard, reclaim from crashed consumers."""
    return flush_service.sweep(_consumer())
