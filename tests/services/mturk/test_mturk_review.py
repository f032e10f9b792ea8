"""Tracking, review and pay, through boto3 checked against MTurk's service model by botocore's Stubber (shapes).

Behaviour over the wire (MTurk's own rules) is in test_mturk_review_wire.py, against the local stand-in.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from botocore.stub import ANY
from click.testing import CliRunner
from factories import grant_server_account, make_campaign, worked_for
from flask.cli import ScriptInfo
from support import database_dump, login

from freelunch.cli import cli
from freelunch.models import (
    Assignment,
    Batch,
    Bonus,
    Decision,
    MTurkAssignment,
    MTurkHit,
    PageSubmission,
    PointerChunk,
    ReviewRules,
    WorkerAction,
    utcnow,
)
from freelunch.services.accounts import identity
from freelunch.services.mturk import autoreview, bonuses, decisions, tracking
from freelunch.services.mturk import settings as batch_settings
from freelunch.services.mturk.bonuses import BonusError
from freelunch.services.mturk.decisions import DecisionError
from freelunch.services.review import quality

RAW = {"h1w1": "AW1RAWWORKER", "h1w3": "AW3RAWWORKER", "h2w2": "AW2RAWWORKER", "h2w3": "AW3RAWWORKER"}
ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?><QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/'
    'AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"><Answer><QuestionIdentifier>completionCode'
    "</QuestionIdentifier><FreeText>{code}</FreeText></Answer></QuestionFormAnswers>"
)
NOW = dt.datetime.now(dt.UTC)


class Runner:
    """The ``freelunch`` command over the test app."""

    def __init__(self, app):
        self.app = app

    def invoke(self, args: list[str], input: str | None = None):
        return CliRunner().invoke(cli, args, obj=ScriptInfo(create_app=lambda: self.app), input=input)


@pytest.fixture
def mturk_campaign(app, make_account):
    """factories.make_campaign's campaign as an MTurk batch: HITs HIT1, HIT2; assignments A1 (h1w1), A3 (h1w3), A2
    (h2w2), A4 (h2w3)."""
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        c = make_campaign(org)
        c.batch.reward = Decimal("0.50")  # an MTurk batch pays a reward; bonuses are bounded by it
        c.batch.save()
        for n, hit in enumerate(c.hits, 1):
            MTurkHit.create(
                organization=org,
                batch=c.batch,
                hit=hit,
                sandbox=True,
                max_assignments=2,
                state="created",
                unique_request_token=f"token-{n}",
                mturk_hit_id=f"HIT{n}",
            )
        for key, mturk_id in (("h1w1", "A1"), ("h1w3", "A3"), ("h2w2", "A2"), ("h2w3", "A4")):
            a = c.assignments[key]
            a.worker_id = identity.anonymous_worker_id(org.id, RAW[key])
            a.source, a.mturk_assignment_id = "mturk", mturk_id
            a.save()
        worked_for(c.assignments.values())
    c.batch.state = "published"
    c.batch.save()
    return c


def remote(
    assignment_id: str,
    worker: str,
    hit: str,
    status: str = "Submitted",
    code: str = "C0FFEE",
    minutes: int = 0,
    auto_hours: float = 72,
) -> dict:
    submitted = NOW - dt.timedelta(hours=1) + dt.timedelta(minutes=minutes)
    out = {
        "AssignmentId": assignment_id,
        "WorkerId": worker,
        "HITId": hit,
        "AssignmentStatus": status,
        "AcceptTime": submitted - dt.timedelta(minutes=10),
        "SubmitTime": submitted,
        "AutoApprovalTime": NOW + dt.timedelta(hours=auto_hours),
        "Deadline": submitted + dt.timedelta(minutes=50),
        "Answer": ANSWER.format(code=code),
    }
    if status == "Approved":
        out["ApprovalTime"] = submitted
    return out


def listing(hit: str, assignments: list[dict], next_token: str | None = None, token: str | None = None):
    response = {"NumResults": len(assignments), "Assignments": assignments}
    params = {"HITId": hit, "MaxResults": 100, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
    if next_token:
        response["NextToken"] = next_token
    if token:
        params["NextToken"] = token
    return response, params


def stub_sync(stubber, hit1: list[dict], hit2: list[dict]) -> None:
    stubber.add_response("list_assignments_for_hit", *listing("HIT1", hit1))
    stubber.add_response("list_assignments_for_hit", *listing("HIT2", hit2))


def standard_remote() -> tuple[list[dict], list[dict]]:
    return (
        [remote("A1", RAW["h1w1"], "HIT1", minutes=1), remote("A3", RAW["h1w3"], "HIT1", minutes=2)],
        [
            remote("A2", RAW["h2w2"], "HIT2", minutes=3),
            remote("A4", RAW["h2w3"], "HIT2", minutes=4),
            remote("A5", "AW5NOTHINGHERE", "HIT2", minutes=5, auto_hours=5),
        ],
    )


def test_sync_pages_past_100_and_stores_no_raw_worker_id(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    many = [remote(f"B{n:03d}", f"AWORKER{n:03d}", "HIT1") for n in range(105)]
    stubber.add_response("list_assignments_for_hit", *listing("HIT1", many[:100], next_token="page2"))
    stubber.add_response(
        "list_assignments_for_hit", *listing("HIT1", many[100:] + [remote("A1", RAW["h1w1"], "HIT1")], token="page2")
    )
    stubber.add_response("list_assignments_for_hit", *listing("HIT2", []))
    with app.app_context():
        summary = tracking.sync_batch(mturk_campaign.batch, client)
        dump = database_dump()
    assert (summary.hits, summary.assignments, summary.matched, summary.no_data) == (2, 106, 1, 105)
    row = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "A1")
    assert row.assignment_id == mturk_campaign.assignments["h1w1"].id and row.status == "Submitted"
    assert row.auto_approval_at is not None and row.deadline is not None and row.accepted_at < row.submitted_at
    assert Assignment.get_by_id(row.assignment_id).mturk_status == "Submitted"
    assert "AWORKER0" not in dump and RAW["h1w1"] not in dump
    assert "B104" in dump  # the dump holds what sync stored: the check above could fail


def test_sort_out_puts_every_kind_of_mismatch_in_its_pile(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1[:1], hit2)  # A3 (done here) is not submitted on MTurk, and its worker's time there ran out
    a3 = mturk_campaign.assignments["h1w3"]
    Assignment.update(started_at=utcnow() - dt.timedelta(hours=2)).where(Assignment.id == a3.id).execute()
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client)
        piles = tracking.sort_out(mturk_campaign.batch)
    assert [r.mturk_assignment_id for r in piles.ready] == ["A1", "A2"]
    assert [r.mturk_assignment_id for r in piles.no_data] == ["A4", "A5"]  # A4's second page never came
    assert [a.mturk_assignment_id for a in piles.not_submitted] == ["A3"]
    assert [r.mturk_assignment_id for r in piles.closing] == ["A5"]  # MTurk approves it in 5 hours
    assert dt.timedelta(hours=4) < piles.time_left(piles.closing[0]) < dt.timedelta(hours=5)


def test_work_done_here_is_not_called_unsubmitted_before_mturk_was_asked(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    with app.app_context():
        before = tracking.sort_out(mturk_campaign.batch)
        assert before.not_submitted == [] and before.unreconciled, "never reconciled: MTurk was not asked yet"
        stub_sync(stubber, *standard_remote())
        tracking.sync_batch(mturk_campaign.batch, client)
        assert batch_settings.reconciled_at(Batch.get_by_id(mturk_campaign.batch.id)) is not None
        after = tracking.sort_out(Batch.get_by_id(mturk_campaign.batch.id))
        assert after.unreconciled == []


def test_work_finished_here_that_mturk_did_not_list_yet_is_counted_until_its_workers_time_there_ran_out(
    app, client, mturk_campaign, stubbed
):
    """The walk: "1 MTurk assignment was finished here since the last reconciliation" when two were. A worker submits
    on MTurk after finishing here; a reconciliation in between (the 10-minute one) put the first in "not submitted
    on MTurk" (to compensate) and counted only the second. Not listed is "not submitted" once MTurk was asked after
    the worker's time to submit there ran out (the batch's assignment duration after they started here)."""
    client_, stubber = stubbed
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1[:1], [])  # A1 submitted on MTurk; A3 and A2 (done here too) not yet
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client_)
        reconciled = batch_settings.reconciled_at(Batch.get_by_id(mturk_campaign.batch.id))
    a3, a2 = mturk_campaign.assignments["h1w3"], mturk_campaign.assignments["h2w2"]
    minutes = dt.timedelta(minutes=1)
    Assignment.update(started_at=reconciled - 9 * minutes, completed_at=reconciled - minutes).where(
        Assignment.id == a3.id
    ).execute()  # finished just before the reconciliation, submitted on MTurk just after
    Assignment.update(started_at=reconciled - 5 * minutes, completed_at=reconciled + minutes).where(
        Assignment.id == a2.id
    ).execute()
    with app.app_context():
        piles = tracking.sort_out(Batch.get_by_id(mturk_campaign.batch.id))
    assert [a.mturk_assignment_id for a in piles.unreconciled] == ["A3", "A2"] and piles.not_submitted == []
    login(client, "owner@example.org")
    page = client.get(f"/batches/{mturk_campaign.batch.id}/mturk/review").get_data(as_text=True)
    said = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "2 MTurk assignments were finished here that MTurk did not list as submitted when last asked" in said
    assert "their workers had time left to submit there): reconcile to see them as MTurk lists them." in said

    # An hour (the batch's assignment duration) after A3's worker started here, the next reconciliation's silence
    # means it: A3 is not submitted on MTurk; A2's worker still has time.
    later = reconciled + dt.timedelta(minutes=52)
    with app.app_context():
        batch = Batch.get_by_id(mturk_campaign.batch.id)
        batch_settings.mark_reconciled(batch, later)
        piles = tracking.sort_out(batch)
    assert [a.mturk_assignment_id for a in piles.not_submitted] == ["A3"]
    assert [a.mturk_assignment_id for a in piles.unreconciled] == ["A2"]
    page = client.get(f"/batches/{mturk_campaign.batch.id}/mturk/review").get_data(as_text=True)
    said = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "1 MTurk assignment was finished here that MTurk did not list as submitted when last asked" in said
    assert "its worker had time left to submit there): reconcile to see it as MTurk lists it." in said


def test_answer_fields_reads_the_posted_form_and_survives_garbage():
    assert tracking.answer_fields(ANSWER.format(code="ABC123")) == {"completionCode": "ABC123"}
    assert tracking.answer_fields("<not xml") == {}


def test_a_second_worker_can_work_on_an_assignment_id_the_first_returned(app, client, mturk_campaign):
    hit = mturk_campaign.hits[1]  # one place left: h2w3 gave up long ago
    Assignment.update(started_at=utcnow() - dt.timedelta(days=2)).where(
        Assignment.id == mturk_campaign.assignments["h2w3"].id
    ).execute()
    link = (
        f"/annotate?pointer=fine&imageNetHitId={hit.key}&hitId=HIT2&assignmentId=RETURNED1"
        "&turkSubmitTo=https://workersandbox.mturk.com&workerId="
    )
    assert client.get(link + "AFIRSTWORKER").status_code == 303
    assert client.get(link.replace("RETURNED1", "OTHER1") + "ATHIRDWORKER").status_code == 409  # the place is taken
    response = client.get(link + "ASECONDWORKER")  # MTurk handed the returned assignment to the next worker
    assert response.status_code == 303
    assert "token=" in response.headers["Location"]
    rows = Assignment.select().where(Assignment.mturk_assignment_id == "RETURNED1")
    assert rows.count() == 2 and len({r.worker_id for r in rows}) == 2


def test_auto_review_decides_what_the_rules_can_judge_and_records_them(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    ReviewRules.create(
        organization=mturk_campaign.batch.organization,
        batch=mturk_campaign.batch,
        min_control_accuracy=Decimal("0.8"),
        min_seconds_per_page=2,
        reject_failures=True,
        approve_feedback="Thank you!",
    )
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1, hit2)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A1", "RequesterFeedback": "Thank you!"})
    stubber.add_response(
        "reject_assignment",
        {},
        {
            "AssignmentId": "A3",
            "RequesterFeedback": "Your work did not meet this task's quality checks: control accuracy 0% is under 80%.",
        },
    )
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A2", "RequesterFeedback": "Thank you!"})
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client)
        summary = autoreview.auto_review(mturk_campaign.batch, client)
    assert (summary.approved, summary.rejected, summary.flagged, summary.skipped_no_data) == (2, 1, 0, 2), summary
    decision = Decision.get(Decision.action == "reject")
    assert decision.state == "done" and decision.source == "auto"
    assert decision.rules["rules"]["min_control_accuracy"] == 0.8 and decision.rules["figures"]["control_accuracy"] == 0
    statuses = {r.mturk_assignment_id: r.status for r in MTurkAssignment.select()}
    assert statuses == {"A1": "Approved", "A3": "Rejected", "A2": "Approved", "A4": "Submitted", "A5": "Submitted"}
    with app.app_context():  # run again: nothing left that the rules may decide, no call made
        again = autoreview.auto_review(mturk_campaign.batch, client)
    assert (again.approved, again.rejected, again.skipped_no_data) == (0, 0, 2)


def test_auto_review_bounds_a_pages_claimed_time_and_chunks_by_what_the_server_saw(app, mturk_campaign):
    rushed, calm = mturk_campaign.assignments["h1w1"], mturk_campaign.assignments["h2w2"]
    claims = PageSubmission.update(started_at=1_700_000_000_000, ended_at=1_700_000_010_000)  # each page claims 10 s
    claims.where(PageSubmission.assignment.in_([rushed.id, calm.id])).execute()
    pages = list(PageSubmission.select().where(PageSubmission.assignment == rushed).order_by(PageSubmission.pageno))
    for page in pages[1:]:  # ... but the server got each page 20 ms after the one before
        PageSubmission.update(submitted_at=pages[0].submitted_at + dt.timedelta(milliseconds=20)).where(
            PageSubmission.id == page.id
        ).execute()
    fastest = autoreview._fastest_pages([rushed.id, calm.id])
    assert fastest[rushed.id] == 20 and fastest[calm.id] == 10_000

    page = pages[0]
    PointerChunk.delete().where(PointerChunk.assignment == rushed).execute()
    PageSubmission.update(chunks_reported=0).where(PageSubmission.assignment == rushed).execute()
    PageSubmission.update(chunks_reported=1).where(PageSubmission.id == page.id).execute()  # claims one batch
    for seq in (0, 39):  # the tracker numbers batches from 0: batch 39 arrived, so 40 were sent
        PointerChunk.create(
            assignment=rushed, pageno=page.pageno, tab=page.tab, seq=seq, n_events=1, events="[]", received_at=1
        )
    with app.app_context():
        found = quality.figures(Assignment.id, Assignment.id.in_([rushed.id]))
        assert found[rushed.id].completeness == 1.0  # what the page claims
        autoreview._bound_reported_chunks(found, [rushed.id])
    assert found[rushed.id].completeness == 2 / 40


def test_auto_review_leaves_what_it_cannot_judge_flagged(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    ReviewRules.create(organization=mturk_campaign.batch.organization, batch=mturk_campaign.batch)  # a valid code
    hit1, hit2 = standard_remote()
    hit1[0]["Answer"] = ANSWER.format(code="")  # A1 posted no code: cannot be judged
    hit1[1]["Answer"] = ANSWER.format(code="BAD000")  # A3 posted a wrong code: fails, but rejecting is not asked for
    stub_sync(stubber, hit1, hit2)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A2"})
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client)
        summary = autoreview.auto_review(mturk_campaign.batch, client)
    assert (summary.approved, summary.rejected, summary.flagged) == (1, 0, 2)
    flags = {r.mturk_assignment_id: r.flag for r in MTurkAssignment.select().where(MTurkAssignment.flag != "")}
    assert flags == {
        "A1": "MTurk's answer has no completion code",
        "A3": "the completion code is not the one this assignment was given",
    }


def _synced(app, mturk_campaign, stubber, client, hit1=None, hit2=None):
    default1, default2 = standard_remote()
    stub_sync(stubber, hit1 if hit1 is not None else default1, hit2 if hit2 is not None else default2)
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client)
    return {r.mturk_assignment_id: r for r in MTurkAssignment.select()}


def test_a_decision_already_made_on_mturk_adopts_its_state(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    rows = _synced(app, mturk_campaign, stubber, client)
    stubber.add_client_error(
        "approve_assignment",
        "RequestError",
        "This operation can be called with a status of: Submitted",
        response_meta={},
        modeled_fields={"TurkErrorCode": "AWS.MechanicalTurk.InvalidAssignmentState"},
        expected_params={"AssignmentId": "A1"},
    )
    stubber.add_response(
        "get_assignment", {"Assignment": remote("A1", RAW["h1w1"], "HIT1", status="Approved")}, {"AssignmentId": "A1"}
    )
    with app.app_context():
        decision = decisions.decide(rows["A1"], "approve", mturk=client)
    assert decision.state == "adopted" and decision.error_code == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert MTurkAssignment.get_by_id(rows["A1"].id).status == "Approved"


def test_bad_decisions_are_refused_before_anything_is_sent(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    rows = _synced(app, mturk_campaign, stubber, client)
    with pytest.raises(DecisionError, match="Say why"):
        decisions.decide(rows["A1"], "reject", "  ", mturk=client)
    with pytest.raises(DecisionError, match="at most 1024"):
        decisions.decide(rows["A1"], "reject", "x" * 1025, mturk=client)
    with pytest.raises(DecisionError, match="cannot be approved after its rejection"):
        decisions.decide(rows["A1"], "override", mturk=client)
    rows["A3"].status, rows["A3"].decided_at = "Rejected", utcnow() - dt.timedelta(days=31)
    with pytest.raises(DecisionError, match="30 days"):
        decisions.decide(rows["A3"], "override", mturk=client)
    assert Decision.select().count() == 0


def test_override_rejection_within_30_days(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    hit1, hit2 = standard_remote()
    hit1[1].update(AssignmentStatus="Rejected", RejectionTime=NOW - dt.timedelta(days=3))
    rows = _synced(app, mturk_campaign, stubber, client, hit1, hit2)
    stubber.add_response(
        "approve_assignment",
        {},
        {"AssignmentId": "A3", "RequesterFeedback": "Sorry, our mistake.", "OverrideRejection": True},
    )
    with app.app_context():
        decisions.decide(rows["A3"], "override", "Sorry, our mistake.", mturk=client)
    assert MTurkAssignment.get_by_id(rows["A3"].id).status == "Approved"


def test_bonus_is_paid_once_and_a_lost_response_is_found_in_the_payments(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    hit1, hit2 = standard_remote()
    hit1[0]["AssignmentStatus"] = "Approved"
    hit2[0]["AssignmentStatus"] = "Approved"
    rows = _synced(app, mturk_campaign, stubber, client, hit1, hit2)
    with pytest.raises(BonusError, match="cents"):
        bonuses.request(rows["A1"], "1.005", "Great work")
    with pytest.raises(BonusError, match="approve"):
        bonuses.request(rows["A3"], "0.25", "Great work")
    # A1: sent, and the response lost (MTurk had it), then the retry finds it among the payments.
    stubber.add_response("get_assignment", {"Assignment": hit1[0]}, {"AssignmentId": "A1"})
    stubber.add_client_error("send_bonus", "ServiceFault", "Internal error", http_status_code=500)
    with app.app_context():
        first = bonuses.bonus_one(rows["A1"], "0.25", "Great work", mturk=client)
    assert first.state == "failed" and first.attempts == 1
    token = first.token
    stubber.add_response(
        "list_bonus_payments",
        {
            "BonusPayments": [
                {
                    "WorkerId": RAW["h1w1"],
                    "BonusAmount": "0.25",
                    "AssignmentId": "A1",
                    "Reason": "Great work",
                    "GrantTime": NOW,
                }
            ]
        },
        {"AssignmentId": "A1", "MaxResults": 100},
    )
    with app.app_context():
        again = bonuses.bonus_one(rows["A1"], Decimal("0.25"), " Great   work ", mturk=client)
    assert again.id == first.id and again.token == token and again.state == "adopted"
    with app.app_context():  # a third time: paid, nothing is called at all
        assert bonuses.bonus_one(rows["A1"], "0.25", "Great work", mturk=client).state == "adopted"
    assert Bonus.select().count() == 1


def test_bulk_bonus_pays_each_approved_assignment_once_with_its_own_token(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    hit1, hit2 = standard_remote()
    hit1[0]["AssignmentStatus"] = "Approved"
    hit2[0]["AssignmentStatus"] = "Approved"
    _synced(app, mturk_campaign, stubber, client, hit1, hit2)
    for row in (hit1[0], hit2[0]):
        stubber.add_response("get_assignment", {"Assignment": row}, {"AssignmentId": row["AssignmentId"]})
        stubber.add_response(
            "send_bonus",
            {},
            {
                "WorkerId": row["WorkerId"],
                "BonusAmount": "0.10",
                "AssignmentId": row["AssignmentId"],
                "Reason": "Thanks",
                "UniqueRequestToken": ANY,
            },
        )
    with app.app_context():
        first = bonuses.bonus_approved(mturk_campaign.batch, "0.1", "Thanks", mturk=client)
        second = bonuses.bonus_approved(mturk_campaign.batch, "0.10", "Thanks", mturk=client)
    assert (first.paid, first.already, second.paid, second.already) == (2, 0, 0, 2)
    assert len({b.token for b in Bonus.select()}) == 2


def test_a_bonus_is_not_sent_when_the_assignment_now_belongs_to_another_worker(app, mturk_campaign, stubbed):
    client, stubber = stubbed
    hit1, hit2 = standard_remote()
    hit1[0]["AssignmentStatus"] = "Approved"
    rows = _synced(app, mturk_campaign, stubber, client, hit1, hit2)
    stubber.add_response(
        "get_assignment", {"Assignment": dict(hit1[0], WorkerId="ASOMEONEELSE")}, {"AssignmentId": "A1"}
    )
    with app.app_context():
        bonus = bonuses.bonus_one(rows["A1"], "0.25", "Great work", mturk=client)
    assert bonus.state == "failed" and bonus.error_code == "Freelunch.OtherWorker"


def test_cli_bonus_run_twice_pays_once_and_bad_input_exits_non_zero(app, mturk_campaign, stubbed, monkeypatch):
    client, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: client)
    runner = Runner(app)
    hit1, hit2 = standard_remote()
    hit1[0]["AssignmentStatus"] = "Approved"
    args = [
        "mturk",
        "bonus",
        "--batch",
        str(mturk_campaign.batch.id),
        "--assignment",
        "A1",
        "--amount",
        "0.25",
        "--reason",
        "Careful work",
    ]
    stub_sync(stubber, hit1, hit2)
    declined = runner.invoke(args=args, input="n\n")  # the total is shown and asked for before the intent row
    assert declined.exit_code != 0 and "$0.25 + $0.05 MTurk fee = $0.30" in declined.output
    assert not Bonus.select().exists()
    stub_sync(stubber, hit1, hit2)
    stubber.add_response("get_assignment", {"Assignment": hit1[0]}, {"AssignmentId": "A1"})
    stubber.add_response(
        "send_bonus",
        {},
        {
            "WorkerId": RAW["h1w1"],
            "BonusAmount": "0.25",
            "AssignmentId": "A1",
            "Reason": "Careful work",
            "UniqueRequestToken": ANY,
        },
    )
    first = runner.invoke(args=args, input="y\n")
    assert first.exit_code == 0, first.output
    assert "paid." in first.output and "2 HITs reconciled" in first.output
    stub_sync(stubber, hit1, hit2)
    second = runner.invoke(args=[*args, "--yes"])
    assert second.exit_code == 0 and "paid before, nothing sent" in second.output
    assert Bonus.select().count() == 1
    bad = runner.invoke(args=args[:-3] + ["1.005", "--reason", "x", "--yes"])  # nothing stubbed: nothing may be sent
    assert bad.exit_code != 0 and "dollars and cents" in bad.output
    unknown = runner.invoke(
        args=["mturk", "bonus", "--batch", "999", "--assignment", "A1", "--amount", "1", "--reason", "x"]
    )
    assert unknown.exit_code != 0 and "no batch 999" in unknown.output


def test_cli_review_by_hand_and_auto(app, mturk_campaign, stubbed, monkeypatch):
    client, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: client)
    runner = Runner(app)
    batch = str(mturk_campaign.batch.id)
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1, hit2)
    refused = runner.invoke(args=["mturk", "review", "--batch", batch, "--assignment", "A3", "--reject"])
    assert refused.exit_code != 0 and "Say why you reject" in refused.output
    stub_sync(stubber, hit1, hit2)
    stubber.add_response("reject_assignment", {}, {"AssignmentId": "A3", "RequesterFeedback": "Wrong controls."})
    rejected = runner.invoke(
        args=["mturk", "review", "--batch", batch, "--assignment", "A3", "--reject", "--feedback", "Wrong controls."]
    )
    assert rejected.exit_code == 0 and "A3: rejected." in rejected.output
    hit1[1]["AssignmentStatus"] = "Rejected"
    stub_sync(stubber, hit1, hit2)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A1"})
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A2"})
    auto = runner.invoke(args=["mturk", "review", "--batch", batch, "--auto"])
    assert auto.exit_code == 0, auto.output
    assert "Rules: the completion code posted to MTurk is the one we gave" in auto.output
    assert "2 approved, 0 rejected, 0 left for you, 2 without data here left alone" in auto.output


def test_the_review_page_reconciles_sorts_out_and_decides_through_jobs(
    app, client, mturk_campaign, stubbed, monkeypatch, run_jobs
):
    from support import csrf_token, login

    stub, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: stub)
    login(client, "owner@example.org")
    batch = mturk_campaign.batch.id
    page = client.get(f"/batches/{batch}/mturk/review").get_data(as_text=True)
    assert "(never; it also runs every 10 minutes)" in page
    token = csrf_token(client)
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1, hit2)
    assert client.post(f"/batches/{batch}/mturk/sync", data={"csrf_token": token}).status_code == 302
    run_jobs()
    page = client.get(f"/batches/{batch}/mturk/review?show=ready").get_data(as_text=True)
    assert 'data-assignment="A1"' in page and 'data-assignment="A2"' in page and 'data-assignment="A4"' not in page
    assert (
        "MTurk will approve (and pay) on its own soon" in page
        and 'A5</code></a>: <span class="danger" data-time-left>4 h' in page
    )
    no_data = client.get(f"/batches/{batch}/mturk/review?show=no_data").get_data(as_text=True)
    assert (
        'data-assignment="A4"' in no_data
        and "1 of 2 pages here" in no_data
        and "nothing here from this worker" in no_data
    )
    assert "completionCode" in no_data  # the Answer, to decide by hand

    rows = {r.mturk_assignment_id: r.id for r in MTurkAssignment.select()}
    refused = client.post(
        f"/batches/{batch}/mturk/decisions",
        data={"csrf_token": token, "row": rows["A3"], "action": "reject", "feedback": " "},
    )
    assert refused.status_code == 400 and "Say why you reject" in refused.get_data(as_text=True)
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A1", "RequesterFeedback": "Well done"})
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "A2", "RequesterFeedback": "Well done"})
    ticked = {"csrf_token": token, "row": [rows["A1"], rows["A2"]], "action": "approve", "feedback": "Well done"}
    step = client.post(f"/batches/{batch}/mturk/decisions", data=ticked).get_data(as_text=True)  # confirm first
    assert "the workers are paid $1.00 in rewards + $0.20 MTurk fee = $1.20" in step and "Approve them" in step
    client.post(f"/batches/{batch}/mturk/decisions", data={**ticked, "confirmed": "1"})
    run_jobs()
    assert {MTurkAssignment.get_by_id(rows[k]).status for k in ("A1", "A2")} == {"Approved"}
    assert "2 approved, 0 already decided on MTurk, 0 failed." in client.get(f"/batches/{batch}/mturk/review").get_data(
        as_text=True
    )
    bad = client.post(f"/batches/{batch}/mturk/bonuses", data={"csrf_token": token, "amount": "1.005", "reason": "x"})
    assert bad.status_code == 400 and "dollars and cents" in bad.get_data(as_text=True)
    detail = client.get(f"/mturk/assignments/{rows['A1']}").get_data(as_text=True)
    assert "Well done" in detail and "Pay the bonus" in detail and "C0FFEE" in detail


def test_notify_workers_sends_at_most_100_a_call_and_records_each_worker(app, mturk_campaign, stubbed):
    from freelunch.services.mturk import workers

    client, stubber = stubbed
    many = [remote(f"B{n:03d}", f"AWORKER{n:03d}", "HIT1") for n in range(101)]
    stub_sync(stubber, many, [])
    with app.app_context():
        tracking.sync_batch(mturk_campaign.batch, client)
    rows = list(MTurkAssignment.select().order_by(MTurkAssignment.id))
    for row in many:
        stubber.add_response("get_assignment", {"Assignment": row}, {"AssignmentId": row["AssignmentId"]})
    stubber.add_response(
        "notify_workers",
        {
            "NotifyWorkersFailureStatuses": [
                {
                    "NotifyWorkersFailureCode": "HardFailure",
                    "NotifyWorkersFailureMessage": "AWORKER007 cannot be reached",
                    "WorkerId": "AWORKER007",
                }
            ]
        },
        {"Subject": "Hello", "MessageText": "Thanks", "WorkerIds": [r["WorkerId"] for r in many[:100]]},
    )
    stubber.add_response(
        "notify_workers", {}, {"Subject": "Hello", "MessageText": "Thanks", "WorkerIds": ["AWORKER100"]}
    )
    with app.app_context():
        summary = workers.notify(rows, "Hello", "Thanks", client)
    assert (summary.sent, summary.failed) == (100, 1)
    failed = WorkerAction.get(WorkerAction.state == "failed")
    assert "AWORKER007" not in failed.error and failed.worker_id in failed.error  # MTurk's message, with the hash


def test_access_logs_keep_neither_the_raw_worker_id_nor_the_assignment_token(app, caplog):
    import logging

    from freelunch.web.log_redaction import redact

    line = (
        "GET /annotate?hitId=3H&workerId=AREALWORKER&assignmentId=3A&turkSubmitTo=https%3A%2F%2Fwww.mturk.com HTTP/1.1"
    )
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('"%s" %s %s', line, 303, "-")
        logging.getLogger("werkzeug").info('"%s" %s %s', "GET /annotate?token=eyJsecret.sig HTTP/1.1", 200, "-")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "AREALWORKER" not in logged and "eyJsecret" not in logged
    assert "workerId=[redacted]&assignmentId=3A" in logged and "token=[redacted] HTTP/1.1" in logged
    assert (
        redact("/login?next=%2Fannotate%3FworkerId%3DAX1%26a%3D1") == "/login?next=%2Fannotate%3FworkerId%3D[redacted]"
    )
    assert redact("/x?csrf_token=abc") == "/x?csrf_token=abc"  # only the worker's own parameters


def test_rules_are_saved_from_the_page_and_shown_before_they_run(app, client, mturk_campaign):
    from support import csrf_token, login

    login(client, "owner@example.org")
    batch = mturk_campaign.batch.id
    token = csrf_token(client)
    bad = client.post(f"/batches/{batch}/mturk/rules", data={"csrf_token": token, "min_control_accuracy": "150"})
    assert bad.status_code == 400 and "From 0 to 100 %." in bad.get_data(as_text=True)
    assert ReviewRules.select().count() == 0
    saved = client.post(
        f"/batches/{batch}/mturk/rules",
        data={
            "csrf_token": token,
            "min_control_accuracy": "80",
            "min_seconds_per_page": "3",
            "require_completion_code": "y",
            "min_completeness": "",
            "reject_failures": "y",
            "approve_feedback": "Thanks!",
        },
        follow_redirects=True,
    )
    page = saved.get_data(as_text=True)
    rules = ReviewRules.get()
    assert (
        float(rules.min_control_accuracy),
        rules.min_seconds_per_page,
        rules.min_completeness,
        rules.reject_failures,
    ) == (0.8, 3, None, True)
    assert "Approve when control accuracy ≥ 80 %; every page took ≥ 3 s; the completion code posted to MTurk" in page
    assert re.search(r'<input[^>]*name="min_control_accuracy"[^>]*value="80"', page)  # shown as it was entered


def test_the_cron_job_reconciles_every_batch_with_a_live_hit(app, mturk_campaign, stubbed, monkeypatch):
    from tasks import mturk_review

    client, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: client)
    mturk_campaign.batch.state = "closed"  # whatever the batch's state, its live HITs are reconciled
    mturk_campaign.batch.save()
    hit1, hit2 = standard_remote()
    stub_sync(stubber, hit1, hit2)
    with app.app_context():
        assert mturk_review.sync_live_batches()["summary"] == "1 batches reconciled."
    assert MTurkAssignment.select().count() == 5
    MTurkHit.update(state="deleted").execute()
    with app.app_context():  # deleted HITs: nothing to ask MTurk
        assert mturk_review.sync_live_batches()["summary"] == "0 batches reconciled."


def test_an_mturk_assignments_pages_here_are_counted_against_its_own_hit(client, org):
    """A batch's HITs need not have the same number of pages (a class's last pages fill a short HIT): the worker's
    pages are out of their HIT's, not the batch's range ("1 of 2 pages", not "1 of 2–5 pages")."""
    campaign = make_campaign(org)
    campaign.batch.built_shape = {"pages_per_hit": [2, 5], "images_per_page": [4, 4]}
    campaign.batch.save()
    row = MTurkAssignment.create(
        organization=org,
        hit=campaign.hits[1],
        mturk_hit_id="H2",
        mturk_assignment_id="A9",
        worker_id="W3CCCCCCCC",
        status="Submitted",
        assignment=campaign.assignments["h2w3"],  # one of its two pages sent
    )
    page = re.sub(r"<[^>]+>", "", client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True))
    assert "1 of 2 pages" in page and "2–5" not in page
    no_data = client.get(f"/batches/{campaign.batch.id}/mturk/review?show=no_data").get_data(as_text=True)
    assert "1 of 2 pages here" in re.sub(r"<[^>]+>", "", no_data)


@pytest.mark.parametrize("show", ["ready", "decided", "not_submitted"])
@pytest.mark.parametrize(
    "action, fields, error",
    [
        ("notify", {"subject": "Thanks", "text": "Well done"}, "Tick the assignments whose workers you write to."),
        ("decisions", {"action": "approve"}, "Tick the assignments to decide."),
    ],
)
def test_a_message_or_decision_posted_with_nothing_ticked_says_so_where_it_is_seen(
    app, client, mturk_campaign, show, action, fields, error
):
    """The review: the message-to-workers form posted with no assignment ticked (forged: the page ticks at least
    one) answered the page with its error on the form, which a list without rows (or the decided list) does not
    show: the error was nowhere. It is at the top of the list then."""
    from support import csrf_token

    login(client, "owner@example.org")
    batch = mturk_campaign.batch
    response = client.post(
        f"/batches/{batch.id}/mturk/{action}?show={show}", data={"csrf_token": csrf_token(client), **fields}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'<div class="flash error" role="alert" id="refused-\d">\s*<p>{re.escape(error)}</p>', page)
    assert page.count(error) == 1
