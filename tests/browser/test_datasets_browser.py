"""A requester's dataset and batch work in real Chromium: uploads, progress polling, inline edits, the builder, lab
links.

Every in-page action must be an HTMX swap: a marker set on ``window`` at the
start survives only if the page never reloads.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image as PILImage

from freelunch.models import Batch, Dataset
from freelunch.presets import IMAGENET_1K

pytestmark = pytest.mark.browser


def png(colour) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


def images_zip(path) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(8):
            archive.writestr(f"n01440764/tench_{n}.png", png((30 * n, 90, 120)))
        for role in ("positive", "negative"):
            for n in range(3):
                archive.writestr(f"n01440764/{role}/{role}_{n}.png", png((200, 30 * n, 40)))
    return str(path)


def still_same_page(page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_requester_imports_edits_and_builds_without_reloads(app, live_server, page, make_account, run_jobs, tmp_path):
    make_account("req@example.org", "Lab")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "req@example.org")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")

    page.goto(f"{live_server}/datasets/")
    page.click("summary:has-text('New dataset')")
    page.fill("input[name=name]", "ImageNetV2 sample")
    page.click("button:has-text('Create dataset')")
    page.wait_for_selector("h1:has-text('ImageNetV2 sample')")
    dataset = Dataset.get(Dataset.name == "ImageNetV2 sample")
    page.evaluate("window.__noReload = true")

    # Classes: both files in one HTMX upload; the job card polls until the worker is done.
    page.set_input_files("input[name=classes]", str(IMAGENET_1K.classes_file))
    page.set_input_files("input[name=wikipedia]", str(IMAGENET_1K.wikipedia_file))
    page.click("button:has-text('Import classes')")
    page.wait_for_selector(".job:has-text('Import classes from class_info.json')")
    run_jobs()
    page.wait_for_selector(".job-done:has-text('1,000 classes created')", timeout=15_000)
    page.wait_for_selector("#class-list tr:has-text('n01440764')")  # the list reloaded on job-finished
    page.wait_for_selector("#dataset-summary:has-text('1,000 classes')")
    assert still_same_page(page)

    # Inline edit of a class.
    row = page.locator("tr:has-text('n01440764')")
    row.locator("button:has-text('Edit')").click()
    page.fill("tr.editing input[name=names]", "tench, Tinca tinca, doctor fish")
    page.click("tr.editing button:has-text('Save')")
    page.wait_for_selector("tr:has-text('doctor fish')")
    assert still_same_page(page)

    # Images: an unsafe ZIP is refused in place, a good one lands and its thumbnails load.
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../escape.png", png((0, 0, 0)))
    page.set_input_files("input[name=images]", str(evil))
    page.click("button:has-text('Import images')")
    page.wait_for_selector(".jobs .flash.error:has-text('climbs out of the folder')")
    page.set_input_files("input[name=images]", images_zip(tmp_path / "tench.zip"))
    page.click("button:has-text('Import images')")
    page.wait_for_selector(".job:has-text('Import images from tench.zip')")
    run_jobs()
    page.wait_for_selector(".job-done:has-text('8 candidate rows')", timeout=15_000)
    assert still_same_page(page)
    page.goto(f"{live_server}/datasets/{dataset.id}/images?class=n01440764")
    page.wait_for_function(
        "() => document.querySelectorAll('.thumbs img').length === 14 && "
        "Array.from(document.querySelectorAll('.thumbs img')).every(i => i.complete && i.naturalWidth > 0)"
    )

    # The builder: the fee warning follows the assignments field; the build runs as a job.
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    page.fill("input[name=name]", "Tench round")
    page.fill("input[name=pages_per_hit]", "1")
    page.fill("input[name=images_per_page]", "6")
    page.fill("input[name=positives_per_page]", "1")
    page.fill("input[name=negatives_per_page]", "1")
    page.check("input[name=class_ids] >> nth=0")
    assert not page.is_visible("#fee-warning")
    page.fill("input[name=assignments_per_hit]", "10")
    assert page.is_visible("#fee-warning")
    page.fill("input[name=assignments_per_hit]", "3")
    page.click("button:has-text('Create batch')")
    page.wait_for_selector(".job:has-text('Build HITs of Tench round')")
    page.evaluate("window.__noReload = true")
    run_jobs()
    page.wait_for_selector(".job-done:has-text('2 HITs built')", timeout=15_000)
    page.wait_for_selector("#batch-status:has-text('2 HITs')")
    assert Batch.get(Batch.name == "Tench round").state == "ready"

    # Lab links: generate, then revoke (the confirm dialog is accepted by the page fixture).
    page.click(".tabs a:has-text('Lab links')")
    page.wait_for_selector("#lab-links")
    assert page.is_visible("#lab-links .empty-row")
    page.fill("input[name=label]", "Session 1")
    page.click("button:has-text('Generate a lab link')")
    page.wait_for_selector("#lab-links tr:has-text('Session 1') input[readonly]")
    assert not page.is_visible("#lab-links .empty-row")
    assert "/lab/" in page.input_value("#lab-links tr:has-text('Session 1') input[readonly]")
    page.click("#lab-links tr:has-text('Session 1') button:has-text('Revoke')")
    page.wait_for_selector("#lab-links tr.revoked:has-text('Session 1')")
    assert still_same_page(page)
