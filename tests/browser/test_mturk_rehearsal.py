"""A paid batch rehearsed end to end in Chromium through the local MTurk, with the ``freelunch mturk`` commands:
publish -> preview -> accept -> annotate every page -> externalSubmit -> sync -> auto-review -> bonus -> expire.

The stand-in throttles the first call of every operation and drops one create's answer, and checks every
request against MTurk's model. A second worker submits on MTurk without sending us anything: the rules must
leave that one alone. No raw WorkerId may reach the database or the access log.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from factories import grant_server_account, make_batch
from flask.cli import ScriptInfo
from support import database_dump, log_in
from worker import NEUTRAL, click, flush_until_complete, glide, jump, submit, wait_loaded

from freelunch.cli import cli
from freelunch.models import Assignment, Decision, MTurkAssignment, MTurkHit, ReviewRules

pytestmark = pytest.mark.browser

WORKER = "ACHROMIUMWORKER1"
ABSENT = "ANODATAWORKER1"


class InFrame:
    """The HIT's frame driven with the top page's mouse, so worker.py's helpers work inside MTurk's iframe
    (Playwright gives bounding boxes in the top page's viewport)."""

    def __init__(self, page, frame):
        self.mouse = page.mouse
        self._frame = frame

    def __getattr__(self, name):
        return getattr(self._frame, name)


def run(app, *args) -> str:
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_paid_batch_rehearsed_on_the_local_mturk(app, live_server, page, local_mturk, make_account, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
    batch = make_batch(app, org, pages=2, per_page=4, assignments_per_hit=2)
    batch.title, batch.description, batch.reward = "Find the tench", "Click every tench", Decimal("0.50")
    batch.save()
    ReviewRules.create(organization=org, batch=batch, min_seconds_per_page=1, approve_feedback="Thank you!")

    # Publish through MTurk's throttling and a lost create answer: every HIT once.
    local_mturk.inject(throttle_first=True, drop_creates=1)
    published = run(app, "mturk", "publish", "--batch", str(batch.id), "--yes")
    assert "$1.20 for 1 MTurk HIT." in published, published  # 2 assignments x $0.50 + 20 % fee
    assert "nothing to publish" in run(app, "mturk", "publish", "--batch", str(batch.id), "--yes")
    hit_id = MTurkHit.get().mturk_hit_id
    with local_mturk.store.lock:
        assert [h.id for h in local_mturk.store.hits.values()] == [hit_id]

    # The worker previews (nothing recorded), accepts, and works in MTurk's frame.
    page.goto(f"{local_mturk.endpoint_url}/worker/")
    page.fill("input[name=worker_id]", WORKER)
    page.click("header button")
    page.click(f"a[href$='/worker/hits/{hit_id}']")
    preview = page.frame_locator("#hit-frame")
    preview.locator("img[data-image-id]").first.wait_for()
    assert Assignment.select().count() == 0
    page.click("#accept")
    page.wait_for_url(re.compile(r"/worker/assignments/[A-Z0-9]+$"))
    assignment_id = page.url.rsplit("/", 1)[1]
    frame = page.frame_locator("#hit-frame")
    frame.locator("form#task[data-pageno='1']").wait_for()
    task = InFrame(page, next(f for f in page.frames if "/annotate" in f.url))
    for pageno in (1, 2):
        wait_loaded(task)
        jump(task, *NEUTRAL)
        glide(task, 0, [(0.1, 0.1), (0.8, 0.4), (0.5, 0.9)], seconds=0.6)
        click(task, 0, 0.5, 0.5)
        glide(task, 1, [(0.2, 0.8), (0.7, 0.2)], seconds=0.4)
        jump(task, *NEUTRAL)
        task.wait_for_timeout(1100)  # the rules ask for at least a second a page
        submit(task, next_pageno=2 if pageno == 1 else None)
    code = task.inner_text("[data-completion-code]")
    task.click("form.mturk button")  # posts assignmentId and the code to turkSubmitTo/mturk/externalSubmit
    frame.locator("#submitted").wait_for()
    flush_until_complete(app)
    with local_mturk.store.lock:
        submitted = local_mturk.store.assignments[assignment_id]
        assert submitted.status == "Submitted" and submitted.form["assignmentId"] == [assignment_id]
        assert submitted.form["completionCode"] == [code]

    # Another worker submits on MTurk but never sent us a page.
    absent = local_mturk.accept(hit_id, ABSENT)
    local_mturk.submit(absent, completionCode="ABC123")

    synced = run(app, "mturk", "sync", "--batch", str(batch.id))
    assert "1 HIT reconciled: 2 assignments on MTurk, 1 with data here, 1 without." in synced
    reviewed = run(app, "mturk", "review", "--batch", str(batch.id), "--auto")
    assert "1 approved, 0 rejected, 0 left for you, 1 without data here left alone." in reviewed
    again = run(app, "mturk", "review", "--batch", str(batch.id), "--auto")
    assert "0 approved, 0 rejected, 0 left for you, 1 without data here left alone." in again
    with local_mturk.store.lock:
        assert local_mturk.store.assignments[assignment_id].status == "Approved"
        assert local_mturk.store.assignments[absent].status == "Submitted"
    assert Decision.select().count() == 1

    bonus = [
        "mturk",
        "bonus",
        "--batch",
        str(batch.id),
        "--assignment",
        assignment_id,
        "--amount",
        "0.25",
        "--reason",
        "Careful pointer work",
        "--yes",
    ]
    assert "paid." in run(app, *bonus)
    assert "paid before, nothing sent" in run(app, *bonus)
    with local_mturk.store.lock:
        assert [(b.assignment_id, b.amount) for b in local_mturk.store.bonuses] == [(assignment_id, "0.25")]

    assert "1 MTurk HIT expired" in run(app, "mturk", "expire", "--batch", str(batch.id))
    with local_mturk.store.lock:
        hit = local_mturk.store.hits[hit_id]
        assert hit.expiration <= local_mturk.store.now()

    # The requester sees the one MTurk holds and we do not, for a decision by hand.
    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/batches/{batch.id}/mturk/review?show=no_data")
    page.wait_for_selector(f"tr[data-assignment='{absent}']")
    assert MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == absent).assignment is None

    dump = database_dump()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert assignment_id in dump and "workerId=[redacted]" in logged  # what the two checks below read is there
    for raw in (WORKER, ABSENT):
        assert raw not in dump and raw not in logged
