"""Redis stops while a worker is on a page: the tracker keeps its batches, retries, and nothing is lost.

Uses a throwaway redis-server on a free port (never the shared one), with an
append-only file so that a restart keeps what was accepted before the stop.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis as redis_py
from factories import make_batch
from worker import NEUTRAL, flush_until_complete, free_port, glide, jump, submit, wait_loaded

from freelunch.models import Assignment, PageSubmission, PointerChunk
from freelunch.services.exports.seed import seed_records

pytestmark = pytest.mark.browser
REDIS_SERVER = shutil.which("redis-server")


class ThrowawayRedis:
    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis_py.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis_py.RedisError:
                time.sleep(0.05)
        raise RuntimeError("the throwaway redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()  # SIGTERM: Redis finishes its append-only file and exits
        self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def app_config(app_config, throwaway_redis):
    return {**app_config, "REDIS_URL": throwaway_redis.url}


def test_a_page_interrupted_by_a_redis_outage_ends_complete(app, live_server, page, make_account, throwaway_redis):
    organization = make_account("requester@example.org", "Lab")[1]
    batch = make_batch(app, organization, pages=2, per_page=3)
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if "/api/ingest" in r.url else None)
    page.goto(f"{live_server}/annotate?hitDatasetName={batch.id}&imageNetHitId={batch.hits.get().key}&workerId=W1")
    wait_loaded(page)
    glide(page, 0, [(0.1, 0.1), (0.9, 0.9)], seconds=1.5)
    jump(page, *NEUTRAL)
    page.wait_for_timeout(1200)
    assert 202 in statuses

    throwaway_redis.stop()
    outage_start = int(time.time() * 1000)
    glide(page, 1, [(0.9, 0.1), (0.1, 0.9)], seconds=2.5)
    jump(page, *NEUTRAL)
    page.wait_for_timeout(1200)
    outage_end = int(time.time() * 1000)
    submit(page, next_pageno=2)  # Submit needs only the database: it goes through during the outage
    assert 503 in statuses
    assert PointerChunk.select().count() == 0  # nothing could be flushed yet

    throwaway_redis.start()
    glide(page, 2, [(0.5, 0.1), (0.5, 0.9)], seconds=1.0)
    jump(page, *NEUTRAL)
    submit(page, next_pageno=None)
    flush_until_complete(app, timeout=45)

    pages = list(PageSubmission.select().order_by(PageSubmission.pageno))
    assignment = Assignment.get()
    for stored in pages:
        chunks = PointerChunk.select().where(
            PointerChunk.assignment == assignment, PointerChunk.pageno == stored.pageno
        )
        assert sorted(c.seq for c in chunks) == list(range(stored.chunks_reported))
    with app.app_context():
        records = {(r["pageno"], r["gridIndex"]): r for r in seed_records(batch)}
    during = [p for p in records[(1, 1)]["mouseTracking"] if outage_start <= p["time"] <= outage_end]
    assert len(during) >= 60, "the moves made while Redis was down reached the database"
    assert records[(1, 0)]["mouseTracking"] and records[(2, 2)]["mouseTracking"]
