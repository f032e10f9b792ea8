"""Publishing over the wire, against the local MTurk (fixture ``local_mturk``): MTurk's rules, throttling, a dropped
create.

The stand-in validates every request against botocore's model, throttles the
first call of each operation when asked and drops the answer of a create
after performing it; here the gateway's unmodified boto3 client talks to it.
"""

import datetime as dt
from decimal import Decimal

import pytest
from click.testing import CliRunner
from factories import grant_server_account
from flask.cli import ScriptInfo

from freelunch.cli import cli
from freelunch.localturk.requester import available_balance
from freelunch.models import Batch, Dataset, Hit, MTurkExtension, MTurkHit, Organization, utcnow
from freelunch.services.mturk import gateway, lifecycle, publish


@pytest.fixture
def wire_batch(app, local_mturk):
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    with app.app_context():
        org = Organization.create(name="Lab")
        return ready_batch(org, "wire")


def ready_batch(org, keys: str) -> Batch:
    """A ready batch of 5 HITs, 3 assignments at $0.10, that ``org`` may publish on the server's account."""
    grant_server_account(org)
    batch = Batch.create(
        organization=org,
        dataset=Dataset.create(organization=org, name="D"),
        name="Fish",
        title="Find fish",
        description="Click every fish",
        reward=Decimal("0.10"),
        assignments_per_hit=3,
        state="ready",
    )
    for n in range(5):
        Hit.create(organization=org, batch=batch, key=f"{keys}{n}")
    return batch


def run(app, *args):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def remote_hits(local_mturk) -> dict[str, object]:
    with local_mturk.store.lock:
        return {h.requester_annotation: h for h in local_mturk.store.hits.values() if not h.disposed}


def test_cli_publishes_every_hit_exactly_once_through_throttling_and_a_dropped_create(app, local_mturk, wire_batch):
    local_mturk.inject(throttle_first=True, drop_creates=1)
    first = run(app, "mturk", "publish", "--batch", str(wire_batch.id), "--yes")
    assert first.exit_code == 0, first.output
    # 5 HITs x 3 assignments x $0.10 = $1.50, + 20 % with MTurk's $0.01 minimum ($0.02 each) = $1.80.
    assert "= $1.50 + $0.30 MTurk fee = $1.80 for 5 MTurk HITs." in first.output
    assert (
        "4 MTurk HITs created, 1 recovered from an interrupted publish, 0 already there: "
        "5 in all on the local MTurk stand-in." in first.output
    )
    with local_mturk.store.lock:
        assert local_mturk.store.faults.dropped and local_mturk.store.faults.throttled  # the faults did happen
        assert available_balance(local_mturk.store) == Decimal("10000.00") - Decimal("1.80")  # charged once
    hits = remote_hits(local_mturk)
    tokens = [r.unique_request_token for r in MTurkHit.select()]
    assert sorted(hits) == sorted(tokens) and len(hits) == 5  # one HIT per token, none twice
    assert {r.mturk_hit_id for r in MTurkHit.select()} == {h.id for h in hits.values()}
    assert len({h.type_id for h in hits.values()}) == 1  # one HIT type for the batch

    second = run(app, "mturk", "publish", "--batch", str(wire_batch.id), "--yes")
    assert second.exit_code == 0 and "nothing to publish" in second.output
    assert len(remote_hits(local_mturk)) == 5

    # Extending shows what it adds with MTurk's fee and asks first: 5 HITs x 1 assignment x $0.10 + 20 %.
    declined = CliRunner().invoke(
        cli,
        ["mturk", "extend", "--batch", str(wire_batch.id), "--assignments", "1"],
        obj=ScriptInfo(create_app=lambda: app),
        input="n\n",
    )
    assert declined.exit_code != 0 and "$0.50 + $0.10 MTurk fee = $0.60." in declined.output
    assert not MTurkExtension.select().exists()
    assert available_balance(local_mturk.store) == Decimal("10000.00") - Decimal("1.80")

    shown = run(app, "mturk", "balance")
    assert shown.exit_code == 0 and "Connected to the local MTurk stand-in" in shown.output

    expired = run(app, "mturk", "expire", "--batch", str(wire_batch.id))
    assert expired.exit_code == 0 and "5 MTurk HITs expired" in expired.output
    now = local_mturk.store.now()
    assert all(h.expiration <= now for h in remote_hits(local_mturk).values())


def test_the_hit_type_carries_the_qualifications_and_the_soft_block_type_is_made_once(app, local_mturk, wire_batch):
    with app.app_context():
        Batch.update(one_hit_per_worker=True, mturk={"locales": ["US", "GB"]}).where(
            Batch.id == wire_batch.id
        ).execute()
        publish.publish(Batch.get_by_id(wire_batch.id))
    with local_mturk.store.lock:
        (hit_type,) = local_mturk.store.hit_types.values()
        types = {q.name: q.id for q in local_mturk.store.qualification_types.values()}
    wanted = {q["QualificationTypeId"]: q for q in hit_type.qualification_requirements}
    assert wanted["000000000000000000L0"]["IntegerValues"] == [95]
    assert wanted["00000000000000000040"]["IntegerValues"] == [100]
    assert wanted["00000000000000000071"]["LocaleValues"] == [{"Country": "US"}, {"Country": "GB"}]
    ours = [name for name in types if name.startswith("Freelunch")]
    assert len(ours) == 2 and {wanted[types[n]]["Comparator"] for n in ours} == {"DoesNotExist"}


def test_a_token_past_mturks_24_hours_is_found_by_its_annotation_not_created_again(app, local_mturk, wire_batch):
    """A publish that died after MTurk made a HIT, resumed two days later when MTurk has forgotten the token."""
    with app.app_context():
        publish.ensure_intents(wire_batch, sandbox=True)
        lost = MTurkHit.select().order_by(MTurkHit.id).first()
        mturk = gateway.client(None)
        hit_type = mturk.create_hit_type(
            Title="Find fish", Description="Click every fish", Reward="0.10", AssignmentDurationInSeconds=3600
        )["HITTypeId"]
        mturk.create_hit_with_hit_type(
            HITTypeId=hit_type,
            MaxAssignments=3,
            LifetimeInSeconds=7 * 24 * 3600,
            Question=publish.external_question(lost.hit),
            UniqueRequestToken=lost.unique_request_token,
            RequesterAnnotation=lost.unique_request_token,
        )
        MTurkHit.update(sent_at=utcnow() - dt.timedelta(hours=49)).where(MTurkHit.id == lost.id).execute()
        local_mturk.advance(49 * 3600)
        result = publish.publish(Batch.get_by_id(wire_batch.id))
    assert (result.created, result.adopted) == (4, 1)
    assert len(remote_hits(local_mturk)) == 5


def test_twelve_assignments_are_split_and_extending_respects_the_ten_assignment_rule(app, local_mturk, wire_batch):
    with app.app_context():
        Batch.update(assignments_per_hit=12).where(Batch.id == wire_batch.id).execute()
        batch = Batch.get_by_id(wire_batch.id)
        assert publish.publish(batch).created == 10  # 5 HITs x (6 + 6)
        outcome = lifecycle.extend(Batch.get_by_id(wire_batch.id), 7)  # 6 + 3 and 6 + 3, then one new MTurk HIT of 1
        assert outcome.failed == 0, outcome.errors
    sizes = sorted(h.max_assignments for h in remote_hits(local_mturk).values())
    assert sizes == [1] * 5 + [9] * 10 and max(sizes) < 10
    assert sorted(r.max_assignments for r in MTurkHit.select()) == sizes


def test_finished_hits_are_deleted_and_the_others_left(app, local_mturk, wire_batch):
    with app.app_context():
        publish.publish(wire_batch)
        first = MTurkHit.select().order_by(MTurkHit.id).first()
        local_mturk.accept(first.mturk_hit_id)  # a worker is at work on this one
        lifecycle.expire(wire_batch)
        outcome = lifecycle.delete_finished(wire_batch)
    assert (outcome.done, outcome.skipped, outcome.failed) == (4, 1, 0)
    assert MTurkHit.get_by_id(first.id).state == "created"
    assert list(remote_hits(local_mturk)) == [first.unique_request_token]


def test_extending_shows_what_it_adds_and_its_total_with_the_fee_before_it_spends(
    app, client, local_mturk, make_account
):
    from support import csrf_token, login

    from freelunch.services import jobs

    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        batch = ready_batch(org, "ext")
        assert publish.publish(batch).created == 5
    login(client, "owner@example.org")
    url = f"/batches/{batch.id}/mturk/extend"
    token = csrf_token(client)
    page = client.post(url, data={"csrf_token": token, "more": "1"})
    said = " ".join(page.get_data(as_text=True).split())
    assert page.status_code == 200 and 'id="extend-review"' in said
    # 5 assignments x $0.10 + MTurk's 20 % ($0.02 each): $0.60, and nothing is asked of MTurk yet.
    assert "Add 1 assignment to each of the batch's 5 HITs: 5 assignments × $0.10 = $0.50 in rewards" in said
    assert "+ $0.10 MTurk fee = <strong>$0.60</strong>" in said and "Extend for $0.60" in said
    with app.app_context():
        assert jobs.recent(org.id, f"mturk:{batch.id}") == []
    client.post(url, data={"csrf_token": token, "more": "1", "confirmed": "1"})
    with app.app_context():
        assert [job.title for job in jobs.recent(org.id, f"mturk:{batch.id}")] == [
            "Add 1 assignment to every HIT on MTurk"
        ]


@pytest.mark.parametrize("more", ["-3", "0", "101", "", "three", "2.5"])
def test_extending_by_a_number_out_of_range_says_which_numbers_it_takes(app, client, make_account, more):
    """The walk: -3 assignments said only "Give a number of assignments."; each refusal now says what is allowed."""
    from support import csrf_token, login

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        batch = ready_batch(org, "ext")
    login(client, "owner@example.org")
    page = client.post(
        f"/batches/{batch.id}/mturk/extend",
        data={"csrf_token": csrf_token(client), "more": more},
        follow_redirects=True,
    )
    said = page.get_data(as_text=True)
    assert page.status_code == 200 and "Give a whole number of assignments from 1 to 100." in said
    assert 'id="extend-review"' not in said
