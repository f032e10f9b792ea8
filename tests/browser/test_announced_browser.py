"""In Chromium: a batch page nobody started a job on follows cron's MTurk reconciliation, which no page watches, and
shows what it changed without a reload (jobs/_announced.html)."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_campaign, published_on_mturk
from support import log_in

pytestmark = pytest.mark.browser


def test_the_mturk_review_tab_shows_what_cron_reconciled_without_a_reload(
    app, live_server, page, make_account, run_jobs, stubbed, monkeypatch
):
    from freelunch.queues import redis_connection
    from freelunch.services import jobs
    from freelunch.services.mturk import tracking

    mturk, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: mturk)
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        published_on_mturk(campaign.hits[0], mturk_hit_id="3CRONHIT")
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/batches/{campaign.batch.id}/mturk/review")
    assert page.inner_text("#batch-tab [data-show=no_data]") == "Submitted, no data here (0)"
    page.evaluate("window.__noReload = true")

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    listed = {
        "AssignmentId": "3CRONASSIGNMENT",
        "WorkerId": "AWCRONWORKER1",
        "HITId": "3CRONHIT",
        "AssignmentStatus": "Submitted",
        "AcceptTime": now - dt.timedelta(minutes=20),
        "SubmitTime": now - dt.timedelta(minutes=10),
        "AutoApprovalTime": now + dt.timedelta(days=3),
        "Answer": "",
    }
    stubber.add_response(
        "list_assignments_for_hit",
        {"NumResults": 1, "Assignments": [listed]},
        {"HITId": "3CRONHIT", "MaxResults": 100, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]},
    )
    with app.app_context():  # as rq cron queues it (workers/cron.py)
        jobs.enqueue_unwatched(jobs.MTURK_SYNC_LIVE, connection=redis_connection())
    run_jobs()
    # The assignment MTurk lists and we hold no data of joins its pile, once the poll hears the announcement.
    page.wait_for_selector("#batch-tab [data-show=no_data]:has-text('(1)')", timeout=20_000)  # polled every 5 s
    assert page.evaluate("window.__noReload === true")
