"""In Chromium: the dataset page's near-duplicates panel. The search runs as a job, its groups appear without a
reload, the requester keeps one image of a group, and the batch builder counts one candidate fewer."""

from __future__ import annotations

import random

import pytest
from factories import make_dataset
from support import log_in

from freelunch.models import Image
from freelunch.services.imports import hashing

pytestmark = pytest.mark.browser


def test_find_keep_one_and_the_builder_leaves_the_other_out(app, live_server, page, make_account, run_jobs):
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        dataset = make_dataset(org, classes=("n01",), candidates=6, positives=0, negatives=0)
        rng = random.Random(3)
        images = {i.key: i for i in Image.select()}
        bits = {key: rng.getrandbits(64) for key in images}
        bits["n01/1"] = bits["n01/0"] ^ 0b1011  # 3 bits apart: one group of two
        for key, image in images.items():
            Image.update(phash=hashing.to_signed(bits[key])).where(Image.id == image.id).execute()
    log_in(page, live_server, "req@example.org")
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    assert "6 candidates" in page.inner_text("#builder-classes")
    page.goto(f"{live_server}/datasets/{dataset.id}")
    page.evaluate("window.__noReload = true")
    assert "No near-duplicates found yet" in page.inner_text("#duplicates")
    page.click("#duplicates button:has-text('Find near-duplicates')")
    page.wait_for_selector(".job:has-text('Find near-duplicate images')")
    run_jobs()
    page.wait_for_selector("#duplicates .duplicate-group")  # the panel reloaded itself when the job ended
    assert page.evaluate("window.__noReload === true")
    group = page.inner_text("#duplicates .duplicate-group")
    assert "n01/0" in group and "n01/1" in group and "3 bits from the first" in group
    assert page.locator("#duplicates .duplicate-group img").count() == 2

    page.click("#duplicates .duplicate:has-text('n01/1') button:has-text('Keep this one only')")
    page.wait_for_selector("#duplicates:has-text('1 image dropped')")
    assert "dropped" in page.inner_text("#duplicates .duplicate:has-text('n01/0') .decision")
    assert "kept" in page.inner_text("#duplicates .duplicate:has-text('n01/1') .decision")
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    classes = page.inner_text("#builder-classes")
    assert "5 candidates" in classes and "1 candidate dropped as near-duplicates" in classes
