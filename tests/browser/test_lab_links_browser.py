"""Lab annotators in Chromium: instructions before the grid, a sticky bar at 1280x800, the empty-page question,
their typed name on the review pages, and a finished link that stays finished."""

from __future__ import annotations

import pytest
from factories import make_batch
from support import log_in
from worker import click, wait_loaded

from freelunch.models import Assignment, LabLink, PageSubmission
from freelunch.services.exports.seed import seed_records

pytestmark = pytest.mark.browser


def test_a_lab_annotator_is_instructed_asked_once_about_an_empty_page_and_named_for_the_lead(
    app, live_server, browser, page, make_account
):
    _, org = make_account("lead@example.org", "Lab")
    batch = make_batch(app, org, pages=2, per_page=12, versions=("POINTER_NO_ORIGINAL",))
    with app.app_context():
        link = LabLink.create(organization=org, batch=batch, label="Tuesday session")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    annotator = context.new_page()
    annotator.goto(f"{live_server}/lab/{link.token}")
    text = annotator.inner_text("body")
    assert "Click every image" in text and "Space or Enter" in text and "Red pointer" in text and "blurred" in text
    annotator.fill("input[name=workerId]", "Ada Lovelace")
    annotator.click("button:has-text('Start')")
    wait_loaded(annotator)

    # 12 images do not fit in 800 px: the sticky bar shows the page, the selection and a Submit.
    bar = annotator.locator("[data-sticky-bar]")
    assert bar.is_visible() and bar.inner_text().startswith("Page 1 of 2 · 0 selected")
    box = bar.bounding_box()
    assert box["y"] + box["height"] <= 800 and box["y"] > 700  # at the window's bottom
    click(annotator, 0, 0.5, 0.5)
    assert bar.inner_text().startswith("Page 1 of 2 · 1 selected")
    annotator.click("[data-sticky-submit]")
    annotator.wait_for_selector('form#task[data-pageno="2"]')
    wait_loaded(annotator)

    # Page 2 with nothing selected: asked once, then stored with the confirmation.
    annotator.locator("[data-submit]").scroll_into_view_if_needed()
    annotator.wait_for_selector("[data-sticky-bar].out", state="attached")  # hidden while the page's own Submit shows
    annotator.click("[data-submit]")
    question = annotator.locator("[data-none-check]")
    assert question.is_visible() and "None of these images show Tench, Tinca tinca?" in question.inner_text()
    assert PageSubmission.select().count() == 1
    annotator.click("[data-submit]")
    code = annotator.inner_text("[data-completion-code]")
    done = annotator.inner_text("#task")
    assert "You have finished this HIT" in done and "AWS MTurk" not in done
    first, second = PageSubmission.select().order_by(PageSubmission.pageno)
    assert (first.none_confirmed, second.none_confirmed) == (False, True)
    with app.app_context():
        records = list(seed_records(batch))
    assert {r["pageNoneConfirmed"] for r in records if r["pageno"] == 2} == {True}

    # Reopening the link shows the finished HIT, not a second one.
    annotator.goto(f"{live_server}/lab/{link.token}")
    annotator.fill("input[name=workerId]", "Ada Lovelace")
    annotator.click("button:has-text('Start')")
    assert annotator.inner_text("[data-completion-code]") == code and Assignment.select().count() == 1
    context.close()

    # The lead sees the name and the link beside the anonymised id.
    assignment = Assignment.get()
    log_in(page, live_server, "lead@example.org")
    page.goto(f"{live_server}/review/batches/{batch.id}/assignments")
    row = page.locator(f"#assignment-list tr:has-text('{assignment.worker_id}')")
    assert "Ada Lovelace" in row.inner_text() and "via Tuesday session" in row.inner_text()
    page.click(".subnav a:has-text('Workers')")
    page.wait_for_selector("#worker-list [data-testid=lab-name]:has-text('Ada Lovelace')")
    page.goto(f"{live_server}/review/workers")
    assert "Ada Lovelace" in page.inner_text("#worker-list")
