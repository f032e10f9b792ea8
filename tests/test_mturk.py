"""MTurk calls go through boto3 and are checked against the real service model by botocore's Stubber."""
from decimal import Decimal

import boto3
import pytest
from botocore.stub import ANY, Stubber

from freelunch.models import Batch, Dataset, Hit, Organization
from freelunch.services.mturk import campaign as mturk


@pytest.fixture
def stubbed():
    client = boto3.client("mturk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def batch(app):
    org = Organization.create(name="Lab")
    dataset = Dataset.create(organization=org, name="D")
    batch = Batch.create(organization=org, dataset=dataset, name="B", title="Find fish", reward=Decimal("0.5"),
                         description="Click every fish", assignments_per_hit=3)
    Hit.create(organization=org, batch=batch, key="aaa111")
    Hit.create(organization=org, batch=batch, key="bbb222")
    return batch


def _hit_response(hit_id: str) -> dict:
    return {"HIT": {"HITId": hit_id}}


def test_publish_creates_each_hit_once_with_escaped_external_url(app, batch, stubbed):
    client, stubber = stubbed
    for key, hit_id in (("aaa111", "H1"), ("bbb222", "H2")):
        stubber.add_response("create_hit", _hit_response(hit_id), {
            "MaxAssignments": 3, "LifetimeInSeconds": ANY, "AssignmentDurationInSeconds": 3600,
            "AutoApprovalDelayInSeconds": ANY, "Reward": "0.50", "Title": "Find fish", "Keywords": ANY,
            "Description": "Click every fish", "Question": ANY, "RequesterAnnotation": key,
            "UniqueRequestToken": f"freelunch-{key}",
        })
    with app.app_context():
        assert mturk.publish_batch(batch, client) == 2
        question = mturk.external_question(Hit.get(Hit.key == "aaa111"))
    assert "hitDatasetName=" in question and "&amp;imageNetHitId=aaa111" in question and "&imageNetHitId" not in question
    assert [h.mturk_hit_id for h in Hit.select().order_by(Hit.id)] == ["H1", "H2"]
    assert Batch.get_by_id(batch.id).state == "published"
    with app.app_context():
        assert mturk.publish_batch(batch, client) == 0  # nothing left to publish, no call made


def test_publish_retry_finds_the_hit_that_the_token_protected(app, batch, stubbed):
    client, stubber = stubbed
    Hit.update(mturk_hit_id="H2").where(Hit.key == "bbb222").execute()
    stubber.add_client_error("create_hit", "RequestError",
                             "There is already a HIT with this UniqueRequestToken: freelunch-aaa111")
    stubber.add_response("list_hits", {"HITs": [{"HITId": "OTHER", "RequesterAnnotation": "zzz"}], "NextToken": "t2"}, {"MaxResults": 100})
    stubber.add_response("list_hits", {"HITs": [{"HITId": "H1", "RequesterAnnotation": "aaa111"}]}, {"MaxResults": 100, "NextToken": "t2"})
    with app.app_context():
        mturk.publish_batch(batch, client)
    assert Hit.get(Hit.key == "aaa111").mturk_hit_id == "H1"


def test_publish_reports_a_refusal_clearly(app, batch, stubbed):
    client, stubber = stubbed
    stubber.add_client_error("create_hit", "RequestError", "Your account balance is insufficient.")
    with app.app_context(), pytest.raises(mturk.MTurkError, match="balance is insufficient"):
        mturk.publish_batch(batch, client)
    assert Hit.select().where(Hit.mturk_hit_id.is_null(False)).count() == 0


def test_publish_from_the_dashboard_runs_as_an_rq_job(app, client, make_account, stubbed, monkeypatch, redis_client):
    from rq import Queue, SimpleWorker

    from support import csrf_token, login

    stub_client, stubber = stubbed
    _, org = make_account("req@example.org", "Lab")
    dataset = Dataset.create(organization=org, name="D")
    batch = Batch.create(organization=org, dataset=dataset, name="B", state="ready", reward=Decimal("0.25"))
    Hit.create(organization=org, batch=batch, key="ccc333")
    stubber.add_response("create_hit", _hit_response("H3"), {
        "MaxAssignments": 3, "LifetimeInSeconds": ANY, "AssignmentDurationInSeconds": ANY,
        "AutoApprovalDelayInSeconds": ANY, "Reward": "0.25", "Title": "B", "Keywords": ANY, "Description": "B",
        "Question": ANY, "RequesterAnnotation": "ccc333", "UniqueRequestToken": "freelunch-ccc333"})
    monkeypatch.setattr(mturk, "client", lambda: stub_client)

    login(client, "req@example.org")
    response = client.post(f"/batches/{batch.id}/mturk/publish", data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "Publishing 1 HITs to MTurk" in response.get_data(as_text=True)
    with app.app_context():
        SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)
    assert Hit.get(Hit.key == "ccc333").mturk_hit_id == "H3"
    assert Batch.get_by_id(batch.id).state == "published"
