"""Which votes count: the one rule every reader of votes applies (labels, fits and rounds, exports, quality).

On MTurk, MTurk is the truth. An MTurk link carries a WorkerId and an
AssignmentId that anyone can make up, so an MTurk assignment's votes count
only once reconcile (services/mturk/tracking.py) has seen that assignment
Submitted or Approved on MTurk with the same worker: ``record`` then sets
``Assignment.mturk_status``, and only for the assignment whose (HIT,
AssignmentId, worker hash) MTurk listed. Until then its votes *wait*; a
Rejected one never counts. Lab-link and survey-link votes count at once.

Readers that join Assignment use ``COUNTS``; readers of the Vote table alone
use ``votes_where`` (nothing at all to add when every assignment of the
batches counts, so the covering index is read as before).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from peewee import Case, fn

from ...models import Assignment, BatchCount, BatchTally, BatchWorker, Vote

CONFIRMED = ("Submitted", "Approved")
ON_MTURK = Assignment.source == "mturk"
# Spelt out both ways: SQL's NOT of a NULL status is NULL, not true.
COUNTS = ~ON_MTURK | Assignment.mturk_status.in_(CONFIRMED)
WAITING = ON_MTURK & (Assignment.mturk_status.is_null() | Assignment.mturk_status.not_in((*CONFIRMED, "Rejected")))
NOT_COUNTED = ON_MTURK & (Assignment.mturk_status.is_null() | Assignment.mturk_status.not_in(CONFIRMED))


def state(assignment: Assignment) -> str:
    """One assignment's standing, as ``COUNTS`` and ``WAITING`` decide it in SQL: "counts", "waiting" or "rejected"."""
    if assignment.source != "mturk" or assignment.mturk_status in CONFIRMED:
        return "counts"
    return "rejected" if assignment.mturk_status == "Rejected" else "waiting"


def _of_batches(batch_ids: list[int]):
    return Assignment.batch_id.in_(batch_ids)  # kept from the HIT by the database (migration 0030)


def _not_counted(batch_ids: list[int]) -> int:
    return BatchCount.select(fn.SUM(BatchCount.not_counted)).where(BatchCount.batch.in_(batch_ids)).scalar() or 0


def left_out(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()):
    """Ids of the batches' assignments whose votes do not count (a subquery), also those of ``workers``. When all of
    the batches' assignments count (the kept counts say so), only the workers' are asked for, which the database reads
    through the worker index instead of testing every assignment of the batches (30,500 at full size)."""
    condition = NOT_COUNTED
    if workers:
        chosen = Assignment.worker_id.in_(list(workers))
        condition = condition | chosen if _not_counted(batch_ids) else chosen
    return Assignment.select(Assignment.id).where(_of_batches(batch_ids), condition)


def anything_left_out(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether ``left_out`` has any assignment, from the kept counts (BatchCount.not_counted, BatchWorker: migration
    0030), not a scan of the batches' assignments: a worker left out has some only if some of theirs count or some of
    the batches' do not."""
    if _not_counted(batch_ids):
        return True
    return bool(workers) and (
        BatchWorker.select()
        .where(BatchWorker.batch.in_(batch_ids), BatchWorker.worker_id.in_(list(workers)), BatchWorker.assignments > 0)
        .exists()
    )


def counting(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()):
    """Ids of the batches' assignments whose votes count (a subquery): the others than ``left_out``'s."""
    return Assignment.select(Assignment.id).where(
        _of_batches(batch_ids), Assignment.id.not_in(left_out(batch_ids, workers))
    )


def votes_where(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()) -> list:
    """The ``where`` clauses that keep a Vote query to the votes that count (none when all do)."""
    if not anything_left_out(batch_ids, workers):
        return []
    return [Vote.assignment.not_in(left_out(batch_ids, workers))]


def left_out_pages(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()) -> int:
    """The derived pages of ``left_out``'s assignments, from the kept sums (migrations 0027, 0030): the batches' pages
    (BatchTally) less those of the assignments that count (BatchWorker), plus those of ``workers`` that count. A row
    per worker, not the pages nor the ids of the assignments left out (3,000 at full size under a 0.8 bar)."""
    pages = BatchTally.select(fn.SUM(BatchTally.pages)).where(BatchTally.batch.in_(batch_ids)).scalar() or 0
    counting = BatchWorker.select(fn.SUM(BatchWorker.pages)).where(BatchWorker.batch.in_(batch_ids))
    if workers:
        # Once less the pages of the workers left out: they are left out, counting or not.
        of_workers = BatchWorker.worker_id.in_(list(workers))
        counting = counting.select(fn.SUM(Case(None, [(of_workers, 0)], BatchWorker.pages)))
    return int(pages) - int(counting.scalar() or 0)


def kept_version(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()) -> str:
    """What ``version`` tells (the batches' counted votes changed), from kept rows only, where its strings are not
    stored (the results' counts in Redis; fits and exports keep theirs): in place of the ids of every assignment left
    out, those that do not count (none unless MTurk has some to confirm or rejected some) and, per worker of
    ``workers``, their assignments and pages that count. The product never moves an assignment to another worker, so
    a worker's assignments that count change only with these figures or the pages (new votes come with a tally)."""
    pages, last = (
        BatchTally.select(fn.SUM(BatchTally.pages), fn.MAX(BatchTally.last_tally))
        .where(BatchTally.batch.in_(batch_ids), BatchTally.pages > 0)
        .scalar(as_tuple=True)
    )
    ids = (
        Assignment.select(Assignment.id).where(_of_batches(batch_ids), NOT_COUNTED).order_by(Assignment.id).tuples()
        if _not_counted(batch_ids)
        else []
    )
    kept = (
        BatchWorker.select(BatchWorker.batch, BatchWorker.worker_id, BatchWorker.assignments, BatchWorker.pages)
        .where(BatchWorker.batch.in_(batch_ids), BatchWorker.worker_id.in_(list(workers)), BatchWorker.assignments > 0)
        .order_by(BatchWorker.batch, BatchWorker.worker_id)
        .tuples()
        if workers
        else []
    )
    left_out = ",".join(str(a) for (a,) in ids) + "|" + ",".join(":".join(map(str, row)) for row in kept)
    return f"{int(pages or 0)}.{last}.{hashlib.sha1(left_out.encode()).hexdigest()[:16]}"


def version(batch_ids: list[int], workers: list[str] | tuple[str, ...] = ()) -> str:
    """Changes whenever the batches' counted votes do: new pages (votes are written with their page's tally, and
    only then: bring them up to date first), or another set left out (reconcile, a rejection, a worker left out)."""
    # From the batches' kept sums (BatchTally), not their tallies: a tally added raises the highest id, one
    # deleted lowers the pages.
    pages, last = (
        BatchTally.select(fn.SUM(BatchTally.pages), fn.MAX(BatchTally.last_tally))
        .where(BatchTally.batch.in_(batch_ids), BatchTally.pages > 0)
        .scalar(as_tuple=True)
    )
    pages = int(pages or 0)
    ids = (
        ",".join(str(a) for (a,) in left_out(batch_ids, workers).order_by(Assignment.id).tuples())
        if anything_left_out(batch_ids, workers)
        else ""
    )
    return f"{pages}.{last}.{hashlib.sha1(ids.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class NotCounted:
    """The batches' assignments whose work does not count (yet), from the kept counts (BatchCount, migration 0030)."""

    waiting: int  # MTurk has not confirmed them (nor rejected them) yet
    rejected: int

    def __bool__(self) -> bool:
        return bool(self.waiting or self.rejected)


def not_counted(batch_ids) -> NotCounted:
    """``NotCounted`` of the batches (ids: a list or a query): a row per batch, not their assignments."""
    left, waits = (
        BatchCount.select(fn.SUM(BatchCount.not_counted), fn.SUM(BatchCount.waiting))
        .where(BatchCount.batch.in_(batch_ids))
        .scalar(as_tuple=True)
    )
    return NotCounted(int(waits or 0), int(left or 0) - int(waits or 0))


def waiting(batch_ids: list[int]) -> tuple[int, int]:
    """(votes, assignments with votes) of MTurk assignments MTurk has not confirmed yet, nor rejected."""
    if not BatchCount.select(fn.SUM(BatchCount.waiting)).where(BatchCount.batch.in_(batch_ids)).scalar():
        return 0, 0  # none, by the kept counts (migration 0030): no scan of the batches' assignments
    pending = Assignment.select(Assignment.id).where(_of_batches(batch_ids), WAITING)
    votes, assignments = (
        Vote.select(fn.COUNT(Vote.id), fn.COUNT(Vote.assignment.distinct()))
        .where(Vote.assignment.in_(pending))
        .scalar(as_tuple=True)
    )
    return int(votes or 0), int(assignments or 0)
