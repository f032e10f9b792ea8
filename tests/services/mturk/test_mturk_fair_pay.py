"""Fair pay: the hourly pay a reward gives, before publishing and as the batch runs, and a top-up to a chosen rate."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from botocore.stub import ANY
from factories import grant_server_account, make_campaign
from support import csrf_token, login

from freelunch.models import Assignment, Batch, Bonus, MTurkAssignment, MTurkHit, Organization
from freelunch.services.accounts import identity
from freelunch.services.mturk import fairpay, tracking

HTMX = {"HX-Request": "true"}
T0 = dt.datetime(2026, 12, 1, 12, 0, 0)


def timed(assignment: Assignment, seconds: int) -> None:
    """The server saw the assignment open at T0 and its last page submitted ``seconds`` later."""
    Assignment.update(started_at=T0, completed_at=T0 + dt.timedelta(seconds=seconds), done=True).where(
        Assignment.id == assignment.id
    ).execute()


@pytest.fixture
def campaign(app, make_account, client):
    """A $0.50 two-page MTurk batch; its three finished assignments took 60, 120 and 600 s, all approved on MTurk."""
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
        for n, (key, seconds) in enumerate((("h1w1", 60), ("h1w3", 120), ("h2w2", 600)), 1):
            timed(c.assignments[key], seconds)
            Assignment.update(source="mturk", mturk_assignment_id=f"A{n}").where(
                Assignment.id == c.assignments[key].id
            ).execute()
            MTurkAssignment.create(
                organization=org,
                hit=c.assignments[key].hit,
                mturk_hit_id="HIT1",
                mturk_assignment_id=f"A{n}",
                worker_id=identity.anonymous_worker_id(org.id, f"AW{n}RAWWORKER"),
                assignment=c.assignments[key],
                status="Approved",
            )
    login(client, "owner@example.org")
    return c


def test_the_estimate_uses_a_stated_default_until_the_organization_has_measured_pages(app, make_account, client):
    _, org = make_account("new@example.org", "New")
    with app.app_context():
        grant_server_account(org)
        c = make_campaign(org)
        Batch.update(reward=Decimal("0.10"), pages_per_hit=10).execute()
        batch = Batch.get_by_id(c.batch.id)
        estimate = fairpay.estimate(batch)
        # 10 pages x 60 s (FAIR_PAY_SECONDS_PER_PAGE) = 10 min for $0.10: $0.60 an hour, under the $7.25 floor.
        assert (estimate.measured, estimate.hourly, estimate.floor) == (0, Decimal("0.60"), Decimal("7.25"))
        assert estimate.below_floor and estimate.fair_reward == Decimal("1.21")
    login(client, "new@example.org")
    tab = client.get(f"/batches/{batch.id}/mturk").get_data(as_text=True)
    assert "about <strong>$0.60 an hour</strong>" in tab and "a stated default" in tab
    assert "below your floor of $7.25 an hour: raise the reward to at least\n    $1.21" in tab
    typed = client.get(f"/batches/{batch.id}/mturk/fair-pay?reward=1.21", headers=HTMX).get_data(as_text=True)
    assert "<html" not in typed and "$7.26 an hour" in typed and "below your floor" not in typed
    nonsense = client.get(f"/batches/{batch.id}/mturk/fair-pay?reward=1e400", headers=HTMX)
    assert nonsense.status_code == 200 and "$0.60 an hour" in nonsense.get_data(as_text=True)

    with app.app_context():  # the organization's own floor, and its own measured pace
        Organization.update(hourly_pay_floor=Decimal("0.50")).execute()
        # Each by the 2 pages its HIT has, not the 10 the batch asked for: 4, 8, 40 s a page.
        for key, seconds in (("h1w1", 8), ("h1w3", 16), ("h2w2", 80)):
            timed(c.assignments[key], seconds)
        estimate = fairpay.estimate(batch)  # the median, 8 s a page: 80 s for 10 pages at $0.10 is $4.50 an hour
        assert (estimate.measured, estimate.seconds_per_page, estimate.hourly) == (3, 8.0, Decimal("4.50"))
        assert not estimate.below_floor


def test_effective_pay_is_the_median_and_the_slowest_quarter_by_the_servers_clock(app, client, campaign):
    # A lab annotator's assignment is not paid the reward: its time is not MTurk's pay (h2w3 finished in 5 s).
    timed(campaign.assignments["h2w3"], 5)
    with app.app_context():
        pay = fairpay.effective(campaign.batch)
    # 60, 120, 600 s for $0.50: the median 120 s pays $15.00 an hour, the slowest quarter (600 s) $3.00.
    assert (pay.assignments, pay.median_hourly, pay.slow_quarter_hourly) == (3, Decimal("15.00"), Decimal("3.00"))
    assert pay.below_floor
    for url in (f"/batches/{campaign.batch.id}/mturk", f"/batches/{campaign.batch.id}/mturk/review?show=decided"):
        page = client.get(url).get_data(as_text=True)
        assert "median <strong>$15.00 an hour</strong>" in page and "<strong>$3.00 an hour</strong> or less" in page
        assert "over 3 finished\n  MTurk assignments" in page
        assert "Below your floor of $7.25 an hour" in page


def test_a_top_up_brings_approved_work_to_the_rate_once_after_confirmation(
    app, client, campaign, stubbed, monkeypatch, run_jobs
):
    mturk, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: mturk)
    url = f"/batches/{campaign.batch.id}/mturk/top-up"
    data = {"csrf_token": csrf_token(client), "rate": "9.00"}
    step = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-top-up-confirm"}).get_data(as_text=True)
    # At $9.00 an hour: 60 s earns $0.15, 120 s $0.30 (the $0.50 reward covers both); 600 s earns $1.50: $1.00 more.
    assert "Top up 1 approved assignment to $9.00 an hour" in step
    assert "$1.00 in bonuses + $0.20 MTurk fee (20 %) = $1.20" in step
    assert "2 already got at least that" in step and ">Pay the top-up<" in step  # one is paid
    assert Bonus.select().count() == 0

    stubber.add_response(
        "get_assignment",
        {
            "Assignment": {
                "AssignmentId": "A3",
                "WorkerId": "AW3RAWWORKER",
                "HITId": "HIT1",
                "AssignmentStatus": "Approved",
            }
        },
        {"AssignmentId": "A3"},
    )
    stubber.add_response(
        "send_bonus",
        {},
        {
            "WorkerId": "AW3RAWWORKER",
            "BonusAmount": "1.00",
            "AssignmentId": "A3",
            "Reason": "Top-up to $9.00 an hour for the time this HIT took you, by our server's clock.",
            "UniqueRequestToken": ANY,
        },
    )
    client.post(url, data={**data, "confirmed": "1"})
    run_jobs()
    assert [(b.mturk_assignment.mturk_assignment_id, b.amount, b.state) for b in Bonus.select()] == [
        ("A3", Decimal("1.00"), "done")
    ]
    again = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-top-up-confirm"}).get_data(as_text=True)
    assert "nothing to top up" in again and 'name="confirmed"' not in again  # paid once: nothing is owed now
    higher = client.post(
        url, data={**data, "rate": "12.00"}, headers={**HTMX, "HX-Target": "mturk-top-up-confirm"}
    ).get_data(as_text=True)
    assert re.search(r"\$0\.50 in bonuses", higher)  # $2.00 for 600 s, less the reward and the $1.00 top-up


def test_the_builder_shows_the_hourly_pay_of_the_reward_as_it_is_typed(app, client, org):
    from factories import make_dataset

    with app.app_context():
        dataset = make_dataset(org)
    page = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    assert 'hx-get="/mturk/fair-pay"' in page and "an hour</strong>" in page
    typed = client.get("/mturk/fair-pay?reward=0.10&pages_per_hit=10", headers=HTMX).get_data(as_text=True)
    assert (
        "At $0.10 a HIT of 10 pages" in typed and "$0.60 an hour" in typed and "raise the reward to at least" in typed
    )
    odd = client.get("/mturk/fair-pay?reward=%C2%B2&pages_per_hit=-4", headers=HTMX)  # a Unicode digit, a negative
    assert odd.status_code == 200 and "At $0.00 a HIT of 1 page," in odd.get_data(as_text=True)


def test_the_builder_estimates_the_hourly_pay_of_a_hit_as_the_dataset_fills_it(app, client, org):
    from factories import make_dataset

    with app.app_context():
        dataset = make_dataset(org)  # 2 classes of 50 candidates: 42 a page fill 4 pages, not the 10 asked
    page = " ".join(client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True).split())
    assert "a HIT will have 4, not 10" in page
    assert "At $0.10 a HIT of 4 pages" in page and "10 pages" not in page
    assert re.search(r'<input type="hidden" id="hit-pages" name="pages_per_hit" value="4">\s*</?', page)
