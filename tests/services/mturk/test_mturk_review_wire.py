"""Tracking, review and pay over the wire, against the local MTurk (MTurk's rules, every request checked against its
model).

Workers accept and submit on the stand-in's worker site and annotate through our /annotate, as they would from MTurk.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from factories import grant_server_account, make_batch, summary_for, worked_for
from flask.cli import ScriptInfo
from support import database_dump, post_page

from freelunch.cli import cli
from freelunch.models import Assignment, Bonus, Decision, MTurkAssignment, MTurkHit, ReviewRules
from freelunch.services.mturk import bonuses, credentials, decisions, tracking

QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>https://freelunch.example.org/annotate</ExternalURL>'
    "<FrameHeight>0</FrameHeight></ExternalQuestion>"
)


@pytest.fixture
def wired(app, make_account, local_mturk):
    """A published batch of one two-page HIT on the local MTurk; the app's gateway points at it."""
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
    batch = make_batch(app, org, pages=2, per_page=4, assignments_per_hit=3, reward="0.50")
    batch.state = "published"
    batch.save()
    return batch


def publish(local_mturk, batch, assignments: int = 3) -> str:
    """The batch's HIT on the stand-in, recorded as mturk-publish records it."""
    hit = batch.hits.get()
    created = local_mturk.client().create_hit(
        MaxAssignments=assignments,
        LifetimeInSeconds=3600,
        AssignmentDurationInSeconds=600,
        AutoApprovalDelayInSeconds=3 * 24 * 3600,
        Reward="0.50",
        Title="Find the tench",
        Description="Click every tench",
        Question=QUESTION,
    )["HIT"]
    MTurkHit.create(
        organization=batch.organization,
        batch=batch,
        hit=hit,
        sandbox=True,
        max_assignments=assignments,
        unique_request_token=f"t-{hit.id}",
        state="created",
        mturk_hit_id=created["HITId"],
        hit_type_id=created["HITTypeId"],
    )
    return created["HITId"]


def annotate(client, local_mturk, batch, hit_id: str, assignment_id: str, worker: str, pages: int = 2) -> str:
    """Open our link as MTurk's frame would, submit ``pages`` pages; the completion code shown (or "")."""
    hit = batch.hits.get()
    query = urlencode(
        {
            "hitDatasetName": batch.id,
            "imageNetHitId": hit.key,
            "assignmentId": assignment_id,
            "hitId": hit_id,
            "workerId": worker,
            "turkSubmitTo": local_mturk.endpoint_url,
            "pointer": "fine",  # (the page a browser first gets adds it once it has seen a mouse)
        }
    )
    opened = client.get(f"/annotate?{query}")
    assert opened.status_code == 303, opened.get_data(as_text=True)
    token = re.search(r"token=([^&]+)", opened.headers["Location"]).group(1)
    for pageno in range(1, pages + 1):
        assert post_page(client, token, pageno, summary_for(hit, pageno)).status_code == 200
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    code = re.search(r"data-completion-code>([0-9A-F]{6})<", html)
    return code.group(1) if code else ""


def run(app, *args):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_sync_pages_past_100_and_no_raw_worker_id_is_stored(app, wired, local_mturk):
    hit_id = publish(local_mturk, wired, assignments=105)
    for n in range(105):
        assignment_id = local_mturk.accept(hit_id, f"AWIRE{n:04d}")
        local_mturk.submit(assignment_id, completionCode="NONE00")
    result = run(app, "mturk", "sync", "--batch", str(wired.id))
    assert result.exit_code == 0, result.output
    assert "105 assignments on MTurk, 0 with data here, 105 without" in result.output
    assert MTurkAssignment.select().count() == 105
    dump = database_dump()
    assert "AWIRE" not in dump and "NONE00" in dump  # the Answer is stored, the WorkerIds are not


def test_an_assignment_id_returned_by_one_worker_is_worked_by_the_next(app, client, wired, local_mturk):
    hit_id = publish(local_mturk, wired, assignments=1)
    first = local_mturk.accept(hit_id, "AFIRSTWORKER")
    annotate(client, local_mturk, wired, hit_id, first, "AFIRSTWORKER", pages=1)  # starts, then gives up
    local_mturk.return_assignment(first, "AFIRSTWORKER")
    second = local_mturk.accept(hit_id, "ASECONDWORKER")
    assert second == first  # MTurk hands the returned AssignmentId to the next worker
    code = annotate(client, local_mturk, wired, hit_id, second, "ASECONDWORKER")
    assert code
    local_mturk.submit(second, completionCode=code)
    with app.app_context():
        tracking.sync_batch(wired)
    row = MTurkAssignment.get()
    ours = Assignment.get_by_id(row.assignment_id)
    assert ours.done and ours.completion_code == code
    assert Assignment.select().where(Assignment.mturk_assignment_id == first).count() == 2  # both workers' rows kept


def test_review_auto_decides_the_annotated_assignment_once_and_leaves_the_other_alone(app, client, wired, local_mturk):
    hit_id = publish(local_mturk, wired)
    ReviewRules.create(organization=wired.organization, batch=wired, min_seconds_per_page=5)
    annotated = local_mturk.accept(hit_id, "AANNOTATOR1")
    local_mturk.submit(annotated, completionCode=annotate(client, local_mturk, wired, hit_id, annotated, "AANNOTATOR1"))
    worked_for(Assignment.select().where(Assignment.mturk_assignment_id == annotated))  # pages took a minute each
    nothing_here = local_mturk.accept(hit_id, "ANODATAHERE1")
    local_mturk.submit(nothing_here, completionCode="ABCDEF")
    local_mturk.inject(throttle_first=True)  # MTurk throttles: the gateway backs off and retries
    first = run(app, "mturk", "review", "--batch", str(wired.id), "--auto")
    assert first.exit_code == 0, first.output
    assert "1 approved, 0 rejected, 0 left for you, 1 without data here left alone" in first.output
    second = run(app, "mturk", "review", "--batch", str(wired.id), "--auto")
    assert (
        second.exit_code == 0
        and "0 approved, 0 rejected, 0 left for you, 1 without data here left alone" in second.output
    )
    with local_mturk.store.lock:
        statuses = {a: local_mturk.store.assignments[a].status for a in (annotated, nothing_here)}
    assert statuses == {annotated: "Approved", nothing_here: "Submitted"}
    decision = Decision.get()
    assert (
        decision.rules["rules"]["min_seconds_per_page"] == 5 and decision.rules["figures"]["fastest_page_seconds"] == 10
    )


def test_deciding_an_assignment_mturk_approved_meanwhile_adopts_its_state(app, wired, local_mturk):
    hit_id = publish(local_mturk, wired)
    assignment_id = local_mturk.accept(hit_id, "ALATEWORKER1")
    local_mturk.submit(assignment_id, completionCode="ABCDEF")
    with app.app_context():
        tracking.sync_batch(wired)
    local_mturk.advance(3 * 24 * 3600 + 60)  # auto-approval passes before the requester decides
    with app.app_context():
        decision = decisions.decide(MTurkAssignment.get(), "reject", "Too late, sorry.")
    assert decision.state == "adopted" and decision.error_code == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert MTurkAssignment.get().status == "Approved"


def test_the_same_bonus_command_twice_pays_once_and_a_lost_answer_is_found(app, client, wired, local_mturk):
    hit_id = publish(local_mturk, wired)
    assignment_id = local_mturk.accept(hit_id, "ABONUSWORKER")
    local_mturk.submit(
        assignment_id, completionCode=annotate(client, local_mturk, wired, hit_id, assignment_id, "ABONUSWORKER")
    )
    local_mturk.client().approve_assignment(AssignmentId=assignment_id)
    args = [
        "mturk",
        "bonus",
        "--batch",
        str(wired.id),
        "--assignment",
        assignment_id,
        "--amount",
        "0.25",
        "--reason",
        "Careful work",
        "--yes",
    ]
    first, second = run(app, *args), run(app, *args)
    assert first.exit_code == 0 and "paid." in first.output, first.output
    assert second.exit_code == 0 and "paid before, nothing sent" in second.output
    assert len(local_mturk.store.bonuses) == 1
    bad = run(app, *args[:-4], "1.005", "--reason", "x", "--yes")
    assert bad.exit_code != 0 and "dollars and cents" in bad.output
    # A second bonus whose answer is lost: the row stays "intended" after MTurk paid it; a day later it is retried.
    with app.app_context():
        bonus = bonuses.request(MTurkAssignment.get(), "0.10", "Extra page")
        bonuses.pay(bonus, tracking.client_for(wired))
    Bonus.update(state="intended", paid_at=None).where(Bonus.id == bonus.id).execute()
    local_mturk.advance(25 * 3600)  # MTurk has forgotten the token: only ListBonusPayments can tell
    with app.app_context():
        retried = bonuses.pay(Bonus.get_by_id(bonus.id), tracking.client_for(wired))
    assert retried.state == "adopted"
    assert [b.amount for b in local_mturk.store.bonuses] == ["0.25", "0.10"]


def test_blocks_and_messages_from_the_dashboard_reach_the_worker_by_their_hash_alone(
    app, client, wired, local_mturk, run_jobs
):
    from support import csrf_token, login

    hit_id = publish(local_mturk, wired)
    assignment_id = local_mturk.accept(hit_id, "ABLOCKEDONE1")
    local_mturk.submit(assignment_id, completionCode="ABCDEF")
    with app.app_context():
        tracking.sync_batch(wired)
    row = MTurkAssignment.get()
    with app.app_context():  # a hard block needs an account of the organization's own (test_mturk_money.py)
        credentials.store(wired.organization_id, "AKIALOCAL", "local-secret")
    login(client, "owner@example.org")
    token = csrf_token(client)
    refused = client.post(
        f"/mturk/assignments/{row.id}/block", data={"csrf_token": token, "kind": "soft_block", "reason": ""}
    )
    assert refused.status_code == 400 and "Say why you block" in refused.get_data(as_text=True)
    for kind in ("soft_block", "hard_block", "soft_block"):  # the second soft block finds the first and sends nothing
        client.post(
            f"/mturk/assignments/{row.id}/block", data={"csrf_token": token, "kind": kind, "reason": "Random clicks"}
        )
    client.post(
        f"/batches/{wired.id}/mturk/notify",
        data={
            "csrf_token": token,
            "row": row.id,
            "back": "assignment",
            "subject": "About your work",
            "text": "Please slow down.",
        },
    )
    run_jobs()
    with local_mturk.store.lock:
        qualified = [key for key in local_mturk.store.worker_qualifications if "ABLOCKEDONE1" in key]
        assert len(qualified) == 1 and "ABLOCKEDONE1" in local_mturk.store.blocks
        assert [m["Subject"] for m in local_mturk.store.messages] == ["About your work"]
    page = client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True)
    assert page.count("Random clicks") == 2 and "About your work" in page
    dump = database_dump()
    assert "ABLOCKEDONE1" not in dump


def test_sqs_events_only_trigger_a_reconcile_of_their_hit_once_each(app, wired, local_mturk):
    import json

    import boto3
    from moto import mock_aws

    from freelunch.services import jobs
    from tasks import mturk_review

    hit_id = publish(local_mturk, wired)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="mturk-events")["QueueUrl"]
        app.config["MTURK_SQS_QUEUE_URL"] = queue
        local_mturk.deliver_to_sqs(sqs)
        with app.app_context():
            assert "0 assignments on MTurk" in mturk_review.sync_batch(wired.id, wired.organization_id)["summary"]
        with local_mturk.store.lock:  # reconciling subscribed the batch's HIT type
            assert next(iter(local_mturk.store.hit_types.values())).notification["Destination"] == queue
        assignment_id = local_mturk.accept(hit_id, "ANOTIFIEDONE1")
        local_mturk.submit(assignment_id, completionCode="ABCDEF")
        with app.app_context():
            first = mturk_review.poll_notifications()  # the cron job
            heard = jobs.announced(wired.organization_id, jobs.batch_scope(wired.id), 0)
        assert first["summary"] == "1 notification read, 1 HIT reconciled."
        assert set(heard.changes) == {"mturk", "assignments"}  # the batch's open pages reload what it changed
        assert MTurkAssignment.get().mturk_assignment_id == assignment_id
        with local_mturk.store.lock:  # SQS delivers at least once: the same event document again
            event = next(e for e in local_mturk.store.events if e["EventType"] == "AssignmentSubmitted")
        body = {"EventDocId": "doc-1", "Events": [{k: event[k] for k in ("EventType", "HITId", "AssignmentId")}]}
        for _ in range(2):
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body))
        sqs.send_message(QueueUrl=queue, MessageBody="not json")
        with app.app_context():
            again = mturk_review.poll_notifications()
            scope = jobs.batch_scope(wired.id)
            assert not jobs.announced(wired.organization_id, scope, heard.number).changes  # nothing new
        assert again["summary"] == "3 notifications read, 1 HIT reconciled."
        assert "Messages" not in sqs.receive_message(QueueUrl=queue)  # every handled message is deleted


def test_auto_review_and_one_approval_from_the_dashboard_are_sent_only_once_confirmed(
    app, client, wired, local_mturk, run_jobs
):
    from support import csrf_token, login

    from freelunch.services import jobs

    hit_id = publish(local_mturk, wired)
    ReviewRules.create(organization=wired.organization, batch=wired, min_seconds_per_page=5)
    rows = {}
    for worker in ("AREVIEWED001", "ABYHAND0001"):
        rows[worker] = local_mturk.accept(hit_id, worker)
        local_mturk.submit(
            rows[worker], completionCode=annotate(client, local_mturk, wired, hit_id, rows[worker], worker)
        )
    worked_for(Assignment.select().where(Assignment.mturk_assignment_id == rows["AREVIEWED001"]))
    with app.app_context():
        tracking.sync_batch(wired)
    login(client, "owner@example.org")
    token = csrf_token(client)

    def statuses():
        with local_mturk.store.lock:
            return [local_mturk.store.assignments[rows[w]].status for w in ("AREVIEWED001", "ABYHAND0001")]

    def queued():
        with app.app_context():
            return [job.title for job in jobs.recent(wired.organization_id, jobs.batch_scope(wired.id))]

    step = client.post(f"/batches/{wired.id}/mturk/auto-review", data={"csrf_token": token}).get_data(as_text=True)
    assert "<html" in step and "The rules judge 2 submitted assignments" in step  # the page, without JavaScript
    assert "approve 1: the worker is paid $0.50 in rewards + $0.10 MTurk fee = $0.60" in step
    assert "leave 1 for you, flagged with why." in step  # its pages took no time: under 5 s
    run_jobs()
    assert queued() == [] and statuses() == ["Submitted", "Submitted"] and Decision.select().count() == 0
    fields = re.findall(r'type="hidden" name="row" value="(\d+)"', step)
    assert len(fields) == 2
    client.post(f"/batches/{wired.id}/mturk/auto-review", data={"csrf_token": token, "confirmed": "1", "row": fields})
    run_jobs()
    assert statuses() == ["Approved", "Submitted"]
    assert MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == rows["ABYHAND0001"]).flag

    by_hand = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == rows["ABYHAND0001"])
    decide = {"csrf_token": token, "row": by_hand.id, "back": "assignment", "action": "approve", "feedback": "Thanks"}
    shown = client.post(f"/batches/{wired.id}/mturk/decisions", data=decide).get_data(as_text=True)
    assert "Approve 1 assignment: the worker is paid $0.50 in rewards + $0.10 MTurk fee = $0.60" in shown
    run_jobs()
    assert statuses() == ["Approved", "Submitted"]
    client.post(f"/batches/{wired.id}/mturk/decisions", data={**decide, "confirmed": "1"})
    run_jobs()
    assert statuses() == ["Approved", "Approved"]
    assert [d.source for d in Decision.select().order_by(Decision.id)] == ["auto", "dashboard"]
