"""Where money moves the requester sees the total with MTurk's fee and confirms: bulk decisions and bonuses."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from factories import grant_server_account, make_campaign, published_on_mturk
from support import csrf_token, login

from freelunch.models import MTurkAssignment, Organization
from freelunch.services import jobs
from freelunch.services.accounts import identity

HTMX = {"HX-Request": "true"}


@pytest.fixture
def review(app, make_account, client):
    """A $0.50 MTurk batch: A1, A2 approved, A3 submitted, on MTurk HITs of 3 (20 % fee); its owner logged in."""
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        c = make_campaign(org)
        c.batch.reward = Decimal("0.50")
        c.batch.save()
        hit = c.hits[0]
        published_on_mturk(hit, mturk_hit_id="HIT1")
        for n, status in enumerate(("Approved", "Approved", "Submitted"), 1):
            MTurkAssignment.create(
                organization=org,
                hit=hit,
                mturk_hit_id="HIT1",
                mturk_assignment_id=f"A{n}",
                worker_id=identity.anonymous_worker_id(org.id, f"AW{n}RAWWORKER"),
                status=status,
            )
    login(client, "owner@example.org")
    return c.batch


def queued(app, batch) -> list[str]:
    with app.app_context():
        return [job.title for job in jobs.recent(batch.organization_id, jobs.batch_scope(batch.id))]


def test_a_bulk_bonus_shows_the_total_with_the_fee_then_pays_on_confirmation(app, client, review):
    url = f"/batches/{review.id}/mturk/bonuses"
    data = {"csrf_token": csrf_token(client), "amount": "1.00", "reason": "Careful work"}
    step = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-bonus-confirm"})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and "<html" not in html  # the step alone, rendered by the server
    assert "Pay a $1.00 bonus to 2 approved assignments: $2.00 + $0.40 MTurk fee (20 %) = $2.40" in html
    assert "Total with MTurk's fee: <strong>$2.40</strong>" in html
    assert "Spent on MTurk today: $0.00 of $100.00." in html
    assert 'name="confirmed" value="1"' in html and ">Pay the bonuses<" in html
    assert queued(app, review) == []  # nothing happens before the confirmation

    without_js = client.post(url, data=data).get_data(as_text=True)  # the whole page, showing the same step
    assert "<html" in without_js and "= $2.40" in without_js and queued(app, review) == []

    confirmed = client.post(url, data={**data, "confirmed": "1"})
    assert confirmed.status_code == 302
    assert queued(app, review) == ["Bonus $1.00 for approved assignments"]


def test_a_bonus_that_would_cross_the_daily_limit_cannot_be_confirmed(app, client, review):
    with app.app_context():
        Organization.update(mturk_daily_limit=Decimal("2.00")).execute()
    html = client.post(
        f"/batches/{review.id}/mturk/bonuses",
        data={"csrf_token": csrf_token(client), "amount": "1.00", "reason": "Careful work"},
        headers={**HTMX, "HX-Target": "mturk-bonus-confirm"},
    ).get_data(as_text=True)
    assert "daily MTurk limit" in html and "raise the daily limit" in html
    assert 'name="confirmed"' not in html
    over_cap = client.post(
        f"/batches/{review.id}/mturk/bonuses",
        data={"csrf_token": csrf_token(client), "amount": "2500", "reason": "Careful work"},
        headers={**HTMX, "HX-Target": "mturk-bonus-confirm"},
    ).get_data(as_text=True)
    assert "more than this batch allows" in over_cap and 'name="confirmed"' not in over_cap


def test_a_bulk_reject_says_what_happens_and_skips_what_it_cannot_decide(app, client, review):
    rows = {r.mturk_assignment_id: r.id for r in MTurkAssignment.select()}
    data = {"csrf_token": csrf_token(client), "row": list(rows.values()), "action": "reject", "feedback": "Random"}
    html = client.post(
        f"/batches/{review.id}/mturk/decisions", data=data, headers={**HTMX, "HX-Target": "mturk-decide-confirm"}
    ).get_data(as_text=True)
    assert "Reject 1 assignment: the worker is not paid, MTurk returns $0.50 in rewards + $0.10 MTurk fee" in html
    assert "2 ticked assignments are not Submitted on MTurk" in html and ">Reject it<" in html  # one is rejected
    assert re.findall(r'name="row" value="(\d+)"', html) == [str(v) for v in rows.values()]
    assert queued(app, review) == []
    nothing = client.post(
        f"/batches/{review.id}/mturk/decisions",
        data={"csrf_token": csrf_token(client), "action": "approve"},
        headers={**HTMX, "HX-Target": "mturk-decide-confirm"},
    ).get_data(as_text=True)
    assert "Tick the assignments to decide." in nothing and 'name="confirmed"' not in nothing
    client.post(f"/batches/{review.id}/mturk/decisions", data={**data, "confirmed": "1"})
    assert queued(app, review) == ["Reject 3 assignments"]


def test_buttons_for_no_assignment_are_disabled(app, client, review):
    page = client.get(f"/batches/{review.id}/mturk/review?show=ready").get_data(as_text=True)
    assert re.search(r"<button type=\"submit\">Pay the bonus to 2 approved assignments", page)
    with app.app_context():
        MTurkAssignment.update(status="Rejected").execute()
    page = client.get(f"/batches/{review.id}/mturk/review?show=ready").get_data(as_text=True)
    assert re.search(r"<button type=\"submit\" disabled>Pay the bonus to 0 approved assignments", page)
    assert re.search(r"<button type=\"submit\" disabled>Run auto-review on 0 assignments", page)


def test_one_assignments_bonus_is_confirmed_with_its_fee_too(app, client, review):
    row = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "A1")
    url = f"/mturk/assignments/{row.id}/bonus"
    data = {"csrf_token": csrf_token(client), "amount": "1.00", "reason": "Careful work"}
    html = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-bonus-one-confirm"}).get_data(as_text=True)
    assert "<html" not in html and "Pay a $1.00 bonus for assignment A1: $1.00 + $0.20 MTurk fee (20 %) = $1.20" in html
    assert queued(app, review) == []
    page = client.post(url, data=data).get_data(as_text=True)  # without JavaScript: the assignment page shows it
    assert "<html" in page and "= $1.20" in page and queued(app, review) == []
    assert client.post(url, data={**data, "confirmed": "1"}).status_code == 302
    assert queued(app, review) == ["Bonus $1.00 for A1"]


def test_one_assignments_approval_from_its_page_is_confirmed_with_the_reward_and_fee(app, client, review):
    row = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "A3")
    url = f"/batches/{review.id}/mturk/decisions"
    data = {"csrf_token": csrf_token(client), "row": row.id, "back": "assignment", "action": "approve", "feedback": ""}
    html = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-decide-confirm"}).get_data(as_text=True)
    assert "<html" not in html
    assert "Approve 1 assignment: the worker is paid $0.50 in rewards + $0.10 MTurk fee = $0.60" in html
    assert "Total with MTurk's fee: <strong>$0.60</strong>" in html and ">Approve it<" in html
    assert 'name="back" value="assignment"' in html and f'href="/mturk/assignments/{row.id}"' in html  # Cancel
    assert queued(app, review) == []
    page = client.post(url, data=data)  # without JavaScript: the assignment's page, showing the step
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert "= $0.60" in page.get_data(as_text=True) and queued(app, review) == []
    done = client.post(url, data={**data, "confirmed": "1"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/mturk/assignments/{row.id}")
    assert queued(app, review) == ["Approve 1 assignment"]


def test_one_rejection_leaves_the_worker_out_only_once_confirmed(app, client, review):
    from freelunch.models import Batch

    row = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "A3")
    url = f"/batches/{review.id}/mturk/decisions"
    data = {
        "csrf_token": csrf_token(client),
        "row": row.id,
        "back": "assignment",
        "action": "reject",
        "feedback": "Random clicks",
        "leave_out": "y",
    }
    html = client.post(url, data=data, headers={**HTMX, "HX-Target": "mturk-decide-confirm"}).get_data(as_text=True)
    assert "Reject 1 assignment: the worker is not paid" in html and "lowers the worker" in html
    assert "1 worker will be left out of this batch" in html and ">Reject it<" in html
    assert queued(app, review) == [] and Batch.get_by_id(review.id).excluded_workers in ([], None)
    client.post(url, data={**data, "confirmed": "1"})
    assert queued(app, review) == ["Reject 1 assignment"]
    assert Batch.get_by_id(review.id).excluded_workers == [row.worker_id]
    said = client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True).replace("&rsquo;", "’")
    assert "none of the worker’s votes in this batch count, rejected or not" in said
    assert "Review › Workers" not in said  # it lists only workers whose work counts: a promise it could not keep


def test_auto_review_with_nothing_to_judge_cannot_be_confirmed(app, client, review):
    html = client.post(
        f"/batches/{review.id}/mturk/auto-review",
        data={"csrf_token": csrf_token(client)},
        headers={**HTMX, "HX-Target": "mturk-auto-review-confirm"},
    ).get_data(as_text=True)
    assert "No submitted assignment with data here is waiting for a decision." in html
    assert "1 submitted assignment is without data here: the rules never decide it, you do." in html
    assert 'name="confirmed"' not in html and queued(app, review) == []


def test_job_summaries_count_with_their_nouns():
    from freelunch.services.mturk.bonuses import BonusSummary
    from freelunch.services.mturk.workers import NotifySummary

    assert BonusSummary(paid=1).as_dict()["summary"] == "1 bonus paid now, 0 paid before, 0 failed."
    assert BonusSummary(paid=3).as_dict()["summary"].startswith("3 bonuses paid now")
    assert NotifySummary(sent=1).as_dict()["summary"] == "Message sent to 1 worker, 0 failed."
