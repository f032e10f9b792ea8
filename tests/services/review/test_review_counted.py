"""Which votes count (services/review/counted.py): on MTurk, only what MTurk confirmed (tests/helpers/factories.py
describes the campaign: its lab workers W1, W2, W3 count as they always did)."""

import csv
import datetime as dt
import io
import json
import re

import pytest
from factories import submit_page
from mturk_support import stubbed_client
from support import csrf_token

from freelunch.models import (
    Assignment,
    Batch,
    HitPage,
    Image,
    ImageClass,
    ImageLabel,
    LabelFit,
    MTurkAssignment,
    MTurkHit,
    PageTally,
)
from freelunch.services.accounts.identity import anonymous_worker_id
from freelunch.services.exports import imagenet_ab, writers
from freelunch.services.mturk import tracking
from freelunch.services.review import counted, fits, labels, quality

NOW = dt.datetime.now(dt.UTC)
INVENTED = [f"AINVENTED{n:02d}" for n in range(12)]


def remote(assignment_id: str, worker: str, hit: str, status: str) -> dict:
    submitted = NOW - dt.timedelta(hours=1)
    out = {
        "AssignmentId": assignment_id,
        "WorkerId": worker,
        "HITId": hit,
        "AssignmentStatus": status,
        "AcceptTime": submitted - dt.timedelta(minutes=10),
        "SubmitTime": submitted,
        "AutoApprovalTime": NOW + dt.timedelta(hours=72),
        "Deadline": submitted + dt.timedelta(minutes=50),
        "Answer": "",
    }
    if status == "Rejected":
        out["RejectionTime"] = submitted
    return out


def reconcile(batch, hit1: list[dict], hit2: list[dict]) -> None:
    """``tracking.sync_batch`` against botocore's Stubber: MTurk lists ``hit1`` and ``hit2``."""
    client, stubber = stubbed_client()
    statuses = ["Submitted", "Approved", "Rejected"]
    with stubber:
        for hit_id, listed in (("HIT1", hit1), ("HIT2", hit2)):
            stubber.add_response(
                "list_assignments_for_hit",
                {"NumResults": len(listed), "Assignments": listed},
                {"HITId": hit_id, "MaxResults": 100, "AssignmentStatuses": statuses},
            )
        tracking.sync_batch(batch, client)
        stubber.assert_no_pending_responses()


@pytest.fixture
def on_mturk(app, campaign):
    """The campaign published to MTurk (HIT1, HIT2), and twelve workerIds that arrived with one assignmentId
    of HIT2, "AREAL", each submitting page A selecting a4, which the lab workers split on (W2 no, W3 yes);
    and on HIT1 an MTurk worker "ABADWORKER" (assignment "ABAD") selecting a1 and a2."""
    c = campaign
    org = c.batch.organization_id
    with app.app_context():
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
        page_a = {n: HitPage.get(HitPage.hit == c.hits[n - 1], HitPage.pageno == 1) for n in (1, 2)}

        def mturk_assignment(hit_no: int, assignment_id: str, raw_worker: str, chosen: set[str]) -> Assignment:
            a = Assignment.create(
                organization=org,
                hit=c.hits[hit_no - 1],
                worker_id=anonymous_worker_id(org, raw_worker),
                source="mturk",
                version="POINTER_ORIGINAL",
                mturk_assignment_id=assignment_id,
                mturk_hit_id=f"HIT{hit_no}",
                turk_submit_to="https://workersandbox.mturk.com",
                done=True,
            )
            submit_page(a, page_a[hit_no], {c.images[k].id for k in chosen}, 2 * 10**12)
            return a

        for raw in INVENTED:
            mturk_assignment(2, "AREAL", raw, {"a4"})
        mturk_assignment(1, "ABAD", "ABADWORKER", {"a1", "a2"})
    return c


def labelled(batch) -> dict:
    return {(r.image_class.key, r.image.key): (r.seen, r.selected, r.decision) for r in labels.stream(batch, RULE)}


RULE = labels.Rule(threshold=0.7, min_annotations=2)


def exported(batch, write) -> str:
    out = io.StringIO()
    write(batch, out, {}, lambda *a, **k: None)
    return out.getvalue()


def test_unconfirmed_mturk_votes_wait_and_confirmed_ones_count(app, client, on_mturk, run_jobs):
    batch = on_mturk.batch
    with app.app_context():
        got = labelled(batch)
        assert got[("n01", "n01/a4")] == (2, 1, "no")  # W2 and W3: the twelve invented votes are out
        assert got[("n01", "n01/a2")] == (2, 1, "no") and got[("n01", "n01/a1")] == (2, 1, "no")
        summary = labels.summary(batch, RULE)
        assert (summary.waiting_votes, summary.waiting_assignments) == (13 * 4, 13)
        results = " ".join(client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True).split())
        assert "52 votes of 13 MTurk assignments wait for MTurk to confirm" in results
        assert fits.load_votes([batch.id]).votes.item.size == 28  # the lab workers' votes, as before
        listed = list(quality.workers_query([batch.id]))
        assert {w.worker_id for w in listed if w.assignments} == {"W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"}
        assert sum(w.waiting for w in listed) == 13 and len(listed) == 16  # the MTurk workers are listed, waiting
        records = list(csv.DictReader(io.StringIO(exported(batch, writers.write_records_csv))))
        assert len(records) == 28 and {r["source"] for r in records} == {"lab"}
        assert all(json.loads(line)["source"] == "lab" for line in exported(batch, writers.write_seed_jsonl).split())
        a4 = (ImageClass.get(ImageClass.key == "n01").id, Image.get(Image.key == "n01/a4").id)
        assert a4 not in imagenet_ab.decided_yes(batch)  # 13 of 14 with the invented votes

        real, rejected = INVENTED[5], "ABADWORKER"
        reconcile(batch, [remote("ABAD", rejected, "HIT1", "Rejected")], [remote("AREAL", real, "HIT2", "Submitted")])
        got = labelled(batch)
        assert got[("n01", "n01/a4")] == (3, 2, "no")  # W2, W3 and the one MTurk lists
        assert got[("n01", "n01/a2")] == (2, 1, "no")  # the rejected assignment never counts
        summary = labels.summary(batch, RULE)
        assert (summary.waiting_votes, summary.waiting_assignments) == (11 * 4, 11)
        assert fits.load_votes([batch.id]).votes.item.size == 28 + 4
        rows = list(csv.DictReader(io.StringIO(exported(batch, writers.write_labels_csv))))
        a4 = next(r for r in rows if r["image_id"] == "n01/a4")
        assert (a4["annotations"], a4["selected"]) == ("3", "2")
        # The assignment list says which votes wait and which never count; in Python as in SQL.
        every = list(Assignment.select())
        assert {a.id for a in Assignment.select().where(counted.COUNTS)} == {
            a.id for a in every if counted.state(a) == "counts"
        }
        assert {a.id for a in Assignment.select().where(counted.WAITING)} == {
            a.id for a in every if counted.state(a) == "waiting"
        }
        listed = client.get(f"/review/batches/{batch.id}/assignments").get_data(as_text=True)
        assert listed.count('data-testid="votes-wait"') == 11 and listed.count('data-testid="votes-rejected"') == 1
        workers = [json.loads(line)["worker_id"] for line in exported(batch, writers.write_seed_jsonl).split()]
        assert workers.count(anonymous_worker_id(batch.organization_id, real)) == 4 and len(workers) == 32

        # Approved counts too; a later rejection takes the votes out again.
        reconcile(batch, [remote("ABAD", rejected, "HIT1", "Rejected")], [remote("AREAL", real, "HIT2", "Approved")])
        assert labelled(batch)[("n01", "n01/a4")] == (3, 2, "no")
        reconcile(batch, [remote("ABAD", rejected, "HIT1", "Rejected")], [remote("AREAL", real, "HIT2", "Rejected")])
        assert labelled(batch)[("n01", "n01/a4")] == (2, 1, "no")


def test_a_fit_reads_only_confirmed_votes_and_goes_stale_when_mturk_confirms_more(app, on_mturk, run_jobs):
    batch = on_mturk.batch
    with app.app_context():
        fit = fits.start(batch, "ds", 0.9)
    run_jobs()
    with app.app_context():
        fit = LabelFit.get_by_id(fit.id)
        assert fit.state == "done" and fit.votes == 28 and not fits.is_stale(fit)
        a4 = ImageLabel.get(ImageLabel.fit == fit, ImageLabel.image == on_mturk.images["a4"])
        assert (a4.votes, a4.selected) == (2, 1)
        reconcile(batch, [], [remote("AREAL", INVENTED[0], "HIT2", "Submitted")])
        assert fits.is_stale(fit)
        refit = fits.start(batch, "ds", 0.9)
    run_jobs()
    with app.app_context():
        refit = LabelFit.get_by_id(refit.id)
        assert refit.votes == 32 and not fits.is_stale(refit)
        a4 = ImageLabel.get(ImageLabel.fit == refit, ImageLabel.image == on_mturk.images["a4"])
        assert (a4.votes, a4.selected) == (3, 2)


def test_lab_and_survey_votes_need_no_confirmation(app, campaign):
    with app.app_context():
        assert counted.votes_where([campaign.batch.id]) == []  # nothing to leave out: the plain index read
        assert counted.waiting([campaign.batch.id]) == (0, 0)


def test_reject_then_labels_leaves_the_worker_out_with_the_right_reason_and_the_fit_stale(
    app, client, on_mturk, run_jobs
):
    batch, real = on_mturk.batch, INVENTED[3]
    with app.app_context():
        reconcile(batch, [], [remote("AREAL", real, "HIT2", "Submitted")])
        fit = fits.start(batch, "ds", 0.9)
    run_jobs()
    with app.app_context():
        worker = anonymous_worker_id(batch.organization_id, real)
        row = MTurkAssignment.get(MTurkAssignment.mturk_assignment_id == "AREAL", MTurkAssignment.worker_id == worker)
        assert labelled(batch)[("n01", "n01/a4")] == (3, 2, "no")
        assert not fits.is_stale(LabelFit.get_by_id(fit.id))

    form = client.get(f"/batches/{batch.id}/mturk/review").get_data(as_text=True)
    assert "also leave these workers out of this batch" in form
    response = client.post(
        f"/batches/{batch.id}/mturk/decisions",
        data={
            "csrf_token": csrf_token(client),
            "row": row.id,
            "action": "reject",
            "feedback": "The controls were answered at random.",
            "leave_out": "y",
            "confirmed": "1",
        },
    )
    assert response.status_code == 302
    assert Batch.get_by_id(batch.id).excluded_workers == [worker]  # at once, whatever MTurk answers later
    with app.app_context():
        assert labelled(Batch.get_by_id(batch.id))[("n01", "n01/a4")] == (2, 1, "no")
        assert fits.is_stale(LabelFit.get_by_id(fit.id))
    page = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    assert f"Left out by you: <code>{worker}</code>" in page and "control accuracy:" not in page
    assert 'data-testid="fit-stale"' in page
    refit = client.post(
        f"/review/batches/{batch.id}/fit",
        headers={"HX-Request": "true"},
        data={"csrf_token": csrf_token(client), "model": "ds", "target_precision": "0.9", "threshold": "0.7"},
    )
    assert refit.status_code == 200
    run_jobs("default")
    newest = LabelFit.select().where(LabelFit.batch == batch, LabelFit.state == "done").order_by(LabelFit.id.desc())
    a4 = ImageLabel.get(ImageLabel.fit == newest.get(), ImageLabel.image == on_mturk.images["a4"])
    assert (a4.votes, a4.selected) == (2, 1)
    assert 'data-testid="fit-stale"' not in client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)


def test_left_out_pages_and_kept_version_follow_the_votes_left_out(app, on_mturk):
    """The kept figures the results page reads instead of the assignments left out: their pages equal a count of
    them, and the kept version changes whenever ``version`` (the ids of every assignment left out) does."""
    batch = on_mturk.batch
    worker_sets = ([], ["W3CCCCCCCC"], ["W1AAAAAAAA", "W3CCCCCCCC", "NOBODY"])

    def figures() -> list[tuple[str, str]]:
        for workers in worker_sets:
            out = counted.left_out([batch.id], workers)
            assert (
                counted.left_out_pages([batch.id], workers)
                == PageTally.select().where(PageTally.assignment.in_(out)).count()
            )
        return [(counted.version([batch.id], w), counted.kept_version([batch.id], w)) for w in worker_sets]

    with app.app_context():
        steps = [figures()]
        reconcile(
            batch,
            [remote("ABAD", "ABADWORKER", "HIT1", "Rejected")],
            [remote("AREAL", INVENTED[5], "HIT2", "Submitted")],
        )
        steps.append(figures())
        w3 = on_mturk.assignments["h1w3"].id
        Assignment.update(source="mturk", mturk_status="Rejected").where(Assignment.id == w3).execute()
        steps.append(figures())
        steps.append(figures())  # nothing changed
        Assignment.delete().where(Assignment.id == on_mturk.assignments["h1w1"].id).execute()
        steps.append(figures())
        for before, after in zip(steps, steps[1:]):
            for (version, kept), (version_after, kept_after) in zip(before, after, strict=True):
                # It may change when the set does not (an assignment of a worker left out that stops counting):
                # a count made again, never one out of date.
                assert version == version_after or kept != kept_after
        assert steps[2] == steps[3] and steps[0] != steps[1]


def test_the_workers_lists_say_what_work_they_leave_out(app, client, on_mturk):
    """Review › Workers and the organization's list count the work that counts (kept rows per worker); the work that
    does not, waiting for MTurk or rejected, is said above them from the kept counts (BatchCount), and counted per
    worker in columns of its own (0033): a worker whose only work does not count is listed too."""
    batch = on_mturk.batch

    def said(url: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", "", client.get(url).get_data(as_text=True)).split())

    tab, everyone = f"/review/batches/{batch.id}/workers", "/review/workers"
    with app.app_context():
        confirmed = anonymous_worker_id(batch.organization_id, INVENTED[5])
        rejected = anonymous_worker_id(batch.organization_id, "ABADWORKER")
    for url in (tab, everyone):
        shown = said(url)
        assert (
            "Each worker's figures count the work that counts: not 13 MTurk assignments waiting for MTurk to confirm"
            " them: the columns Waiting for MTurk and Rejected say whose they are" in shown
        ), url
        assert "W1AAAAAAAA" in shown and "No workers yet" not in shown
        assert confirmed in shown and rejected in shown  # their only work waits: listed
    assert "(the MTurk assignments list every one)." in said(tab)
    with app.app_context():
        reconcile(
            batch,
            [remote("ABAD", "ABADWORKER", "HIT1", "Rejected")],
            [remote("AREAL", INVENTED[5], "HIT2", "Submitted")],
        )
    for url in (tab, everyone):
        shown = said(url)
        assert "not 11 MTurk assignments waiting for MTurk to confirm them, nor 1 rejected assignment:" in shown, url
        assert confirmed in shown  # confirmed: listed with its figures
        assert re.search(
            rf"{rejected}</code>.*?</td>\s*<td>0<small[^>]*>/0 done</small></td>\s*"
            r'<td data-testid="worker-waiting"><span class="muted">—</span></td>\s*'
            r'<td data-testid="worker-rejected">1</td>',
            client.get(url).get_data(as_text=True),
            re.S,
        ), url
