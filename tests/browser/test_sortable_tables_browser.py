"""Tables in Chromium: a header click sorts (and again, the other way), a filter narrows, and the URL keeps both,
so Back and a reload show the same list."""

from __future__ import annotations

import pytest
from factories import make_campaign, make_dataset
from support import log_in, settled

from freelunch.models import Batch

pytestmark = pytest.mark.browser


def names(page) -> list[str]:
    return page.locator("#batch-list tbody tr td:first-child").all_inner_texts()


def arrive(page, url) -> None:
    """The list swapped in for a URL, ready to be used again."""
    page.wait_for_url(url)
    settled(page)


def test_batches_and_assignments_sort_and_filter_in_the_url(app, live_server, page, make_account):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)  # "Review batch", ready, with lab and survey assignments
        dataset = make_dataset(org, classes=("n01",), candidates=1, name="Other")
        for name, state in (("Alpha", "draft"), ("Zulu", "failed")):
            Batch.create(organization=org, dataset=dataset, name=name, state=state)
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/batches/")
    assert names(page) == ["Zulu", "Alpha", "Review batch"]  # newest first
    page.evaluate("window.__noReload = true")
    page.click("#batch-list th a:has-text('Name')")
    arrive(page, "**/batches/?sort=name")
    assert names(page) == ["Alpha", "Review batch", "Zulu"]
    page.click("#batch-list th a:has-text('Name')")
    arrive(page, "**/batches/?sort=-name")
    assert names(page) == ["Zulu", "Review batch", "Alpha"]
    page.select_option("select[name=state]", "failed")
    arrive(page, "**state=failed**")
    assert names(page) == ["Zulu"] and "sort=-name" in page.url
    assert page.evaluate("window.__noReload") is True
    page.go_back()
    arrive(page, "**/batches/?sort=-name")
    page.reload()
    assert names(page) == ["Zulu", "Review batch", "Alpha"]

    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/assignments")
    total = page.locator("#assignment-list tbody tr").count()
    page.click("#assignment-list th a:has-text('Worker')")
    arrive(page, "**sort=worker")
    workers = page.locator("#assignment-list tbody tr td:first-child code").all_inner_texts()
    assert workers == sorted(workers) and len(workers) == total
    # The cells and the options name a source in words ("lab link"); the URL carries its value ("lab").
    sources = {s.split(" · ")[0] for s in page.locator("#assignment-list tbody tr td:nth-child(3)").all_inner_texts()}
    chosen = sorted(sources)[0]
    value = page.locator("select[name=source] option", has_text=chosen).get_attribute("value")
    page.select_option("select[name=source]", label=chosen)
    arrive(page, f"**source={value}**")
    shown = page.locator("#assignment-list tbody tr td:nth-child(3)").all_inner_texts()
    assert shown and all(s.startswith(chosen) for s in shown)
