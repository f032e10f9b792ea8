"""Exports a requester does not have to think about: sizes shown, the same export offered again instead of
written twice, the results page's decision filter kept, every file in one ZIP."""

import csv
import io
import re
import zipfile
from html import unescape

import pytest
from support import csrf_token, login

from freelunch.models import Export, PageSubmission, utcnow

HTMX = {"HX-Request": "true"}


def start(client, batch_id, kind, **extra):
    """Make the rule 0.5 / 1 / 0 the labels of record, and start an export."""
    rule = {"threshold": "0.5", "min_annotations": "1", "min_accuracy": "0"}
    client.post(f"/review/batches/{batch_id}/labels-of-record/rule", data={"csrf_token": csrf_token(client), **rule})
    data = {"csrf_token": csrf_token(client), **extra}
    return client.post(f"/review/batches/{batch_id}/exports/{kind}", data=data, headers=HTMX)


def test_an_identical_export_is_offered_again_until_the_batch_changes(app, client, campaign, run_jobs):
    b = campaign.batch.id
    first = start(client, b, "records-csv")
    assert first.status_code == 200 and Export.select().count() == 1
    # The answer to this tab's Export button marks its row: this tab downloads it once done (static/app.js); the row
    # asked again (it ended, or the list reloaded) is the same for every tab, and never downloads by itself.
    assert "data-started-here" in first.get_data(as_text=True)
    run_jobs()
    export = Export.get()
    row = client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
    assert "data-started-here" not in row and "data-download" in row
    assert re.search(r"\d+ rows · \d+(\.\d)? KB", row)  # its size
    again = start(client, b, "records-csv")
    html = again.get_data(as_text=True)
    assert again.headers["HX-Retarget"] == "#export-errors" and "Nothing changed since" in html
    assert f"/review/exports/{export.id}/download" in html and Export.select().count() == 1
    forced = start(client, b, "records-csv", force="1")
    assert forced.status_code == 200 and Export.select().count() == 2
    run_jobs()
    # A page submitted after an export makes it stale: a new one is written.
    with app.app_context():
        PageSubmission.update(submitted_at=utcnow()).where(PageSubmission.id == campaign.pages["h1w1a"].id).execute()
    start(client, b, "records-csv")
    assert Export.select().count() == 3


def test_the_labels_export_keeps_the_results_decision_filter(app, client, campaign, run_jobs):
    b = campaign.batch.id
    results = client.get(f"/review/batches/{b}/results?threshold=0.5&min_annotations=1&min_accuracy=0&decision=yes")
    html = results.get_data(as_text=True)
    assert 'name="decision" value="yes"' in html and "Export the labels of record as CSV (yes only)" in html
    start(client, b, "labels-csv", decision="yes")
    start(client, b, "labels-csv")
    run_jobs()
    only_yes, every = Export.select().order_by(Export.id)
    assert only_yes.params["decision"] == "yes" and "decision" not in every.params

    def read(e):
        return list(csv.DictReader(io.StringIO(client.get(f"/review/exports/{e.id}/download").get_data(as_text=True))))

    yes_rows, all_rows = read(only_yes), read(every)
    assert yes_rows and {r["label"] for r in yes_rows} == {"1"}
    assert yes_rows == [r for r in all_rows if r["label"] == "1"] and len(all_rows) > len(yes_rows)


def test_every_finished_export_in_one_zip(client, campaign, run_jobs):
    b = campaign.batch.id
    assert client.get(f"/review/batches/{b}/exports.zip").status_code == 404
    for kind in ("records-csv", "workers-csv"):
        start(client, b, kind)
    run_jobs()
    response = client.get(f"/review/batches/{b}/exports.zip")
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert response.mimetype == "application/zip" and len(names) == 2
    assert any("-image-records-csv-" in n for n in names) and any("-workers-csv-" in n for n in names)


def test_forced_re_exports_count_in_the_storage_quota_and_are_limited(app, client, campaign, run_jobs):
    from freelunch.models import Image, Organization
    from freelunch.services.exports import files
    from freelunch.services.imports import quota

    b, org = campaign.batch.id, campaign.batch.organization_id
    assert start(client, b, "seed-jsonl").status_code == 200
    run_jobs()
    with app.app_context():
        written = files.size(Export.get())
        assert written and quota.exported_bytes(org) == written  # the folder the files are in, counted
        assert quota.used_bytes(org) >= written
    for _ in range(files.FORCED_PER_HOUR - 1):
        assert start(client, b, "seed-jsonl", force="1").status_code == 200
        run_jobs()
    refused = start(client, b, "seed-jsonl", force="1")
    assert refused.status_code == 422 and "in the last hour" in refused.get_data(as_text=True)
    assert Export.select().count() == files.FORCED_PER_HOUR

    with app.app_context():  # a 1 MB quota that images and the export files fill: no more exports, forced or not
        image = next(iter(campaign.images.values()))
        Image.update(stored_bytes=quota.MB - written).where(Image.id == image.id).execute()
        Organization.update(storage_quota_mb=1).where(Organization.id == org).execute()
        assert quota.used_bytes(org) > quota.MB
    full = start(client, b, "records-csv")
    assert full.status_code == 422 and "storage is full" in full.get_data(as_text=True)


def test_an_export_that_no_longer_matches_the_batch_says_so_and_offers_to_make_it_again(
    app, client, campaign, run_jobs
):
    """What a file was made from (Export.params) against what its kind would write now: another rule of record
    changes the labels kinds', a worker left out the votes of the kinds that carry labels (not the records'); the
    decision kept is kept again."""
    from freelunch.models import Membership
    from freelunch.services.accounts.users import create_user

    b = campaign.batch.id
    start(client, b, "labels-csv", decision="yes")
    start(client, b, "records-csv")
    run_jobs()
    labels_export, records_export = Export.select().order_by(Export.id)

    def rows() -> dict[int, str]:
        html = unescape(client.get(f"/review/batches/{b}/exports").get_data(as_text=True))
        found = (" ".join(row.split()) for row in html.split('<div class="export-row')[1:])
        return {int(re.search(r'id="export-(\d+)"', row)[1]): row for row in found}

    assert not any("Out of date" in row for row in rows().values())
    rule = {"threshold": "0.7", "min_annotations": "1", "min_accuracy": "0"}
    client.post(f"/review/batches/{b}/labels-of-record/rule", data={"csrf_token": csrf_token(client), **rule})
    shown = rows()
    assert "Out of date: the batch's labels of record changed since it was made" in shown[labels_export.id]
    assert 'name="decision" value="yes"' in shown[labels_export.id] and "Make it again" in shown[labels_export.id]
    assert "Out of date" not in shown[records_export.id]  # it carries votes, not labels

    client.post(f"/review/batches/{b}/exclusions", data={"csrf_token": csrf_token(client), "worker_id": "W2BBBBBBBB"})
    # The records file holds every page that counts, whoever is left out of the labels: the same file again.
    assert "Out of date" not in rows()[records_export.id]
    again = client.post(
        f"/review/batches/{b}/exports/labels-csv",
        data={"csrf_token": csrf_token(client), "decision": "yes"},
        headers=HTMX,
    )
    assert again.status_code == 200 and "Out of date" not in again.get_data(as_text=True)
    run_jobs()
    newest = Export.select().order_by(Export.id.desc()).get()
    assert newest.params["decision"] == "yes" and newest.params["threshold"] == 0.7
    assert "Out of date" not in client.get(f"/review/exports/{newest.id}", headers=HTMX).get_data(as_text=True)

    viewer = create_user("viewer@example.org", "password123")
    with app.app_context():
        Membership.create(user=viewer, organization=campaign.batch.organization_id, role="viewer")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "viewer@example.org")
    shown = rows()
    assert "Out of date" in shown[labels_export.id] and "Make it again" not in shown[labels_export.id]


def test_pages_stored_without_tallies_are_in_the_file_and_do_not_put_it_out_of_date_once_derived(
    app, client, campaign, run_jobs
):
    """A bulk load stores pages without their tallies (no votes yet). An export written then holds them (the records
    kinds read every page; the job derives their votes first, as a label fit does, so a labels file counts them too),
    and records the votes it was written from: the periodic job deriving nothing more leaves it current. On main the
    labels file left their votes out and the mark compared the votes of when the export was asked."""
    from freelunch.models import Batch, PageTally, Vote
    from freelunch.services.exports import files
    from freelunch.services.review import tallies

    b = campaign.batch.id
    with app.app_context():
        PageTally.delete().execute()  # as a bulk load leaves them (tests/services/review/test_review.py)
        Vote.delete().execute()
    start(client, b, "labels-csv")
    start(client, b, "records-csv")
    run_jobs()
    labels_export, records_export = Export.select().order_by(Export.id)
    labels = list(csv.DictReader(io.StringIO(client.get(f"/review/exports/{labels_export.id}/download").text)))
    assert sum(int(r["annotations"]) for r in labels) == 7 * 4  # every vote of the 7 pages
    assert records_export.rows == 28
    with app.app_context():
        assert tallies.refresh(tallies.in_batch(b)) == 0  # what the periodic job does: nothing left to derive
        stale = files.out_of_date(Batch.get_by_id(b))
        assert stale(Export.get_by_id(labels_export.id)) is None and stale(Export.get_by_id(records_export.id)) is None


def _campaign_change(name: str):
    """What each case does to the campaign before the files are written (``before``), then after it (``then``).
    One of W2's assignment is an MTurk one for the cases that need it (``status``: its mturk_status first)."""
    import json

    from factories import T0, make_image, submit_page

    from freelunch.db import database
    from freelunch.models import Assignment, Candidate, Dataset, HitPage, ImageClass
    from freelunch.services.ingest.insert import insert_chunks

    def status(value):
        def set_status(app, client, campaign, run_jobs):
            Assignment.update(source="mturk", mturk_status=value).where(
                Assignment.id == campaign.assignments["h2w2"].id
            ).execute()

        return set_status

    def new_assignment(source, worker="W4DDDDDDDD"):
        def add(app, client, campaign, run_jobs):
            Assignment.create(
                organization=campaign.batch.organization_id,
                hit=campaign.hits[1],
                worker_id=worker,
                source=source,
                version="POINTER_ORIGINAL",
            )

        return add

    def one_comes_one_goes(app, client, campaign, run_jobs):  # every column's sum the same: only who moved
        Assignment.delete().where(Assignment.worker_id == "W5EEEEEEEE").execute()
        new_assignment("lab")(app, client, campaign, run_jobs)

    def label_fit(app, client, campaign, run_jobs):
        from freelunch.services.review import fits

        fits.start(campaign.batch, "mv", 0.9, 0.5)
        run_jobs()

    def leave_out(app, client, campaign, run_jobs):
        client.post(
            f"/review/batches/{campaign.batch.id}/exclusions",
            data={"csrf_token": csrf_token(client), "worker_id": "W2BBBBBBBB"},
        )

    def correct_a_control(app, client, campaign, run_jobs):
        Candidate.update(role="candidate").where(Candidate.image == campaign.images["ap"].id).execute()

    def imported_role(key: str, role: str, dataset_id=None):
        """The requester corrects an image's role as they set it: a manifest naming it again, through the Datasets
        page's image import (its candidacy's role is replaced: services/imports/images.CANDIDATE_CONFLICT)."""

        def correct(app, client, campaign, run_jobs):
            class_key = key.split("/")[0]
            manifest = f"image_id,url,class,role,width,height\n{key},https://example.org/{key}.jpg,{class_key},{role},500,375\n"
            answer = client.post(
                f"/datasets/{dataset_id or campaign.batch.dataset_id}/imports/images",
                data={"csrf_token": csrf_token(client), "images": (io.BytesIO(manifest.encode()), "roles.csv")},
                content_type="multipart/form-data",
            )
            assert answer.status_code in (200, 302), answer.get_data(as_text=True)
            run_jobs()
            assert Candidate.get(Candidate.image == Image.get(Image.key == key).id).role == role

        return correct

    def another_dataset(app, client, campaign, run_jobs):
        org = campaign.batch.organization_id
        dataset = Dataset.create(organization=org, name="Another")
        image_class = ImageClass.create(organization=org, dataset=dataset, key="n09", names=["other"])
        make_image(org, dataset, image_class, "n09/xp", "positive")

    def other_dataset_role(app, client, campaign, run_jobs):
        imported_role("n09/xp", "negative", Dataset.get(Dataset.name == "Another").id)(app, client, campaign, run_jobs)

    def pointer_batch(page: str, tab: int = 0, seq: int = 2):
        """A pointer batch stored by the flush (its bulk insert) after the page was submitted: a move over the
        page's first image while it was shown. ``page``: the campaign's page key, or "h2w3b" (never submitted)."""

        def flush(app, client, campaign, run_jobs):
            assignment = campaign.assignments[page[:4]]
            pageno = 1 if page.endswith("a") else 2
            move = [{"type": "move", "i": 0, "x": 0.25, "y": 0.75, "time": T0 + 200}]
            with database.atomic():
                insert_chunks([(assignment.id, pageno, tab, seq, 1, json.dumps(move), T0 + 9_000)])

        return flush

    def waiting_w3(app, client, campaign, run_jobs):
        Assignment.update(source="mturk", mturk_status=None).where(
            Assignment.id == campaign.assignments["h2w3"].id
        ).execute()

    def w3_submits_page_2(app, client, campaign, run_jobs):
        page = HitPage.get(HitPage.hit == campaign.hits[1], HitPage.pageno == 2)
        submit_page(Assignment.get_by_id(campaign.assignments["h2w3"].id), page, {campaign.images["b4"].id}, T0 + 10**6)

    def class_edited(**fields):
        """The requester edits class n01 on the Datasets page (its names shown as the form shows them)."""

        def edit(app, client, campaign, run_jobs):
            form = {"csrf_token": csrf_token(client), "names": "fish, tench", "description": "a fish", **fields}
            answer = client.post(f"/datasets/classes/{campaign.classes['A'].id}", data=form)
            assert answer.status_code == 302

        return edit

    def nothing(app, client, campaign, run_jobs):
        pass

    from freelunch.models import Image

    return {
        "waiting-rejected": (status(None), status("Rejected")),
        "waiting-submitted": (status(None), status("Submitted")),
        "submitted-approved": (status("Submitted"), status("Approved")),
        "submitted-rejected": (status("Submitted"), status("Rejected")),
        "rejected-approved": (status("Rejected"), status("Approved")),
        "new-lab-assignment": (nothing, new_assignment("lab")),
        "new-mturk-assignment": (nothing, new_assignment("mturk")),
        "one-comes-one-goes": (new_assignment("lab", "W5EEEEEEEE"), one_comes_one_goes),
        "label-fit": (nothing, label_fit),
        "worker-left-out": (nothing, leave_out),
        "control-corrected": (nothing, correct_a_control),
        "control-corrected-by-import": (nothing, imported_role("n01/ap", "candidate")),
        "control-corrected-within-the-bar": (nothing, imported_role("n01/ap", "candidate")),
        "control-corrected-across-the-bar": (nothing, imported_role("n01/an", "positive")),
        "control-of-another-dataset": (another_dataset, other_dataset_role),
        "page-submitted": (nothing, w3_submits_page_2),
        "page-of-work-mturk-has-not-confirmed": (waiting_w3, w3_submits_page_2),
        "class-renamed": (nothing, class_edited(names="fish, tench, Tinca tinca")),
        "class-described": (nothing, class_edited(description="a freshwater fish")),
        "late-pointer-batch": (nothing, pointer_batch("h1w1a")),
        "pointer-batch-of-another-tab": (nothing, pointer_batch("h1w1a", tab=7, seq=0)),
        "pointer-batch-of-a-page-not-submitted": (nothing, pointer_batch("h2w3b", seq=0)),
    }[name]


ALL = {"seed-jsonl", "records-csv", "labels-csv", "workers-csv", "imagenet-ab"}
RECORDS = {"seed-jsonl", "records-csv", "imagenet-ab"}  # the kinds that write image records
CHANGES = {  # the change, and the files it alters
    "waiting-rejected": {"workers-csv"},  # the review: MTurk rejecting work it had not confirmed left the file current
    "waiting-submitted": ALL,
    "submitted-approved": set(),  # both count: no file says which
    "submitted-rejected": ALL,
    "rejected-approved": ALL,
    "new-lab-assignment": {"workers-csv"},  # started, no page yet: a row (or an assignment) more
    "new-mturk-assignment": {"workers-csv"},
    "one-comes-one-goes": {"workers-csv"},  # a started assignment given up while another worker starts one
    "label-fit": {"workers-csv"},  # the file's sensitivity, specificity and flag are the latest fit's
    # Left out of the labels: still a row of the workers file, their pages still in the records
    "worker-left-out": {"labels-csv", "imagenet-ab"},
    # A role is a column of the records and labels files, and the workers' control accuracy.
    "control-corrected": {"records-csv", "labels-csv", "workers-csv"},
    "control-corrected-by-import": {"records-csv", "labels-csv", "workers-csv"},
    # Under a rule with a control-accuracy bar (RULES), which leaves the same workers out, or others.
    "control-corrected-within-the-bar": {"records-csv", "labels-csv", "workers-csv"},
    "control-corrected-across-the-bar": ALL - {"seed-jsonl"},
    "control-of-another-dataset": set(),
    "page-submitted": ALL,
    "page-of-work-mturk-has-not-confirmed": set(),  # its assignment waits (and had a page already)
    "class-renamed": {"seed-jsonl", "labels-csv"},  # classNames, class_names
    "class-described": set(),  # no file holds the definition
    "late-pointer-batch": RECORDS | {"workers-csv"},  # its moves, and the page's byproduct completeness
    "pointer-batch-of-another-tab": set(),  # the records are the submitting tab's
    "pointer-batch-of-a-page-not-submitted": set(),
}
RULE = {"threshold": "0.5", "min_annotations": "1", "min_accuracy": "0"}
RULES = {  # the labels of record, when not RULE: W3 answers every control wrong (0 of 6), W1 and W2 all right
    "control-corrected-within-the-bar": {**RULE, "min_accuracy": "0.5"},  # W3 still out, W1 and W2 still in
    "control-corrected-across-the-bar": {**RULE, "min_accuracy": "0.8"},  # "n01/an" positive: W1 and W2 at 0.75
}


def _shown_rows(client, batch_id: int) -> dict[int, str]:
    """The Exports tab's rows by export id, their text on one line."""
    html = unescape(client.get(f"/review/batches/{batch_id}/exports").get_data(as_text=True))
    found = (" ".join(row.split()) for row in html.split('<div class="export-row')[1:])
    return {int(re.search(r'id="export-(\d+)"', row)[1]): row for row in found}


def _content(kind: str, data: bytes):
    """A file's content: its bytes, or a ZIP's members and theirs (labels_of_record.txt is stamped with the time the
    file was written)."""
    if kind != "imagenet-ab":
        return data
    archive = zipfile.ZipFile(io.BytesIO(data))
    return [(name, archive.read(name)) for name in archive.namelist()]


def _written_now(batch, export: Export):
    """What the export's kind would write now, from the same params (``_content``)."""
    from freelunch.services.exports.kinds import KINDS

    kind = KINDS[export.kind]
    out = io.BytesIO() if kind.binary else io.StringIO(newline="")
    kind.write(batch, out, export.params, lambda *report: None)
    value = out.getvalue()
    return _content(export.kind, value if isinstance(value, bytes) else value.encode())


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_file_is_out_of_date_exactly_when_writing_it_again_would_give_another_file(
    app, client, campaign, run_jobs, change
):
    """Every kind's file, made, then the case's change: the Exports tab marks it out of date if and only if its kind
    would now write other bytes. The review: a workers CSV stayed current when MTurk rejected an assignment it had
    not confirmed; a control's role corrected left the records and labels files current (and ImageNet-AB, when
    the rule's control-accuracy bar then leaves other workers out); pointer batches flushed after their page was
    submitted left the files with trajectories current; leaving a worker out of the labels marked the records files,
    which hold their pages all the same. The mark compares what each file is written from (kinds.Kind.reads), so it
    follows the files' contents."""
    from freelunch.models import Batch
    from freelunch.services.exports import files

    b = campaign.batch.id
    before, then = _campaign_change(change)
    with app.app_context():
        before(app, client, campaign, run_jobs)
    rule = RULES.get(change, RULE)
    client.post(f"/review/batches/{b}/labels-of-record/rule", data={"csrf_token": csrf_token(client), **rule})
    for kind in sorted(ALL):
        client.post(f"/review/batches/{b}/exports/{kind}", data={"csrf_token": csrf_token(client)}, headers=HTMX)
    run_jobs()
    made = {e.kind: e for e in Export.select()}
    assert set(made) == ALL and {e.state for e in made.values()} == {"done"}
    assert not any("Out of date" in row for row in _shown_rows(client, b).values())
    with app.app_context():
        written = {kind: _content(kind, files.file_path(e).read_bytes()) for kind, e in made.items()}
        then(app, client, campaign, run_jobs)
        batch = Batch.get_by_id(b)
        changed = {kind for kind, e in made.items() if _written_now(batch, e) != written[kind]}
    assert changed == CHANGES[change]  # the case does what it says
    shown = _shown_rows(client, b)
    marked = {kind for kind, e in made.items() if "Out of date" in shown[e.id]}
    assert marked == changed, {kind: shown[e.id] for kind, e in made.items()}


@pytest.mark.parametrize(
    "change",
    ["control-corrected-by-import", "late-pointer-batch", "page-submitted", "pointer-batch-of-another-tab"],
)
def test_an_open_exports_tab_hears_its_marks_change_through_the_status_poll(app, client, campaign, run_jobs, change):
    """The review: a control corrected (an import on the Datasets page), pointer batches flushed (an RQ job no page
    started) or a page submitted changed no mark on an open Exports tab until it was reloaded. The tab sends the marks
    it shows (files.marks) with the batch's status poll, which answers "export-list-changed" when the batch's differ,
    so the list reloads; nothing when no file's mark changed."""
    import json

    b = campaign.batch.id
    before, then = _campaign_change(change)
    with app.app_context():
        before(app, client, campaign, run_jobs)
    client.post(f"/review/batches/{b}/labels-of-record/rule", data={"csrf_token": csrf_token(client), **RULE})
    for kind in ("seed-jsonl", "records-csv", "labels-csv"):
        client.post(f"/review/batches/{b}/exports/{kind}", data={"csrf_token": csrf_token(client)}, headers=HTMX)
    run_jobs()

    def shown() -> dict:
        page = client.get(f"/review/batches/{b}/exports").get_data(as_text=True)
        assert 'data-include-present="#exports-seen, #export-jobs-seen, #export-marks' in page
        fields = re.findall(
            r'<input type="hidden" id="[^"]+" name="(export_marks|exports_seen|export_jobs_seen)" '
            r'value="([^"]*)"',
            page,
        )
        return dict(fields)

    seen, status = shown(), f"/batches/{b}/status"
    assert set(seen) == {"export_marks", "exports_seen", "export_jobs_seen"}
    assert "HX-Trigger" not in client.get(status, query_string=seen).headers
    with app.app_context():
        then(app, client, campaign, run_jobs)
    answer = client.get(status, query_string=seen)
    if CHANGES[change] & {"seed-jsonl", "records-csv", "labels-csv"}:
        assert json.loads(answer.headers["HX-Trigger"]) == {"export-list-changed": {}}
        assert "Out of date" in client.get(f"/review/batches/{b}/exports").get_data(as_text=True)
        assert "HX-Trigger" not in client.get(status, query_string=shown()).headers  # the reloaded list's marks
    else:
        assert "HX-Trigger" not in answer.headers


def test_the_marks_inputs_read_a_full_size_batch_without_overflow(app, campaign):
    """Each input is an aggregate in the database: at full size its products pass 32 bits (PostgreSQL's integers),
    a worker's 100,000 pages times a row id past a million, an image id past a million times the class factor."""
    from freelunch.models import Batch, BatchWorker, Candidate, Image
    from freelunch.services.exports import files

    with app.app_context():
        BatchWorker.update(id=BatchWorker.id + 10**6, pages=100_000).execute()
        org = campaign.batch.organization_id
        Image.create(
            id=3 * 10**6, organization=org, dataset=campaign.batch.dataset_id, key="n01/big", url="https://e/b"
        )
        Candidate.create(organization=org, image=3 * 10**6, image_class=campaign.classes["A"], role="positive")
        batch = Batch.get_by_id(campaign.batch.id)
        now = {name: files.INPUTS[name].now(batch) for name in files.INPUTS}
    assert now["pages"].startswith(f"{3 * 100_000}.")  # the three workers' pages that count
