"""In Chromium: settings first, Publish publishes what was reviewed, and every panel a job changes follows its end
without a reload (publish on the MTurk tab, reconcile on Review › MTurk, an export on the Exports tab)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import grant_server_account, make_batch, make_dataset
from playwright.sync_api import expect
from support import log_in

from freelunch.services import jobs

pytestmark = pytest.mark.browser


def no_reload_since(page) -> None:
    page.evaluate("window.__noReload = true")


def still_no_reload(page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_edit_then_publish_sends_the_edited_settings_and_the_panels_follow_their_jobs(
    app, live_server, page, local_mturk, make_account, run_jobs
):
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, pages=2, per_page=4, assignments_per_hit=2)
    batch.title, batch.description, batch.reward = "Find the tench", "Click every tench", Decimal("0.50")
    batch.save()
    with app.app_context():
        grant_server_account(org)  # the server's MTurk account (here the local one), as a site admin allows it
    log_in(page, live_server, "requester@example.org")
    tab = f"{live_server}/batches/{batch.id}/mturk"
    page.goto(tab)

    # Settings come first; an unsaved edit blocks publishing until it is saved.
    settings = page.locator("form.mturk-settings")
    publish = page.locator("button[data-publish]")
    assert settings.bounding_box()["y"] < publish.bounding_box()["y"]
    assert publish.is_enabled()
    page.fill("input[name=title]", "Find the tench, edited")
    page.fill("input[name=reward]", "0.70")
    assert publish.is_disabled() and page.is_visible("[data-unsaved-note]")
    page.click("form.mturk-settings button[type=submit]")
    page.wait_for_selector(".flash:has-text('MTurk settings saved')")

    # The review step shows what goes to MTurk and the total with MTurk's fee: 2 x $0.70 + 20 %.
    page.click("button[data-publish]")
    page.wait_for_selector("#publish-review")
    assert page.inner_text("[data-review=title]") == "Find the tench, edited"
    assert page.inner_text("[data-review=reward]") == "$0.70 an assignment"
    assert "$1.40 in rewards + $0.28 MTurk fee = $1.68" in page.inner_text("[data-review=total]")
    page.click("#publish-review button[data-publish]")
    page.wait_for_url(tab)
    # What publishing does and how far it is: the job's card, no flash that would outlive the job.
    published = "Publish 1 MTurk HIT ($1.68 with MTurk's fee) to the local MTurk stand-in"
    page.wait_for_selector(f'#mturk-panel .job:not(.job-finished):has-text("{published}")')
    assert "0 of 1 HIT published" in page.inner_text("#mturk-panel")
    assert page.locator(".flash").count() == 0
    no_reload_since(page)

    run_jobs()
    page.wait_for_selector("#mturk-panel:has-text('1 of 1 HIT published')", timeout=15_000)
    page.wait_for_selector("#mturk-panel:has-text('Every HIT of the batch is on MTurk.')")
    assert "1 MTurk HIT live" in page.inner_text("#mturk-panel")
    assert page.locator("#mturk-panel button[data-publish]").count() == 0
    assert page.locator(f'#mturk-panel .activity .job-done:has-text("{published}")').count() == 1
    assert "background" not in page.inner_text("body")  # nothing still says it is being done
    assert still_no_reload(page)
    with local_mturk.store.lock:
        (hit,) = local_mturk.store.hits.values()
        sent = local_mturk.store.hit_types[hit.type_id]
        assert (sent.title, Decimal(sent.reward)) == ("Find the tench, edited", Decimal("0.70"))

    # Reconcile: the page said "never"; when the job ends it says when.
    page.goto(f"{live_server}/batches/{batch.id}/mturk/review")
    assert "(never;" in page.inner_text("#mturk-review")
    page.click("#mturk-review button:has-text('Reconcile now')")
    page.wait_for_selector(".job:has-text('Reconcile')")
    no_reload_since(page)
    run_jobs()
    page.locator("#mturk-review").filter(has_not_text="(never;").wait_for(timeout=15_000)
    assert still_no_reload(page)

    # An export: "No exports yet." goes once the file is there.
    page.goto(f"{live_server}/review/batches/{batch.id}/exports")
    assert page.is_visible("#export-summary:has-text('No exports yet.')")
    no_reload_since(page)
    with page.expect_download(timeout=20_000):
        page.click(".export-kind:has-text('Image records CSV') button")
        page.wait_for_selector("#export-rows .export-row")
        run_jobs()
    page.wait_for_selector("#export-summary:has-text('Download all finished exports')", timeout=15_000)
    assert not page.is_visible("text=No exports yet.") and still_no_reload(page)


QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>https://freelunch.example.org/annotate</ExternalURL>'
    "<FrameHeight>0</FrameHeight></ExternalQuestion>"
)


def test_a_panel_keeps_a_half_filled_form_when_its_job_ends_and_updates_once_it_is_left(
    app, live_server, page, local_mturk, make_account, run_jobs
):
    from freelunch.models import MTurkHit

    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, pages=2, per_page=4, assignments_per_hit=2)
    batch.state = "published"
    batch.save()
    with app.app_context():
        grant_server_account(org)
    created = local_mturk.client().create_hit(
        MaxAssignments=2,
        LifetimeInSeconds=3600,
        AssignmentDurationInSeconds=600,
        AutoApprovalDelayInSeconds=3 * 24 * 3600,
        Reward="0.50",
        Title="Find the tench",
        Description="Click every tench",
        Question=QUESTION,
    )["HIT"]
    MTurkHit.create(
        organization=org,
        batch=batch,
        hit=batch.hits.get(),
        sandbox=True,
        max_assignments=2,
        unique_request_token="t-1",
        state="created",
        mturk_hit_id=created["HITId"],
        hit_type_id=created["HITTypeId"],
    )
    for worker in ("AWORKERONE01", "AWORKERTWO02"):  # they submit on MTurk; the page learns it by reconciling
        local_mturk.submit(local_mturk.accept(created["HITId"], worker), completionCode="ABCDEF")

    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/batches/{batch.id}/mturk/review")
    page.click("#mturk-review button:has-text('Reconcile now')")
    page.wait_for_selector(".job:has-text('Reconcile')")
    no_data = page.locator("#mturk-review .subnav a[data-show=no_data]")
    assert no_data.inner_text() == "Submitted, no data here (0)"
    no_reload_since(page)

    # Half-way through a bonus reason when the reconcile ends: the panel waits, and says why.
    page.click("#mturk-review input[name=amount]")
    page.keyboard.type("0.25")
    page.click("#mturk-review input[name=reason]")
    page.keyboard.type("Careful wo")
    run_jobs()
    page.wait_for_selector("#mturk-review [data-panel-note]", timeout=15_000)
    assert "updating" in page.inner_text("#mturk-review [data-panel-note]")
    page.keyboard.type("rk")
    assert page.input_value("#mturk-review input[name=reason]") == "Careful work"
    assert no_data.inner_text() == "Submitted, no data here (0)"

    # Leaving the form lets the figures in, and what was typed stays.
    page.click("h1")
    page.wait_for_selector("#mturk-review .subnav a[data-show=no_data]:has-text('(2)')", timeout=15_000)
    assert page.locator("#mturk-review [data-panel-note]").count() == 0
    expect(page.locator("#mturk-review input[name=amount]")).to_have_value("0.25")
    expect(page.locator("#mturk-review input[name=reason]")).to_have_value("Careful work")
    assert still_no_reload(page)


def test_a_job_card_whose_job_redis_lost_ends_instead_of_polling_for_good(app, live_server, page, make_account):
    _, org = make_account("requester@example.org", "Lab")
    dataset = make_dataset(org)
    with app.app_context():  # queued, and no worker here: it stays in the queue until Redis loses it
        job = jobs.enqueue(
            jobs.IMPORT_PRESET,
            dataset.id,
            org.id,
            "imagenet-1k",
            organization_id=org.id,
            scope=jobs.dataset_scope(dataset.id),
            title="Import the ImageNet classes",
        )
    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/datasets/{dataset.id}")
    card = page.locator(f"#job-{job.id}")
    expect(card).to_contain_text("Import the ImageNet classes · in the queue")
    polls: list[str] = []
    page.on("request", lambda request: f"/jobs/{job.id}" in request.url and polls.append(request.url))

    job.delete()  # Redis's data lost (emptied, restarted without it)
    expect(card).to_contain_text("Import the ImageNet classes · no longer known", timeout=10_000)
    assert card.get_attribute("hx-trigger") is None
    asked = len(polls)
    page.wait_for_timeout(2_500)  # two and a half of the card's seconds: a card still polling asks at least twice
    assert len(polls) == asked, polls
