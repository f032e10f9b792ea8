"""A bulk bonus and one assignment's approval in Chromium: the server-rendered confirmation with MTurk's fee appears
under the form, and only its button queues the payment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import grant_server_account, make_campaign
from support import log_in

from freelunch.models import MTurkAssignment, MTurkHit
from freelunch.services import jobs
from freelunch.services.accounts import identity

pytestmark = pytest.mark.browser


def test_a_bulk_bonus_is_confirmed_with_its_total_before_it_is_queued(app, live_server, page, make_account):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        c = make_campaign(org)
        c.batch.reward = Decimal("0.50")
        c.batch.save()
        MTurkHit.create(
            organization=org,
            batch=c.batch,
            hit=c.hits[0],
            sandbox=True,
            max_assignments=3,
            state="created",
            unique_request_token="token-1",
            mturk_hit_id="HIT1",
        )
        for n, status in enumerate(("Approved", "Approved", "Submitted"), 1):
            MTurkAssignment.create(
                organization=org,
                hit=c.hits[0],
                mturk_hit_id="HIT1",
                mturk_assignment_id=f"A{n}",
                worker_id=identity.anonymous_worker_id(org.id, f"AW{n}RAWWORKER"),
                status=status,
            )

    def queued() -> list[str]:
        with app.app_context():
            return [job.title for job in jobs.recent(org.id, jobs.batch_scope(c.batch.id))]

    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/batches/{c.batch.id}/mturk/review?show=decided")
    page.fill("input[name=amount]", "1.00")
    page.fill("input[name=reason]", "Careful work")
    url_before = page.url
    page.click("text=Pay the bonus to 2 approved assignments")
    step = page.locator("#mturk-bonus-confirm .confirm-step")
    step.wait_for()
    assert page.url == url_before  # swapped in place by htmx, no navigation
    assert "Pay a $1.00 bonus to 2 approved assignments: $2.00 + $0.40 MTurk fee (20 %) = $2.40" in step.inner_text()
    assert "Total with MTurk's fee: $2.40" in step.inner_text()
    assert queued() == []

    step.locator("button", has_text="Pay the bonuses").click()
    page.locator("#mturk-bonus-confirm .confirm-step").wait_for(state="detached")  # the page after the redirect
    assert queued() == ["Bonus $1.00 for approved assignments"]

    # One assignment, from its own page: approving pays its reward and MTurk's fee, shown before it is sent.
    submitted = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "A3")
    page.goto(f"{live_server}/mturk/assignments/{submitted.id}")
    page.check("input[name=action][value=approve]")
    page.fill("textarea[name=feedback]", "Thank you")
    page.click("button:has-text('Review and send to MTurk')")
    step = page.locator("#mturk-decide-confirm .confirm-step")
    step.wait_for()
    assert "Approve 1 assignment: the worker is paid $0.50 in rewards + $0.10 MTurk fee = $0.60" in step.inner_text()
    assert queued() == ["Bonus $1.00 for approved assignments"]
    with page.expect_response(lambda response: response.request.method == "POST"):
        step.locator("button", has_text="Approve it").click()
    page.wait_for_url(f"{live_server}/mturk/assignments/{submitted.id}")
    assert queued()[0] == "Approve 1 assignment"
