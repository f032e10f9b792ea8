"""No page a requester or annotator opens makes the browser log an error or fetch something that is not there."""

from __future__ import annotations

import pytest
from factories import make_campaign
from support import log_in

from freelunch.models import LabLink
from freelunch.services.accounts.users import create_user

pytestmark = pytest.mark.browser


def test_no_404s_and_no_console_errors(app, live_server, page, make_account):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        link = LabLink.create(organization=org, batch=campaign.batch, label="Session")
        create_user("root@example.org", "password123", is_admin=True)
    problems: list[str] = []
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    # The campaign's images are listed at example.org, which no test can reach: those failures are the data's.
    offline = "net::ERR_NAME_NOT_RESOLVED"
    page.on(
        "console",
        lambda m: m.type == "error" and offline not in m.text and problems.append(f"console: {m.text} at {m.location}"),
    )
    page.on(
        "requestfailed",
        lambda r: (
            "example.org" not in r.url
            and "ERR_ABORTED" not in (r.failure or "")
            and problems.append(f"failed: {r.url} {r.failure}")
        ),
    )  # (ABORTED: the next goto cancels a page's fetches)
    page.on("pageerror", lambda e: problems.append(f"script: {e}"))
    b = campaign.batch.id
    urls = ["/", "/help/imports", f"/lab/{link.token}"]
    for url in urls:
        page.goto(live_server + url)
    log_in(page, live_server, "owner@example.org")
    for url in [
        "/",
        "/batches/",
        f"/batches/{b}",
        f"/batches/{b}/hits",
        f"/batches/{b}/links",
        f"/batches/{b}/mturk",
        f"/review/batches/{b}/assignments",
        f"/review/batches/{b}/workers",
        f"/review/batches/{b}/results",
        f"/review/batches/{b}/exports",
        f"/batches/new?dataset_id={campaign.batch.dataset_id}",
        f"/datasets/{campaign.batch.dataset_id}",
        "/review/workers",
    ]:
        page.goto(live_server + url)
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/batches/{b}")
    page.click(".tabs a:has-text('Results')")  # and the htmx swaps
    page.wait_for_selector("#results")
    page.click(".tabs a:has-text('Overview')")
    page.wait_for_selector("#batch-progress")
    page.goto(live_server + "/")
    page.click("button:has-text('Log out')")
    page.wait_for_selector("input[name=email]")
    log_in(page, live_server, "root@example.org")
    for url in ["/admin/", "/admin/rq/"]:
        page.goto(live_server + url)
        page.wait_for_load_state("networkidle")
    assert problems == []
