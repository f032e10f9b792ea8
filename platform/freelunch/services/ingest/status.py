"""What the admins' ingest page shows: the backlog in the stream, how fast it drains, what failed."""
from __future__ import annotations

import time

from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry

from ...queues import queue
from .flush import incomplete_pages
from .stream import GROUP, STREAM, client

WINDOW_MIN = 5


def status() -> dict:
    """Stream length, pending entries, oldest unflushed age, recent flush throughput, failed flush jobs."""
    redis = client()
    try:
        length = redis.xlen(STREAM)
        oldest = redis.xrange(STREAM, count=1)
        try:
            pending = redis.xpending(STREAM, GROUP)["pending"]
        except RedisError:  # no group yet: nothing was ever flushed
            pending = 0
        minute = int(time.time()) // 60
        with redis.pipeline(transaction=False) as pipe:
            for m in range(minute - WINDOW_MIN, minute + 1):
                pipe.hmget(f"ingest:stats:{m}", "events", "chunks", "busy_us")
            buckets = pipe.execute()
        ingest_queue = queue("ingest")
        failed_registry = FailedJobRegistry(queue=ingest_queue)
        failed_ids = failed_registry.get_job_ids(0, 4)
        failed = [_failure(ingest_queue, job_id) for job_id in failed_ids]
        failed_count, queued = failed_registry.count, ingest_queue.count
    except RedisError as error:
        return {"error": f"Redis is unreachable: {error}"}
    events, chunks, busy_us = (sum(int(b[i] or 0) for b in buckets) for i in range(3))
    oldest_ms = int(oldest[0][0].split(b"-")[0]) if oldest else None
    return {
        "error": None,
        "length": length,
        "pending": pending,
        "oldest_age_s": (time.time() * 1000 - oldest_ms) / 1000 if oldest_ms else None,
        "window_min": WINDOW_MIN,
        "events": events,
        "chunks": chunks,
        "events_per_s": events / (WINDOW_MIN * 60),
        "flush_events_per_busy_s": events / (busy_us / 1e6) if busy_us else None,
        "queued": queued,
        "failed_count": failed_count,
        "failed": failed,
        "incomplete_pages": incomplete_pages(),
    }


def _failure(ingest_queue, job_id: str) -> dict:
    job = ingest_queue.fetch_job(job_id)
    if job is None:
        return {"id": job_id, "func": "?", "ended_at": None, "error": "(expired)"}
    result = job.latest_result()
    error = (result.exc_string if result and result.exc_string else "").strip().splitlines()
    return {"id": job_id, "func": job.func_name, "ended_at": job.ended_at, "error": error[-1] if error else ""}
