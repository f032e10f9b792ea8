"""POST /api/ingest into the Redis stream, and flush jobs (real RQ) into PointerChunk rows."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from factories import make_assignment, pointer_batch
from rq import Queue
from support import login, post_ingest

from freelunch.models import Assignment, Dataset, HitPage, ImageClass, PageSubmission, PointerChunk
from freelunch.services.accounts.users import create_user
from freelunch.services.ingest import flush as flush_service
from freelunch.services.ingest import stream
from freelunch.services.ingest.stream import GROUP, hit_bytes_key, page_bytes_key, stream_key

STREAM = stream_key(0)  # one shard by default


@pytest.fixture
def token(app):
    return make_assignment(app)[1]


def test_json_and_beacon_bodies_are_accepted_and_flushed(app, client, token, redis_client, run_jobs):
    sent = pointer_batch(token, seq=0)
    response = post_ingest(client, sent)
    assert response.status_code == 202 and response.get_json() == {"ok": True}
    beacon = post_ingest(
        client, pointer_batch(token, seq=1), content_type="text/plain;charset=UTF-8"
    )  # navigator.sendBeacon
    assert beacon.status_code == 202
    assert redis_client.xlen(STREAM) == 2 and PointerChunk.select().count() == 0  # nothing touched the database yet

    run_jobs("ingest")
    chunks = list(PointerChunk.select().order_by(PointerChunk.seq))
    assert [(c.pageno, c.seq, c.n_events) for c in chunks] == [(1, 0, 60), (1, 1, 60)]
    assert json.loads(chunks[0].events) == sent["events"]
    assert abs(chunks[0].received_at - time.time() * 1000) < 60_000
    assert redis_client.xlen(STREAM) == 0 and redis_client.xpending(STREAM, GROUP)["pending"] == 0


def test_a_duplicate_post_is_stored_once(app, client, token, run_jobs):
    sent = pointer_batch(token, seq=7)
    assert post_ingest(client, sent).status_code == 202
    run_jobs("ingest")
    assert post_ingest(client, sent).status_code == 202  # a retried request after its answer was lost
    assert post_ingest(client, sent, content_type="text/plain").status_code == 202  # and a duplicate beacon
    run_jobs("ingest")
    assert PointerChunk.select().count() == 1
    assert PointerChunk.get().n_events == 60


def test_at_most_one_flush_is_pending(app, client, token, redis_client, run_jobs):
    queue = Queue("ingest", connection=redis_client)
    for seq in range(5):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    assert queue.count == 1
    run_jobs("ingest")
    assert queue.count == 0 and PointerChunk.select().count() == 5
    assert post_ingest(client, pointer_batch(token, seq=5)).status_code == 202
    assert queue.count == 1  # a new arrival after the flush started enqueues the next one


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "message"} and body["message"]
    return body


def test_bad_tokens_are_refused(app, client, token):
    _error(post_ingest(client, {**pointer_batch(token), "token": "not-a-token"}), 403)
    forged = token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA"
    _error(post_ingest(client, {**pointer_batch(token), "token": forged}), 403)
    app.config["SECRET_KEY"] = "another-deployment"  # a token signed elsewhere is foreign here
    _error(post_ingest(client, pointer_batch(token)), 403)


@pytest.mark.parametrize(
    "change",
    [
        {"page": 0},
        {"page": "1"},
        {"seq": -1},
        {"seq": 1.5},
        {"seq": True},
        {"events": []},
        {"events": {}},
        {"tab": -1},
        {"tab": 2**31},
        {"tab": "1"},
        {"extra": 1},
    ],
)
def test_bad_payloads_are_400(app, client, token, change):
    _error(post_ingest(client, {**pointer_batch(token), **change}), 400)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "move", "i": 0, "x": 1.2, "y": 0.5},  # outside the image
        {"type": "move", "i": 0, "x": 0.5, "y": -0.2},
        {"type": "move", "i": 0, "x": "0.5", "y": 0.5},
        {"type": "move", "i": -1, "x": 0.5, "y": 0.5},
        {"type": "move", "i": 0, "x": 0.5, "y": 0.5, "time": 0},  # 1970
        {"type": "move", "i": 0, "x": 0.5, "y": 0.5, "time": 10**15},  # far future
        {"type": "click", "i": 0, "x": 0.5, "y": 0.5, "selected": "yes"},
        {"type": "enter", "i": 0, "x": 0.5},  # enter has no position
        {"type": "teleport", "i": 0},
    ],
)
def test_bad_events_are_400(app, client, token, event):
    event = {"time": int(time.time() * 1000), **event}
    _error(post_ingest(client, {**pointer_batch(token), "events": [event]}), 400)


def test_small_tolerance_outside_the_image_is_accepted(app, client, token):
    event = {"type": "move", "i": 0, "x": -0.01, "y": 1.02, "time": int(time.time() * 1000)}
    assert post_ingest(client, {**pointer_batch(token), "events": [event]}).status_code == 202


def test_too_large_is_413_and_too_many_events_is_400(app, client, token):
    _error(post_ingest(client, {**pointer_batch(token), "pad": "x" * 200_000}), 413)
    _error(post_ingest(client, pointer_batch(token, n=1001)), 400)
    assert post_ingest(client, pointer_batch(token, n=1000)).status_code == 202


def test_not_json_is_400_and_get_is_405(app, client, token):
    _error(post_ingest(client, b"\xff\xfe not json"), 400)
    _error(post_ingest(client, "token=x&page=1", content_type="application/x-www-form-urlencoded"), 400)
    assert client.get("/api/ingest").status_code == 405


def test_one_assignment_flooding_gets_429(app, client, token):
    app.config["INGEST_RATE_LIMIT"] = 3
    other = make_assignment(app, "W000000002")[1]
    for seq in range(3):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    body = _error(post_ingest(client, pointer_batch(token, seq=3)), 429)
    assert "slow down" in body["message"]
    assert post_ingest(client, pointer_batch(other)).status_code == 202  # others are not affected


def test_a_full_stream_answers_503_until_flushed(app, client, token, run_jobs):
    app.config["INGEST_STREAM_MAX"] = 3
    for seq in range(3):
        assert post_ingest(client, pointer_batch(token, seq=seq)).status_code == 202
    refused = post_ingest(client, pointer_batch(token, seq=3))
    _error(refused, 503)
    assert int(refused.headers["Retry-After"]) > 0
    run_jobs("ingest")
    assert post_ingest(client, pointer_batch(token, seq=3)).status_code == 202  # the client's retry
    run_jobs("ingest")
    assert sorted(c.seq for c in PointerChunk.select()) == [0, 1, 2, 3]


@pytest.mark.sqlite_only  # SQLite's database-wide write lock
def test_ingest_answers_while_the_database_is_locked(app, client, token):
    locker = sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # not even readers get in
    try:
        started = time.monotonic()
        assert post_ingest(client, pointer_batch(token)).status_code == 202
        assert time.monotonic() - started < 5  # a database query would wait for busy_timeout (10 s)
    finally:
        locker.execute("ROLLBACK")


def test_chunks_of_a_deleted_assignment_are_dropped_not_fatal(app, client, run_jobs, redis_client):
    gone, gone_token = make_assignment(app, "W000000003")
    kept, kept_token = make_assignment(app, "W000000004")
    assert post_ingest(client, pointer_batch(gone_token)).status_code == 202
    assert post_ingest(client, pointer_batch(kept_token)).status_code == 202
    gone.delete_instance(recursive=True)
    run_jobs("ingest")
    assert [c.assignment_id for c in PointerChunk.select()] == [kept.id]
    assert redis_client.xlen(STREAM) == 0


def test_sweep_reclaims_what_a_crashed_consumer_held(app, client, token, redis_client, run_jobs):
    app.config["INGEST_CLAIM_IDLE_MS"] = 0
    for seq in range(3):
        post_ingest(client, pointer_batch(token, seq=seq))
    Queue("ingest", connection=redis_client).empty()  # the flush job was lost with its worker
    with app.app_context():
        flush_service.ensure_group(redis_client, 0)
    redis_client.xreadgroup(GROUP, "crashed-worker", {STREAM: ">"}, count=10)  # read, then died
    assert redis_client.xpending(STREAM, GROUP)["pending"] == 3
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")  # what rq cron does
    run_jobs("ingest")
    assert sorted(c.seq for c in PointerChunk.select()) == [0, 1, 2]
    assert redis_client.xpending(STREAM, GROUP)["pending"] == 0 and redis_client.xlen(STREAM) == 0


def test_committed_but_not_acknowledged_is_not_doubled(app, client, token, redis_client, run_jobs):
    """A flusher that died between its commit and its XACK: the entries come back, the rows do not double."""
    app.config["INGEST_CLAIM_IDLE_MS"] = 0
    assert post_ingest(client, pointer_batch(token, seq=0)).status_code == 202
    with app.app_context():
        flush_service.ensure_group(redis_client, 0)
    [(_, [(entry_id, fields)])] = redis_client.xreadgroup(GROUP, "crashed-worker", {STREAM: ">"}, count=10)
    assignment_id = int(fields[b"a"])
    PointerChunk.create(
        assignment=assignment_id,
        pageno=1,
        seq=0,
        n_events=60,
        events=fields[b"e"].decode(),
        received_at=int(entry_id.split(b"-")[0]),
    )  # its commit went through
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.sweep")
    run_jobs("ingest")
    assert PointerChunk.select().count() == 1
    assert redis_client.xpending(STREAM, GROUP)["pending"] == 0


def test_chunk_completeness_shows_missing_chunks(app, client, token, run_jobs):
    assignment = Assignment.get()
    org = assignment.organization
    image_class = ImageClass.create(organization=org, dataset=Dataset.get(), key="n01", names=["fish"])
    for pageno in (1, 2):
        hit_page = HitPage.create(organization=org, hit=assignment.hit, pageno=pageno, image_class=image_class)
        PageSubmission.create(
            assignment=assignment, hit_page=hit_page, pageno=pageno, started_at=1, ended_at=2, chunks_reported=3
        )
    for page, seq in ((1, 0), (1, 2), (2, 0), (2, 1), (2, 2)):
        assert post_ingest(client, pointer_batch(token, seq=seq, page=page)).status_code == 202
    run_jobs("ingest")
    assert flush_service.chunk_completeness(assignment.id) == [
        {"pageno": 1, "reported": 3, "received": 2, "missing": [1]},
        {"pageno": 2, "reported": 3, "received": 3, "missing": []},
    ]
    assert flush_service.incomplete_pages([assignment.id]) == 1 and flush_service.incomplete_pages() == 1


def test_two_tabs_on_one_page_are_both_stored_and_the_submitting_tab_is_counted(app, client, token, run_jobs):
    """The same page open in two tabs: each numbers its batches from 0, and neither tab's are taken for duplicates."""
    assignment = Assignment.get()
    org = assignment.organization
    image_class = ImageClass.create(organization=org, dataset=Dataset.get(), key="n01", names=["fish"])
    hit_page = HitPage.create(organization=org, hit=assignment.hit, pageno=1, image_class=image_class)
    for tab, seq in ((11, 0), (11, 1), (22, 0), (22, 1), (22, 3)):
        assert post_ingest(client, pointer_batch(token, seq=seq, tab=tab)).status_code == 202
    run_jobs("ingest")
    assert sorted(PointerChunk.select(PointerChunk.tab, PointerChunk.seq).tuples()) == [
        (11, 0),
        (11, 1),
        (22, 0),
        (22, 1),
        (22, 3),
    ]

    PageSubmission.create(
        assignment=assignment, hit_page=hit_page, pageno=1, started_at=1, ended_at=2, tab=22, chunks_reported=4
    )
    assert flush_service.chunk_completeness(assignment.id) == [
        {"pageno": 1, "reported": 4, "received": 3, "missing": [2]}
    ]
    assert flush_service.incomplete_pages([assignment.id]) == 1


def test_a_batch_without_a_tab_id_is_tab_0(app, client, token, run_jobs):
    """A tracker loaded before the tab id existed, still open in a worker's browser, keeps working."""
    untabbed = pointer_batch(token, seq=4)
    del untabbed["tab"]
    assert post_ingest(client, untabbed).status_code == 202
    run_jobs("ingest")
    assert list(PointerChunk.select(PointerChunk.tab, PointerChunk.seq).tuples()) == [(0, 4)]


def test_cron_registers_the_sweep(redis_client):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_client)
    scheduler.load_config_from_file("workers.cron")
    jobs = {(job.func_name, job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert ("tasks.ingest.sweep", "ingest", 30) in jobs


def test_cron_polls_mturk_notifications_only_when_a_queue_is_set(redis_client, monkeypatch):
    import sys

    from rq.cron import CronScheduler

    def polled() -> bool:
        sys.modules.pop("workers.cron", None)  # the config reads the environment when it is imported
        scheduler = CronScheduler(connection=redis_client)
        scheduler.load_config_from_file("workers.cron")
        return any(job.func_name == "tasks.mturk_review.poll_notifications" for job in scheduler.get_jobs())

    monkeypatch.delenv("MTURK_SQS_QUEUE_URL", raising=False)
    assert not polled()
    monkeypatch.setenv("MTURK_SQS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/turk")
    assert polled()
    sys.modules.pop("workers.cron", None)


# --- admin -----------------------------------------------------------------


@pytest.fixture
def admin_client(app, client):
    create_user("root@example.org", "password123", is_admin=True)
    login(client, "root@example.org")
    return client


def test_admin_ingest_page_shows_the_buffer(app, admin_client, token, run_jobs):
    for seq in range(4):
        post_ingest(admin_client, pointer_batch(token, seq=seq))
    html = admin_client.get("/admin/ingest").get_data(as_text=True)
    assert "Stream length" in html and "<td>4</td>" in html and "s ago" in html
    run_jobs("ingest")
    partial = admin_client.get("/admin/ingest", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and "240 events in 4 chunks" in partial and "<td>0</td>" in partial


def test_admin_ingest_page_lists_failed_flushes(app, admin_client, redis_client, run_jobs):
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.no_such_job")
    run_jobs("ingest")
    html = admin_client.get("/admin/ingest").get_data(as_text=True)
    assert "Latest failures" in html and "no_such_job" in html


def test_queue_monitor_is_for_site_admins(app, client, make_account):
    assert client.get("/admin/rq/").status_code == 302
    assert "/login" in client.get("/admin/rq/").headers["Location"]
    assert client.get("/admin/ingest").status_code == 302
    make_account("plain@example.org")
    login(client, "plain@example.org")
    assert client.get("/admin/rq/").status_code == 403
    assert client.get("/admin/rq/0/data/queues.json").status_code == 403
    assert client.post("/admin/rq/queue/ingest/compact").status_code == 403
    assert client.get("/admin/ingest").status_code == 403


def test_queue_monitor_works_for_admins_and_refuses_cross_site_posts(app, admin_client, redis_client):
    Queue("ingest", connection=redis_client).enqueue("tasks.ingest.flush")
    monitor = admin_client.get("/admin/rq/")
    assert monitor.status_code == 200
    html = monitor.get_data(as_text=True)  # the monitor's own navbar, with the way back (templates/rq_dashboard/)
    assert 'href="/" title="Back to the Freelunch dashboard"' in html and 'href="/admin/"' in html
    assert admin_client.get("/admin/rq/0/data/queues.json").status_code == 200
    assert admin_client.post("/admin/rq/queue/ingest/compact").status_code == 403
    assert (
        admin_client.post("/admin/rq/queue/ingest/compact", headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    same_site = admin_client.post("/admin/rq/queue/ingest/compact", headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200
    assert admin_client.get("/admin/rq/requeue/ingest").status_code == 403  # a GET that acts, e.g. from an <img>
    assert (
        admin_client.get("/admin/rq/requeue/ingest", headers={"Referer": "http://localhost/admin/rq/"}).status_code
        == 200
    )


def test_the_bulk_insert_keeps_text_as_is_and_skips_stored_chunks(app, token):
    """PostgreSQL's COPY text format escapes; SQLite's executemany binds: both store exactly what they got, once."""
    from freelunch.db import database
    from freelunch.services.ingest.insert import insert_chunks

    assignment_id = Assignment.select(Assignment.id).scalar()
    tricky = '[{"type":"move","note":"back\\\\slash \\t tab \\n newline \\r \\\\N"}]'
    rows = [(assignment_id, 1, 0, seq, 1, tricky, 1_764_000_000_000 + seq) for seq in range(3)]
    with app.app_context(), database.connection_context():
        with database.atomic():
            insert_chunks(rows)
        with database.atomic():
            insert_chunks(rows[1:] + [(assignment_id, 1, 0, 3, 1, "[]", 1)])  # two already stored
    assert [(c.seq, c.events) for c in PointerChunk.select().order_by(PointerChunk.seq)] == [
        (0, tricky),
        (1, tricky),
        (2, tricky),
        (3, "[]"),
    ]


def test_a_sender_with_many_assignments_of_one_hit_is_stopped_at_the_bound(app, client, make_account, redis_client):
    from factories import make_batch

    from freelunch.services.annotation.pages import token_for
    from freelunch.services.ingest import budget

    _, org = make_account("requester@example.org")
    batch = make_batch(app, org, pages=1, per_page=2, assignments_per_hit=2)
    hit = batch.hits.get()
    with app.app_context():
        assignments = [
            Assignment.create(
                organization=org, hit=hit, worker_id=f"W{n:09d}", source="lab", version="POINTER_ORIGINAL"
            )
            for n in range(12)  # invented workers: assignments cost nothing to open
        ]
        tokens = [token_for(a, hit) for a in assignments]
    page_bound, hit_bound = budget.page_bytes(2), budget.hit_bytes(2, 1, 2)
    answers = {a.id: [] for a in assignments}
    for assignment, token in zip(assignments, tokens):
        for seq in range(6):
            response = post_ingest(client, pointer_batch(token, seq=seq, n=400))
            answers[assignment.id].append(response.status_code)
    stored: dict[int, int] = {}
    for _, fields in redis_client.xrange(stream_key(0)):
        stored[int(fields[b"a"])] = stored.get(int(fields[b"a"]), 0) + len(fields[b"e"])
    assert 202 in answers[assignments[0].id] and answers[assignments[0].id][-1] == 409  # a page's worth, then no more
    assert all(size <= page_bound for size in stored.values())
    assert sum(stored.values()) <= hit_bound < page_bound * len(assignments)
    assert all(set(codes) == {409} for codes in list(answers.values())[-3:])  # the HIT is full for latecomers
    refused = post_ingest(client, pointer_batch(tokens[-1], seq=99, n=400))
    assert refused.status_code == 409 and "HIT has stored" in refused.get_json()["message"]


def test_a_refused_batch_leaves_the_byte_counts_as_they_were(app):
    """The script raises a count before it compares: a refusal takes the bytes back and leaves no key without expiry."""
    bounds = stream.Bounds(hit="h1", page_bytes=1_000, hit_bytes=1_500, until=int(time.time()) + 3600)
    batch = b'"' + b"x" * 598 + b'"'  # 600 bytes
    big = b'"' + b"x" * 1998 + b'"'  # 2,000 bytes: more than a page may hold, from its first batch

    def send(page: int, seq: int, events: bytes = batch) -> int:
        return stream.append(app.config, 7, page, 0, seq, 1, events, bounds)

    with app.app_context():
        redis = stream.client()
        assert send(1, 0) in (stream.ACCEPTED, stream.FLUSH_NEEDED)
        assert send(1, 1) == stream.PAGE_FULL  # 1,200 > 1,000
        assert send(2, 0) == stream.ACCEPTED  # the HIT at 1,200 of 1,500
        assert send(3, 0) == stream.HIT_FULL  # 1,800 > 1,500: page 3 takes nothing either
        assert send(4, 0, big) == stream.PAGE_FULL
        counts = {key: redis.get(key) for key in (page_bytes_key(0, 7, p) for p in (1, 2, 3, 4))}
        assert counts == {
            page_bytes_key(0, 7, 1): b"600",
            page_bytes_key(0, 7, 2): b"600",
            page_bytes_key(0, 7, 3): None,
            page_bytes_key(0, 7, 4): None,
        }
        assert redis.get(hit_bytes_key(0, "h1")) == b"1200"
        assert all(redis.ttl(key) > 0 for key in redis.keys("ingest:{0}:*bytes*"))  # none kept forever
        assert redis.xlen(STREAM) == 2
