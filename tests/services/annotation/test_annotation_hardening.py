"""Fake workers: made-up ids cannot open more assignments than a HIT asks for, nor smuggle text into MTurk's calls."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from factories import make_batch, pointer_batch, summary_for
from support import csrf_token, open_assignment, post_ingest, post_page, survey_url

from freelunch.models import Assignment, Batch, PageSubmission
from freelunch.services.accounts.identity import assignment_token, token_claims
from freelunch.services.ingest.closing import GRACE_MS
from freelunch.services.review import labels


@pytest.fixture
def hit(app, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, hits=1, assignments_per_hit=3)
    return batch.hits.get()


def test_thirty_made_up_workers_get_three_assignments_on_a_hit_of_three(client, hit):
    answers = [client.get(survey_url(hit, f"AFAKE{n:02d}")).status_code for n in range(30)]
    assert answers == [303] * 3 + [409] * 27
    assert Assignment.select().where(Assignment.hit == hit).count() == 3
    full = client.get(survey_url(hit, "ALATECOMER"))
    assert "all the workers it needs" in full.get_data(as_text=True)
    assert client.get(survey_url(hit, "AFAKE01")).status_code == 303, "a worker who holds a place keeps it"


def test_an_abandoned_assignment_frees_its_place(client, hit):
    for n in range(3):
        open_assignment(client, hit, f"AWORKER{n}")
    assert client.get(survey_url(hit, "ANEWCOMER")).status_code == 409
    gone = Assignment.select().where(Assignment.hit == hit).order_by(Assignment.id).first()
    Assignment.update(started_at=gone.started_at - dt.timedelta(hours=2)).where(Assignment.id == gone.id).execute()
    assert client.get(survey_url(hit, "ANEWCOMER")).status_code == 303
    assert client.get(survey_url(hit, "AWORKER0")).status_code == 409, "its worker lost the place to the newcomer"


def test_lab_links_skip_full_hits_and_stop_when_all_are_taken(app, client, make_account):
    _, org = make_account("lab@example.org", "Lab")
    batch = make_batch(app, org, hits=1, assignments_per_hit=2)
    link = batch.lab_links.model.create(organization=org, batch=batch)
    assert [
        client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=annotator {n}").status_code for n in range(3)
    ] == [
        303,
        303,
        404,
    ]


MTURK = {"turkSubmitTo": "https://workersandbox.mturk.com", "assignmentId": "3ASG", "hitId": "3HIT"}


@pytest.mark.parametrize(
    "param, value",
    [
        ("assignmentId", '=HYPERLINK("http://evil.example")'),
        ("assignmentId", "asg1"),
        ("hitId", "-X"),
        ("workerId", "=1-1"),
        ("workerId", "a1worker"),
        ("assignmentId", "A" * 65),
    ],
)
def test_mturk_parameters_must_look_like_mturk_ids(client, hit, param, value):
    params = {**MTURK, "workerId": "A1WORKER", param: value}
    response = client.get(survey_url(hit, params.pop("workerId"), **params))
    assert response.status_code == 400
    assert Assignment.select().count() == 0


def test_survey_and_lab_links_keep_free_form_worker_names(client, hit):
    assert client.get(survey_url(hit, "ada lovelace")).status_code == 303
    assert client.get(survey_url(hit, "bad\x01name")).status_code == 400


def test_a_requester_leaves_a_worker_out_of_the_labels(app, client, campaign):
    batch = campaign.batch
    worker = campaign.assignments["h1w1"].worker_id
    with app.app_context():
        before = labels.summary(batch, labels.default_rule(batch))
    response = client.post(
        f"/review/batches/{batch.id}/exclusions", data={"csrf_token": csrf_token(client), "worker_id": worker}
    )
    assert response.status_code == 302
    batch = Batch.get_by_id(batch.id)
    assert batch.excluded_workers == [worker]
    with app.app_context():
        after = labels.summary(batch, labels.default_rule(batch))
    assert after.excluded_workers == [worker] and after != before
    page = client.get(f"/review/batches/{batch.id}/workers").get_data(as_text=True)
    assert "Count again" in page
    client.post(
        f"/review/batches/{batch.id}/exclusions",
        data={"csrf_token": csrf_token(client), "worker_id": worker, "action": "include"},
    )
    assert Batch.get_by_id(batch.id).excluded_workers == []
    foreign = client.post(
        f"/review/batches/{batch.id}/exclusions", data={"csrf_token": csrf_token(client), "worker_id": "NOBODY0000"}
    )
    assert foreign.status_code == 404


# --- pointer data after Submit ---------------------------------------------------


def _close_moment_ago(app, redis_client, assignment, page, ms_ago):
    from freelunch.services.ingest.closing import page_closed_key

    now = int(time.time() * 1000)
    redis_client.set(page_closed_key(app.config, assignment.id, page), now - ms_ago)


def test_a_page_stream_closes_at_submit_after_a_short_grace(app, client, hit, redis_client):
    token, assignment = open_assignment(client, hit, "AWORKER1")
    assert post_ingest(client, pointer_batch(token, seq=0, page=1)).status_code == 202
    assert post_page(client, token, 1, summary_for(hit, 1)).status_code == 200
    assert post_ingest(client, pointer_batch(token, seq=1, page=1)).status_code == 202, "a late beacon within the grace"
    _close_moment_ago(app, redis_client, assignment, 1, GRACE_MS + 1000)
    late = post_ingest(client, pointer_batch(token, seq=2, page=1))
    assert late.status_code == 409 and "submitted" in late.get_json()["message"]
    assert post_ingest(client, pointer_batch(token, seq=0, page=2)).status_code == 202, "the next page is open"


def test_pages_outside_the_hit_are_refused(client, hit):
    token, _ = open_assignment(client, hit, "AWORKER1")
    assert hit.pages.count() == 2
    for page in (3, 999):
        response = post_ingest(client, pointer_batch(token, seq=0, page=page))
        assert response.status_code == 400 and "2 pages" in response.get_json()["message"]


def test_tokens_expire_with_the_assignments_duration(app, client, hit):
    token, assignment = open_assignment(client, hit, "AWORKER1")
    with app.app_context():
        claims = token_claims(token)
        expired = assignment_token(assignment.id, 2, seconds=-1)
    assert claims.pages == 2 and 3500 <= claims.expires_at - time.time() <= 3600  # the batch's default hour
    assert post_ingest(client, pointer_batch(expired, seq=0, page=1)).status_code == 403
    page = client.get(f"/annotate?token={expired}")
    assert page.status_code == 403 and "longer than the HIT allows" in page.get_data(as_text=True)
    assert post_page(client, expired, 1, summary_for(hit, 1)).status_code == 403
    assert not PageSubmission.select().exists()
