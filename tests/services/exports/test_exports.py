"""Exports as real RQ jobs: start, watch, download (tests/helpers/factories.py describes the campaign)."""

import csv
import io
import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo
from support import RULE_FORM, csrf_token, finished_file, login, start_export

from freelunch.cli import cli
from freelunch.models import Batch, Export, Membership
from freelunch.services import jobs
from freelunch.services.accounts.users import create_user
from freelunch.services.exports import files as exports
from freelunch.services.exports import writers
from freelunch.services.exports.kinds import KINDS

HTMX = {"HX-Request": "true"}


def test_seed_jsonl_holds_every_record_with_its_trajectory(client, run_jobs, campaign, app_config):
    export, body = finished_file(client, run_jobs, campaign.batch, "seed-jsonl")
    records = [json.loads(line) for line in body.splitlines()]
    assert len(records) == export.rows == 28  # 7 pages of 4 images
    first = records[0]
    assert first["worker_id"] == "W1AAAAAAAA" and first["imageID"] == "n01/a1" and first["selected"] is True
    assert [(p["x"], p["y"]) for p in first["mouseTracking"]] == [(0.1, 0.2), (0.4, 0.5)]
    path = Path(app_config["INSTANCE_PATH"]) / "exports" / str(campaign.batch.organization_id)
    assert [p.name for p in path.iterdir()] == [f"{export.id}-seed-jsonl.jsonl"]


def test_records_csv_summarises_each_record_with_its_role(client, run_jobs, campaign):
    export, body = finished_file(client, run_jobs, campaign.batch, "records-csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == export.rows == 28 and rows[0]["worker_id"] == "W1AAAAAAAA"
    roles = {(r["imageID"], r["role"]) for r in rows}
    assert ("n01/ap", "positive") in roles and ("n01/an", "negative") in roles and ("n01/a1", "candidate") in roles
    assert {r["mousePoints"] for r in rows} == {"2"}
    assert sum(int(r["selected"]) for r in rows) == sum(int(r["clickPoints"]) for r in rows) == 14


def test_labels_csv_follows_and_records_the_rule(client, run_jobs, campaign):
    export, body = finished_file(client, run_jobs, campaign.batch, "labels-csv")
    assert export.params["labels_of_record"] == "rule" and export.params["threshold"] == 0.7
    assert (export.params["min_annotations"], export.params["min_accuracy"]) == (1, 0.5)
    rows = {(r["class_key"], r["image_id"]): r for r in csv.DictReader(io.StringIO(body))}
    assert len(rows) == export.rows == 12
    a1 = rows[("n01", "n01/a1")]  # W3 left out: W1's yes alone
    assert (a1["annotations"], a1["selected"], a1["selection_frequency"], a1["label"]) == ("1", "1", "1.0000", "1")
    assert rows[("n01", "n01/a2")]["label"] == "0" and rows[("n01", "n01/ap")]["role"] == "positive"
    assert a1["class_names"] == "fish; tench" and a1["decision"] == "yes"
    assert {r["labels_of_record"] for r in rows.values()} == {
        "selection frequency rule: threshold 0.7, at least 1 annotation, control accuracy bar 0.5"
    }


def test_workers_csv(client, run_jobs, campaign):
    export, body = finished_file(client, run_jobs, campaign.batch, "workers-csv")
    rows = {r["worker_id"]: r for r in csv.DictReader(io.StringIO(body))}
    assert set(rows) == {"W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"} and export.rows == 3
    w3 = rows["W3CCCCCCCC"]
    assert (w3["assignments"], w3["assignments_done"], w3["pages"], w3["control_accuracy"]) == ("2", "1", "3", "0.0000")
    assert (w3["median_seconds_per_image"], w3["estimate_time_500"], w3["chunks_received"]) == ("1.000", "12", "3")


def test_htmx_start_answers_with_a_row_that_refreshes_when_the_job_ends(client, campaign):
    response = start_export(client, campaign.batch, "workers-csv", **HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'hx-trigger="job-finished from:body"' in html and "Workers CSV" in html
    assert "data-started-here" in html  # done, it downloads itself in this tab (static/app.js)


def test_the_exports_tab_follows_a_job_another_page_started_that_may_put_its_files_out_of_date(
    app, client, run_jobs, campaign
):
    """An MTurk decision queued on the MTurk review page: the Exports tab shows its card, which polls until it ends
    and then tells the rows (assignments-changed); nothing running, nothing polls."""
    from freelunch.services import jobs

    tab = f"/review/batches/{campaign.batch.id}/exports"
    assert "every 1s" not in client.get(tab).get_data(as_text=True)
    with app.app_context():
        jobs.enqueue(
            jobs.MTURK_DECIDE,
            campaign.batch.id,
            campaign.batch.organization_id,
            organization_id=campaign.batch.organization_id,
            scope=jobs.batch_scope(campaign.batch.id),
            title="Approve 2 MTurk assignments",
        )
    html = client.get(tab).get_data(as_text=True)
    assert 'data-testid="export-following"' in html and "Approve 2 MTurk assignments" in html
    assert 'hx-trigger="every 1s"' in html
    run_jobs()
    html = client.get(tab).get_data(as_text=True)
    assert "export-following" not in html and "every 1s" not in html


def test_a_bad_rule_is_explained_and_not_made_the_labels_of_record(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/labels-of-record/rule"
    response = client.post(url, data={"csrf_token": csrf_token(client), **RULE_FORM, "threshold": "7"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The threshold is a share between 0 and 1." in page and "no labels chosen yet" in page
    assert Batch.get_by_id(campaign.batch.id).labels_of_record == {}


def test_unknown_kind_and_unfinished_downloads_are_404(client, campaign):
    assert start_export(client, campaign.batch, "everything").status_code == 404
    start_export(client, campaign.batch, "records-csv")
    export = Export.get()
    assert client.get(f"/review/exports/{export.id}/download").status_code == 404


def test_a_failing_export_says_why_and_leaves_no_file(client, run_jobs, campaign, monkeypatch, app_config):
    def broken(batch, out, params, report):
        out.write("half a file")
        raise OSError("disk full")

    monkeypatch.setitem(KINDS, "workers-csv", replace(KINDS["workers-csv"], write=broken))
    start_export(client, campaign.batch, "workers-csv")
    run_jobs()
    export = Export.get()
    assert export.state == "failed" and "disk full" in export.error
    assert "The export failed: OSError: disk full" in client.get(f"/review/exports/{export.id}").get_data(as_text=True)
    folder = Path(app_config["INSTANCE_PATH"]) / "exports" / str(campaign.batch.organization_id)
    assert list(folder.iterdir()) == []


def test_an_export_deleted_before_its_job_ran(app, client, run_jobs, campaign):
    start_export(client, campaign.batch, "seed-jsonl")
    Export.delete().execute()
    with app.app_context():
        assert exports.run(10**6) == {"error": "The export was deleted before it ran."}
    run_jobs()  # the queued job finds nothing to do, and says so


def test_viewer_downloads_but_cannot_start(app, client, run_jobs, campaign):
    finished_file(client, run_jobs, campaign.batch, "workers-csv")
    viewer = create_user("viewer@example.org", "password123")
    with app.app_context():
        Membership.create(user=viewer, organization=campaign.batch.organization_id, role="viewer")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "viewer@example.org")
    page = client.get(f"/review/batches/{campaign.batch.id}/exports").get_data(as_text=True)
    assert "Viewers can download finished exports" in page and "<button>Export</button>" not in page
    assert client.get(f"/review/exports/{Export.get().id}/download").status_code == 200
    assert start_export(client, campaign.batch, "seed-jsonl").status_code == 403


def test_a_finished_export_can_be_deleted_with_its_file(client, run_jobs, campaign, app_config):
    export, _ = finished_file(client, run_jobs, campaign.batch, "workers-csv")
    path = Path(app_config["INSTANCE_PATH"]) / "exports" / export.path
    assert path.is_file()
    response = client.post(f"/review/exports/{export.id}/delete", data={"csrf_token": csrf_token(client)}, headers=HTMX)
    # the row goes; the list the tab shows (out of band) is the batch's now, so the tab does not reload for it
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == (
        '<input type="hidden" id="exports-seen" name="exports_seen" value="0-0" hx-swap-oob="true">'
    )
    assert Export.select().count() == 0 and not path.exists()


def test_an_export_being_written_cannot_be_deleted(client, campaign):
    start_export(client, campaign.batch, "seed-jsonl")
    export = Export.get()
    response = client.post(f"/review/exports/{export.id}/delete", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 409 and "still being written" in response.get_data(as_text=True)
    assert Export.select().count() == 1


def test_deleting_the_dataset_removes_its_batches_export_files(client, run_jobs, campaign, app_config):
    export, _ = finished_file(client, run_jobs, campaign.batch, "records-csv")
    path = Path(app_config["INSTANCE_PATH"]) / "exports" / export.path
    assert path.is_file()
    dataset = campaign.batch.dataset
    response = client.post(
        f"/datasets/{dataset.id}/delete", data={"csrf_token": csrf_token(client), "confirm_name": dataset.name}
    )
    assert response.status_code == 302
    assert Export.select().count() == 0 and not path.exists()


def contents(kind: str, data: bytes):
    """The file as written, or for a ZIP its members (whose times are the moment they were written)."""
    if not KINDS[kind].binary:
        return data.decode()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_cli_writes_every_kind_the_dashboard_offers_with_the_same_writer(app, client, run_jobs, campaign, tmp_path):
    page = client.get(f"/review/batches/{campaign.batch.id}/exports").get_data(as_text=True)
    offered = set(re.findall(rf"/review/batches/{campaign.batch.id}/exports/([a-z0-9-]+)", page))
    assert offered == set(KINDS)
    runner = CliRunner()
    for kind in KINDS:
        assert start_export(client, campaign.batch, kind).status_code == 302
        run_jobs()
        export = Export.select().order_by(Export.id.desc()).get()
        dashboard = client.get(f"/review/exports/{export.id}/download").get_data()
        out = tmp_path / kind
        result = runner.invoke(
            cli,
            ["export", "--batch", str(campaign.batch.id), "--format", kind, "-o", str(out)],
            obj=ScriptInfo(create_app=lambda: app),
        )
        assert result.exit_code == 0, result.output
        assert contents(kind, out.read_bytes()) == contents(kind, dashboard), kind
        assert f"Wrote {export.rows} {KINDS[kind].rows}." in result.output


def test_seed_lines_go_to_a_utf8_files_bytes_in_order_and_to_other_files_decoded(tmp_path):
    line = '{"classNames":["犬"]}\n'.encode()
    with (tmp_path / "a.jsonl").open("w", encoding="utf-8") as out:
        out.write("first\n")  # through the text layer, still buffered there
        write = writers._utf8_writer(out)
        write(line)
    assert (tmp_path / "a.jsonl").read_bytes() == b"first\n" + line
    for out in (io.StringIO(), io.TextIOWrapper(io.BytesIO(), encoding="utf-16")):
        writers._utf8_writer(out)(line)
        out.seek(0)
        assert out.read() == line.decode()


def test_a_download_is_named_in_the_requesters_words(app, client, run_jobs, campaign):
    """The batch's name, the kind's title (never its code name), the decision kept, when it started, its number; one
    ZIP of them all named after the batch; letters, digits and hyphens only, whatever the batch is called."""
    batch = campaign.batch
    Batch.update(name="Fische & Vögel: Runde 2/3").where(Batch.id == batch.id).execute()
    export, _ = finished_file(client, run_jobs, batch, "seed-jsonl")
    response = client.get(f"/review/exports/{export.id}/download")
    started = export.created_at.strftime("%Y-%m-%d-%H%M")
    name = f"fische-vogel-runde-2-3-imagenetv2-tool-json-lines-{started}-export-{export.id}.jsonl"
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert "seed" not in name

    client.post(
        f"/review/batches/{batch.id}/exports/labels-csv",
        data={"csrf_token": csrf_token(client), **RULE_FORM, "decision": "yes"},
    )
    run_jobs()
    with app.app_context():
        yes_only = Export.select().order_by(Export.id.desc()).get()
        assert re.fullmatch(
            rf"fische-vogel-runde-2-3-labels-csv-yes-only-[0-9-]+-export-{yes_only.id}\.csv",
            exports.download_name(yes_only),
        )
        Batch.update(name="運行").where(Batch.id == batch.id).execute()  # nothing left of it in ASCII: its number
        assert exports.download_name(Export.get_by_id(export.id)).startswith(f"batch-{batch.id}-imagenetv2-tool-")
    archive = client.get(f"/review/batches/{batch.id}/exports.zip")
    assert re.fullmatch(
        rf"attachment; filename=batch-{batch.id}-exports-\d{{4}}-\d\d-\d\d\.zip", archive.headers["Content-Disposition"]
    )
    assert len(set(zipfile.ZipFile(io.BytesIO(archive.data)).namelist())) == 2


def test_finished_rows_reload_as_one_list_when_a_job_could_put_them_out_of_date(client, campaign):
    """The review: after a label fit ended, each finished export row asked for itself (up to 50 requests). The rows'
    list is the one panel now: one request, answered with the list's partial."""
    from support import HTMX

    from freelunch.web.partials import VARY

    batch = campaign.batch
    for n in range(3):
        Export.create(organization=batch.organization_id, batch=batch, kind="workers-csv", state="done", rows=n)
    page = client.get(f"/review/batches/{batch.id}/exports").get_data(as_text=True)
    rows = re.search(r'<div id="export-rows"[^>]*>', page).group(0)
    assert 'hx-trigger="assignments-changed from:body, labels-changed from:body"' in rows
    assert f'hx-get="/review/batches/{batch.id}/exports?sort=-created&amp;page=1"' in rows
    assert 'hx-select="#export-rows"' in rows
    assert len(re.findall(r'class="export-row[^"]*"[^>]*hx-get', page)) == 0  # no row reloads itself
    assert page.count('class="export-row ') == 3
    listed = client.get(f"/review/batches/{batch.id}/exports?sort=-created&page=1", headers=HTMX)
    assert listed.status_code == 200 and "<html" not in listed.get_data(as_text=True)
    assert listed.get_data(as_text=True).count('class="export-row ') == 3
    assert set(VARY) <= set(listed.headers["Vary"].replace(" ", "").split(","))


def test_an_export_started_elsewhere_reloads_the_list_through_the_status_poll(app, client, campaign):
    """The review: an export started in another tab after the Exports tab loaded showed
    only on a reload. The tab sends the list it shows with the batch's status poll (no poll of its own); the answer
    says "export-list-changed" when the batch's list differs."""
    from freelunch.services.exports import files

    batch = campaign.batch
    page = client.get(f"/review/batches/{batch.id}/exports").get_data(as_text=True)
    seen = re.search(r'id="exports-seen" name="exports_seen" value="([^"]+)"', page).group(1)
    assert seen == "0-0" and 'data-include-present="#exports-seen' in page
    assert 'hx-trigger="export-list-changed from:body"' in re.search(r'<div id="export-list"[^>]*>', page).group(0)
    status = f"/batches/{batch.id}/status"
    assert "HX-Trigger" not in client.get(status, query_string={"exports_seen": seen}).headers
    assert "HX-Trigger" not in client.get(status).headers  # another tab: nothing sent, nothing checked
    with app.app_context():
        export = files.start(batch, "workers-csv")  # as another tab does
    answer = client.get(status, query_string={"exports_seen": seen})
    assert answer.status_code == 200 and json.loads(answer.headers["HX-Trigger"]) == {"export-list-changed": {}}
    assert f'value="1-{export.id}"' in client.get(f"/review/batches/{batch.id}/exports").get_data(as_text=True)
    assert "HX-Trigger" not in client.get(status, query_string={"exports_seen": f"1-{export.id}"}).headers
    with app.app_context():  # cron's reconciliation meanwhile: the one answer says both
        jobs.announce(jobs.MTURK_SYNC_LIVE, batch.organization_id, batch.id)
    answer = client.get(status, query_string={"exports_seen": seen, "announced": 0})
    events = json.loads(answer.headers["HX-Trigger"])
    assert set(events) == {"export-list-changed", "job-finished", "mturk-changed", "assignments-changed"}


def test_a_job_started_elsewhere_that_may_put_the_files_out_of_date_reloads_the_list_through_the_status_poll(
    app, client, run_jobs, campaign
):
    """The review: the Exports tab followed a label fit (or MTurk's decisions) only if it ran when the tab loaded; one
    started later ended unheard. The tab sends the newest such jobs it knows of with the status poll; the answer says
    "export-list-changed" once another started, and not when one ends (its card tells the rows) nor for an export."""
    from freelunch.services.review import fits

    batch = campaign.batch
    page = client.get(f"/review/batches/{batch.id}/exports").get_data(as_text=True)
    seen = re.search(r'id="export-jobs-seen" name="export_jobs_seen" value="([^"]*)"', page).group(1)
    assert 'data-include-present="#exports-seen, #export-jobs-seen' in page
    status = f"/batches/{batch.id}/status"
    assert "HX-Trigger" not in client.get(status, query_string={"export_jobs_seen": seen}).headers
    start_export(client, batch, "workers-csv")  # its own row tells the tab, not this mark
    assert "HX-Trigger" not in client.get(status, query_string={"export_jobs_seen": seen}).headers
    with app.app_context():
        fits.start(Batch.get_by_id(batch.id), "mv", 0.9, 0.5)  # on the Results tab
    answer = client.get(status, query_string={"export_jobs_seen": seen})
    assert json.loads(answer.headers["HX-Trigger"]) == {"export-list-changed": {}}
    page = client.get(f"/review/batches/{batch.id}/exports").get_data(as_text=True)
    assert 'data-testid="export-following"' in page
    now = re.search(r'id="export-jobs-seen" name="export_jobs_seen" value="([^"]*)"', page).group(1)
    run_jobs()  # it ends: the mark stays, the card told the rows
    assert "HX-Trigger" not in client.get(status, query_string={"export_jobs_seen": now}).headers
