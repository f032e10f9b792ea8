"""How flush jobs share a shard: one at a time, and nothing lost between one and the next."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from factories import make_assignment, pointer_batch
from rq import Queue
from support import post_ingest

from freelunch.models import PointerChunk
from freelunch.services.ingest import flush as flush_service
from freelunch.services.ingest.stream import GROUP, guard_key, stats_key, stream_key

STREAM = stream_key(0)  # one shard by default


@pytest.fixture
def token(app):
    return make_assignment(app)[1]


def test_a_running_flush_keeps_its_shard_and_hands_late_batches_to_a_new_job(
    app, client, token, redis_client, run_jobs, monkeypatch
):
    queue = Queue("ingest", connection=redis_client)
    assert post_ingest(client, pointer_batch(token, seq=0)).status_code == 202
    assert queue.count == 1  # the first batch enqueued the shard's flush
    real_drain, seen = flush_service._drain, {}

    def drain_then_a_late_batch(*args):
        stored = real_drain(*args)
        if not seen:  # the first job, after its last read: a batch comes while it still holds the shard
            seen["guard_ttl"] = redis_client.ttl(guard_key(0))
            seen["answer"] = post_ingest(client, pointer_batch(token, seq=1)).status_code
            seen["queued"] = queue.count
        return stored

    monkeypatch.setattr(flush_service, "_drain", drain_then_a_late_batch)
    run_jobs("ingest")  # the first flush job, then the one it handed the late batch to

    assert seen["answer"] == 202 and seen["queued"] == 0  # no second flusher of the shard while one runs
    assert 0 < seen["guard_ttl"] <= flush_service.RUNNING_GUARD_S  # a killed flusher's guard lapses soon
    assert sorted(PointerChunk.select(PointerChunk.seq).tuples()) == [(0,), (1,)]  # the late batch too, once
    assert redis_client.xlen(STREAM) == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 0
    assert not redis_client.exists(guard_key(0)) and queue.count == 0  # nothing left, nothing pending
    assert post_ingest(client, pointer_batch(token, seq=2)).status_code == 202
    assert queue.count == 1  # with no flush running, a batch enqueues one again


def test_each_commit_counts_in_the_flush_statistics(app, client, token, redis_client, run_jobs):
    app.config["INGEST_BULK"] = 2
    for seq in range(5):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    run_jobs("ingest")

    stats = redis_client.hgetall(stats_key(0, int(time.time()) // 60))
    if not stats:  # the flush ran across a minute's turn
        stats = redis_client.hgetall(stats_key(0, int(time.time()) // 60 - 1))
    assert int(stats[b"chunks"]) == 5 and int(stats[b"commits"]) == 3  # bulks of 2, 2 and 1
    assert int(stats[b"lag_ms"]) >= 0


def test_at_low_load_a_commit_carries_about_a_second_of_batches(app, client, redis_client, monkeypatch):
    """50 batches a second, on a clock of the test's own: each of the flush's waits lets that many arrive."""
    clock, sent = [1000.0], []
    tokens = [make_assignment(app)[1] for _ in range(5)]  # 40 batches each, within the flood limit

    def sleep(seconds: float) -> None:
        for _ in range(round(seconds * 50)):
            if len(sent) < 200:
                batch = pointer_batch(tokens[len(sent) % 5], seq=len(sent))
                sent.append(post_ingest(client, batch).status_code)
        clock[0] += seconds

    monkeypatch.setattr(flush_service, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=sleep, time=time.time))
    with app.app_context():
        flush_service.flush("worker", 0)

    assert sorted(set(sent)) == [202] and len(sent) == 200 and PointerChunk.select().count() == 200
    minute = int(time.time()) // 60
    commits = sum(int(redis_client.hget(stats_key(0, m), "commits") or 0) for m in (minute - 1, minute))
    assert commits <= 6  # ~50 a commit; a fixed 0.25 s wait made it 16 commits of ~12
