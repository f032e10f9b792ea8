"""The Procfile's processes as a deployment: two web processes, the ingest worker, the other worker and cron,
on PostgreSQL, RQ's Redis and a Redis Cluster for the streams; load over both web processes; one web process
and the ingest worker SIGKILLed mid-run; every event stored exactly once.

PostgreSQL only (``make test-postgres``): production's database, and one run of this minute-long test in CI.
"""

from __future__ import annotations

import time

import pytest
from deployment import Deployment, resend, results, start_load
from factories import make_assignment
from processes import wait_until

from freelunch.models import PointerChunk
from freelunch.services.ingest.stream import GROUP, ingest_client, stream_key

pytestmark = [pytest.mark.cluster, pytest.mark.postgres_only]  # the deployment runs on PostgreSQL, as production does
SHARDS = 6
ANNOTATORS = 40  # per web process, one batch a second each
SECONDS = 14


@pytest.fixture
def app_config(app_config, redis_cluster):
    redis_cluster.flushall()
    return {**app_config, "INGEST_REDIS_URL": redis_cluster.url, "INGEST_REDIS_CLUSTER": True, "INGEST_SHARDS": SHARDS}


def test_every_event_is_stored_once_through_a_web_process_and_a_worker_killed(app, app_config, redis_url, tmp_path):
    tokens = [make_assignment(app, worker=f"W{k:09d}")[1] for k in range(2 * ANNOTATORS)]
    halves = [tokens[:ANNOTATORS], tokens[ANNOTATORS:]]  # each web process serves its own annotators
    files = []
    for k, half in enumerate(halves):
        files.append(tmp_path / f"tokens{k}.txt")
        files[-1].write_text("\n".join(half))
    env = {
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "SECRET_KEY": app_config["SECRET_KEY"],
        "FREELUNCH_INSTANCE": str(tmp_path),
        "INGEST_REDIS_URL": app_config["INGEST_REDIS_URL"],
        "INGEST_REDIS_CLUSTER": "true",
        "INGEST_SHARDS": str(SHARDS),
        "INGEST_CLAIM_IDLE_MS": "3000",
    }
    deployment = Deployment(env, tmp_path).start()
    try:
        loads = [
            start_load(port, file, ANNOTATORS, SECONDS, page=1, seq_base=0)
            for port, file in zip(deployment.web_ports, files)
        ]
        time.sleep(5)
        deployment.kill("web1")  # its annotators' batches fail from now on; the tracker keeps and resends them
        time.sleep(2)
        deployment.kill("ingest")  # mid-flush: its consumer holds entries nobody acknowledged
        time.sleep(2)
        deployment.restart("ingest")  # as a process manager would
        answered = [results(load) for load in loads]
        failed = [
            (who + k * ANNOTATORS, 1, seq)
            for k, rows in enumerate(answered)
            for who, seq, status, *_ in rows
            if status != 202
        ]
        assert failed, "the killed web process failed no batch: the test did not kill it mid-run"
        assert resend(deployment.web_ports[0], tokens, failed) == []

        with app.app_context():
            cluster = ingest_client(app.config)

        def drained() -> bool:
            return all(
                cluster.xlen(stream_key(s)) == 0 and cluster.xpending(stream_key(s), GROUP)["pending"] == 0
                for s in range(SHARDS)
                if cluster.exists(stream_key(s))
            )

        wait_until(drained, seconds=90, what="the ingest worker and cron to flush every shard")
    finally:
        deployment.stop()

    ids = {token: assignment_id for assignment_id, token in _assignment_ids(app, tokens)}
    sent = sorted((ids[tokens[who + k * ANNOTATORS]], seq) for k, rows in enumerate(answered) for who, seq, *_ in rows)
    assert len(sent) == 2 * ANNOTATORS * SECONDS
    rows = sorted(PointerChunk.select(PointerChunk.assignment, PointerChunk.seq).tuples())
    assert rows == sent  # every batch once: none lost, none doubled
    assert PointerChunk.select().where(PointerChunk.n_events != 60).count() == 0


def _assignment_ids(app, tokens: list[str]):
    from freelunch.services.accounts.identity import assignment_from_token

    with app.app_context():
        return [(assignment_from_token(token), token) for token in tokens]
