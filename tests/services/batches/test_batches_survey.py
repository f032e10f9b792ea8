"""The MTurk survey-link kit: the batch CSV, the landing page, and the completion-code checker."""

import csv
import io
import re

import pytest
from support import csrf_token, login

from freelunch.models import Assignment, Batch, Dataset, Hit
from freelunch.services.accounts import identity

HTMX = {"HX-Request": "true"}


@pytest.fixture
def batch(app, client, make_account):
    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    dataset = Dataset.create(organization=org, name="D")
    batch = Batch.create(
        organization=org,
        dataset=dataset,
        name="B",
        state="ready",
        pages_per_hit=10,
        images_per_page=48,
        versions=["POINTER_ORIGINAL", "NO_POINTER_NO_ORIGINAL"],
    )
    for key in ("aaa111", "bbb222", "ccc333"):
        Hit.create(organization=org, batch=batch, key=key)
    return batch


def test_batch_csv_has_one_row_per_hit_with_versions_in_turn(client, batch):
    response = client.get(f"/batches/{batch.id}/survey.csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="freelunch-batch-{batch.id}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        {
            "toolLink": "http://localhost/annotate",
            "version": "POINTER_ORIGINAL",
            "hitDatasetName": str(batch.id),
            "imageNetHitId": "aaa111",
        },
        {
            "toolLink": "http://localhost/annotate",
            "version": "NO_POINTER_NO_ORIGINAL",
            "hitDatasetName": str(batch.id),
            "imageNetHitId": "bbb222",
        },
        {
            "toolLink": "http://localhost/annotate",
            "version": "POINTER_ORIGINAL",
            "hitDatasetName": str(batch.id),
            "imageNetHitId": "ccc333",
        },
    ]


def test_landing_page_builds_the_seed_link_from_mturk_parameters(client, batch):
    html = client.get(f"/batches/{batch.id}/survey.html").get_data(as_text=True)
    for placeholder in ("${toolLink}", "${version}", "${hitDatasetName}", "${imageNetHitId}"):
        assert placeholder in html
    for parameter in ("assignmentId", "workerId", "hitId", "imageNetHitId", "hitDatasetName", "version"):
        assert parameter in html
    assert "ASSIGNMENT_ID_NOT_AVAILABLE" in html and 'name="surveycode"' in html
    assert "<strong>10 pages</strong>" in html and "<strong>48 images</strong>" in html


def _assignment(app, hit_key, raw_worker, done=True, mturk_id=None):
    hit = Hit.get(Hit.key == hit_key)
    with app.app_context():
        worker = identity.anonymous_worker_id(hit.organization_id, raw_worker)
        assignment = Assignment.create(
            organization=hit.organization_id,
            hit=hit,
            worker_id=worker,
            source="survey",
            version="POINTER_ORIGINAL",
            mturk_assignment_id=mturk_id,
            done=done,
        )
        if done:
            assignment.completion_code = identity.completion_code(hit.key, worker, assignment.id)
            assignment.save()
    return assignment


def results_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        [
            "HITId",
            "AssignmentId",
            "WorkerId",
            "AssignmentStatus",
            "Input.toolLink",
            "Input.version",
            "Input.hitDatasetName",
            "Input.imageNetHitId",
            "Answer.surveycode",
        ],
    )
    writer.writeheader()
    for hit_key, assignment_id, worker, code in rows:
        writer.writerow(
            {
                "HITId": "3XYZ",
                "AssignmentId": assignment_id,
                "WorkerId": worker,
                "AssignmentStatus": "Submitted",
                "Input.toolLink": "http://localhost/annotate",
                "Input.version": "POINTER_ORIGINAL",
                "Input.hitDatasetName": "1",
                "Input.imageNetHitId": hit_key,
                "Answer.surveycode": code,
            }
        )
    return out.getvalue()


@pytest.fixture
def results(app, batch):
    good = _assignment(app, "aaa111", "A1WORKER", mturk_id="ASSIGN-1")
    other = _assignment(app, "bbb222", "A2WORKER")
    _assignment(app, "ccc333", "A3WORKER", done=False)
    text = results_csv(
        [
            ("aaa111", "ASSIGN-1", "A1WORKER", good.completion_code.lower()),  # codes are checked case-insensitively
            ("bbb222", "ASSIGN-2", "A2WORKER", good.completion_code),  # somebody else's code
            ("ccc333", "ASSIGN-3", "A3WORKER", "ABCDEF"),
            ("aaa111", "ASSIGN-4", "NEVERCAME", "123456"),
            ("zzz999", "ASSIGN-5", "A1WORKER", "123456"),
            ("bbb222", "ASSIGN-6", "A2WORKER", ""),
        ]
    )
    return text, good, other


def test_checker_matches_codes_to_assignments(client, batch, results):
    text, good, _ = results
    response = client.post(
        f"/batches/{batch.id}/survey/check",
        headers=HTMX,
        data={"csrf_token": csrf_token(client), "pasted": text, "action": "check"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"6 rows:.*1 match", html, re.S)
    for verdict in ("wrong code", "unfinished", "no annotation", "unknown HIT", "no code"):
        assert f"1 {verdict}" in html, verdict
    assert "A1WORKER" not in html, "raw MTurk worker ids are not echoed"
    # Our assignment of a problem row: a link to its page under the anonymised worker id, not a row id.
    _, _, other = results
    assert f'<a href="/review/assignments/{other.id}">{other.worker_id}</a>' in html and f"#{other.id}" not in html


def test_checker_reads_an_uploaded_file_and_fills_approve_and_reject(client, batch, results):
    text, _, _ = results
    response = client.post(
        f"/batches/{batch.id}/survey/check",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(client),
            "results": (io.BytesIO(text.encode("utf-8-sig")), "Batch_results.csv"),
            "action": "download",
        },
    )
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    decisions = [(r["AssignmentId"], r["Approve"], r["Reject"].split(" ")[0]) for r in rows]
    assert decisions == [
        ("ASSIGN-1", "x", ""),
        ("ASSIGN-2", "", "The"),
        ("ASSIGN-3", "", "The"),
        ("ASSIGN-4", "", "No"),
        ("ASSIGN-5", "", "This"),
        ("ASSIGN-6", "", "The"),
    ]
    assert rows[0]["WorkerId"] == "A1WORKER", "the requester's own file comes back whole"


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "Upload MTurk's results CSV or paste its content."),
        ({"pasted": "a,b\n1,2\n"}, "lacks the column(s) WorkerId, Input.imageNetHitId, Answer.surveycode"),
    ],
)
def test_checker_explains_what_is_wrong_with_the_input(client, batch, data, message):
    response = client.post(
        f"/batches/{batch.id}/survey/check", headers=HTMX, data={"csrf_token": csrf_token(client), **data}
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True).replace("&#39;", "'")
