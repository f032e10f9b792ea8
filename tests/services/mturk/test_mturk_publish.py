"""Publishing a batch to MTurk: the HIT type, qualifications, cost, and each HIT exactly once (Stubber against the
model)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from botocore.stub import ANY
from factories import grant_server_account
from mturk_support import client_error

from freelunch.models import Batch, Dataset, Hit, MTurkHit, MTurkQualificationType, Organization, utcnow
from freelunch.services.mturk import cost, publish, settings
from freelunch.services.mturk.errors import HIT_ALREADY_EXISTS, MTurkError

SOFT_BLOCK_ID = "3SOFTBLOCKQUALIFICATIONTYPE0"


def hit_id(n: int) -> str:
    return f"3HIT{n:026d}"  # MTurk's HIT ids: 30 upper-case letters and digits


@pytest.fixture
def batch(app):
    with app.app_context():
        org = Organization.create(name="Lab")
        grant_server_account(org)
        dataset = Dataset.create(organization=org, name="D")
        batch = Batch.create(
            organization=org,
            dataset=dataset,
            name="B",
            title="Find fish",
            reward=Decimal("0.50"),
            description="Click every fish",
            assignments_per_hit=3,
            state="ready",
        )
        for key in ("aaa111", "bbb222"):
            Hit.create(organization=org, batch=batch, key=key)
        yield batch


@pytest.fixture
def turk(stubbed):
    return stubbed


def expect_setup(stubber, batch, balance="10000.00", soft_block_known=False, extra_requirements=(), new_types=()):
    """The calls before the first HIT: balance, qualification types we own (looked up by name, then created), the HIT
    type."""
    stubber.add_response("get_account_balance", {"AvailableBalance": balance}, {})
    for type_id in ([] if soft_block_known else [SOFT_BLOCK_ID]) + list(new_types):
        stubber.add_response(
            "list_qualification_types",
            {"QualificationTypes": []},
            {"Query": ANY, "MustBeRequestable": False, "MustBeOwnedByCaller": True, "MaxResults": 100},
        )
        stubber.add_response(
            "create_qualification_type",
            {"QualificationType": {"QualificationTypeId": type_id}},
            {"Name": ANY, "Description": ANY, "Keywords": "freelunch", "QualificationTypeStatus": "Active"},
        )
    stubber.add_response(
        "create_hit_type",
        {"HITTypeId": "3HITTYPE"},
        {
            "Title": "Find fish",
            "Description": "Click every fish",
            "Keywords": ANY,
            "Reward": "0.50",
            "AssignmentDurationInSeconds": 3600,
            "AutoApprovalDelayInSeconds": 3 * 24 * 3600,
            "QualificationRequirements": [
                {
                    "QualificationTypeId": settings.APPROVAL_RATE,
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [95],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                },
                {
                    "QualificationTypeId": settings.APPROVED_HITS,
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [100],
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                },
                {
                    "QualificationTypeId": SOFT_BLOCK_ID,
                    "Comparator": "DoesNotExist",
                    "ActionsGuarded": "DiscoverPreviewAndAccept",
                },
                *extra_requirements,
            ],
        },
    )


def expect_create(stubber, batch, hit_key, part, number, max_assignments=3):
    hit = Hit.get(Hit.key == hit_key)
    token = publish.token(batch.organization_id, batch.id, hit.id, 1, part)
    stubber.add_response(
        "create_hit_with_hit_type",
        {
            "HIT": {
                "HITId": hit_id(number),
                "HITTypeId": "3HITTYPE",
                "HITStatus": "Assignable",
                "RequesterAnnotation": token,
            }
        },
        {
            "HITTypeId": "3HITTYPE",
            "MaxAssignments": max_assignments,
            "LifetimeInSeconds": 7 * 24 * 3600,
            "Question": ANY,
            "RequesterAnnotation": token,
            "UniqueRequestToken": token,
        },
    )
    return token


def test_publish_makes_one_hit_type_and_each_hit_once(batch, turk):
    client, stubber = turk
    expect_setup(stubber, batch)
    expect_create(stubber, batch, "aaa111", 0, 1)
    expect_create(stubber, batch, "bbb222", 0, 2)
    result = publish.publish(batch, mturk=client)
    assert (result.created, result.adopted, result.already, result.total) == (2, 0, 0, 2)
    assert [r.mturk_hit_id for r in MTurkHit.select().order_by(MTurkHit.id)] == [hit_id(1), hit_id(2)]
    assert Hit.get(Hit.key == "aaa111").mturk_hit_id == hit_id(1)  # part 0 also on the HIT, for links by hitId
    assert Batch.get_by_id(batch.id).state == "published"
    assert MTurkQualificationType.get().qualification_type_id == SOFT_BLOCK_ID

    again = publish.publish(batch, mturk=client)  # nothing queued on the stubber: a call would fail the test
    assert (again.created, again.already) == (0, 2)


def test_the_external_url_is_xml_escaped(batch):
    question = publish.external_question(Hit.get(Hit.key == "aaa111"))
    assert f"hitDatasetName={batch.id}&amp;imageNetHitId=aaa111" in question and "&imageNetHitId" not in question


def test_a_lost_create_response_is_adopted_by_its_token(batch, turk):
    """The retry after a lost response is refused with HitAlreadyExists; the HIT named in the message is confirmed and
    kept."""
    client, stubber = turk
    expect_setup(stubber, batch)
    token = publish.token(batch.organization_id, batch.id, Hit.get(Hit.key == "aaa111").id, 1, 0)
    stubber.add_client_error(
        "create_hit_with_hit_type",
        **client_error(
            "RequestError",
            f"The HIT type 3HITTYPE0000000000000000000000 already has HIT {hit_id(7)} for this token.",
            HIT_ALREADY_EXISTS,
        ),
    )
    stubber.add_response(
        "get_hit",
        {"HIT": {"HITId": "3HITTYPE0000000000000000000000", "RequesterAnnotation": "other"}},
        {"HITId": "3HITTYPE0000000000000000000000"},
    )
    stubber.add_response(
        "get_hit",
        {
            "HIT": {
                "HITId": hit_id(7),
                "RequesterAnnotation": token,
                "HITStatus": "Assignable",
                "Expiration": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            }
        },
        {"HITId": hit_id(7)},
    )
    expect_create(stubber, batch, "bbb222", 0, 8)
    result = publish.publish(batch, mturk=client)
    assert (result.created, result.adopted) == (1, 1)
    adopted = MTurkHit.get(MTurkHit.unique_request_token == token)
    assert adopted.mturk_hit_id == hit_id(7) and adopted.expires_at == dt.datetime(2030, 1, 1)


def test_a_crashed_publish_resumes_where_it_stopped(batch, turk):
    client, stubber = turk
    expect_setup(stubber, batch)
    expect_create(stubber, batch, "aaa111", 0, 1)
    stubber.add_client_error("create_hit_with_hit_type", **client_error("ServiceFault", "Internal error", status=500))
    with pytest.raises(MTurkError, match="MTurk had an internal problem"):
        publish.publish(batch, mturk=client)
    states = {r.hit.key: (r.state, r.sent_at is not None) for r in MTurkHit.select()}
    assert states == {"aaa111": ("created", True), "bbb222": ("intended", True)}

    expect_setup(stubber, batch, soft_block_known=True)
    expect_create(stubber, batch, "bbb222", 0, 2)
    result = publish.publish(batch, mturk=client)
    assert (result.created, result.already, result.total) == (1, 1, 2)


def test_a_token_past_the_24_hour_window_is_looked_for_before_it_is_sent_again(batch, turk):
    client, stubber = turk
    publish.ensure_intents(batch, sandbox=True)
    long_ago = utcnow() - dt.timedelta(hours=25)
    MTurkHit.update(sent_at=long_ago).execute()
    found_token = MTurkHit.get(MTurkHit.hit == Hit.get(Hit.key == "aaa111")).unique_request_token
    expect_setup(stubber, batch)
    stubber.add_response(
        "list_hits",
        {"HITs": [{"HITId": "3OTHER", "RequesterAnnotation": "someone else"}], "NextToken": "n2"},
        {"MaxResults": 100},
    )
    stubber.add_response(
        "list_hits",
        {"HITs": [{"HITId": hit_id(5), "RequesterAnnotation": found_token}]},
        {"MaxResults": 100, "NextToken": "n2"},
    )
    expect_create(stubber, batch, "bbb222", 0, 6)  # not on MTurk: created again, once
    result = publish.publish(batch, mturk=client)
    assert (result.created, result.adopted) == (1, 1)
    assert MTurkHit.get(MTurkHit.unique_request_token == found_token).mturk_hit_id == hit_id(5)


def test_more_than_nine_assignments_are_split_and_the_cost_says_why(batch, turk):
    client, stubber = turk
    batch.assignments_per_hit = 12
    batch.save()
    the_plan = publish.plan(batch)
    assert the_plan.split == [6, 6] and "40%" in the_plan.split_reason and not the_plan.problems
    assert (the_plan.whole.mturk_hits, the_plan.whole.assignments) == (4, 24)
    assert the_plan.whole.rewards == Decimal("12.00") and the_plan.whole.fees == Decimal("2.40")  # 20 %, not 40 %
    expect_setup(stubber, batch)
    for n, (key, part) in enumerate([("aaa111", 0), ("aaa111", 1), ("bbb222", 0), ("bbb222", 1)]):
        expect_create(stubber, batch, key, part, n, max_assignments=6)
    assert publish.publish(batch, mturk=client).created == 4
    assert publish.plan(batch).remaining.total == 0


def test_cost_estimate_and_fee_steps():
    assert cost.split(9) == [9] and cost.split(10) == [5, 5] and cost.split(19) == [7, 6, 6] and cost.split(0) == []
    small = cost.estimate(hits=2, assignments_per_hit=3, reward=Decimal("0.50"))
    assert (small.rewards, small.fees, small.total) == (Decimal("1.50") * 2, Decimal("0.60"), Decimal("3.60"))
    assert cost.fee(Decimal("0.50"), 10) == Decimal("0.20")  # 40 % from 10 assignments a HIT
    assert cost.fee(Decimal("0.02")) == Decimal("0.01")  # MTurk's minimum fee
    assert cost.fee(Decimal("0.00")) == Decimal("0.00")


def test_the_balance_must_cover_the_cost(batch, turk):
    client, stubber = turk
    stubber.add_response("get_account_balance", {"AvailableBalance": "3.59"}, {})
    with pytest.raises(MTurkError, match=r"costs \$3.60 but the account has \$3.59"):
        publish.publish(batch, mturk=client)
    assert not MTurkHit.select().where(MTurkHit.state != "intended").exists()


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"reward": Decimal("1.005")}, "has fractions of a cent"),
        ({"reward": Decimal("0")}, "at least $0.01"),
        ({"title": "t" * 129}, "Title allows at most 128 characters"),
        ({"state": "building"}, "Build the batch's HITs"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(batch, turk, change, problem):
    client, _ = turk
    for name, value in change.items():  # in memory: PostgreSQL's numeric(8, 2) would round 1.005 on saving
        setattr(batch, name, value)
    assert any(problem in p for p in publish.plan(batch).problems)
    with pytest.raises(MTurkError, match=re.escape(problem)):
        publish.publish(batch, mturk=client)
    assert not MTurkHit.select().exists()


def test_production_needs_confirmation_and_https(app, batch):
    settings.save(batch, settings.MTurkSettings(sandbox=False))
    app.config["MTURK_ENDPOINT_URL"] = None
    problems = publish.plan(batch).problems
    assert any("spends real money: confirm" in p for p in problems)
    assert any("set PUBLIC_URL to an https:// address (it is http://localhost)" in p for p in problems)
    app.config["PUBLIC_URL"] = "https://label.example.org"
    assert publish.plan(batch, confirm_production=True).problems == []
    app.config.update(PUBLIC_URL="http://127.0.0.1:5000", MTURK_ENDPOINT_URL="http://127.0.0.1:5001")
    assert publish.plan(batch, confirm_production=True).problems == []  # the local stand-in is the only exception


def test_one_hit_per_worker_makes_a_did_this_batch_qualification(batch, turk):
    client, stubber = turk
    Batch.update(one_hit_per_worker=True).where(Batch.id == batch.id).execute()
    batch = Batch.get_by_id(batch.id)
    MTurkQualificationType.create(
        organization=batch.organization_id,
        sandbox=True,
        purpose="soft-block",
        name="x",
        qualification_type_id=SOFT_BLOCK_ID,
    )
    did_requirement = {
        "QualificationTypeId": "3DIDBATCH",
        "Comparator": "DoesNotExist",
        "ActionsGuarded": "DiscoverPreviewAndAccept",
    }
    expect_setup(stubber, batch, soft_block_known=True, new_types=["3DIDBATCH"], extra_requirements=[did_requirement])
    expect_create(stubber, batch, "aaa111", 0, 1)
    expect_create(stubber, batch, "bbb222", 0, 2)
    publish.publish(batch, mturk=client)
    did = MTurkQualificationType.get(MTurkQualificationType.purpose == f"did-batch:{batch.id}")
    assert did.qualification_type_id == "3DIDBATCH"


def test_a_qualification_type_created_before_a_crash_is_found_by_name(batch, turk):
    client, stubber = turk
    from freelunch.services.mturk import qualifications

    row = qualifications._intent(batch.organization_id, True, qualifications.SOFT_BLOCK)
    stubber.add_response(
        "list_qualification_types",
        {
            "QualificationTypes": [
                {"QualificationTypeId": "3NOTIT", "Name": row.name + " (2)"},
                {"QualificationTypeId": "3FOUND", "Name": row.name},
            ]
        },
        None,
    )
    assert qualifications.ensure(client, batch.organization_id, True, qualifications.SOFT_BLOCK) == "3FOUND"
    assert qualifications.ensure(client, batch.organization_id, True, qualifications.SOFT_BLOCK) == "3FOUND"  # no call


def test_no_mturk_call_inside_a_database_transaction(batch, turk):
    from freelunch.db import database
    from freelunch.services.mturk import gateway

    client, _ = turk
    with database.atomic(), pytest.raises(RuntimeError, match="inside a database transaction"):
        gateway.balance(client)


# --- lifecycle ----------------------------------------------------------------------


def published(batch, sizes=(3,)):
    """The batch as if published: its intent rows created on MTurk with made-up ids."""
    publish.ensure_intents(batch, sandbox=True)
    for n, row in enumerate(MTurkHit.select().order_by(MTurkHit.id)):
        row.state, row.mturk_hit_id = "created", hit_id(n)
        row.save()
    return list(MTurkHit.select().order_by(MTurkHit.id))


def test_extend_fills_each_mturk_hit_to_nine_and_puts_the_rest_on_new_ones(batch, turk):
    from freelunch.services.mturk import lifecycle

    client, stubber = turk
    rows = published(batch)  # two HITs of 3 assignments
    stubber.add_response("get_account_balance", {"AvailableBalance": "100.00"}, {})
    for row in rows:  # 3 + 6 = 9: as far as one MTurk HIT goes
        stubber.add_response(
            "get_hit", {"HIT": {"HITId": row.mturk_hit_id, "MaxAssignments": 3}}, {"HITId": row.mturk_hit_id}
        )
        stubber.add_response(
            "create_additional_assignments_for_hit",
            {},
            {"HITId": row.mturk_hit_id, "NumberOfAdditionalAssignments": 6, "UniqueRequestToken": ANY},
        )
    expect_setup(stubber, batch)  # the 2 left over per HIT: a new MTurk HIT each, published exactly once
    expect_create(stubber, batch, "aaa111", 1, 20, max_assignments=2)
    expect_create(stubber, batch, "bbb222", 1, 21, max_assignments=2)
    outcome = lifecycle.extend(batch, 8, mturk=client)
    assert (outcome.done, outcome.failed) == (4, 0)
    assert sorted(r.max_assignments for r in MTurkHit.select()) == [2, 2, 9, 9]
    assert Batch.get_by_id(batch.id).assignments_per_hit == 11


def test_an_extension_mturk_already_applied_is_not_sent_again(batch, turk):
    from freelunch.models import MTurkExtension
    from freelunch.services.mturk import lifecycle

    client, stubber = turk
    row = published(batch)[0]
    MTurkExtension.create(organization=batch.organization_id, mturk_hit=row, assignments=2, unique_request_token="x-1")
    # The response was lost, but MTurk has it: MaxAssignments already 5.
    stubber.add_response(
        "get_hit", {"HIT": {"HITId": row.mturk_hit_id, "MaxAssignments": 5}}, {"HITId": row.mturk_hit_id}
    )
    assert lifecycle.apply_extensions(batch, client).done == 1
    assert MTurkHit.get_by_id(row.id).max_assignments == 5 and MTurkExtension.get().state == "done"


def test_delete_only_finished_hits(batch, turk):
    from freelunch.services.mturk import lifecycle

    client, stubber = turk
    done, busy = published(batch)
    stubber.add_response(
        "get_hit",
        {"HIT": {"HITId": done.mturk_hit_id, "HITStatus": "Reviewable", "NumberOfAssignmentsPending": 0}},
        {"HITId": done.mturk_hit_id},
    )
    stubber.add_response("delete_hit", {}, {"HITId": done.mturk_hit_id})
    stubber.add_response(
        "get_hit",
        {"HIT": {"HITId": busy.mturk_hit_id, "HITStatus": "Assignable", "NumberOfAssignmentsPending": 1}},
        {"HITId": busy.mturk_hit_id},
    )
    outcome = lifecycle.delete_finished(batch, client)
    assert (outcome.done, outcome.skipped) == (1, 1)
    assert MTurkHit.get_by_id(done.id).state == "deleted" and MTurkHit.get_by_id(busy.id).state == "created"


def test_spend_adds_rewards_fees_and_bonuses(batch):
    from freelunch.models import Bonus, MTurkAssignment
    from freelunch.services.mturk import lifecycle

    rows = published(batch)
    hit = Hit.get(Hit.key == "aaa111")
    for n, status in enumerate(["Approved", "Approved", "Rejected"]):
        assignment = MTurkAssignment.create(
            organization=batch.organization_id,
            hit=hit,
            mturk_hit_id=rows[0].mturk_hit_id,
            mturk_assignment_id=f"3A{n}",
            worker_id=f"W{n}",
            status=status,
        )
        if n == 0:
            Bonus.create(
                organization=batch.organization_id,
                mturk_assignment=assignment,
                amount=Decimal("1.00"),
                reason="thanks",
                key="k",
                state="done",
            )
    spent = lifecycle.spend(batch)
    assert spent.charged == Decimal("3.60")  # 6 assignments x ($0.50 + $0.10)
    assert spent.held == Decimal("1.80")  # the untouched HIT's 3 slots; the other's three are decided
    MTurkHit.update(expires_at=utcnow() - dt.timedelta(minutes=1)).execute()
    assert lifecycle.spend(batch).held == 0  # expired, nothing submitted and undecided: all released
    assert (spent.approved, spent.rewards_paid, spent.fees_paid) == (2, Decimal("1.00"), Decimal("0.20"))
    assert (spent.bonuses, spent.bonus_fees, spent.paid) == (Decimal("1.00"), Decimal("0.20"), Decimal("2.40"))
