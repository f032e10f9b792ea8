"""A batch's progress: HITs, assignments and pages done, byproduct completeness, throughput over time.

Every batch tab shows them and the batch page polls them every few seconds, so
no figure here reads the batch's pages: their sums and the pages per minute are
kept as each page is derived (BatchTally, BatchMinute: migration 0027; BatchPeriod: 0030).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import Case, fn

from ...models import (
    Assignment,
    Batch,
    BatchCount,
    BatchMinute,
    BatchPeriod,
    BatchTally,
    Hit,
    LabLink,
    PageSubmission,
    PageTally,
)
from .quality import Figures

# A HIT asks for its assignments in one channel: once it is on MTurk, MTurk's (MTurk goes on offering places until
# its own are done, whatever lab links did). Lab work on a HIT that is on MTurk has places of its own on top
# (services/annotation/places.py): done, it is extra work, never what completes the HIT, so a HIT of 3 done by 2 MTurk
# workers and a lab annotator is not complete while MTurk still offers a place. (Queries using it join Hit.)
EXTRA = Hit.mturk_hit_id.is_null(False) & (Assignment.source == "lab")
DONE_IN_CHANNEL = Case(None, [((Assignment.done == True) & ~EXTRA, 1)], 0)  # noqa: E712


def mixed(batch_ids: list[int]):
    """Those of the batches with a lab link and a HIT on MTurk (a subquery): the only ones with extra work (EXTRA)."""
    return (
        Hit.select(Hit.batch)
        .where(Hit.batch.in_(batch_ids), Hit.mturk_hit_id.is_null(False))
        .where(Hit.batch.in_(LabLink.select(LabLink.batch).where(LabLink.batch.in_(batch_ids))))
        .distinct()
    )


def extra_done(batch_ids: list[int]) -> dict[int, int]:
    """Assignments done as extra work (EXTRA) per batch. Read only for the ``mixed`` batches, the only ones that can
    have any, so the lists keep reading kept counts (BatchCount) for the others."""
    return dict(
        Assignment.select(Hit.batch, fn.COUNT(Assignment.id))
        .join(Hit)
        .where(Hit.batch.in_(mixed(batch_ids)), Assignment.done == True, EXTRA)  # noqa: E712
        .group_by(Hit.batch)
        .tuples()
    )


# Bucket widths for the throughput chart, in seconds: the smallest that keeps the chart at MAX_BARS bars.
BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_BARS = 48


@dataclass
class Bar:
    start: dt.datetime
    pages: int


@dataclass
class Throughput:
    """Pages submitted per bucket of ``seconds``, oldest first, with empty buckets filled in."""

    seconds: int = 0
    bars: list[Bar] = field(default_factory=list)

    @property
    def peak(self) -> int:
        return max((b.pages for b in self.bars), default=0)

    @property
    def unit(self) -> str:
        return _duration(self.seconds)


@dataclass
class BatchProgress:
    """Every figure the batch page shows, read at once, so no two parts of the page disagree."""

    state: str  # the batch's stored state (draft, building, ready, published, closed, failed)
    hits: int
    hits_published: int
    hits_started: int
    hits_done: int
    assignments_target: int
    assignments_started: int
    assignments_done: int
    pages_target: int
    pages: Figures  # pages, time and pointer batches; no tallies needed here
    last_submitted_at: dt.datetime | None
    throughput: Throughput
    assignments_extra: int = 0  # done through lab links on top of a HIT's MTurk places (EXTRA)
    pages_extra: int = 0  # pages submitted by lab work on HITs that are on MTurk, done or not
    assignments_working: int = 0  # of those not done, the ones being worked on (batch_progress's ``working``)

    @property
    def assignments_open(self) -> int:
        """Assignments started and not done: being worked on, or stopped."""
        return self.assignments_started - self.assignments_done - self.assignments_extra

    @property
    def assignments_stopped(self) -> int:
        """Assignments left unfinished: returned, expired or idle (their places are free for other workers)."""
        return self.assignments_open - self.assignments_working

    @property
    def pages_done(self) -> int:
        """Pages submitted toward the pages the batch asks for (extra work aside)."""
        return self.pages.pages - self.pages_extra

    @property
    def phase(self) -> str:
        return phase(self.state, self.assignments_target, self.assignments_started, self.assignments_done)

    @property
    def percent(self) -> int:
        return percent(self.pages_done, self.pages_target)


# Every phase a requester reads, in a batch's order of life: the list filters on these, and shows them.
PHASES = ("draft", "building", "ready", "published", "annotating", "complete", "closed", "failed")


def phases(batches: list) -> dict[int, str]:
    """The phase of each batch (id -> phase), from the counts the database keeps (BatchCount)."""
    counts = BatchCount.of([b.id for b in batches])
    extra = extra_done([b.id for b in batches])
    return {
        b.id: phase(
            b.state,
            counts[b.id].hits * b.assignments_per_hit,
            counts[b.id].assignments,
            counts[b.id].assignments_done - extra.get(b.id, 0),
        )
        for b in batches
    }


def phase(state: str, assignments_target: int, assignments_started: int, assignments_done: int) -> str:
    """The state a requester reads: a ready or published batch is "annotating" once workers started, "complete" when
    done."""
    if state not in ("ready", "published"):
        return state
    if assignments_target and assignments_done >= assignments_target:
        return "complete"
    return "annotating" if assignments_started else state


def percent(pages_done: int, pages_target: int) -> int:
    """Pages submitted as a share of the pages the batch asks for, 0-100."""
    return min(100, round(100 * pages_done / pages_target)) if pages_target else 0


def _duration(seconds: int) -> str:
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {name}s" if n > 1 else name
    return f"{seconds} s"


def throughput(batch: Batch) -> Throughput:
    """Pages submitted over time (server clock, not the workers'), bucketed to fit the chart.

    From the pages kept per minute, hour and day (BatchMinute, BatchPeriod), the largest that divides the bucket: at
    most 48 buckets of 30 rows (1,440) whatever the batch's size and span; the first and last come from the tallies'
    (batch, submitted_at) index."""
    first_at, last_at = _first_last(batch)
    if first_at is None or last_at is None:
        return Throughput()
    first, last = _epoch(first_at), _epoch(last_at)
    seconds = next((b for b in BUCKETS if (last - first) // b < MAX_BARS), BUCKETS[-1])
    unit = next((u for u in (86400, 3600) if seconds % u == 0), 60)  # every bucket is whole minutes
    if unit == 60:
        bucket = (BatchMinute.minute / (seconds // 60)).alias("bucket")
        kept = BatchMinute.select(bucket, fn.SUM(BatchMinute.pages)).where(BatchMinute.batch == batch.id)
    else:
        bucket = (BatchPeriod.period / (seconds // unit)).alias("bucket")
        kept = BatchPeriod.select(bucket, fn.SUM(BatchPeriod.pages)).where(
            BatchPeriod.batch == batch.id, BatchPeriod.seconds == unit
        )
    counts = {int(b): int(n) for b, n in kept.group_by(bucket).tuples()}
    bars = [
        Bar(dt.datetime.fromtimestamp(b * seconds, dt.UTC).replace(tzinfo=None), counts.get(b, 0))
        for b in range(first // seconds, last // seconds + 1)
    ]
    return Throughput(seconds, bars)


def _epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def _first_last(batch: Batch) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last page submitted, each one probe of the index (SQLite reads one MIN or MAX so, not two)."""
    mine = PageTally.select(PageTally.submitted_at).where(PageTally.batch == batch.id)
    first = mine.order_by(PageTally.submitted_at).limit(1).scalar()
    last = mine.order_by(PageTally.submitted_at.desc()).limit(1).scalar()
    return first, last


def _hits_done_in_channel(batch: Batch) -> int:
    """HITs done by their channel's assignments (DONE_IN_CHANNEL), for a ``mixed`` batch, whose extra lab work the
    kept counts (HitCount) do not tell apart: it groups the batch's assignments by HIT."""
    per_hit = Assignment.select(Assignment.hit).join(Hit).where(Hit.batch == batch).group_by(Assignment.hit)
    return per_hit.having(fn.SUM(DONE_IN_CHANNEL) >= batch.assignments_per_hit).count()


def batch_progress(batch: Batch, working) -> BatchProgress:
    """Every figure of the batch page. ``working``: the condition that an assignment is being worked on
    (services/annotation/places.working, where the places' rules live, which review cannot import); the
    assignments started and not done are in progress by it, stopped otherwise (read only when some are not done:
    the batch's recent assignments, from the (batch_id, started_at) index)."""
    # The batch's HITs, pages and assignments, kept by the database (BatchCount: migrations 0026 and 0030).
    count = BatchCount.of([batch.id])[batch.id]
    unfinished = count.assignments - count.assignments_done
    in_progress = (
        Assignment.select()
        .where(Assignment.batch_id == batch.id, Assignment.done == False, working)  # noqa: E712
        .count()
        if unfinished > 0
        else 0
    )
    # Only a batch with HITs on MTurk and a lab link can have extra work (EXTRA): ``mixed``, from the kept counts.
    is_mixed = count.hits_published > 0 and LabLink.select().where(LabLink.batch == batch).exists()
    extra = extra_done([batch.id]).get(batch.id, 0) if is_mixed else 0
    extra_pages = (
        PageSubmission.select().join(Assignment).join(Hit).where(Hit.batch == batch, EXTRA).count() if is_mixed else 0
    )

    # The submitted pages' sums, kept as each page is derived (BatchTally): only the chunks of submitted pages count.
    kept = BatchTally.get_or_none(BatchTally.batch == batch.id) or BatchTally(
        pages=0, page_ms=0, chunks_reported=0, chunks_received=0
    )
    _, last = _first_last(batch)
    return BatchProgress(
        state=batch.state,
        hits=count.hits,
        hits_published=count.hits_published,
        hits_started=count.hits_started,
        hits_done=_hits_done_in_channel(batch) if is_mixed else count.hits_done,
        assignments_target=count.hits * batch.assignments_per_hit,
        assignments_started=count.assignments,
        assignments_done=count.assignments_done - extra,
        assignments_extra=extra,
        assignments_working=in_progress,
        pages_extra=extra_pages,
        pages_target=count.hit_pages * batch.assignments_per_hit,
        pages=Figures(
            pages=kept.pages,
            total_ms=kept.page_ms,
            chunks_reported=kept.chunks_reported,
            chunks_received=kept.chunks_received,
        ),
        last_submitted_at=last,
        throughput=throughput(batch),
    )
