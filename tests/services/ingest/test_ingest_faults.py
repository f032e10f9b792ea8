"""Ingest under faults and concurrency: a flush worker killed with SIGKILL, a locked database, Redis stopped,
batches of concurrent requests sharing a round trip to Redis.

Each test ends by checking every acknowledged batch is stored exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import peewee
import pytest
import redis as redis_py
from burst_worker import BurstWorker
from factories import make_assignment, pointer_batch
from processes import ingest_worker, kill_worker, wait_until, write_lock
from rq import Queue
from support import post_ingest

from freelunch import create_app
from freelunch.db import database, is_sqlite
from freelunch.models import PointerChunk
from freelunch.services.ingest.stream import APPEND_LUA, GROUP, stream_key

STREAM = stream_key(0)  # one shard by default


def assert_stored_once(expected_seqs: set[int], n_events: int = 60):
    rows = list(PointerChunk.select(PointerChunk.seq, PointerChunk.n_events).tuples())
    assert sorted(seq for seq, _ in rows) == sorted(expected_seqs)  # each once: no loss, no double
    assert sum(n for _, n in rows) == n_events * len(expected_seqs)


def test_a_worker_killed_mid_flush_loses_and_doubles_nothing(
    app, app_config, client, redis_client, redis_url, tmp_path
):
    """A real `rq worker` (the production AppWorker) is SIGKILLed while its flush holds entries; recovery stores all."""
    app.config.update(INGEST_CLAIM_IDLE_MS=0, INGEST_RATE_LIMIT=10_000)  # one page sends them all here
    token = make_assignment(app)[1]
    sent = set(range(200))
    for seq in sent:
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    env = {
        **os.environ,
        "FREELUNCH_ENV": "testing",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "FREELUNCH_INSTANCE": str(tmp_path),
        "INGEST_BULK": "40",
    }
    with write_lock(app):
        worker = ingest_worker(redis_url, env, stderr=subprocess.PIPE)
        try:
            # The worker has read a bulk and waits for the lock inside its INSERT: mid-flush.
            wait_until(
                lambda: (
                    redis_client.exists(STREAM)
                    and redis_client.xinfo_groups(STREAM)
                    and redis_client.xpending(STREAM, GROUP)["pending"] > 0
                ),
                what="the worker to read a bulk",
            )
            kill_worker(worker)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    assert PointerChunk.select().count() == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 40

    # Recovery is what rq cron does every 30 s: the sweep reclaims the dead consumer's entries.
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")
    with app.app_context():
        BurstWorker([Queue("ingest", connection=redis_client)], connection=redis_client).work(burst=True)
    assert_stored_once(sent)
    assert redis_client.xlen(STREAM) == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 0


def test_a_worker_killed_between_bulks_loses_and_doubles_nothing(
    app, app_config, client, redis_client, redis_url, tmp_path
):
    """Killed at a random point of a long flush: some bulks committed and acked, one maybe committed only."""
    app.config.update(INGEST_CLAIM_IDLE_MS=0, INGEST_RATE_LIMIT=10_000)  # one page sends them all here
    token = make_assignment(app)[1]
    sent = set(range(600))
    for seq in sent:
        assert post_ingest(client, pointer_batch(token, seq=seq, n=5)).status_code == 202
    env = {
        **os.environ,
        "FREELUNCH_ENV": "testing",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "FREELUNCH_INSTANCE": str(tmp_path),
        "INGEST_BULK": "5",
    }
    worker = ingest_worker(redis_url, env)
    try:
        wait_until(lambda: PointerChunk.select().count() >= 20, what="the first bulks to commit")
        kill_worker(worker)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert 20 <= PointerChunk.select().count() < 600, "the kill did not land mid-flush"

    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")
    with app.app_context():
        BurstWorker([Queue("ingest", connection=redis_client)], connection=redis_client).work(burst=True)
    assert_stored_once(sent, n_events=5)
    assert redis_client.xlen(STREAM) == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 0


def test_a_locked_database_fails_the_flush_and_the_sweep_stores_everything(app, client, redis_client, run_jobs):
    token = make_assignment(app)[1]
    for seq in range(5):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    # This thread's connection is the flusher's (SimpleWorker runs jobs in-process):
    # give up on the lock after 50 ms instead of the production 10 s.
    database.connect(reuse_if_open=True)
    database.execute_sql("PRAGMA busy_timeout = 50" if is_sqlite() else "SET lock_timeout = '50ms'")
    queue = Queue("ingest", connection=redis_client)
    with write_lock(app):
        run_jobs("ingest")
    assert queue.failed_job_registry.count == 1  # visible on the admin page
    assert PointerChunk.select().count() == 0
    assert redis_client.xlen(STREAM) == 5  # nothing acknowledged, nothing deleted

    app.config["INGEST_CLAIM_IDLE_MS"] = 0  # the entries have been idle long enough to be claimed
    queue.enqueue("tasks.ingest.sweep")  # rq cron, some time later, in another worker
    run_jobs("ingest")
    assert_stored_once(set(range(5)))
    assert redis_client.xlen(STREAM) == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A throwaway redis-server (AOF on, as production should run it) that the test may stop and restart."""
    if not subprocess.run(["which", "redis-server"], capture_output=True).returncode == 0:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(tmp_path),
        "--save",
        "",
        "--appendonly",
        "yes",
    ]
    processes = []

    def start():
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        client = redis_py.Redis(port=port)
        wait_until(lambda: _pings(client), what="redis-server to start")

    start()
    yield f"redis://127.0.0.1:{port}/0", start, processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis_py.RedisError:
        return False


def test_redis_stopped_answers_503_and_retried_batches_are_stored(app_config, app, own_redis):
    url, restart, processes = own_redis
    private = create_app({**app_config, "REDIS_URL": url})
    client = private.test_client()
    token = make_assignment(private)[1]
    for seq in range(5):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202

    redis_py.Redis.from_url(url).shutdown()  # AOF is written on shutdown
    processes[-1].wait(10)
    kept = []
    for seq in range(5, 10):
        response = post_ingest(client, pointer_batch(token, seq=seq))
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert response.get_json()["error"] == "Service Unavailable"
        kept.append(seq)  # the tracker keeps the batch

    restart()
    for seq in kept:
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    connection = redis_py.Redis.from_url(url)
    with private.app_context():
        BurstWorker([Queue("ingest", connection=connection)], connection=connection).work(burst=True)
    assert_stored_once(set(range(10)))


def test_the_same_worker_retries_its_own_pending_entries_at_once(app, client, redis_client):
    """A worker whose flush failed takes its pending entries back at its next flush, without waiting to claim them."""
    from freelunch.services.ingest import flush as flush_service

    token = make_assignment(app)[1]
    for seq in range(3):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    database.connect(reuse_if_open=True)
    database.execute_sql("PRAGMA busy_timeout = 50" if is_sqlite() else "SET lock_timeout = '50ms'")
    with app.app_context():
        with write_lock(app), pytest.raises(peewee.OperationalError):
            flush_service.flush("worker-1", 0)
        assert redis_client.xpending(STREAM, GROUP)["pending"] == 3  # held by worker-1, idle for less than a minute
        assert flush_service.flush("worker-2", 0) == 0  # another worker must not take them yet
        assert flush_service.flush("worker-1", 0) == 180
    assert_stored_once({0, 1, 2})


def _post_concurrently(app, token: str, seqs: range, while_waiting=lambda: None) -> list[int]:
    """Post one batch per seq from as many threads at once; ``while_waiting`` runs once they are all out."""
    with ThreadPoolExecutor(len(seqs)) as pool:
        answers = [
            pool.submit(lambda seq: post_ingest(app.test_client(), pointer_batch(token, seq=seq)).status_code, seq)
            for seq in seqs
        ]
        time.sleep(0.2)
        while_waiting()
        return [answer.result(timeout=30) for answer in answers]


def test_concurrent_batches_share_round_trips_and_are_each_stored_once(app_config, app, own_redis):
    url = own_redis[0]
    private = create_app({**app_config, "REDIS_URL": url})
    token = make_assignment(private)[1]
    connection = redis_py.Redis.from_url(url)
    connection.script_load(APPEND_LUA)
    connection.client_pause(1000, all=False)  # the first round trip waits while the other requests queue

    assert _post_concurrently(private, token, range(8)) == [202] * 8

    stats = connection.info("commandstats")
    assert stats["cmdstat_xadd"]["calls"] == 8
    assert stats["cmdstat_evalsha"]["calls"] == 2  # the first batch alone, then the seven that queued behind it
    with private.app_context():
        BurstWorker([Queue("ingest", connection=connection)], connection=connection).work(burst=True)
    assert_stored_once(set(range(8)))


def test_a_round_trip_that_fails_fails_every_batch_it_carries(app_config, app, own_redis):
    url, _, processes = own_redis
    private = create_app({**app_config, "REDIS_URL": url})
    token = make_assignment(private)[1]
    redis_py.Redis.from_url(url).client_pause(5000, all=False)

    def redis_dies():
        processes[-1].kill()
        processes[-1].wait(10)

    assert _post_concurrently(private, token, range(8), while_waiting=redis_dies) == [503] * 8


def test_a_redis_that_does_not_answer_in_time_answers_503_and_the_retried_batch_is_stored_once(
    app_config, app, own_redis
):
    """The append's socket has the kernel's timeout (no Python timeout): a silent Redis gives 503, not a hung thread."""
    from freelunch.services.ingest.stream import SOCKET_TIMEOUT_S

    url = own_redis[0]
    private = create_app({**app_config, "REDIS_URL": url})
    client = private.test_client()
    token = make_assignment(private)[1]
    assert post_ingest(client, pointer_batch(token, seq=0)).status_code == 202  # the process's connection is open
    connection = redis_py.Redis.from_url(url)
    connection.client_pause(4 * SOCKET_TIMEOUT_S * 1000)  # longer than the round trip and its one retry wait

    silent = post_ingest(client, pointer_batch(token, seq=1))
    assert silent.status_code == 503 and int(silent.headers["Retry-After"]) > 0
    wait_until(lambda: _pings(connection), seconds=30, what="the pause to end")
    assert post_ingest(client, pointer_batch(token, seq=1)).status_code == 202  # the tracker sends it again
    with private.app_context():
        BurstWorker([Queue("ingest", connection=connection)], connection=connection).work(burst=True)
    assert_stored_once({0, 1})  # the first send may have landed after the pause as well: still once
