"""Ingest over a real local Redis Cluster (3 masters + 3 replicas): every acknowledged batch stored exactly once.

Through: the shards spread over the masters, a flusher killed mid-bulk, a shard
added, and a master killed with its replica promoted. The last one also shows
what a failover can lose (docs/ingest.md, "Redis Cluster and failover"): batches
acknowledged by a master that had not yet reached its replica.
"""

from __future__ import annotations

import os
import signal

import pytest
import redis
from burst_worker import BurstWorker
from factories import make_assignment, pointer_batch
from processes import ingest_worker, kill_worker, wait_until, write_lock
from rq import Queue
from support import post_ingest

from freelunch.models import PointerChunk
from freelunch.services.ingest.status import status
from freelunch.services.ingest.stream import GROUP, ingest_client, shard_of, stream_key

pytestmark = pytest.mark.cluster
SHARDS = 6  # hash tags {0}..{5} fall on all three masters (docs/ingest.md, "Shards")


@pytest.fixture
def app_config(app_config, redis_cluster):
    redis_cluster.flushall()
    return {
        **app_config,
        "INGEST_REDIS_URL": redis_cluster.url,
        "INGEST_REDIS_CLUSTER": True,
        "INGEST_SHARDS": SHARDS,
        "INGEST_RATE_LIMIT": 10_000,
    }


@pytest.fixture
def assignments(app):
    """Twelve assignments: two per shard."""
    return dict(make_assignment(app, worker=f"W{k:09d}") for k in range(12))


def send(client, assignments, seqs) -> set[tuple[int, int]]:
    """POST a batch per assignment and seq; returns the (assignment id, seq) pairs answered 202."""
    accepted = set()
    for seq in seqs:
        for assignment, token in assignments.items():
            if post_ingest(client, pointer_batch(token, seq=seq, n=10)).status_code == 202:
                accepted.add((assignment.id, seq))
    return accepted


def stored() -> list[tuple[int, int]]:
    return sorted(PointerChunk.select(PointerChunk.assignment, PointerChunk.seq).tuples())


def flush_everything(app, redis_client) -> None:
    """What the workers and cron do: the queued flush jobs, then the sweep of every shard."""
    app.config["INGEST_CLAIM_IDLE_MS"] = 0
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")
    with app.app_context():
        BurstWorker([Queue("ingest", connection=redis_client)], connection=redis_client).work(burst=True)


def assert_empty(app) -> None:
    with app.app_context():
        cluster = ingest_client(app.config)
        for shard in range(app.config["INGEST_SHARDS"]):
            assert cluster.xlen(stream_key(shard)) == 0
            assert cluster.xpending(stream_key(shard), GROUP)["pending"] == 0


def test_shards_spread_over_the_masters_and_flush_exactly_once(
    app, client, assignments, redis_client, redis_cluster, run_jobs
):
    accepted = send(client, assignments, range(5))
    assert len(accepted) == 60
    with app.app_context():
        shards = status()["shards"]
        cluster = ingest_client(app.config)
    masters = {s["shard"]: s["node"] for s in shards}
    assert masters == {shard: f"127.0.0.1:{redis_cluster.master_of(stream_key(shard))}" for shard in range(SHARDS)}
    assert len(set(masters.values())) == 3  # every master holds a shard
    assert [s["length"] for s in shards] == [10] * SHARDS
    for shard in range(SHARDS):  # a page's batches in order, in its assignment's shard
        entries = cluster.xrange(stream_key(shard))
        assert {shard_of(int(f[b"a"]), SHARDS) for _, f in entries} == {shard}
    assert len(Queue("ingest", connection=redis_client).jobs) == SHARDS  # one flush job per shard

    run_jobs("ingest")
    assert stored() == sorted(accepted)
    assert_empty(app)


def test_a_flusher_killed_mid_bulk_loses_and_doubles_nothing(
    app, app_config, client, assignments, redis_client, redis_url, tmp_path
):
    """A real `rq worker` flushing from the cluster is SIGKILLed while its bulk waits inside the INSERT."""
    accepted = send(client, assignments, range(10))
    env = {
        **os.environ,
        "FREELUNCH_ENV": "testing",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "FREELUNCH_INSTANCE": str(tmp_path),
        "INGEST_REDIS_URL": app_config["INGEST_REDIS_URL"],
        "INGEST_REDIS_CLUSTER": "true",
        "INGEST_SHARDS": str(SHARDS),
        "INGEST_BULK": "7",
    }
    with app.app_context():
        cluster = ingest_client(app.config)

    def pending() -> int:
        return sum(
            cluster.xpending(stream_key(s), GROUP)["pending"]
            for s in range(SHARDS)
            if cluster.exists(stream_key(s)) and cluster.xinfo_groups(stream_key(s))
        )

    with write_lock(app):
        worker = ingest_worker(redis_url, env)
        try:
            wait_until(lambda: pending() > 0, what="the worker to read a bulk from the cluster")
            kill_worker(worker)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    assert stored() == [] and pending() == 7  # one bulk held by the dead consumer

    flush_everything(app, redis_client)  # the cron sweep reclaims it
    assert stored() == sorted(accepted)
    assert_empty(app)


def test_a_shard_added_keeps_every_batch_exactly_once(app, client, assignments, redis_client, run_jobs):
    app.config["INGEST_SHARDS"] = 3
    before = send(client, assignments, range(4))
    app.config["INGEST_SHARDS"] = 4  # a deploy with one more shard: assignments move, pages continue
    after = send(client, assignments, range(3, 8))  # seq 3 again: a retry lands in the new shard
    moved = [a for a in assignments if shard_of(a.id, 3) != shard_of(a.id, 4)]
    assert moved  # the test means something: some pages now span two shards

    run_jobs("ingest")
    flush_everything(app, redis_client)
    assert stored() == sorted(before | after)  # each (assignment, seq) once, whichever shard carried it
    assert_empty(app)


def test_a_master_killed_and_its_replica_promoted(app, client, assignments, redis_client, redis_cluster):
    """Exactly once through a failover, and what it can lose: writes the replica had not received.

    The replica is cut off (stopped, and its link dropped) while its master
    acknowledges a flush's XACK/XDEL and five more batches, then the master is
    killed and the replica, resumed, takes over with the state it had: the flushed batches come back (and are not
    doubled: the unique key), the five batches acknowledged only by the master are lost.
    """
    shard = 0
    in_shard = {a: t for a, t in assignments.items() if shard_of(a.id, SHARDS) == shard}
    master = redis_cluster.master_of(stream_key(shard))
    replica = redis_cluster.replica_of(master)
    replicated = send(client, in_shard, range(5))
    wait_until(lambda: redis_cluster.replicas_in_sync() and _offsets_equal(master, replica), what="replication")

    def resume_replica():
        os.kill(redis_cluster.processes[replica].pid, signal.SIGCONT)

    # The replica stops and its master drops the link: what the master acknowledges from now on
    # reaches no replica (without the drop it would wait in the link's socket buffers, and arrive).
    os.kill(redis_cluster.processes[replica].pid, signal.SIGSTOP)
    redis.Redis(port=master).client_kill_filter(_type="replica")
    try:
        flush_everything(app, redis_client)  # stored and acknowledged, on the master only
        assert stored() == sorted(replicated)
        unreplicated = send(client, in_shard, range(5, 10))  # answered 202 by the master alone
        assert len(unreplicated) == 5 * len(in_shard)
    except BaseException:
        resume_replica()
        raise
    try:
        assert redis_cluster.kill_master_and_wait_for_failover(master, after_kill=resume_replica) == replica
        after = send(client, in_shard, range(10, 13))  # the promoted replica takes new batches
        assert len(after) == 3 * len(in_shard)
        flush_everything(app, redis_client)
        # The flushed batches came back and were not doubled; the ones only the master had are lost.
        assert stored() == sorted(replicated | after) and not unreplicated & set(stored())
        assert_empty(app)
    finally:
        redis_cluster.restart(master)  # it rejoins as the new master's replica, for the tests that follow


def _offsets_equal(master: int, replica: int) -> bool:
    return (
        redis.Redis(port=master).info("replication")["master_repl_offset"]
        == redis.Redis(port=replica).info("replication")["slave_repl_offset"]
    )


def test_a_submitted_pages_stream_closes_on_the_cluster_too(app, client, assignments):
    """The closed-page key lives in the assignment's shard, so the append script reads it in its one hash slot."""
    import time

    from freelunch.services.ingest.closing import GRACE_MS, close, page_closed_key

    assignment, token = next(iter(assignments.items()))
    with app.app_context():
        close(app.config, assignment.id, 1)
        assert post_ingest(client, pointer_batch(token, seq=0, page=1, n=10)).status_code == 202  # within the grace
        ingest_client(app.config).set(
            page_closed_key(app.config, assignment.id, 1), int(time.time() * 1000) - GRACE_MS - 1000
        )
    late = post_ingest(client, pointer_batch(token, seq=1, page=1, n=10))
    assert late.status_code == 409 and "submitted" in late.get_json()["message"]
    assert post_ingest(client, pointer_batch(token, seq=0, page=2, n=10)).status_code == 202  # the next page is open
