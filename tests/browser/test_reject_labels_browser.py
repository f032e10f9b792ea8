"""Reject then labels, in Chromium: rejecting a worker on the MTurk review page leaves them out of the labels in the
same step, Results says why (left out by you, not a control accuracy bar), and the label fit says it is out of date
(tests/helpers/factories.py describes the campaign: W3 answers every control wrong)."""

from __future__ import annotations

import pytest
from factories import grant_server_account, make_campaign
from support import log_in

from freelunch.models import Batch, MTurkAssignment, MTurkHit
from freelunch.services import jobs

pytestmark = pytest.mark.browser


def test_reject_then_labels(app, live_server, page, make_account, run_jobs):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        c = make_campaign(org)
        MTurkHit.create(
            organization=org,
            batch=c.batch,
            hit=c.hits[0],
            sandbox=True,
            max_assignments=2,
            state="created",
            unique_request_token="token-1",
            mturk_hit_id="HIT1",
        )
        w3 = c.assignments["h1w3"]  # W3's finished HIT, as MTurk listed it at the last reconcile
        w3.source, w3.mturk_assignment_id, w3.mturk_hit_id, w3.mturk_status = "mturk", "A3", "HIT1", "Submitted"
        w3.save()
        row = MTurkAssignment.create(
            organization=org,
            hit=c.hits[0],
            mturk_hit_id="HIT1",
            mturk_assignment_id="A3",
            worker_id=w3.worker_id,
            assignment=w3,
            status="Submitted",
        )
    results = f"{live_server}/review/batches/{c.batch.id}/results"
    log_in(page, live_server, "owner@example.org")
    page.goto(results)
    with page.expect_response(lambda response: response.request.method == "POST"):  # queued before the jobs run
        page.click("#label-fit button:has-text('Fit labels')")
    run_jobs()
    page.goto(results)
    assert "fitted" in page.inner_text("#label-fit") and page.locator("[data-testid=fit-stale]").count() == 0
    assert "2 of 4" in page.locator("tr:has(code:text-is('n01/an'))").inner_text()  # W3 selected it twice, on two HITs

    page.goto(f"{live_server}/batches/{c.batch.id}/mturk/review")
    page.check(f"input[name=row][value='{row.id}']")
    page.check("input[name=action][value=reject]")
    page.fill("textarea[name=feedback]", "Every control answered wrong.")
    page.check("input[name=leave_out]")
    page.click("button:has-text('Review and send to MTurk')")
    step = page.locator("#mturk-decide-confirm .confirm-step")
    step.wait_for()
    assert "1 worker will be left out of this batch's labels at once." in step.inner_text()
    with page.expect_response(lambda response: response.request.method == "POST"):
        step.locator("button", has_text="Reject it").click()  # one assignment ticked
    with app.app_context():
        assert Batch.get_by_id(c.batch.id).excluded_workers == ["W3CCCCCCCC"]
        assert [job.title for job in jobs.recent(org.id, jobs.batch_scope(c.batch.id))][0] == "Reject 1 assignment"

    page.goto(results)
    summary = " ".join(page.locator("#results p.summary").inner_text().split())
    assert "Left out by you: W3CCCCCCCC" in summary and "control accuracy" not in summary
    assert (
        "0 of 2" in page.locator("tr:has(code:text-is('n01/an'))").inner_text()
    )  # W3's votes are out, W1 and W2 did not select it
    page.locator("[data-testid=fit-stale]").wait_for(state="visible")
