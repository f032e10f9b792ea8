"""Move pointer-event batches from a shard's Redis stream into PointerChunk rows, exactly once.

Each shard is flushed on its own (one job per shard at a time, services/ingest/stream.py).
A flusher reads through the shard's consumer group, writes a bulk of chunks in one
transaction with INSERT ... ON CONFLICT DO NOTHING on (assignment, pageno, tab, seq),
and only then acknowledges and deletes the entries. So:
- a crash before the commit leaves the entries pending: they are read again (by
  the same consumer at its next flush, or by another one through XAUTOCLAIM);
- a crash after the commit but before the ack makes them be written again, and
  the unique key turns that into a no-op;
- a retried request or a duplicate beacon is a second entry with the same key.
Entries are deleted after the ack, so the stream's length is the unflushed backlog.
"""

from __future__ import annotations

import time
from typing import cast

from flask import current_app
from peewee import fn
from redis import Redis, RedisCluster
from redis.exceptions import ResponseError

from ...db import database, is_sqlite
from ...models import Assignment, PageSubmission, PointerChunk
from ...queues import queue
from .insert import insert_chunks
from .stream import GROUP, client, flush_job_prefix, guard_key, request_flush, stats_key, stream_key

BUDGET_S = 10  # one job flushes for at most this long, then hands over to a fresh job
LINGER_S = 0.5  # and ends after this long without new batches
GATHER_BATCHES = 50  # after a short read, wait until about this many batches have come (at the rate just seen)
GATHER_MAX_S = 1.0  # but no longer: the most a batch waits for a bulk to gather
IDLE_S = 0.25  # after an empty read, look again this much later (until LINGER_S passes without a batch)
RUNNING_GUARD_S = 5  # a running flush renews its shard's guard this far ahead (several times a second)
STATS_TTL_S = 2 * 3600
IDLE_CONSUMER_MS = 3600 * 1000
CHECKPOINT_PAGES = 16_384  # 64 MB of WAL at 4 KB pages


def ensure_group(redis: Redis | RedisCluster, shard: int) -> None:
    # From id 0, so batches appended before the group existed are flushed too.
    try:
        redis.xgroup_create(stream_key(shard), GROUP, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def flush(consumer: str, shard: int, linger: bool = True) -> int:
    """Store what is in a shard's stream; returns the number of events stored. Raises on database errors.

    Order: this consumer's own pending entries (left by an earlier failed flush),
    then entries idle longer than INGEST_CLAIM_IDLE_MS in crashed consumers, then new ones,
    staying a while for more unless ``linger`` is off (the sweep's visit of every shard).

    A flush job (``linger``) keeps its shard's flush guard set while it runs, so that the
    batches arriving meanwhile enqueue no second flush of the shard: with several ingest
    workers, two flushers of one shard would split its batches between them and commit
    each bulk half as full. Leaving, it clears the guard and hands what came after its
    last read to a new job. The guard is renewed for RUNNING_GUARD_S at a time, so a
    killed flusher's lapses soon and the next batch enqueues a new job.
    """
    redis = client()
    ensure_group(redis, shard)
    if linger:
        redis.set(guard_key(shard), 1, ex=RUNNING_GUARD_S)
    if is_sqlite():
        # A bulk is ~4 MB of WAL; at SQLite's default threshold (1,000 pages) every
        # commit would also checkpoint and fsync the database file. Checkpointing
        # every 64 MB instead takes flushing from ~550,000 to ~900,000 events/s.
        database.execute_sql(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
    try:
        stored = _drain(redis, shard, consumer, linger)
    finally:
        if linger:
            redis.delete(guard_key(shard))  # from now on a new arrival enqueues the next flush
    if _unread(redis, shard):  # arrived after the last read, before the guard went: theirs is a new job
        request_flush(shard)
    return stored


def _drain(redis: Redis | RedisCluster, shard: int, consumer: str, linger: bool) -> int:
    bulk = current_app.config["INGEST_BULK"]
    deadline = time.monotonic() + BUDGET_S
    stored = 0
    while entries := _read(redis, shard, consumer, "0", bulk):
        stored += store(redis, shard, entries)
    stored += reclaim(redis, shard, consumer)
    # Then new entries, and stay a while: under steady load one job keeps flushing
    # instead of a new one (a forked work horse, ~20 ms of CPU) for every few batches.
    # A short read means the backlog is gone: wait for a commit's worth to gather
    # (gather_s) rather than commit a few batches at a time.
    last = read_at = time.monotonic()  # last: the last read that brought batches
    while read_at < deadline:
        if linger:
            redis.expire(guard_key(shard), RUNNING_GUARD_S)
        previous, read_at = read_at, time.monotonic()
        entries = _read(redis, shard, consumer, ">", bulk)
        if entries:
            stored += store(redis, shard, entries)
            last = time.monotonic()
        elif read_at - last >= LINGER_S:
            break
        if len(entries) < bulk:
            # Drained: stay for more, unless another shard's flush (or the sweep) waits for a worker.
            if not linger or _others_waiting(shard):
                break
            time.sleep(max(0.0, read_at + gather_s(len(entries), read_at - previous) - time.monotonic()))
    return stored


def gather_s(read: int, interval: float) -> float:
    """How long after a short read of ``read`` batches, which came in ``interval`` seconds, to read again.

    As long as GATHER_BATCHES take at that rate, at most GATHER_MAX_S: at 50 batches a second a
    commit carries ~50 (a fixed 0.25 s wait gave 13-16, each commit extending and truncating
    PostgreSQL's staging table), and at 1,000 a second the flusher reads ~50 every ~50 ms rather
    than 200-250 at once every 0.25 s, each such burst a ~1 MB reply from single-threaded Redis
    and a commit's CPU while the web processes wait (docs/performance.md).
    """
    if read <= 0:
        return IDLE_S
    return min(GATHER_MAX_S, GATHER_BATCHES * interval / read)


def _unread(redis: Redis | RedisCluster, shard: int) -> int:
    """Entries no flusher has read yet: flushed ones are deleted, so the stream holds the pending and the unread."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(stream_key(shard))
        pipe.xpending(stream_key(shard), GROUP)
        length, pending = pipe.execute()
    return length - pending["pending"]


def _others_waiting(shard: int) -> bool:
    """Whether a job other than this shard's next flush is queued for the ingest workers (one LRANGE)."""
    own = flush_job_prefix(shard)
    return any(not job_id.startswith(own) for job_id in queue("ingest").get_job_ids(0, 99))


def reclaim(redis: Redis | RedisCluster, shard: int, consumer: str) -> int:
    """Take over and store entries of a shard that a crashed (or stuck) consumer has held too long."""
    config = current_app.config
    stored, start = 0, "0-0"
    while True:
        # Redis 7 adds a third item (ids deleted meanwhile, already dropped from the pending list).
        start, entries = redis.xautoclaim(
            stream_key(shard),
            GROUP,
            consumer,
            config["INGEST_CLAIM_IDLE_MS"],
            start_id=start,
            count=config["INGEST_BULK"],
        )[:2]
        if entries:
            stored += store(redis, shard, entries)
        if start in (b"0-0", "0-0"):
            return stored


def forget_idle_consumers(redis: Redis | RedisCluster, shard: int) -> int:
    """Drop consumers with nothing pending that have not read for an hour (each worker process makes one)."""
    dropped = 0
    for info in redis.xinfo_consumers(stream_key(shard), GROUP):
        if info["pending"] == 0 and info["idle"] > IDLE_CONSUMER_MS:
            dropped += redis.xgroup_delconsumer(stream_key(shard), GROUP, info["name"]) >= 0
    return dropped


def sweep(consumer: str) -> int:
    """The cron safety net, every shard in turn: flush what is left, reclaim from crashed consumers, tidy the group."""
    stored = 0
    for shard in range(current_app.config["INGEST_SHARDS"]):
        stored += flush(consumer, shard, linger=False)
        forget_idle_consumers(client(), shard)
    return stored


def _read(redis: Redis | RedisCluster, shard: int, consumer: str, start: str, count: int) -> list:
    # RESP2 (our connections) answers a list; redis-py's type allows RESP3's dict too.
    reply = cast(list, redis.xreadgroup(GROUP, consumer, {stream_key(shard): start}, count=count))
    return reply[0][1] if reply else []


def store(redis: Redis | RedisCluster, shard: int, entries: list) -> int:
    """Write one bulk of a shard's entries in one transaction, then ack and delete them; returns events stored."""
    started = time.monotonic()
    ids = [entry_id for entry_id, _ in entries]
    rows = [
        (
            int(f[b"a"]),
            int(f[b"p"]),
            int(f[b"t"]),
            int(f[b"s"]),
            int(f[b"n"]),
            f[b"e"].decode(),
            int(entry_id.split(b"-", 1)[0]),
        )
        for entry_id, f in entries
        if f  # an entry deleted while pending comes back empty: it was stored already
    ]
    live = _existing_assignments({row[0] for row in rows})
    rows = [row for row in rows if row[0] in live]  # an assignment deleted meanwhile takes its chunks with it
    if rows:
        with database.atomic():
            insert_chunks(rows)
    events = sum(row[4] for row in rows)
    now = time.time()
    minute = int(now) // 60
    with redis.pipeline(transaction=False) as pipe:
        pipe.xack(stream_key(shard), GROUP, *ids)
        pipe.xdel(stream_key(shard), *ids)
        key = stats_key(shard, minute)
        pipe.hincrby(key, "events", events)
        pipe.hincrby(key, "chunks", len(rows))
        pipe.hincrby(key, "commits", 1 if rows else 0)
        # How long the batches waited from their arrival to their commit, summed (a mean per chunk).
        pipe.hincrby(key, "lag_ms", int(now * 1000) * len(rows) - sum(row[6] for row in rows))
        pipe.hincrby(key, "busy_us", int((time.monotonic() - started) * 1e6))
        pipe.expire(key, STATS_TTL_S)
        pipe.execute()
    return events


def _existing_assignments(ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return {row[0] for row in Assignment.select(Assignment.id).where(Assignment.id.in_(list(ids))).tuples()}


def chunk_completeness(assignment_id: int) -> list[dict]:
    """Per submitted page of an assignment: chunks stored against chunks the page reported, and which are missing.

    Counted for the browser tab that submitted the page (another tab's chunks of
    the same page are kept, but were not reported). ``missing`` lists the sequence
    numbers below ``reported`` that never arrived (a batch may still be in the
    stream: look again after the next flush).
    """
    pages = (
        PageSubmission.select(PageSubmission.pageno, PageSubmission.tab, PageSubmission.chunks_reported)
        .where(PageSubmission.assignment == assignment_id)
        .order_by(PageSubmission.pageno)
        .tuples()
    )
    seqs: dict[tuple[int, int], set[int]] = {}
    for pageno, tab, seq in (
        PointerChunk.select(PointerChunk.pageno, PointerChunk.tab, PointerChunk.seq)
        .where(PointerChunk.assignment == assignment_id)
        .tuples()
    ):
        seqs.setdefault((pageno, tab), set()).add(seq)
    return [
        {
            "pageno": pageno,
            "reported": reported,
            "received": len(seqs.get((pageno, tab), ())),
            "missing": sorted(set(range(reported)) - seqs.get((pageno, tab), set())),
        }
        for pageno, tab, reported in pages
    ]


def incomplete_pages(assignment_ids: list[int] | None = None) -> int:
    """How many submitted pages (of these assignments, or all) have fewer chunks stored than they reported."""
    received = PointerChunk.select(fn.COUNT(PointerChunk.id)).where(PointerChunk.of_submission())
    query = PageSubmission.select().where(PageSubmission.chunks_reported > received)
    if assignment_ids is not None:
        query = query.where(PageSubmission.assignment.in_(assignment_ids))
    return query.count()
