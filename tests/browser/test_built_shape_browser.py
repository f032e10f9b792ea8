"""The shape a batch was built in, not the one asked for, everywhere: the overview, the batch list and the worker's
instructions (a batch asked as 10 pages of 48 images that the dataset filled as 3 pages of 20)."""

from __future__ import annotations

import pytest
from factories import make_dataset
from support import log_in
from worker import wait_loaded

from freelunch.models import Batch, LabLink
from freelunch.services.batches.hits import build_hits

pytestmark = pytest.mark.browser


def test_a_batch_built_as_3_pages_of_20_says_3_by_20_to_the_requester_and_the_worker(
    app, live_server, browser, page, make_account
):
    _, org = make_account("lead@example.org", "Lab")
    with app.app_context():
        dataset = make_dataset(org, classes=("n01", "n02", "n03"), candidates=20, positives=0, negatives=0)
        batch = Batch.create(organization=org, dataset=dataset, name="Small", pages_per_hit=10, images_per_page=48)
        build_hits(batch)
        link = LabLink.create(organization=org, batch=batch, label="Session")
    assert Batch.get_by_id(batch.id).built_shape == {"pages_per_hit": [3, 3], "images_per_page": [20, 20]}

    log_in(page, live_server, "lead@example.org")
    page.goto(f"{live_server}/batches/{batch.id}")
    assert page.inner_text("[data-testid=batch-shape]") == "3 pages × 20 images"
    assert "asked for 10 × 48" in page.inner_text("#batch-tab")
    page.goto(f"{live_server}/batches/")
    assert "3 × 20" in page.inner_text("table") and "10 × 48" not in page.inner_text("table")

    annotator = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    annotator.goto(f"{live_server}/lab/{link.token}")
    intro = annotator.inner_text("body")
    assert "This HIT has 3 pages" in intro and "20 images" in intro and "48" not in intro
    annotator.fill("input[name=workerId]", "Ada")
    annotator.click("button:has-text('Start')")
    wait_loaded(annotator)
    assert "Page 1 of 3" in annotator.inner_text("#task")
    assert annotator.locator("form#task img[data-image-id]").count() == 20
