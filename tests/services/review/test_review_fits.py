"""Label models in the platform: the fit job, the results and workers pages, exports, and rounds
(tests/helpers/factories.py, make_campaign, describes the campaign: W1 and W2 careful, W3 careless)."""

import csv
import io
import re

import pytest
from support import csrf_token, made_file, survey_url

from freelunch.models import (
    Assignment,
    Batch,
    Hit,
    HitPage,
    ImageLabel,
    LabelFit,
    LabLink,
    Vote,
    WorkerEstimate,
)
from freelunch.services.accounts.identity import anonymous_worker_id
from freelunch.services.review import fits, tallies

HTMX = {"HX-Request": "true"}


def fit(client, batch, run_jobs, model="ds", target="0.9"):
    response = client.post(
        f"/review/batches/{batch.id}/fit",
        headers=HTMX,
        data={"csrf_token": csrf_token(client), "model": model, "target_precision": target, "threshold": "0.7"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    run_jobs()
    return LabelFit.select().where(LabelFit.batch == batch).order_by(LabelFit.id.desc()).first()


def test_votes_load_as_arrays_with_the_controls_as_known_labels(app, campaign):
    with app.app_context():
        tallies.refresh(tallies.in_batch(campaign.batch.id))
        loaded = fits.load_votes([campaign.batch.id])
    assert len(loaded.votes.item) == Vote.select().where(Vote.batch == campaign.batch).count() == 28
    assert loaded.votes.n_items == 12 and sorted(loaded.worker_ids) == ["W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"]
    gold = {image: int(g) for image, g in zip(loaded.image_ids.tolist(), loaded.votes.gold)}
    assert gold[campaign.images["ap"].id] == 1 and gold[campaign.images["bn"].id] == 0
    assert gold[campaign.images["a1"].id] == -1


def test_the_fit_job_stores_labels_and_worker_estimates(app, client, campaign, run_jobs):
    page = client.get(f"/review/batches/{campaign.batch.id}/results").get_data(as_text=True)
    assert "No label model fitted yet" in page
    done = fit(client, campaign.batch, run_jobs)
    assert done.state == "done" and done.model == "ds" and done.batch_ids == [campaign.batch.id]
    assert done.images == 12 and done.votes == 28 and done.yes + done.no + done.open == 12
    labels = {(row.image_class.key, row.image.key): row for row in ImageLabel.select().where(ImageLabel.fit == done)}
    assert len(labels) == 12
    assert labels[("n01", "n01/ap")].decision == "yes" and labels[("n01", "n01/ap")].known
    assert labels[("n01", "n01/an")].decision == "no" and labels[("n01", "n01/an")].p_yes == 0
    assert labels[("n01", "n01/a1")].votes == 2 and labels[("n01", "n01/a1")].selected == 1
    workers = {w.worker_id: w for w in WorkerEstimate.select().where(WorkerEstimate.fit == done)}
    assert set(workers) == {"W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"}
    assert workers["W3CCCCCCCC"].specificity < 0.5 < workers["W1AAAAAAAA"].specificity
    assert workers["W1AAAAAAAA"].gold_votes == 4 and workers["W1AAAAAAAA"].votes == 8

    page = client.get(f"/review/batches/{campaign.batch.id}/results").get_data(as_text=True)
    assert "Dawid–Skene" in page and f"{done.yes} yes" in page and f"{done.open} open" in page
    listed = client.get(f"/review/fits/{done.id}/labels?decision=yes").get_data(as_text=True)
    assert "n01/ap" in listed and "n01/an" not in listed
    workers_page = client.get(f"/review/batches/{campaign.batch.id}/workers").get_data(as_text=True)
    assert "Sensitivity" in workers_page and "4 on controls" in workers_page
    WorkerEstimate.update(flag="random").where(WorkerEstimate.worker_id == "W3CCCCCCCC").execute()
    only_flagged = client.get(f"/review/batches/{campaign.batch.id}/workers?flagged=1").get_data(as_text=True)
    assert "W3CCCCCCCC" in only_flagged and "W1AAAAAAAA" not in only_flagged and "W2BBBBBBBB" not in only_flagged

    again = fit(client, campaign.batch, run_jobs, model="mv")
    assert again.state == "done" and again.model == "mv"
    assert LabelFit.select().where(LabelFit.batch == campaign.batch).count() == 1  # the older fit is replaced
    frequency = ImageLabel.get(ImageLabel.fit == again, ImageLabel.image == campaign.images["a1"])
    assert frequency.p_yes == 0.5 and frequency.decision == "no"


def test_a_bad_fit_form_is_a_form_error(app, client, campaign):
    response = client.post(
        f"/review/batches/{campaign.batch.id}/fit",
        headers=HTMX,
        data={"csrf_token": csrf_token(client), "model": "ds", "target_precision": "1.5", "threshold": "0.7"},
    )
    assert response.status_code == 422 and "between 0.5 and 0.9999" in response.get_data(as_text=True)
    assert client.post(f"/review/batches/{campaign.batch.id}/fit", data={"model": "ds"}).status_code in (302, 400)
    assert LabelFit.select().count() == 0


def test_a_second_fit_is_refused_while_one_is_pending(app, client, campaign, run_jobs):
    form = {"csrf_token": csrf_token(client), "model": "ds", "target_precision": "0.9", "threshold": "0.7"}
    url = f"/review/batches/{campaign.batch.id}/fit"
    assert client.post(url, headers=HTMX, data=form).status_code == 200  # queued, no worker yet
    refused = client.post(url, headers=HTMX, data=form)
    assert refused.status_code == 422 and "still running" in refused.get_data(as_text=True)
    assert LabelFit.select().where(LabelFit.batch == campaign.batch).count() == 1
    run_jobs()
    assert fit(client, campaign.batch, run_jobs).state == "done"  # once it is done, fitting again works


def test_a_fit_whose_job_left_redis_no_longer_refuses_the_next(app, client, campaign, run_jobs, redis_client):
    """The review: a fit whose job RQ will never run (here lost with Redis's data; its worker killed hard is the same
    to jobs.gone, tests/services/exports/test_exports_stuck.py) stayed queued, and refused every later fit."""
    form = {"csrf_token": csrf_token(client), "model": "ds", "target_precision": "0.9", "threshold": "0.7"}
    url = f"/review/batches/{campaign.batch.id}/fit"
    assert client.post(url, headers=HTMX, data=form).status_code == 200  # queued, no worker yet
    redis_client.flushdb()  # Redis restarted without its data
    assert client.get(url, headers=HTMX).status_code == 200  # the panel, which asks for a pending fit
    lost = LabelFit.get()
    assert lost.state == "failed" and "lost from the queue" in lost.error
    assert fit(client, campaign.batch, run_jobs).state == "done"


def test_a_fit_whose_process_died_before_naming_its_job_refuses_the_next_only_within_the_grace(
    app, client, campaign, run_jobs, monkeypatch
):
    """``start`` writes the fit, queues its job, then saves the job's id: a process that died in between left a fit
    naming no job, which ``pending`` could not judge (jobs.gone(None) is None), so it refused every later fit. Past
    jobs.UNSAVED_JOB_GRACE it is failed as lost; a job that could not be queued at all takes its fit back."""
    import datetime as dt

    from redis.exceptions import ConnectionError as RedisDown

    from freelunch.models import utcnow
    from freelunch.services import jobs

    class Died(BaseException):
        """The process ending between the queued job and saving its id (not an error the code could catch)."""

    def dies(*args, **kwargs):
        raise Died()

    def down(*args, **kwargs):
        raise RedisDown("Connection refused")

    with app.app_context():
        monkeypatch.setattr(jobs, "enqueue", down)
        with pytest.raises(RedisDown):
            fits.start(campaign.batch, "ds", 0.9)
        assert LabelFit.select().count() == 0  # no fit waits for a job that was never queued
        monkeypatch.setattr(jobs, "enqueue", dies)
        with pytest.raises(Died):
            fits.start(campaign.batch, "ds", 0.9)
        monkeypatch.undo()
        orphan = LabelFit.get()
        assert orphan.job_id is None and fits.pending(campaign.batch) == orphan  # within the grace: still queuing
        with pytest.raises(fits.FitPending):
            fits.start(campaign.batch, "ds", 0.9)
        LabelFit.update(created_at=utcnow() - dt.timedelta(hours=1)).execute()  # past the grace, whatever it is
        assert fits.pending(campaign.batch) is None
    lost = LabelFit.get_by_id(orphan.id)
    assert lost.state == "failed" and "lost from the queue" in lost.error
    assert fit(client, campaign.batch, run_jobs).state == "done"


def test_a_batch_without_votes_fails_with_a_message(app, make_account, run_jobs):
    from factories import make_batch

    _, org = make_account("other@example.org", "Other")
    batch = make_batch(app, org)
    with app.app_context():
        started = fits.start(batch, "ds", 0.99)
    run_jobs()
    failed = LabelFit.get_by_id(started.id)
    assert failed.state == "failed" and "No votes yet" in failed.error
    assert ImageLabel.select().count() == 0


def test_exports_carry_the_model(app, client, campaign, run_jobs):
    done = fit(client, campaign.batch, run_jobs)
    chosen = client.post(
        f"/review/batches/{campaign.batch.id}/labels-of-record/fit", data={"csrf_token": csrf_token(client)}
    )
    assert chosen.status_code == 302
    rows = {}
    for kind in ("labels-csv", "workers-csv"):
        _, path = made_file(app, run_jobs, Batch.get_by_id(campaign.batch.id), kind)
        rows[kind] = list(csv.DictReader(io.StringIO(path.read_text())))
    label = next(r for r in rows["labels-csv"] if r["image_id"] == "n01/a1")
    stored = ImageLabel.get(ImageLabel.fit == done, ImageLabel.image == campaign.images["a1"])
    assert label["labels_of_record"].startswith("Dawid–Skene label fit at target precision")
    assert label["annotations"] == "2" and float(label["p_yes"]) == round(stored.p_yes, 6)
    assert label["decision"] == stored.decision
    worker = next(r for r in rows["workers-csv"] if r["worker_id"] == "W3CCCCCCCC")
    estimate = WorkerEstimate.get(WorkerEstimate.fit == done, WorkerEstimate.worker_id == "W3CCCCCCCC")
    assert (
        float(worker["specificity"]) == round(estimate.specificity, 4) and worker["model_control_votes"] == "6"
    )  # three pages, two controls each


def test_the_round_plan_states_the_shape_the_next_round_is_built_in(app, client, campaign, run_jobs):
    # Asked for 8 images a page (6 candidates and a control of each kind), the classes have no candidate left
    # unshown and one control of each kind: a follow-up page holds its open images and those two controls only.
    campaign.batch.images_per_page = 8
    campaign.batch.save()
    done = fit(client, campaign.batch, run_jobs, target="0.99")
    assert done.open

    plan = client.get(f"/review/batches/{campaign.batch.id}/next-round").get_data(as_text=True)
    client.post(f"/review/batches/{campaign.batch.id}/next-round", data={"csrf_token": csrf_token(client)})
    follow_up = Batch.get(Batch.follows == campaign.batch)
    pages, images = follow_up.shape()
    assert int(images.split("–")[-1]) < 8  # the dataset filled less than asked
    assert f"of {pages} page{'' if pages == '1' else 's'} × {images} images" in " ".join(plan.split())
    assert "× 8 images" not in plan
    extra = [int(n) for n in re.findall(r"<td>(\d+)</td></tr>", plan)]  # the table's last column: extra controls
    assert extra and set(extra) == {0}  # every control is already on the page as one of its standard two


def test_the_next_round_asks_the_open_images_of_fresh_workers(app, client, campaign, run_jobs):
    # W1 is "alice" as a survey link would name her, so she can come back for round 2.
    with app.app_context():
        alice = anonymous_worker_id(campaign.batch.organization_id, "ALICE")
    campaign.assignments["h1w1"].worker_id = alice
    campaign.assignments["h1w1"].save()
    done = fit(client, campaign.batch, run_jobs, target="0.99")
    open_images = {
        (r.image_class_id, r.image_id)
        for r in ImageLabel.select().where(ImageLabel.fit == done, ImageLabel.decision == "open")
    }
    assert open_images and done.open == len(open_images)

    plan = client.get(f"/review/batches/{campaign.batch.id}/next-round").get_data(as_text=True)
    assert f"{len(open_images)}</strong> open images" in plan and "Make round 2" in plan
    assert 'data-testid="round-made"' not in plan and 'data-testid="plan-stale"' not in plan
    response = client.post(f"/review/batches/{campaign.batch.id}/next-round", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    follow_up = Batch.get(Batch.follows == campaign.batch)
    again = client.get(f"/review/batches/{campaign.batch.id}/next-round").get_data(as_text=True)
    assert "Round 2 of this batch exists already" in again and f'href="/batches/{follow_up.id}"' in again
    assert (
        follow_up.round == 2
        and follow_up.state == "ready"
        and fits.rounds_of(follow_up) == [campaign.batch.id, follow_up.id]
    )
    pages = list(HitPage.select().join(Hit).where(Hit.batch == follow_up))
    asked = {(p.image_class_id, i) for p in pages for i in p.image_ids}
    controls = {
        (c.id, campaign.images[k].id)
        for k, c in (
            ("ap", campaign.classes["A"]),
            ("an", campaign.classes["A"]),
            ("bp", campaign.classes["B"]),
            ("bn", campaign.classes["B"]),
        )
    }
    assert open_images <= asked and asked - open_images <= controls
    assert all(len(p.image_ids) <= follow_up.images_per_page for p in pages)

    # alice voted on candidates of these pages in round 1: she is turned away; a new worker is not.
    # (The controls come back every round, as they do on every page: seeing one again does not count.)
    alice_saw = {(campaign.classes["A"].id, campaign.images[k].id) for k in ("a1", "a2")}
    alice_saw |= {(campaign.classes["B"].id, campaign.images[k].id) for k in ("b1", "b2")}
    shown = [
        h
        for h in Hit.select().where(Hit.batch == follow_up)
        if alice_saw & {(p.image_class_id, i) for p in h.pages for i in p.image_ids}
    ]
    assert shown
    refused = client.get(survey_url(shown[0], "ALICE"))
    assert refused.status_code == 403 and "earlier round" in refused.get_data(as_text=True)
    assert client.get(survey_url(shown[0], "BOB")).status_code == 303
    # Through a lab link she is handed a HIT without her images, if there is one.
    link = LabLink.create(organization=follow_up.organization_id, batch=follow_up)
    opened = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=ALICE")
    hits = list(Hit.select().where(Hit.batch == follow_up))
    if len(shown) == len(hits):
        assert opened.status_code == 404
    else:
        given = Assignment.get(Assignment.worker_id == alice, Assignment.hit.in_([h.id for h in hits]))
        assert given.hit_id not in {h.id for h in shown}


def test_the_round_plan_says_when_its_fit_is_out_of_date(app, client, campaign, run_jobs):
    from freelunch.services.review import labels

    fit(client, campaign.batch, run_jobs, target="0.99")
    url = f"/review/batches/{campaign.batch.id}/next-round"
    assert 'data-testid="plan-stale"' not in client.get(url).get_data(as_text=True)
    with app.app_context():
        labels.set_excluded(campaign.batch, "W3CCCCCCCC", True)  # the votes that count change after the fit
    assert "The votes that count changed since the fit this plan reads" in client.get(url).get_data(as_text=True)
