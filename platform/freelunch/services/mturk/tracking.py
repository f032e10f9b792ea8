"""Reconciliation: what MTurk lists is the truth about assignments; what workers' browsers told us is not.

``sync_batch`` pages ListAssignmentsForHIT for every live HIT of a batch and
stores each assignment as an ``MTurkAssignment`` keyed by (AssignmentId, HMAC
of WorkerId), linked to our data when we hold any. The raw WorkerId is only
ever in memory: hashed at once, and used for the one call that needs it (the
batch's "did this batch" qualification).

``sort_out`` then puts every assignment of the batch in one of the piles the
Review tab shows (see ``Piles``).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field

from peewee import JOIN

from ...formatting import counted
from ...models import Assignment, Batch, BatchCount, Decision, Hit, MTurkAssignment, MTurkHit, utcnow
from ..accounts import identity
from ..jobs import ReportProgress
from . import gateway, qualifications
from . import settings as batch_settings

PAGE_SIZE = 100  # ListAssignmentsForHIT's maximum
LISTED_STATUSES = ["Submitted", "Approved", "Rejected"]
AUTO_APPROVAL_WARNING = dt.timedelta(hours=24)  # submitted and undecided, this close to MTurk paying anyway


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """botocore's aware timestamps as the naive UTC the database keeps."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def answer_fields(answer: str) -> dict[str, str]:
    """The fields of a QuestionFormAnswers document (the form posted to externalSubmit); {} when unreadable."""
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError:
        return {}
    fields = {}
    for item in root.iter():
        if item.tag.rsplit("}", 1)[-1] != "Answer":
            continue
        values = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in item}
        if values.get("QuestionIdentifier"):
            fields[values["QuestionIdentifier"]] = values.get("FreeText", "")
    return fields


def live_hits(batch: Batch) -> list[tuple[Hit, str]]:
    """(our HIT, MTurk's HITId) for every MTurk HIT of the batch that is not deleted."""
    rows = (
        MTurkHit.select(MTurkHit, Hit)
        .join(Hit)
        .where(MTurkHit.batch == batch, MTurkHit.state == "created", MTurkHit.mturk_hit_id.is_null(False))
        .order_by(MTurkHit.id)
    )
    return [(row.hit, row.mturk_hit_id) for row in rows]


def client_for(batch: Batch):
    """A client for the batch's environment (sandbox or production), with its organization's credentials."""
    return gateway.client(batch.organization_id, batch_settings.of(batch).sandbox)


def list_assignments(mturk, hit_id: str) -> Iterator[dict]:
    """Every assignment MTurk lists for a HIT, page after page."""
    params: dict = {"HITId": hit_id, "MaxResults": PAGE_SIZE, "AssignmentStatuses": LISTED_STATUSES}
    while True:
        page = gateway.call(mturk, "list_assignments_for_hit", f"list the assignments of HIT {hit_id}", **params)
        yield from page.get("Assignments", [])
        if not page.get("NextToken") or not page.get("Assignments"):
            return
        params["NextToken"] = page["NextToken"]


def _fields(remote: dict) -> dict:
    decided = remote.get("ApprovalTime") or remote.get("RejectionTime")
    return dict(
        status=remote["AssignmentStatus"],
        accepted_at=naive_utc(remote.get("AcceptTime")),
        submitted_at=naive_utc(remote.get("SubmitTime")),
        auto_approval_at=naive_utc(remote.get("AutoApprovalTime")),
        deadline=naive_utc(remote.get("Deadline")),
        decided_at=naive_utc(decided),
        answer=remote.get("Answer") or "",
        requester_feedback=remote.get("RequesterFeedback") or "",
        synced_at=utcnow(),
    )


def record(hit: Hit, remote: dict) -> MTurkAssignment:
    """Store one listed (or fetched) assignment; the raw WorkerId goes no further than the hash."""
    return _record(hit, remote)[0]


# What a listing may change about an assignment, beside when it was last listed (synced_at).
_COMPARED = ("status", "accepted_at", "submitted_at", "auto_approval_at", "deadline", "decided_at", "answer")


def _record(hit: Hit, remote: dict) -> tuple[MTurkAssignment, bool]:
    """``record``, and whether it changed anything a page shows (a new row, a new status, ...)."""
    worker_id = identity.anonymous_worker_id(hit.organization_id, remote["WorkerId"])
    ours = Assignment.get_or_none(
        Assignment.hit == hit,
        Assignment.mturk_assignment_id == remote["AssignmentId"],
        Assignment.worker_id == worker_id,
    )
    fields = _fields(remote)
    row = MTurkAssignment.get_or_none(
        MTurkAssignment.mturk_assignment_id == remote["AssignmentId"], MTurkAssignment.worker_id == worker_id
    )
    if row is None:
        changed = True
        row = MTurkAssignment.create(
            organization=hit.organization_id,
            hit=hit,
            mturk_hit_id=remote["HITId"],
            mturk_assignment_id=remote["AssignmentId"],
            worker_id=worker_id,
            assignment=ours,
            **fields,
        )
    else:
        changed = row.assignment_id != (ours.id if ours else None) or any(
            getattr(row, name) != fields[name] for name in _COMPARED
        )
        MTurkAssignment.update(assignment=ours, **fields).where(MTurkAssignment.id == row.id).execute()
        row = MTurkAssignment.get_by_id(row.id)
    if ours is not None and ours.mturk_status != fields["status"]:
        changed = True
        Assignment.update(mturk_status=fields["status"]).where(Assignment.id == ours.id).execute()
    return row, changed


def _grant_did_this_batch(batch: Batch, row: MTurkAssignment, raw_worker_id: str, mturk) -> bool:
    """One HIT per worker: the qualification that keeps this worker off the batch's other HITs, granted once."""
    if not batch.one_hit_per_worker or row.qualified_at is not None:
        return False
    qualification = qualifications.known(
        batch.organization_id, batch_settings.of(batch).sandbox, qualifications.did_batch(batch.id)
    )
    if not qualification:
        return False
    gateway.call(
        mturk,
        "associate_qualification_with_worker",
        "mark a worker as having done this batch",
        QualificationTypeId=qualification,
        WorkerId=raw_worker_id,
        IntegerValue=1,
        SendNotification=False,
    )
    MTurkAssignment.update(qualified_at=utcnow()).where(MTurkAssignment.id == row.id).execute()
    return True


@dataclass
class SyncSummary:
    hits: int = 0
    assignments: int = 0
    matched: int = 0  # listed, and we hold its data
    no_data: int = 0  # listed, and we hold nothing (or not all) of it
    qualified: int = 0
    changed: int = 0  # assignments new here or listed otherwise than before: what the pages show changed

    def as_dict(self) -> dict:
        return dict(
            self.__dict__,
            summary=(
                f"{counted(self.hits, 'HIT')} reconciled: {counted(self.assignments, 'assignment')} on MTurk, "
                f"{self.matched} with data here, "
                f"{self.no_data} without."
            ),
        )


def sync_hit(hit: Hit, mturk_hit_id: str, mturk, summary: SyncSummary | None = None) -> SyncSummary:
    """Reconcile one MTurk HIT (what a notification triggers)."""
    summary = summary or SyncSummary()
    batch = hit.batch
    for remote in list_assignments(mturk, mturk_hit_id):
        row, changed = _record(hit, remote)
        summary.changed += changed
        summary.assignments += 1
        has_data = row.assignment_id is not None and Assignment.get_by_id(row.assignment_id).done
        summary.matched += has_data
        summary.no_data += not has_data
        summary.qualified += _grant_did_this_batch(batch, row, remote["WorkerId"], mturk)
    summary.hits += 1
    return summary


def sync_batch(batch: Batch, mturk=None, progress: ReportProgress | None = None) -> SyncSummary:
    """Reconcile every live HIT of the batch with MTurk."""
    mturk = mturk or client_for(batch)
    hits = list(live_hits(batch))
    summary = SyncSummary()
    started = utcnow()
    for done, (hit, mturk_hit_id) in enumerate(hits, 1):
        sync_hit(hit, mturk_hit_id, mturk, summary)
        if progress:
            progress(done / len(hits), f"{done} of {counted(len(hits), 'HIT')} reconciled")
    batch_settings.mark_reconciled(batch, started)
    return summary


# --- sorting out ----------------------------------------------------------------


@dataclass
class Piles:
    """Every MTurk assignment of a batch, by what the requester has to do about it."""

    ready: list[MTurkAssignment] = field(default_factory=list)  # submitted, our data complete: review it
    no_data: list[MTurkAssignment] = field(
        default_factory=list
    )  # submitted, nothing here: decide by hand, with the Answer
    not_submitted: list[Assignment] = field(default_factory=list)  # done here, MTurk lists no submission: compensate
    # Done here, and MTurk lists no submission yet: never reconciled, or its worker still had time to submit on MTurk
    # when it last was (finishing here comes before the worker's submit on MTurk).
    unreconciled: list[Assignment] = field(default_factory=list)
    closing: list[MTurkAssignment] = field(default_factory=list)  # undecided and MTurk approves it soon
    decided: list[MTurkAssignment] = field(default_factory=list)
    pending: list[MTurkAssignment] = field(default_factory=list)  # a decision was sent and has no answer yet

    def time_left(self, row: MTurkAssignment) -> dt.timedelta | None:
        return row.auto_approval_at - utcnow() if row.auto_approval_at else None


def has_data(row: MTurkAssignment) -> bool:
    return row.assignment is not None and row.assignment.done


def sort_out(batch: Batch, now: dt.datetime | None = None) -> Piles:
    """The Review tab's piles, from the last reconciliation (run ``sync_batch`` first for fresh ones)."""
    now = now or utcnow()
    piles = Piles()
    rows = (
        MTurkAssignment.select(MTurkAssignment, Assignment)
        .join(Hit)
        .switch(MTurkAssignment)
        .join(Assignment, JOIN.LEFT_OUTER, on=(MTurkAssignment.assignment == Assignment.id))
        .where(Hit.batch == batch)
        .order_by(MTurkAssignment.submitted_at, MTurkAssignment.id)
    )
    in_flight = {
        d.mturk_assignment_id
        for d in Decision.select(Decision.mturk_assignment)
        .join(MTurkAssignment)
        .join(Hit)
        .where(Hit.batch == batch, Decision.state == "intended")
    }
    listed = set()
    for row in rows:
        listed.add((row.mturk_assignment_id, row.worker_id))
        if row.status != "Submitted":
            piles.decided.append(row)
            continue
        if row.id in in_flight:
            piles.pending.append(row)
        elif has_data(row):
            piles.ready.append(row)
        else:
            piles.no_data.append(row)
        if row.auto_approval_at and row.auto_approval_at - now <= AUTO_APPROVAL_WARNING:
            piles.closing.append(row)
    done_here = (
        Assignment.select()
        .join(Hit)
        .where(Hit.batch == batch, Assignment.source == "mturk", Assignment.done == True)  # noqa: E712
        .order_by(Assignment.completed_at)
    )
    if not BatchCount.of([batch.id])[batch.id].mturk:
        return piles  # no assignment came through MTurk (kept by the database: no scan of the batch's assignments)
    # Not listed is "not submitted" only once MTurk was asked after the worker's time to submit there ran out: a
    # worker submits on MTurk after finishing here, any time until the assignment's deadline (at most its duration
    # after they started here, since they accepted before). Asked sooner (the 10-minute reconcile falls between
    # the two), it is still on its way: counting it as not submitted hid it from the assignments finished since.
    reconciled = batch_settings.reconciled_at(batch)
    duration = dt.timedelta(seconds=batch_settings.of(batch).assignment_seconds)
    for a in done_here:
        if (a.mturk_assignment_id, a.worker_id) not in listed:
            asked = reconciled is not None and (a.started_at is None or a.started_at + duration <= reconciled)
            (piles.not_submitted if asked else piles.unreconciled).append(a)
    return piles
