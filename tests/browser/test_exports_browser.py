"""Exports in Chromium: a rule made the labels of record on the results page, its "Export the labels of record as
CSV" keeps the decision filter, and one click (the Export button) ends in a download once the job is done."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from factories import make_campaign
from support import log_in, settled

pytestmark = pytest.mark.browser


def fitted_campaign(app, make_account, run_jobs):
    """owner@example.org's campaign whose labels of record are a finished majority-vote fit's."""
    from freelunch.services.review import fits, of_record

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        fits.start(campaign.batch, "mv", 0.9, 0.5)
    run_jobs()
    with app.app_context():
        of_record.choose_fit(campaign.batch)
    return campaign


def on_the_exports_tab_with(app, page, live_server, run_jobs, batch, *kinds):
    """A file of each of ``kinds`` made for the batch, and owner@example.org on its Exports tab, none of them out of
    date, marked so that a reload shows (window.__noReload)."""
    from freelunch.services.exports import files

    with app.app_context():
        for kind in kinds:
            files.start(batch, kind)
    run_jobs()
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/review/batches/{batch.id}/exports")
    page.wait_for_selector(f"#export-rows .export-done >> nth={len(kinds) - 1}")
    assert page.locator("[data-testid=export-out-of-date]").count() == 0
    page.evaluate("window.__noReload = true")


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


def test_an_export_of_labels_since_replaced_says_it_is_out_of_date_and_is_made_again_in_one_click(
    app, live_server, page, make_account, run_jobs
):
    """The label model's fit is the labels of record; an export of it is current until a newer fit replaces it: then
    its row says so (services/exports/files.out_of_date), as soon as that fit ends, and "Make it again" puts the new
    export's row above it, which downloads itself once written."""
    from freelunch.models import Export
    from freelunch.services.exports import files
    from freelunch.services.review import fits

    campaign = fitted_campaign(app, make_account, run_jobs)
    with app.app_context():
        files.start(campaign.batch, "labels-csv")
    run_jobs()
    exports = f"{live_server}/review/batches/{campaign.batch.id}/exports"
    log_in(page, live_server, "owner@example.org")
    page.goto(exports)
    assert page.locator("[data-testid=export-out-of-date]").count() == 0

    # A fit started on another page (here, by another requester): the Exports tab follows it to its end, and the
    # row says it is out of date when it ends, without a reload.
    with app.app_context():
        fits.start(campaign.batch, "ds", 0.9)
    page.goto(exports)
    page.wait_for_selector("[data-testid=export-following] .job:not(.job-finished):has-text('Dawid–Skene labels')")
    assert page.locator("[data-testid=export-out-of-date]").count() == 0
    page.evaluate("window.__noReload = true")
    run_jobs()
    stale = page.locator("[data-testid=export-out-of-date]")
    stale.wait_for(timeout=15_000)
    assert "Out of date: the batch's labels of record changed since it was made" in stale.inner_text()
    assert page.evaluate("window.__noReload === true")
    assert page.locator("[data-testid=export-following] .job.job-finished").count() == 1  # it stopped polling
    stale.locator("button:has-text('Make it again')").click()
    page.wait_for_selector("#export-rows .export-row.export-queued + .export-row.export-done")  # above the old one
    with page.expect_download(timeout=20_000) as info:
        run_jobs()
    with app.app_context():
        first, again = Export.select().order_by(Export.id)
    assert again.params["fit"] != first.params["fit"]
    assert info.value.suggested_filename.endswith(f"-export-{again.id}.csv")
    settled(page)
    assert "Out of date" not in page.inner_text(f"#export-{again.id}")
    assert "Out of date" in page.inner_text(f"#export-{first.id}")


def test_when_a_fit_ends_the_finished_rows_reload_in_one_request(app, live_server, page, make_account, run_jobs):
    """The review: after a label fit ended, every finished export row asked for itself (up to 50 requests). The
    rows' list reloads once, and every row says it is out of date."""
    from freelunch.services.exports import files
    from freelunch.services.review import fits

    campaign = fitted_campaign(app, make_account, run_jobs)
    with app.app_context():
        for decision in (None, "yes", "no"):
            files.start(campaign.batch, "labels-csv", decision)
    run_jobs()
    log_in(page, live_server, "owner@example.org")
    with app.app_context():
        fits.start(campaign.batch, "ds", 0.9)  # started on another page: the Exports tab follows it to its end
    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/exports")
    page.wait_for_selector("[data-testid=export-following] .job:not(.job-finished)")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.removeprefix(live_server)))
    run_jobs()
    page.locator("[data-testid=export-out-of-date]").nth(2).wait_for(timeout=15_000)
    settled(page)
    assert page.locator("[data-testid=export-out-of-date]").count() == 3
    assert [url for url in asked if url.startswith("/review/exports/")] == []  # no row asked for itself
    assert len([url for url in asked if url.startswith(f"/review/batches/{campaign.batch.id}/exports")]) == 1


def test_an_export_started_elsewhere_shows_up_without_a_reload(app, live_server, page, make_account, run_jobs):
    """The review: an export started in another tab after the Exports tab loaded showed
    only on a reload. The batch's status poll, which runs anyway, tells the tab its list changed: the list reloads
    once, and nothing polls the list itself."""
    from freelunch.services.exports import files

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/exports")
    page.wait_for_selector("#export-list .empty")
    page.evaluate("window.__noReload = true")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.removeprefix(live_server)))
    with app.app_context():
        export = files.start(campaign.batch, "workers-csv")  # as another tab does
    run_jobs()
    page.wait_for_selector(f"#export-{export.id}.export-done", timeout=15_000)
    assert page.evaluate("window.__noReload === true")
    assert "Download all finished exports" in page.inner_text("#export-list")
    assert len([url for url in asked if url.startswith(f"/review/batches/{campaign.batch.id}/exports")]) == 1
    page.wait_for_timeout(5_500)  # another status poll: the list is what it shows now, nothing more is asked
    assert len([url for url in asked if url.startswith(f"/review/batches/{campaign.batch.id}/exports")]) == 1


def test_an_export_started_elsewhere_is_not_downloaded_by_the_tab_that_picked_it_up(
    app, live_server, page, make_account, run_jobs
):
    """The review: an export started in another tab while it ran was picked up by this tab's status poll, and when
    its job ended it downloaded itself here too, where nobody asked for it. It shows its download link, no more."""
    from freelunch.services.exports import files

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/exports")
    page.wait_for_selector("#export-list .empty")
    downloads: list = []
    page.on("download", lambda download: downloads.append(download))
    with app.app_context():
        export = files.start(campaign.batch, "workers-csv")  # another tab's Export button
    page.wait_for_selector(f"#export-{export.id}.export-queued", timeout=15_000)  # the status poll picked it up
    settled(page)
    run_jobs()
    page.wait_for_selector(f"#export-{export.id}.export-done a[data-download]", timeout=15_000)
    settled(page)
    page.wait_for_timeout(1_000)
    assert downloads == []


def test_an_export_started_here_downloads_itself_once_even_after_the_list_reloaded(
    app, live_server, page, make_account, run_jobs
):
    """This tab's Export button: its export downloads itself when done, also when the list reloaded meanwhile (an
    export started in another tab, picked up by the status poll, redraws every row); the other tab's does not."""
    from freelunch.models import Export
    from freelunch.services.exports import files

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    log_in(page, live_server, "owner@example.org")
    page.goto(f"{live_server}/review/batches/{campaign.batch.id}/exports")
    page.click(".export-kind:has-text('Workers CSV') button")
    page.wait_for_selector("#export-rows .export-row.export-queued")
    with app.app_context():
        mine = Export.get()
        other = files.start(campaign.batch, "records-csv")  # another tab's
    page.wait_for_selector(f"#export-{other.id}.export-queued", timeout=15_000)  # the list reloaded, both rows redrawn
    settled(page)
    downloads: list = []
    page.on("download", lambda download: downloads.append(download))
    with page.expect_download(timeout=20_000) as info:
        run_jobs()
    assert info.value.suggested_filename.endswith(f"-export-{mine.id}.csv")
    page.wait_for_selector(f"#export-{other.id}.export-done a[data-download]", timeout=15_000)
    settled(page)
    page.wait_for_timeout(1_000)
    assert [d.suggested_filename for d in downloads] == [info.value.suggested_filename]  # once, and only mine


def test_a_fit_started_elsewhere_after_the_tab_loaded_puts_its_files_out_of_date_without_a_reload(
    app, live_server, page, make_account, run_jobs
):
    """The review: the Exports tab followed the jobs that may put its files out of date only if they ran when it
    loaded; a label fit started afterwards on the Results tab ended unheard, and the rows said they were current
    until a reload. The batch's status poll, which runs anyway, also tells the tab of such a job started since."""
    from freelunch.services.review import fits

    campaign = fitted_campaign(app, make_account, run_jobs)
    on_the_exports_tab_with(app, page, live_server, run_jobs, campaign.batch, "labels-csv", "workers-csv")
    assert page.locator("[data-testid=export-following]").count() == 0
    with app.app_context():
        fits.start(campaign.batch, "ds", 0.9)  # on the Results tab, after this one loaded
    page.wait_for_selector("[data-testid=export-following] .job", timeout=15_000)
    run_jobs()
    page.locator("[data-testid=export-out-of-date]").nth(1).wait_for(timeout=15_000)
    texts = page.locator("[data-testid=export-out-of-date]").all_inner_texts()
    assert any("labels of record changed" in t for t in texts) and any("newer label fit" in t for t in texts)
    assert page.evaluate("window.__noReload === true")


def test_a_control_corrected_and_a_late_pointer_batch_put_files_out_of_date_without_a_reload(
    app, live_server, page, make_account, run_jobs
):
    """The review: a control's role corrected (the Datasets page's import) and pointer batches flushed after their
    page was submitted (an RQ job no page started) left an open Exports tab saying its files were current. The tab
    sends the marks it shows with the batch's status poll (files.marks), which tells it when they changed."""
    import json

    from factories import T0

    from freelunch.db import database
    from freelunch.models import Candidate
    from freelunch.services.ingest.insert import insert_chunks

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
    on_the_exports_tab_with(app, page, live_server, run_jobs, campaign.batch, "labels-csv", "seed-jsonl")
    with app.app_context():
        Candidate.update(role="candidate").where(Candidate.image == campaign.images["ap"].id).execute()
    labels = page.locator(".export-row:has-text('Labels CSV') [data-testid=export-out-of-date]")
    labels.wait_for(timeout=15_000)
    assert "a control image's role was corrected" in labels.inner_text()
    assert page.locator("[data-testid=export-out-of-date]").count() == 1  # the seed holds no role
    move = [{"type": "move", "i": 0, "x": 0.25, "y": 0.75, "time": T0 + 200}]
    with app.app_context(), database.atomic():
        insert_chunks([(campaign.assignments["h1w1"].id, 1, 0, 2, 1, json.dumps(move), T0 + 9_000)])
    seed = page.locator(".export-row:has-text('JSON Lines') [data-testid=export-out-of-date]")
    seed.wait_for(timeout=15_000)
    assert "pointer data of submitted pages arrived" in seed.inner_text()
    assert page.evaluate("window.__noReload === true")
