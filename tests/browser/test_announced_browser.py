"""In Chromium: a batch page nobody started a job on follows cron's MTurk reconciliation, which no page watches, and
shows what it changed without a reload; it hears such announcements through its one periodic request, the status
line's poll (batches/_status.html, batches/routes.status)."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_campaign, published_on_mturk
from support import log_in, settled

pytestmark = pytest.mark.browser


def cron_lists(app, run_jobs, stubber, status: str) -> None:
    """Cron's MTurk reconciliation, queued as rq cron queues it (workers/cron.py) and run: MTurk lists one assignment
    of the HIT 3CRONHIT, in ``status``."""
    from freelunch.queues import redis_connection
    from freelunch.services import jobs

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    listed = {
        "AssignmentId": "3CRONASSIGNMENT",
        "WorkerId": "AWCRONWORKER1",
        "HITId": "3CRONHIT",
        "AssignmentStatus": status,
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
    with app.app_context():
        jobs.enqueue_unwatched(jobs.MTURK_SYNC_LIVE, connection=redis_connection())
    run_jobs()


def requests_made(page, live_server) -> list[str]:
    """The paths (with their queries) the page asks for from now on. The favicon is left out: the browser fetches it
    once, whenever it gets to it (once in CI, after the page had settled), and it is no poll."""
    asked: list[str] = []
    page.on("request", lambda r: r.url.endswith("/favicon.svg") or asked.append(r.url.removeprefix(live_server)))
    return asked


def on_a_published_batch(app, page, live_server, make_account, stubbed, monkeypatch):
    """A requester logged in, with a batch whose first HIT is on MTurk as 3CRONHIT; MTurk is ``stubbed``'s."""
    from freelunch.services.mturk import tracking

    mturk, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: mturk)
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        published_on_mturk(campaign.hits[0], mturk_hit_id="3CRONHIT")
    log_in(page, live_server, "owner@example.org")
    return campaign, stubber


def test_an_idle_batch_page_makes_one_request_every_5_seconds(app, live_server, page, make_account):
    """The review: a batch page polled twice every 5 s, its status line and the announcement check (24 requests in an
    idle minute), and the Overview a third time, its progress panel (36). The status line's poll carries the
    announcements and the Overview's panel: 12 requests a minute, all of them that poll.
    The page's clock is Playwright's: a minute passes in 5 s steps, each poll answered before the next step."""
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    log_in(page, live_server, "owner@example.org")
    asked = requests_made(page, live_server)
    page.clock.install()  # time flows as usual until run_for moves it on
    batch = campaign.batch.id
    for tab in (f"/batches/{batch}", f"/batches/{batch}/mturk", f"/review/batches/{batch}/exports"):
        page.goto(live_server + tab)
        settled(page)
        asked.clear()
        for _ in range(12):  # an idle minute
            page.clock.run_for(5_000)
            settled(page)
        assert len(asked) == 12, (tab, asked)
        assert all(url.startswith(f"/batches/{batch}/status") for url in asked), (tab, asked)


def test_the_mturk_review_tab_shows_what_cron_reconciled_without_a_reload(
    app, live_server, page, make_account, run_jobs, stubbed, monkeypatch
):
    campaign, stubber = on_a_published_batch(app, page, live_server, make_account, stubbed, monkeypatch)
    page.goto(f"{live_server}/batches/{campaign.batch.id}/mturk/review")
    assert page.inner_text("#batch-tab [data-show=no_data]") == "Submitted, no data here (0)"
    page.evaluate("window.__noReload = true")
    cron_lists(app, run_jobs, stubber, "Submitted")
    # The assignment MTurk lists and we hold no data of joins its pile, once the poll hears the announcement.
    page.wait_for_selector("#batch-tab [data-show=no_data]:has-text('(1)')", timeout=20_000)  # polled every 5 s
    assert page.evaluate("window.__noReload === true")


def test_the_mturk_tab_counts_what_cron_reconciled_without_a_reload(
    app, live_server, page, make_account, run_jobs, stubbed, monkeypatch
):
    """On the MTurk tab, cron's reconciliation finds MTurk approved an assignment: the tab's panel counts it (what was
    paid), heard through the status line's poll, without a reload."""
    campaign, stubber = on_a_published_batch(app, page, live_server, make_account, stubbed, monkeypatch)
    page.clock.install()  # time flows as usual until run_for moves it on
    page.goto(f"{live_server}/batches/{campaign.batch.id}/mturk")
    settled(page)
    assert "Paid for 0 approved assignments" in page.inner_text("#mturk-panel")
    page.evaluate("window.__noReload = true")
    cron_lists(app, run_jobs, stubber, "Approved")
    asked = requests_made(page, live_server)
    page.clock.run_for(5_000)  # the status line's next poll
    settled(page)
    assert "Paid for 1 approved assignment:" in page.inner_text("#mturk-panel")
    assert page.evaluate("window.__noReload === true")
    # One status poll heard it; the panel and the tab's job list reloaded; the line did not reload on its own events.
    assert sorted(url.split("?")[0] for url in asked) == sorted(
        [f"/batches/{campaign.batch.id}/status", f"/batches/{campaign.batch.id}/mturk", "/jobs/"]
    ), asked
