"""Exports in Chromium: a rule made the labels of record on the results page, its "Export the labels of record as
CSV" keeps the decision filter, and one click (the Export button) ends in a download once the job is done."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from factories import make_campaign
from support import log_in, settled

pytestmark = pytest.mark.browser


def test_filtered_labels_export_downloads_itself(app, live_server, page, make_account, run_jobs):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    log_in(page, live_server, "owner@example.org")
    page.goto(
        f"{live_server}/review/batches/{campaign.batch.id}/results?threshold=0.5&min_annotations=1&min_accuracy=0"
    )
    page.click("button:has-text('Make this rule the labels of record')")
    page.wait_for_selector("[data-testid=rule-is-record]")
    page.select_option("select[name=decision]", "yes")
    page.click("#results button:has-text('Apply')")
    page.wait_for_url("**decision=yes**")
    settled(page)
    page.click("button:has-text('Export the labels of record as CSV (yes only)')")
    page.wait_for_selector("#results-export .export-row:has-text('yes only')")
    with page.expect_download(timeout=20_000) as info:
        run_jobs()  # the row hears its job end, comes back finished, and starts its own download
    rows = list(csv.DictReader(Path(info.value.path()).open()))
    assert rows and {r["label"] for r in rows} == {"1"}

    # On the Exports tab: one click, one download; the same export again is offered, not written twice.
    page.click(".tabs a:has-text('Exports')")
    page.wait_for_selector("#export-rows .export-row:has-text('yes only')")
    page.click(".export-kind:has-text('Image records CSV') button")
    page.wait_for_selector("#export-rows .export-row:has-text('Image records CSV')")
    with page.expect_download(timeout=20_000) as info:
        run_jobs()
    assert info.value.suggested_filename.endswith(".csv")
    assert page.locator(".export-row:has-text('Image records CSV')").inner_text().count(" KB") == 1  # its size
    page.click(".export-kind:has-text('Image records CSV') button")
    page.wait_for_selector("[data-testid=export-same]:has-text('download it')")
    assert page.locator("#export-rows .export-row").count() == 2
