"""Review › Workers in Chromium: a worker whose only work waits for MTurk is listed, and the list follows a job
another page started to its end, then shows what changed meanwhile without a reload."""

from __future__ import annotations

import pytest
from factories import make_campaign
from support import log_in

pytestmark = pytest.mark.browser


def test_the_workers_tab_follows_a_job_to_its_end_and_shows_the_work_waiting_and_rejected(
    app, live_server, page, make_account, run_jobs
):
    from freelunch.models import Assignment
    from freelunch.services.review import fits

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        waiting = Assignment.create(
            organization=org,
            hit=campaign.hits[0],
            worker_id="MWAITING01",
            source="mturk",
            version="POINTER_ORIGINAL",
            mturk_assignment_id="A1",
            done=True,
        )
        fits.start(campaign.batch, "mv", 0.9, 0.5)  # a label fit, as started on the Results tab
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/workers")
    row = page.locator("#worker-list tr:has-text('MWAITING01')")
    assert row.locator("[data-testid=worker-waiting]").inner_text() == "1"
    assert row.locator("[data-testid=worker-rejected]").inner_text() == "—"
    page.wait_for_selector("[data-testid=workers-following] .job:not(.job-finished)")

    # Meanwhile MTurk's word arrives (as reconcile writes it): the list shows it when the job it follows ends.
    with app.app_context():
        Assignment.update(mturk_status="Rejected").where(Assignment.id == waiting.id).execute()
    page.evaluate("window.__noReload = true")
    run_jobs()
    page.wait_for_selector("#worker-list:not(:has([data-testid=workers-following]))", timeout=15_000)
    row = page.locator("#worker-list tr:has-text('MWAITING01')")
    assert row.locator("[data-testid=worker-rejected]").inner_text() == "1"
    assert row.locator("[data-testid=worker-waiting]").inner_text() == "—"
    assert "1 rejected assignment" in page.inner_text("#worker-list")
    assert page.evaluate("window.__noReload === true")
