"""What the admins' ingest page shows: the backlog in each shard's stream, how fast it drains, what failed."""

from __future__ import annotations

import time

from flask import current_app
from redis import RedisCluster
from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry

from ...queues import queue
from .flush import incomplete_pages
from .stream import GROUP, client, stats_key, stream_key

WINDOW_MIN = 5


def status() -> dict:
    """Per shard and in total: stream length, pending entries, oldest unflushed age, recent flush throughput;
    and the failed flush jobs."""
    redis = client()
    config = current_app.config
    try:
        shards = [_shard(redis, shard) for shard in range(config["INGEST_SHARDS"])]
        ingest_queue = queue("ingest")
        failed_registry = FailedJobRegistry(queue=ingest_queue)
        failed_ids = failed_registry.get_job_ids(0, 4)
        failed = [_failure(ingest_queue, job_id) for job_id in failed_ids]
        failed_count, queued = failed_registry.count, ingest_queue.count
    except RedisError as error:
        return {"error": f"Redis is unreachable: {error}"}
    ages = [s["oldest_age_s"] for s in shards if s["oldest_age_s"] is not None]
    events, chunks, busy_us = (sum(s[k] for s in shards) for k in ("events", "chunks", "busy_us"))
    return {
        "error": None,
        "shards": shards,
        "length": sum(s["length"] for s in shards),
        "pending": sum(s["pending"] for s in shards),
        "oldest_age_s": max(ages) if ages else None,
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


def _shard(redis, shard: int) -> dict:
    stream = stream_key(shard)
    length = redis.xlen(stream)
    oldest = redis.xrange(stream, count=1)
    try:
        pending = redis.xpending(stream, GROUP)["pending"]
    except RedisError:  # no group yet: nothing was ever flushed
        pending = 0
    minute = int(time.time()) // 60
    with redis.pipeline(transaction=False) as pipe:
        for m in range(minute - WINDOW_MIN, minute + 1):
            pipe.hmget(stats_key(shard, m), "events", "chunks", "busy_us")
        buckets = pipe.execute()
    events, chunks, busy_us = (sum(int(b[i] or 0) for b in buckets) for i in range(3))
    oldest_ms = int(oldest[0][0].split(b"-")[0]) if oldest else None
    return {
        "shard": shard,
        "node": _node(redis, stream),
        "length": length,
        "pending": pending,
        "oldest_age_s": (time.time() * 1000 - oldest_ms) / 1000 if oldest_ms else None,
        "events": events,
        "chunks": chunks,
        "busy_us": busy_us,
        "events_per_s": events / (WINDOW_MIN * 60),
    }


def _node(redis, key: str) -> str:
    """Which Redis holds a key: the cluster master serving its slot, or the one server."""
    if isinstance(redis, RedisCluster):
        node = redis.get_node_from_key(key)
        return f"{node.host}:{node.port}"
    kwargs = redis.connection_pool.connection_kwargs
    return kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"


def _failure(ingest_queue, job_id: str) -> dict:
    job = ingest_queue.fetch_job(job_id)
    if job is None:
        return {"id": job_id, "func": "?", "ended_at": None, "error": "(expired)"}
    result = job.latest_result()
    error = (result.exc_string if result and result.exc_string else "").strip().splitlines()
    return {"id": job_id, "func": job.func_name, "ended_at": job.ended_at, "error": error[-1] if error else ""}
