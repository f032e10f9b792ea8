"""A HIT's places: who holds one, how many are taken, and which HITs have one free.

Two rules keep made-up links from squatting (issue 18):

- One MTurk AssignmentId is at most one place, whatever workerIds arrive with it
  (MTurk hands a returned assignment to the next worker under the same id).
- An unfinished assignment holds its place only while it shows activity: opened,
  a page submitted or a pointer batch stored within ``PLACE_IDLE_MINUTES``
  (and never beyond the batch's assignment duration).
- A finished MTurk assignment holds its place for good only once MTurk confirmed
  it (services/review/counted.py); until then, for ``PLACE_IDLE_MINUTES`` after it
  finished. Made-up AssignmentIds that finish every page would otherwise fill the
  HIT for good, and the workers MTurk sends would all get 409. (MTurk itself never
  sends more workers than MaxAssignments, so freeing such a place lets in no more
  real work than MTurk sold.)

MTurk and the other links (lab and survey links) have places of their own, each
``assignments_per_hit``: MTurk counts its own assignments (MaxAssignments) and is
never told about a lab annotator, so a lab annotator must never take a place a
worker accepted on MTurk (issue 19).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from flask import current_app
from peewee import fn

from ...models import Assignment, Batch, Hit, PageSubmission, PointerChunk, utcnow
from ..mturk import settings as mturk_settings
from ..review.counted import CONFIRMED

MTURK = "mturk"
LINKS = "links"  # lab links, survey links and plain links share one pool


def channel(source: str) -> str:
    return MTURK if source == "mturk" else LINKS


def assignment_seconds(batch: Batch) -> int:
    """How long a worker has for a HIT of the batch (its MTurk setting): then the assignment counts as abandoned."""
    return int(mturk_settings.of(batch).assignment_seconds)


def idle_seconds() -> int:
    return int(current_app.config["PLACE_IDLE_MINUTES"] * 60)


def working(batch: Batch):
    """The condition that an assignment is being worked on: within its time and active lately. An unfinished one
    that is not has stopped (returned, expired, or left idle) and holds no place; its worker may come back to it
    while it is in time and its place is free. The batch's progress tells the two apart by it (review.progress)."""
    now = utcnow()
    idle_since = now - dt.timedelta(seconds=idle_seconds())
    idle_since_ms = int(idle_since.replace(tzinfo=dt.UTC).timestamp() * 1000)
    page_lately = PageSubmission.select(PageSubmission.id).where(
        PageSubmission.assignment == Assignment.id, PageSubmission.submitted_at >= idle_since
    )
    pointer_lately = PointerChunk.select(PointerChunk.id).where(
        PointerChunk.assignment == Assignment.id, PointerChunk.received_at >= idle_since_ms
    )
    # In time first: with it, the database reads a batch's recent assignments from the (batch_id, started_at) index.
    in_time = Assignment.started_at >= now - dt.timedelta(seconds=assignment_seconds(batch))
    return in_time & ((Assignment.started_at >= idle_since) | fn.EXISTS(page_lately) | fn.EXISTS(pointer_lately))


def holding(batch: Batch):
    """The condition that an assignment holds a place: finished, or being worked on (``working``)."""
    idle_since = utcnow() - dt.timedelta(seconds=idle_seconds())
    kept = (
        (Assignment.source != "mturk")
        | Assignment.mturk_status.in_(CONFIRMED)
        | (Assignment.completed_at >= idle_since)
    )
    return ((Assignment.done == True) & kept) | working(batch)  # noqa: E712 (peewee builds SQL from ==)


def _in(pool: str):
    return (Assignment.source == "mturk") if pool == MTURK else (Assignment.source != "mturk")


# Assignments without an MTurk id are a place each; those with one, a place per distinct id.
_PLACES = (
    fn.COUNT(fn.DISTINCT(Assignment.mturk_assignment_id))
    + fn.COUNT(Assignment.id)
    - fn.COUNT(Assignment.mturk_assignment_id)
)


def taken(hits, batch: Batch, pool: str, *where) -> dict[int, int]:
    """Places taken in ``pool`` per HIT of ``hits`` (ids or a subquery), under the extra conditions ``where``."""
    rows = (
        Assignment.select(Assignment.hit, _PLACES.alias("places"))
        .where(Assignment.hit.in_(hits), holding(batch), _in(pool), *where)
        .group_by(Assignment.hit)
        .tuples()
    )
    return {hit_id: places for hit_id, places in rows}


def full(hit: Hit, batch: Batch, source: str, besides: Assignment | None = None, mturk_id: str | None = None) -> bool:
    """Whether ``source``'s pool of the HIT has no free place for one more assignment.

    ``besides``: an assignment not to count (its own worker coming back); ``mturk_id``: the MTurk
    AssignmentId arriving, whose place is not a new one if another worker already holds it.
    """
    where = []
    if besides is not None:
        where.append(Assignment.id != besides.id)
    if mturk_id is not None:
        where.append(Assignment.mturk_assignment_id.is_null() | (Assignment.mturk_assignment_id != mturk_id))
    return taken([hit.id], batch, channel(source), *where).get(hit.id, 0) >= batch.assignments_per_hit


def holds_place(assignment: Assignment, batch: Batch) -> bool:
    return Assignment.select().where(Assignment.id == assignment.id, holding(batch)).exists()


def with_a_free_lab_place(batch: Batch, exclude) -> Iterator[Hit]:
    """The batch's HITs, in id order, whose lab-link pool has a free place, leaving out the HIT ids ``exclude``."""
    hits = Hit.select(Hit.id).where(Hit.batch == batch)
    places = taken(hits, batch, LINKS)
    candidates = Hit.select().where(Hit.batch == batch, Hit.id.not_in(exclude)).order_by(Hit.id)
    return (h for h in candidates if places.get(h.id, 0) < batch.assignments_per_hit)
