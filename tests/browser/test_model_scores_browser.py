"""In Chromium: a model's scores imported on the dataset's page, then a label fit on the Results tab that uses them;
every panel follows its job without a reload."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make_voted_batch
from support import log_in

from freelunch.models import Image, ImageClass

pytestmark = pytest.mark.browser


def test_scores_import_then_a_fit_shows_the_model_panel(app, live_server, page, make_account, run_jobs, tmp_path):
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        batch, truth = make_voted_batch(org.id)
        keys = dict(Image.select(Image.id, Image.key).tuples())
        classes = dict(ImageClass.select(ImageClass.id, ImageClass.key).tuples())
    rng = np.random.default_rng(2)
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "image,class,score\n"
        + "".join(
            f"{keys[i]},{classes[c]},{(1.5 if yes else -1.5) + rng.standard_normal():.3f}\n"
            for (c, i), yes in truth.items()
        )
        + "nope,n01,1\n"
    )
    log_in(page, live_server, "req@example.org")
    page.goto(f"{live_server}/datasets/{batch.dataset_id}")
    page.evaluate("window.__noReload = true")
    assert "model scores" not in page.inner_text("#dataset-summary")
    page.set_input_files("input[name=scores]", str(scores))
    page.click("button:has-text('Import scores')")
    page.wait_for_selector(".job:has-text('Import model scores from scores.csv')")
    run_jobs()
    page.wait_for_selector(".job:has-text('row with errors')")
    page.wait_for_selector("#dataset-summary:has-text('340 model scores')")
    page.wait_for_selector("#dataset-scores button:has-text('Delete the 340 model scores')")
    job = page.inner_text(".job:has-text('Import model scores from scores.csv')")
    assert "1 row with errors" in job and "no image 'nope'" in job and "fewer votes of the 300 scored candidates" in job
    assert page.evaluate("window.__noReload === true")

    page.goto(f"{live_server}/review/batches/{batch.id}/results")
    page.evaluate("window.__noReload = true")
    page.select_option("select[name=model]", "ds")
    page.fill("input[name=target_precision]", "0.99")
    page.click("#label-fit button:has-text('Fit labels')")
    page.wait_for_selector("#label-fit .job")
    run_jobs()
    page.wait_for_selector("#label-fit .model-scores")
    panel = page.inner_text("#label-fit .model-scores")
    assert "Used as each image's prior" in panel and "votes saved" in panel
    page.click("#label-fit .model-scores summary")
    assert page.is_visible("#label-fit .model-scores table")
    assert page.evaluate("window.__noReload === true")
