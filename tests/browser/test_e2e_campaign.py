"""A whole campaign in real Chromium: a requester signs up, imports the ImageNetV2 classes and a manifest of
images, builds a batch, a lab annotator does its HIT, and the requester watches the progress, replays a page
and downloads every export.

The requester's batch page is never reloaded while the annotator works: the progress panel must update
itself (a marker set on ``window`` survives only without a reload).
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect
from worker import NEUTRAL, click, flush_until_complete, glide, jump, submit, wait_loaded

from freelunch import storage
from freelunch.models import Assignment, Batch, Dataset, ImageClass
from freelunch.presets import IMAGENET_1K

pytestmark = pytest.mark.browser

TENCH = "n01440764"
PLAN = (
    [(f"{TENCH}/cand_{n}", "candidate") for n in range(8)]
    + [(f"{TENCH}/pos_{n}", "positive") for n in range(2)]
    + [(f"{TENCH}/neg_{n}", "negative") for n in range(2)]
)


def manifest(app, media_root: str, base_url: str, folder: Path) -> str:
    """Images served by the app's own /media/ (signed URLs), listed in a CSV manifest with their sizes (nothing to
    fetch)."""
    rows = [("image_id", "url", "class", "role", "width", "height")]
    for n, (image_id, role) in enumerate(PLAN):
        name = image_id.replace("/", "_") + ".png"
        path = Path(media_root) / "e2e" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (300, 200), (20 * n, 120, 200 - 10 * n)).save(path)
        with app.test_request_context():
            url = storage.url_for_path(f"e2e/{name}")
        rows.append((image_id, f"{base_url}{url}", TENCH, role, "300", "200"))
    out = folder / "tench.csv"
    with out.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(out)


# Waits for what a page shows after a job or a replay: generous, as only a page that never shows it fails.
BUSY_MACHINE_MS = 60_000


def job_done(page, run_jobs, text: str) -> None:
    run_jobs()
    page.wait_for_selector(f".job-done:has-text('{text}')", timeout=BUSY_MACHINE_MS)


def downloaded(page, selector: str) -> str:
    # The file its link names, fetched in the browser's session: a click could land on another row's link
    # when a panel that a job's end reloads shifts the rows under the pointer (CI, load 13).
    response = page.request.get(urljoin(page.url, page.get_attribute(selector, "href")))
    assert response.ok, response.status
    return response.text()


def test_a_requester_runs_a_campaign_end_to_end(app, app_config, live_server, browser, page, run_jobs, tmp_path):
    # Sign up: a new requester with an organization of their own.
    page.goto(f"{live_server}/signup")
    page.fill("input[name=name]", "Ada Requester")
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=organization]", "Ada's lab")
    page.fill("input[name=password]", "tench study passphrase")
    page.fill("input[name=confirm]", "tench study passphrase")
    page.click("button:has-text('Sign up')")
    page.wait_for_selector("h1:has-text('Log in')")  # sign-up never says whether the email had an account
    page.fill("input[name=password]", "tench study passphrase")
    page.click("button:has-text('Log in')")
    page.wait_for_selector("text=ada@example.org")

    # A dataset with the ImageNetV2 classes and a manifest of images.
    page.goto(f"{live_server}/datasets/")
    page.click("summary:has-text('New dataset')")
    page.fill("input[name=name]", "Tench study")
    page.click("button:has-text('Create dataset')")
    page.wait_for_selector("h1:has-text('Tench study')")
    page.set_input_files("input[name=classes]", str(IMAGENET_1K.classes_file))
    page.set_input_files("input[name=wikipedia]", str(IMAGENET_1K.wikipedia_file))
    page.click("button:has-text('Import classes')")
    page.wait_for_selector(".job:has-text('Import classes')")
    job_done(page, run_jobs, "1,000 classes created")
    page.set_input_files("input[name=images]", manifest(app, app_config["MEDIA_ROOT"], live_server, tmp_path))
    page.click("button:has-text('Import images')")
    page.wait_for_selector(".job:has-text('Import images')")
    job_done(page, run_jobs, "12 images created")

    # The batch: one HIT of two pages (4 candidates, a positive and a negative control each), one assignment.
    dataset = Dataset.get(Dataset.name == "Tench study")
    tench = ImageClass.get(ImageClass.dataset == dataset, ImageClass.key == TENCH)
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    page.fill("input[name=name]", "Tench round")
    page.fill("input[name=pages_per_hit]", "2")
    page.fill("input[name=images_per_page]", "6")
    page.fill("input[name=positives_per_page]", "1")
    page.fill("input[name=negatives_per_page]", "1")
    page.fill("input[name=assignments_per_hit]", "1")
    page.check(f"input[name=class_ids][value='{tench.id}']")
    page.click("button:has-text('Create batch')")
    page.wait_for_selector(".job:has-text('Build HITs of Tench round')")
    job_done(page, run_jobs, "1 HIT built")
    batch = Batch.get(Batch.name == "Tench round")
    assert batch.state == "ready"

    # The batch page: live progress, and a lab link for the annotator.
    page.goto(f"{live_server}/batches/{batch.id}")
    page.wait_for_selector("#batch-progress [data-testid=pages-done]:has-text('0/2')")
    page.evaluate("window.__noReload = true")
    page.click(".tabs a:has-text('Lab links')")
    page.fill("input[name=label]", "Ada's session")
    page.click("button:has-text('Generate a lab link')")
    lab_link = page.input_value('#lab-links tr:has-text("Ada\'s session") input[readonly]')
    page.click(".tabs a:has-text('Overview')")

    # The annotator, in a browser context of their own: moves over images, selects some, submits both pages.
    annotator = browser.new_context(viewport={"width": 1400, "height": 1500}).new_page()
    annotator.on("dialog", lambda dialog: dialog.accept())
    annotator.goto(lab_link)
    annotator.fill("input[name=workerId]", "annotator-7")
    annotator.click("button:has-text('Start')")
    for pageno in (1, 2):
        wait_loaded(annotator)
        jump(annotator, *NEUTRAL)
        glide(annotator, 0, [(0.1, 0.1), (0.8, 0.3), (0.5, 0.9)], seconds=0.8)
        click(annotator, 0, 0.5, 0.9)
        glide(annotator, 1, [(0.2, 0.8), (0.7, 0.2)], seconds=0.5)
        jump(annotator, *NEUTRAL)
        submit(annotator, next_pageno=2 if pageno == 1 else None)
    code = annotator.inner_text("[data-completion-code]")
    annotator.context.close()
    flush_until_complete(app)

    # The requester's page updates itself: both pages in, every pointer batch stored.
    page.wait_for_selector("#batch-progress [data-testid=pages-done]:has-text('2/2')", timeout=BUSY_MACHINE_MS)
    page.wait_for_selector("#batch-progress:has-text('100%')")
    assert page.evaluate("window.__noReload") is True

    # Review: the assignment with its code, then the replay of page 1 with its pointer path and slider.
    assignment = Assignment.get()
    assert assignment.completion_code == code
    page.click(".tabs a:has-text('Review')")
    page.wait_for_selector(f"#assignment-list td:has-text('{code}')")
    page.click(f"#assignment-list a:has-text('{assignment.worker_id}')")
    page.click("a[href$='/pages/1']:has-text('Replay')")
    page.wait_for_selector(".replay-grid")
    path = page.get_attribute("[data-cell='0'] .path", "points")
    assert len(path.split()) >= 5, path  # the glide over image 0, recorded at up to 60 points a second
    assert page.locator("[data-cell='0'] .click.on").count() == 1
    assert "selected" in page.get_attribute("[data-cell='0']", "class")
    page.fill("#replay-time", "0")
    page.dispatch_event("#replay-time", "input")
    expect(page.locator("[data-cell='0'] .path")).to_have_attribute("points", "")  # redrawn on the next frame
    assert "selected" not in page.get_attribute("[data-cell='0']", "class")
    # Opened again it shows the end; Play plays it from the start: the path is drawn again, point by point.
    page.reload()
    page.wait_for_selector(".replay-grid")
    page.click("#replay-play")
    # (Polled from Python: the page's Content-Security-Policy refuses wait_for_function's eval.)
    # A sample can take longer than the first steps of the path on a busy machine, so "rewound" is any
    # sample short of the whole path, and "drawn again" the whole path after it.
    whole = len(path.split())
    points = []
    deadline = time.monotonic() + 20

    def redrawn():
        return any(n < whole for n in points) and points[-1] == whole

    while time.monotonic() < deadline and not redrawn():
        points.append(len(page.get_attribute("[data-cell='0'] .path", "points").split()))
        page.wait_for_timeout(20)
    assert redrawn(), points  # shorter than the whole path, then drawn again to its end
    page.wait_for_selector("#replay-play:has-text('Play')", timeout=BUSY_MACHINE_MS)  # played to the end, then stopped
    assert "selected" in page.get_attribute("[data-cell='0']", "class")

    # Results and exports: each export runs as a job, its row turns into a download link.
    page.click(".tabs a:has-text('Results')")
    page.wait_for_selector("text=image–class pairs annotated")
    page.click(".tabs a:has-text('Exports')")
    for title in ("ImageNetV2-tool JSON Lines", "Image records CSV", "Labels CSV", "Workers CSV"):
        page.click(f".export-kind:has-text('{title}') button")
        page.wait_for_selector(f"#export-rows .export-row:has-text('{title}')")
    run_jobs()
    for title in ("ImageNetV2-tool JSON Lines", "Image records CSV", "Labels CSV", "Workers CSV"):
        page.wait_for_selector(f".export-row:has-text('{title}') a:has-text('Download')", timeout=BUSY_MACHINE_MS)

    seed = [
        json.loads(line)
        for line in downloaded(page, ".export-row:has-text('ImageNetV2-tool') a:has-text('Download')").splitlines()
    ]
    assert len(seed) == 12 and {r["worker_id"] for r in seed} == {assignment.worker_id}
    first = next(r for r in seed if r["pageno"] == 1 and r["gridIndex"] == 0)
    assert first["selected"] is True and len(first["mouseTracking"]) >= 5 and first["hoveredCount"] >= 1
    records = list(
        csv.DictReader(io.StringIO(downloaded(page, ".export-row:has-text('Image records') a:has-text('Download')")))
    )
    assert len(records) == 12 and {r["role"] for r in records} == {"candidate", "positive", "negative"}
    labels = list(
        csv.DictReader(io.StringIO(downloaded(page, ".export-row:has-text('Labels CSV') a:has-text('Download')")))
    )
    # 8 candidates and the controls shown (a control may be drawn for both pages); one annotation decides
    assert len(labels) == len({r["imageID"] for r in seed}) >= 10
    assert {r["image_id"] for r in labels if r["label"] == "1"} == {r["imageID"] for r in seed if r["selected"]}
    workers = list(
        csv.DictReader(io.StringIO(downloaded(page, ".export-row:has-text('Workers CSV') a:has-text('Download')")))
    )
    assert [(w["worker_id"], w["pages"]) for w in workers] == [(assignment.worker_id, "2")]
