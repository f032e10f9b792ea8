"""The organization's overview: progress, pace, ETA and spend per batch, what needs the requester, the first steps."""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

from support import csrf_token, login

from freelunch.models import (
    Batch,
    Bonus,
    Dataset,
    Hit,
    Image,
    ImageClass,
    LabLink,
    MTurkAssignment,
    PageSubmission,
    utcnow,
)
from freelunch.services import jobs, overview
from freelunch.web import batch_tabs


def row(html: str, batch_id: int) -> str:
    return re.search(rf'<tr data-batch="{batch_id}">.*?</tr>', html, re.S).group(0)


def test_each_batch_shows_its_progress_pace_eta_and_spend(app, client, campaign):
    batch = campaign.batch
    with app.app_context():
        Batch.update(reward=Decimal("0.50")).where(Batch.id == batch.id).execute()
        # 2 of the 7 pages were submitted in the last hour: 2 pages/hour, 1 page left of 8.
        recent = [campaign.pages["h2w3a"].id, campaign.pages["h2w2b"].id]
        PageSubmission.update(submitted_at=utcnow() - dt.timedelta(minutes=5)).where(
            PageSubmission.id.in_(recent)
        ).execute()
        hit = campaign.hits[0]
        approved = MTurkAssignment.create(
            organization=batch.organization_id,
            hit=hit,
            mturk_hit_id="H1",
            mturk_assignment_id="A1",
            worker_id="W1",
            status="Approved",
        )
        MTurkAssignment.create(
            organization=batch.organization_id,
            hit=hit,
            mturk_hit_id="H1",
            mturk_assignment_id="A2",
            worker_id="W3",
            status="Submitted",
        )
        Bonus.create(
            organization=batch.organization_id,
            mturk_assignment=approved,
            amount=Decimal("1.00"),
            reason="r",
            key="k",
            state="done",
        )
        Bonus.create(
            organization=batch.organization_id,
            mturk_assignment=approved,
            amount=Decimal("5.00"),
            reason="r",
            key="k2",
            state="intended",
        )
    html = client.get("/").get_data(as_text=True)
    line = row(html, batch.id)
    assert ">annotating</span>" in line and 'value="88"' in line and "7/8 pages · 88%" in line
    assert "<td>2</td>" in line and "<td>30 min</td>" in line  # 1 page left at 2 an hour
    # one approved assignment: 0.50 + 20 %; the paid bonus: 1.00 + 20 %; the bonus not yet paid counts nothing
    assert "<td>$1.80</td>" in line and "1 to review" in line
    assert "1 assignment to review</a> in" in html
    assert 'hx-get="/overview" hx-trigger="every 10s"' in html
    partial = client.get("/overview", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and row(partial, batch.id) == line


def test_the_batches_list_shows_progress_not_ready_for_a_batch_being_annotated(client, campaign):
    html = client.get("/batches/").get_data(as_text=True)
    line = row(html, campaign.batch.id)
    assert ">annotating</span>" in line and "7/8 pages · 88%" in line and ">ready<" not in line


def test_pages_come_from_the_kept_tallies_less_lab_work_on_a_hit_on_mturk(app, client, campaign):
    """The lists read a batch's pages from its kept sum (BatchTally) and the last hour's from the tallies' index; a
    batch with a lab link and a HIT on MTurk has its extra lab pages taken off, as the batch page counts them."""
    batch = campaign.batch
    with app.app_context():
        (line,) = overview.batch_lines(batch.organization, [batch])
    assert (line.pages_done, line.pages_target, line.pages_last_hour) == (7, 8, 0)
    recent = [campaign.pages["h2w3a"].id]
    PageSubmission.update(submitted_at=utcnow() - dt.timedelta(minutes=5)).where(
        PageSubmission.id.in_(recent)
    ).execute()
    hit1, _ = campaign.hits
    Hit.update(mturk_hit_id="3HITONMTURK").where(Hit.id == hit1.id).execute()
    LabLink.create(organization=batch.organization_id, batch=batch)
    with app.app_context():
        (line,) = overview.batch_lines(batch.organization, [batch])
        kept = batch_tabs.batch_progress(batch)
    assert (line.pages_done, line.pages_last_hour) == (kept.pages_done, 1) == (3, 1)
    assert "3/8 pages" in row(client.get("/batches/").get_data(as_text=True), batch.id)


def test_failed_jobs_and_imports_with_errors_need_the_requester(app, client, make_account, redis_client):
    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    with app.app_context():
        dataset = Dataset.create(organization=org, name="Birds")
        job = jobs.enqueue(
            jobs.IMPORT_CLASSES,
            dataset.id,
            org.id,
            "csv",
            "/nonexistent",
            organization_id=org.id,
            scope=f"dataset:{dataset.id}",
            title="Import classes from birds.csv",
        )
        job.set_status("finished")
        job.save()
        job.connection.hset(job.key, "status", "finished")
    from rq.job import Job
    from rq.results import Result

    Result.create(
        Job.fetch(job.id, connection=redis_client),
        Result.Type.SUCCESSFUL,
        ttl=60,
        return_value={"summary": "3 classes created", "errors": [["line 4", "no key"]], "error_count": 1},
    )
    html = client.get("/").get_data(as_text=True)
    assert "Needs you" in html and "Import classes from birds.csv" in html and "left 1 row out" in html


def test_an_empty_organization_gets_the_first_steps_and_sample_files_that_import(app, client, make_account, run_jobs):
    _, org = make_account("new@example.org", "New lab")
    login(client, "new@example.org")
    html = client.get("/").get_data(as_text=True)
    assert "Getting started" in html and html.count('data-step="') == 4 and "✓" not in html
    classes = client.get("/help/samples/shapes-classes.csv")
    images = client.get("/help/samples/shapes-images.zip")
    assert classes.status_code == images.status_code == 200 and images.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(images.data)).namelist()
    assert len(names) == 40 and "circle/positive/circle_06.jpg" in names

    # The samples go through the real imports.
    client.post("/datasets/", data={"csrf_token": csrf_token(client), "name": "Shapes"})
    dataset = Dataset.get(Dataset.name == "Shapes")
    token = csrf_token(client)
    client.post(
        f"/datasets/{dataset.id}/imports/classes",
        data={"csrf_token": token, "classes": (io.BytesIO(classes.data), "shapes-classes.csv")},
        content_type="multipart/form-data",
    )
    run_jobs()
    client.post(
        f"/datasets/{dataset.id}/imports/images",
        data={"csrf_token": token, "images": (io.BytesIO(images.data), "shapes-images.zip")},
        content_type="multipart/form-data",
    )
    run_jobs()
    assert ImageClass.select().count() == 4 and Image.select().count() == 40
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'data-step="classes"><span aria-label="done">✓', html)
    assert re.search(r'data-step="images"><span aria-label="done">✓', html)
    assert 'data-step="batch">Build' in html
