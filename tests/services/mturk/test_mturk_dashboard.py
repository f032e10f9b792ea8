"""The MTurk tab and the ``freelunch mturk`` publishing commands: cost first, clear refusals, nothing sent on bad
input."""

import re
from decimal import Decimal

import pytest
from botocore.stub import ANY
from click.testing import CliRunner
from factories import grant_server_account
from flask.cli import ScriptInfo
from mturk_support import ScriptedEndpoint, no_ambient_credentials
from support import csrf_token, login

from freelunch.cli import cli
from freelunch.models import Batch, Dataset, Hit, MTurkAccount, MTurkHit, Organization
from freelunch.services.mturk import gateway, publish


def shown_on(html: str) -> str:
    """The review step's fingerprint of what it showed, as its Publish form posts it."""
    return re.search(r'name="shown" type="hidden" value="(\w*)"', html).group(1)


@pytest.fixture
def requester(app, make_account, client):
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        dataset = Dataset.create(organization=org, name="D")
        batch = Batch.create(
            organization=org,
            dataset=dataset,
            name="Fish",
            title="Find fish",
            description="Click fish",
            reward=Decimal("0.25"),
            assignments_per_hit=3,
            state="ready",
        )
        for key in ("k1", "k2", "k3"):
            Hit.create(organization=org, batch=batch, key=key)
    login(client, "req@example.org")
    return batch


def expect_publish(stubber, batch, hits, sizes=(3,)):
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    stubber.add_response("list_qualification_types", {"QualificationTypes": []}, None)
    stubber.add_response("create_qualification_type", {"QualificationType": {"QualificationTypeId": "3SOFT"}}, None)
    stubber.add_response("create_hit_type", {"HITTypeId": "3TYPE"}, None)
    n = 0
    for hit in hits:
        for part, size in enumerate(sizes):
            token = publish.token(batch.organization_id, batch.id, hit.id, 1, part)
            n += 1
            stubber.add_response(
                "create_hit_with_hit_type",
                {"HIT": {"HITId": f"3H{n:028d}", "RequesterAnnotation": token}},
                {
                    "HITTypeId": "3TYPE",
                    "MaxAssignments": size,
                    "LifetimeInSeconds": ANY,
                    "Question": ANY,
                    "RequesterAnnotation": token,
                    "UniqueRequestToken": token,
                },
            )


def test_the_tab_shows_the_cost_and_publishing_runs_as_a_job(app, client, requester, stubbed, monkeypatch, run_jobs):
    stub_client, stubber = stubbed
    monkeypatch.setattr(gateway, "client", lambda org, sandbox=None: stub_client)
    html = client.get(f"/batches/{requester.id}/mturk").get_data(as_text=True)
    # 3 HITs x 3 assignments x $0.25 = $2.25, + 20 % fee ($0.05 an assignment) = $2.70.
    assert "$2.25" in html and "$0.45" in html and "$2.70" in html and "the MTurk sandbox" in html
    assert "Review and publish" in html and "Publish 3" not in html  # a review step comes first
    review = client.get(f"/batches/{requester.id}/mturk/publish").get_data(as_text=True)
    assert "Publish 3 MTurk HITs for $2.70" in review and "$2.25 in rewards + $0.45 MTurk fee" in review

    expect_publish(stubber, requester, list(Hit.select().order_by(Hit.id)))
    response = client.post(
        f"/batches/{requester.id}/mturk/publish",
        data={"csrf_token": csrf_token(client), "shown": shown_on(review)},
        follow_redirects=True,
    )
    card = " ".join(response.get_data(as_text=True).split())
    assert "Publish 3 MTurk HITs ($2.70 with MTurk&#39;s fee) to the MTurk sandbox</strong> · in the queue" in card
    run_jobs()
    assert MTurkHit.select().where(MTurkHit.state == "created").count() == 3
    html = client.get(f"/batches/{requester.id}/mturk").get_data(as_text=True)
    assert "3 MTurk HITs created, 0 already there: 3 in all on the MTurk sandbox." in html
    assert "Every HIT of the batch is on MTurk." in html and "Spend so far" in html


def test_more_than_nine_assignments_are_split_on_the_page(client, requester):
    Batch.update(assignments_per_hit=12).where(Batch.id == requester.id).execute()
    html = client.get(f"/batches/{requester.id}/mturk").get_data(as_text=True)
    assert "Each HIT becomes 2 MTurk HITs of 6 + 6 assignments" in html and "40%" in html
    assert "Publish 6 MTurk HITs" in client.get(f"/batches/{requester.id}/mturk/publish").get_data(as_text=True)


def test_publish_refuses_settings_other_than_those_reviewed(client, requester, monkeypatch):
    monkeypatch.setattr(gateway, "client", lambda *a, **k: pytest.fail("nothing may be sent"))
    review = client.get(f"/batches/{requester.id}/mturk/publish").get_data(as_text=True)
    Batch.update(reward=Decimal("0.40")).where(Batch.id == requester.id).execute()  # saved in another tab
    response = client.post(
        f"/batches/{requester.id}/mturk/publish",
        data={"csrf_token": csrf_token(client), "shown": shown_on(review)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "changed since you reviewed them: nothing was published" in html and "$0.40 an assignment" in html
    assert not MTurkHit.select().exists()


def test_bad_settings_get_form_errors_and_nothing_is_saved(client, requester):
    form = {
        "csrf_token": csrf_token(client),
        "environment": "sandbox",
        "title": "Find fish",
        "description": "Click",
        "keywords": "fish",
        "reward": "1.005",
        "assignment_minutes": "60",
        "lifetime_hours": "72",
        "auto_approval_hours": "72",
        "min_approval_rate": "95",
        "min_approved_hits": "100",
        "locales": "US, USA",
    }
    response = client.post(f"/batches/{requester.id}/mturk/settings", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "two-letter country codes such as US or GB, not USA" in html
    assert "The reward 1.005 has fractions of a cent" in html
    assert Batch.get_by_id(requester.id).reward == Decimal("0.25")

    response = client.post(
        f"/batches/{requester.id}/mturk/settings",
        data={**form, "reward": "0.30", "locales": "us,gb", "min_approved_hits": ""},
    )
    assert response.status_code == 302
    saved = Batch.get_by_id(requester.id)
    assert saved.reward == Decimal("0.30") and saved.mturk["locales"] == ["US", "GB"]
    assert saved.mturk["min_approved_hits"] is None and saved.mturk["soft_block"] is False


def test_production_publish_needs_confirmation_and_https_and_sends_nothing(app, client, requester, monkeypatch):
    monkeypatch.setattr(gateway, "client", lambda *a, **k: pytest.fail("nothing may be sent"))
    Batch.update(mturk={"sandbox": False}).where(Batch.id == requester.id).execute()
    app.config["MTURK_ENDPOINT_URL"] = None
    review = client.get(f"/batches/{requester.id}/mturk/publish").get_data(as_text=True)
    assert "set PUBLIC_URL to an https:// address" in review and "Publish 3" not in review
    response = client.post(
        f"/batches/{requester.id}/mturk/publish", data={"csrf_token": csrf_token(client)}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "spends real money: confirm it first" in html and "set PUBLIC_URL to an https:// address" in html
    assert not MTurkHit.select().exists()


def test_a_foreign_batch_is_a_404_and_nothing_is_sent(app, client, requester, make_account, monkeypatch):
    monkeypatch.setattr(gateway, "client", lambda *a, **k: pytest.fail("nothing may be sent"))
    _, other = make_account("other@example.org", "Other")
    with app.app_context():
        theirs = Batch.create(
            organization=other,
            dataset=Dataset.create(organization=other, name="X"),
            name="Theirs",
            state="ready",
            reward=Decimal("0.10"),
        )
    token = csrf_token(client)
    for action in ("publish", "check", "expire", "extend", "delete-finished", "settings"):
        assert client.post(f"/batches/{theirs.id}/mturk/{action}", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/batches/{theirs.id}/mturk").status_code == 404


def test_check_connection_shows_the_balance_or_what_is_wrong(app, client, requester, monkeypatch, tmp_path):
    no_ambient_credentials(monkeypatch, tmp_path)
    with ScriptedEndpoint() as turk:
        app.config["MTURK_ENDPOINT_URL"] = turk.url
        url = f"/batches/{requester.id}/mturk/check"
        html = client.post(url, data={"csrf_token": csrf_token(client)}, headers={"HX-Request": "true"}).get_data(
            as_text=True
        )
        assert "No AWS credentials for MTurk" in html and "flash error" in html

        token = csrf_token(client)
        response = client.post(
            "/mturk/credentials",
            data={
                "csrf_token": token,
                "access_key_id": "AKIAEXAMPLE12345",
                "secret_access_key": "s3cret/key/that/is/long",
            },
        )
        assert response.status_code == 302
        assert "s3cret" not in MTurkAccount.get().secret_token
        assert "s3cret" not in client.get("/mturk/credentials").get_data(as_text=True)

        turk.answer({"AvailableBalance": "42.10"})
        html = client.post(url, data={"csrf_token": token}, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "the available balance is $42.10" in html and "this organization&#39;s key pair" in html
    assert [op for op, _ in turk.requests] == ["GetAccountBalance"]


def test_only_owners_handle_credentials(app, client, requester):
    from freelunch.models import Membership
    from freelunch.services.accounts.users import create_user

    with app.app_context():
        member = create_user("member@example.org", "password123")
        Membership.create(user=member, organization=requester.organization_id, role="requester")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "member@example.org")
    assert client.get("/mturk/credentials").status_code == 403
    assert (
        client.post(
            "/mturk/credentials",
            data={
                "csrf_token": csrf_token(client),
                "access_key_id": "AKIAEXAMPLE12345",
                "secret_access_key": "s3cret/key/that/is/long",
            },
        ).status_code
        == 403
    )
    assert not MTurkAccount.select().exists()


# --- the CLI ------------------------------------------------------------------------


def run(app, *args, input=None):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)


def test_cli_publish_shows_the_cost_asks_and_a_second_run_creates_nothing(app, requester, stubbed, monkeypatch):
    stub_client, stubber = stubbed
    monkeypatch.setattr(gateway, "client", lambda org, sandbox=None: stub_client)
    declined = run(app, "mturk", "publish", "--batch", str(requester.id), input="n\n")
    assert declined.exit_code != 0 and "= $2.70 for 3 MTurk HITs" in declined.output
    assert not MTurkHit.select().exists()

    with app.app_context():
        expect_publish(stubber, requester, list(Hit.select().order_by(Hit.id)))
    first = run(app, "mturk", "publish", "--batch", str(requester.id), "--yes")
    assert first.exit_code == 0, first.output
    assert "3 MTurk HITs created, 0 already there: 3 in all on the MTurk sandbox." in first.output
    second = run(app, "mturk", "publish", "--batch", str(requester.id), "--yes")
    assert second.exit_code == 0 and "nothing to publish" in second.output


def test_cli_refuses_bad_input_with_a_message_and_a_non_zero_exit(app, requester, monkeypatch):
    monkeypatch.setattr(gateway, "client", lambda *a, **k: pytest.fail("nothing may be sent"))
    missing = run(app, "mturk", "publish", "--batch", "999", "--yes")
    assert missing.exit_code == 1 and "There is no batch 999." in missing.output
    Batch.update(reward=Decimal("0")).where(Batch.id == requester.id).execute()
    bad = run(app, "mturk", "publish", "--batch", str(requester.id), "--yes")
    assert (
        bad.exit_code == 1 and "MTurk needs a reward of at least $0.01" in bad.output and "Traceback" not in bad.output
    )
    nobody = run(app, "mturk", "balance", "--org", "Nobody")
    assert nobody.exit_code == 1 and "There is no organization 'Nobody'" in nobody.output


def test_cli_balance_and_expire_over_the_wire(app, requester, monkeypatch, tmp_path):
    no_ambient_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with ScriptedEndpoint() as turk:
        app.config["MTURK_ENDPOINT_URL"] = turk.url
        turk.answer({"AvailableBalance": "10000.00"})
        shown = run(app, "mturk", "balance")
        assert shown.exit_code == 0 and "the available balance is $10000.00" in shown.output

        with app.app_context():
            publish.ensure_intents(requester, sandbox=True)
            for n, row in enumerate(MTurkHit.select().order_by(MTurkHit.id)):
                row.state, row.mturk_hit_id = "created", f"3H{n:028d}"
                row.save()
        turk.answer({}).refuse("RequestError", "Boom.", "AWS.MechanicalTurk.Unknown").answer({})
        expired = run(app, "mturk", "expire", "--batch", str(requester.id))
        assert expired.exit_code == 1 and "2 MTurk HITs expired" in expired.output
        assert "MTurk refused to expire MTurk HIT" in expired.output
        turk.answer({})
        again = run(app, "mturk", "expire", "--batch", str(requester.id))
        assert again.exit_code == 0 and "1 MTurk HIT expired, 2 had expired already." in again.output
    assert [op for op, _ in turk.requests] == ["GetAccountBalance"] + ["UpdateExpirationForHIT"] * 4
    assert Organization.select().count() == 1


def test_cli_rotate_credentials_re_encrypts_with_the_new_key(app, requester):
    from cryptography.fernet import Fernet

    from freelunch.services.mturk import credentials

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app.config["MTURK_CREDENTIALS_KEY"] = old
    with app.app_context():
        credentials.store(requester.organization_id, "AKIAEXAMPLE12345", "the-secret-key-itself")
    app.config["MTURK_CREDENTIALS_KEY"] = f"{new},{old}"
    rotated = run(app, "mturk", "rotate-credentials")
    assert rotated.exit_code == 0 and "1 key pairs re-encrypted" in rotated.output
    app.config["MTURK_CREDENTIALS_KEY"] = new
    with app.app_context():
        assert credentials.load(requester.organization_id).secret_access_key == "the-secret-key-itself"
