"""The batch page in Chromium: tabs swap in place with their own URLs, Back and a reload land on the same tab,
and the status line follows a build without a reload."""

from __future__ import annotations

import pytest
from factories import make_dataset
from playwright.sync_api import expect
from support import log_in

from freelunch.models import Batch
from freelunch.services.batches import builder

pytestmark = pytest.mark.browser


def on_a_building_batch(app, page, live_server, make_account, name: str) -> Batch:
    """A requester logged in on the Overview of a small batch whose build is queued (no worker runs it yet)."""
    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        dataset = make_dataset(org, classes=("n01",), candidates=20)
        batch = Batch.create(
            organization=org,
            dataset=dataset,
            name=name,
            pages_per_hit=2,
            images_per_page=6,
            positives_per_page=1,
            negatives_per_page=1,
            assignments_per_hit=2,
        )
        builder.start_build(batch, None)
    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/batches/{batch.id}")
    page.wait_for_selector("[data-testid=batch-phase]:has-text('building')")
    return batch


def test_tabs_swap_in_place_keep_their_urls_and_the_status_follows_the_build(
    app, live_server, page, make_account, run_jobs
):
    batch = on_a_building_batch(app, page, live_server, make_account, "Tabs")
    base = f"{live_server}/batches/{batch.id}"
    page.evaluate("window.__noReload = true")

    run_jobs()  # the status line polls every second while building, then reads ready with the HITs' figures
    page.wait_for_selector("[data-testid=batch-phase]:has-text('ready')", timeout=10_000)
    hits = page.inner_text("[data-testid=batch-hits]")
    assert hits.endswith("HITs") and not hits.startswith("0 ")

    page.click(".tabs a:has-text('HITs')")
    page.wait_for_url(f"{base}/hits")
    page.wait_for_selector("#batch-hits a:has-text('preview')")
    assert page.inner_text(".tabs [aria-current=page]") == "HITs"
    page.click(".tabs a:has-text('MTurk')")
    page.wait_for_url(f"{base}/mturk")
    page.wait_for_selector(f"text=0 of {hits.split()[0]} HITs published")
    assert page.title().startswith("MTurk · Tabs")
    page.click(".tabs a:has-text('Results')")
    page.wait_for_url(f"{live_server}/review/batches/{batch.id}/results")
    page.wait_for_selector("#results")
    assert page.evaluate("window.__noReload") is True  # every tab came in by an htmx swap

    page.go_back()
    page.wait_for_url(f"{base}/mturk")
    page.wait_for_selector(".tabs [aria-current=page]:has-text('MTurk')")
    page.go_back()
    page.wait_for_selector(".tabs [aria-current=page]:has-text('HITs')")
    assert page.url == f"{base}/hits"
    page.reload()  # a direct load of a tab's URL is the whole page on that tab
    page.wait_for_selector(".tabs [aria-current=page]:has-text('HITs')")
    assert page.locator("#batch-status").count() == 1 and page.locator("#batch-hits").count() == 1


def test_a_build_whose_job_is_lost_shows_failed_and_offers_building_again_without_a_reload(
    app, live_server, page, make_account, run_jobs, redis_client
):
    """Its job lost with Redis's data (its worker killed hard is the same to builder.settle:
    tests/services/batches/test_batches_stuck.py), the build polled as building forever. Now the open page hears it
    failed: the status line, the Overview (why, and "Build the HITs again") and the job list (the lost job's card,
    which polled for ever, is gone) change in place, and nothing polls the build any more."""
    batch = on_a_building_batch(app, page, live_server, make_account, "Lost")
    card = f"#job-{Batch.get_by_id(batch.id).build_job_id}"
    assert page.locator(f"{card}[hx-trigger='every 1s']").count() == 1
    page.evaluate("window.__noReload = true")

    redis_client.flushdb()  # Redis restarted without its data
    page.wait_for_selector("[data-testid=batch-phase]:has-text('failed')", timeout=10_000)
    page.wait_for_selector("[data-testid=build-failed]:has-text('lost from the queue')", timeout=10_000)
    expect(page.locator(card)).to_have_count(0)  # its card, which polled a job Redis no longer has, is gone
    status = page.locator("#batch-status")
    assert status.get_attribute("hx-trigger").startswith("every 5s") and "building" not in status.get_attribute(
        "hx-get"
    )
    assert page.evaluate("window.__noReload") is True  # all of it without a reload

    page.click("button:has-text('Build the HITs again')")
    page.wait_for_selector("[data-testid=batch-phase]:has-text('building')")
    run_jobs()
    page.wait_for_selector("[data-testid=batch-phase]:has-text('ready')", timeout=10_000)
    expect(page.locator("[data-testid=build-failed]")).to_have_count(0)
