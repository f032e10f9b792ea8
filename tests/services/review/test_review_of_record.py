"""One labels of record per batch: Results and every export that carries labels agree on the yes set
(tests/helpers/factories.py describes the campaign)."""

import csv
import html
import io
import re
import zipfile

from support import csrf_token

from freelunch.models import Batch, Export, ImageLabel, LabelFit
from freelunch.services.exports import files as exports
from freelunch.services.exports.imagenet_ab import RECORD_MEMBER, member_name
from freelunch.services.exports.kinds import KINDS

HTMX = {"HX-Request": "true"}


def results_yes(client, batch) -> int:
    """The yes count the Results tab states for the labels of record."""
    html = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    panel = html[html.index('data-testid="labels-of-record"') :]
    return int(re.search(r'class="decision yes"[^>]*>([\d,]+) yes', panel).group(1).replace(",", ""))


def exported(app, client, run_jobs, batch, kind) -> tuple[Export, bytes]:
    response = client.post(
        f"/review/batches/{batch.id}/exports/{kind}", data={"csrf_token": csrf_token(client), "force": "1"}
    )
    assert response.status_code == 302
    run_jobs()
    export = Export.select().where(Export.kind == kind).order_by(Export.id.desc()).get()
    assert export.state == "done", export.error
    return export, client.get(f"/review/exports/{export.id}/download").get_data()


def yes_sets(app, client, run_jobs, batch) -> dict[str, set]:
    """Per kind that carries labels, the member names of the images it calls yes, and what it says it used."""
    found, said = {}, {}
    export, body = exported(app, client, run_jobs, batch, "labels-csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    found["labels-csv"] = {member_name(r["class_key"], r["image_id"]) for r in rows if r["label"] == "1"}
    said["labels-csv"] = {r["labels_of_record"] for r in rows}
    export, body = exported(app, client, run_jobs, batch, "imagenet-ab")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        found["imagenet-ab"] = {n for n in archive.namelist() if n != RECORD_MEMBER}
        said["imagenet-ab"] = {archive.read(RECORD_MEMBER).decode()}
    assert set(found) == {name for name, kind in KINDS.items() if kind.labels}  # every kind that carries labels
    return found, said


def test_results_and_every_export_agree_on_the_labels_of_record(app, client, campaign, run_jobs):
    batch = campaign.batch
    page = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    assert "no labels chosen yet" in page and "selection frequency rule: threshold 0.7, at least 2 annotations" in page

    # A rule chosen on screen: the one Results states, the one every export writes and names.
    chosen = client.post(
        f"/review/batches/{batch.id}/labels-of-record/rule",
        data={"csrf_token": csrf_token(client), "threshold": "0.5", "min_annotations": "1", "min_accuracy": "0"},
    )
    assert chosen.status_code == 302
    page = client.get(chosen.headers["Location"]).get_data(as_text=True)
    assert "This rule is the batch's labels of record." in page
    found, said = yes_sets(app, client, run_jobs, batch)
    rule = "selection frequency rule: threshold 0.5, at least 1 annotation"
    assert found["labels-csv"] == found["imagenet-ab"] and len(found["labels-csv"]) == results_yes(client, batch) > 0
    assert said["labels-csv"] == {rule} and rule in said["imagenet-ab"].pop()
    # Another rule tried on screen is said not to be the labels of record.
    tried = client.get(f"/review/batches/{batch.id}/results?threshold=0.9&min_annotations=1&min_accuracy=0")
    assert "these are not the labels of record" in tried.get_data(as_text=True)

    # The label model's fit, chosen: Results and the exports follow it.
    response = client.post(
        f"/review/batches/{batch.id}/fit",
        headers=HTMX,
        data={"csrf_token": csrf_token(client), "model": "ds", "target_precision": "0.9", "threshold": "0.7"},
    )
    assert response.status_code == 200
    run_jobs()
    fit = LabelFit.get(LabelFit.batch == batch, LabelFit.state == "done")
    panel = client.get(f"/review/batches/{batch.id}/fit", headers=HTMX).get_data(as_text=True)
    said = " ".join(panel.split())
    assert "Not the labels of record: Results and the exports use the selection frequency rule: threshold 0.5" in said
    assert (
        client.post(
            f"/review/batches/{batch.id}/labels-of-record/fit", data={"csrf_token": csrf_token(client)}
        ).status_code
        == 302
    )
    assert Batch.get_by_id(batch.id).labels_of_record == {"source": "fit"}
    panel = client.get(f"/review/batches/{batch.id}/fit", headers=HTMX).get_data(as_text=True)
    assert "This fit is the batch's labels of record." in panel and "Not the labels" not in panel
    found, said = yes_sets(app, client, run_jobs, batch)
    stored = {
        member_name(label.image_class.key, label.image.key)
        for label in ImageLabel.select().where(ImageLabel.fit == fit, ImageLabel.decision == "yes")
    }
    assert found["labels-csv"] == found["imagenet-ab"] == stored and len(stored) == results_yes(client, batch) > 0
    (csv_said,), (zip_said,) = said["labels-csv"], said["imagenet-ab"]
    assert csv_said.startswith("Dawid–Skene label fit at target precision") and csv_said in zip_said
    # Results and the Exports tab name the labels (and each file) as a requester reads them: no row ids.
    for tab in ("results", "exports"):
        text = html.unescape(
            re.sub(r"<[^>]+>", " ", client.get(f"/review/batches/{batch.id}/{tab}").get_data(as_text=True))
        )
        assert "Dawid–Skene label fit at target precision 0.9" in text
        assert not re.search(r"#\d", text), (tab, re.search(r".{40}#\d.{20}", text))


def test_a_fit_is_refused_as_labels_of_record_before_there_is_one(client, campaign):
    response = client.post(
        f"/review/batches/{campaign.batch.id}/labels-of-record/fit", data={"csrf_token": csrf_token(client)}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Fit a label model first" in page and Batch.get_by_id(campaign.batch.id).labels_of_record == {}


def test_an_export_of_a_replaced_fit_fails_with_a_message(app, client, campaign, run_jobs):
    with app.app_context():
        fit = LabelFit.create(
            organization=campaign.batch.organization_id, batch=campaign.batch, model="ds", target_precision=0.9
        )  # never finished: not a fit an export can write
        export = Export.create(
            organization=campaign.batch.organization_id,
            batch=campaign.batch,
            kind="labels-csv",
            params={"labels_of_record": "fit", "fit": fit.id},
        )
        result = exports.run(export.id)
    assert "replaced by a newer one" in result["error"]
    assert Export.get_by_id(export.id).state == "failed"


def test_the_record_panel_leaves_many_votes_left_out_to_the_results_job(app, client, campaign, run_jobs, monkeypatch):
    """A rule of record with an accuracy bar counts as Results does: past the pages a request may move, by a job."""
    from freelunch.services.review import labels, of_record

    monkeypatch.setattr(labels, "INLINE_LEFT_OUT_PAGES", 0)  # W3's pages, below the bar, are already too many
    batch = campaign.batch
    with app.app_context():
        of_record.choose_rule(Batch.get_by_id(batch.id), labels.Rule(0.7, 1, 0.5))
    url = f"/review/batches/{batch.id}/labels-of-record"
    waiting = client.get(url, headers=HTMX).get_data(as_text=True)
    assert 'data-testid="record-counting"' in waiting and 'id="job-' in waiting and " yes<" not in waiting
    run_jobs("default")
    panel = client.get(url, headers=HTMX).get_data(as_text=True)
    assert "record-counting" not in panel
    with app.app_context():
        expected = labels.summary(Batch.get_by_id(batch.id), labels.Rule(0.7, 1, 0.5)).decisions["yes"]
    assert re.search(r'class="decision yes"[^>]*>([\d,]+) yes', panel).group(1) == str(expected)
