"""Ingest over several stream shards on one Redis: routing by assignment, a flush job per shard, sweep, admin page."""

from __future__ import annotations

import pytest
from factories import make_assignment, pointer_batch
from rq import Queue
from support import login, post_ingest

from freelunch.models import PointerChunk
from freelunch.services.accounts.users import create_user
from freelunch.services.ingest.stream import GROUP, shard_of, stream_key

SHARDS = 3


@pytest.fixture
def app_config(app_config):
    return {**app_config, "INGEST_SHARDS": SHARDS}


@pytest.fixture
def tokens(app):
    """Four assignments' tokens by assignment id: at least one shard gets two assignments."""
    made = [make_assignment(app, worker=f"W{k:09d}") for k in range(4)]
    return {assignment.id: token for assignment, token in made}


def test_batches_go_to_their_assignments_shard_each_shard_gets_one_flush_job(
    app, client, tokens, redis_client, run_jobs
):
    for token in tokens.values():
        for seq in range(3):
            assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    expected = {shard: 3 * sum(1 for a in tokens if shard_of(a, SHARDS) == shard) for shard in range(SHARDS)}
    assert {shard: redis_client.xlen(stream_key(shard)) for shard in range(SHARDS)} == expected
    for shard in range(SHARDS):  # a page's batches in order in one stream
        entries = redis_client.xrange(stream_key(shard))
        assert {int(f[b"a"]) % SHARDS for _, f in entries} <= {shard}
        for assignment_id in tokens:
            seqs = [int(f[b"s"]) for _, f in entries if int(f[b"a"]) == assignment_id]
            assert seqs == sorted(seqs)
    jobs = Queue("ingest", connection=redis_client).jobs
    assert sorted(job.args for job in jobs) == sorted((shard,) for shard, n in expected.items() if n)  # one per shard

    run_jobs("ingest")
    assert PointerChunk.select().count() == 12
    assert all(redis_client.xlen(stream_key(shard)) == 0 for shard in range(SHARDS))


def test_the_sweep_flushes_every_shard(app, client, tokens, redis_client, run_jobs):
    for token in tokens.values():
        post_ingest(client, pointer_batch(token, seq=0))
    Queue("ingest", connection=redis_client).empty()  # the flush jobs were lost
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")
    run_jobs("ingest")
    assert PointerChunk.select().count() == 4
    assert all(redis_client.xpending(stream_key(s), GROUP)["pending"] == 0 for s in range(SHARDS))


def test_the_admin_page_shows_each_shard(app, client, tokens, redis_client):
    for token in tokens.values():
        post_ingest(client, pointer_batch(token, seq=0))
    create_user("root@example.org", "password123", is_admin=True)
    login(client, "root@example.org")
    html = client.get("/admin/ingest", headers={"HX-Request": "true"}).get_data(as_text=True)
    lengths = [redis_client.xlen(stream_key(s)) for s in range(SHARDS)]
    for shard, length in enumerate(lengths):
        assert f"<tr><td>{shard}</td><td>127.0.0.1:" in html
        assert f"</td><td>{length}</td><td>0</td>" in html  # length, then nothing pending
    assert f"<th>Stream length (unflushed batches)</th><td>{sum(lengths)}</td>" in html


def test_a_drained_flush_hands_over_to_another_shards_waiting_flush(app, redis_client, monkeypatch):
    """One ingest worker serves every shard's jobs: a flush does not linger on its drained shard while another waits."""
    from freelunch.services.ingest import flush as flush_service
    from freelunch.services.ingest.stream import enqueue_flush

    waits = []
    monkeypatch.setattr(flush_service.time, "sleep", waits.append)
    with app.app_context():
        assert flush_service.flush("worker", 0) == 0 and waits  # alone, it lingers for new batches
        waits.clear()
        enqueue_flush(app.config["REDIS_URL"], 1)
        assert flush_service._others_waiting(0) and not flush_service._others_waiting(1)
        assert flush_service.flush("worker", 0) == 0 and waits == []  # it left at the first empty read
