"""How well workers did: time, selections, estimateTime, control accuracy, byproduct completeness.

Every figure is an aggregate query grouped by a key the caller picks (an
assignment, a worker, a page number) over the assignments a ``where`` clause
admits, read from the review read model (PageTally: services/review/tallies.py;
AssignmentControls), so a page of 50 workers costs a handful of queries over
pages, not over image records.

A control's role comes from its Candidate row for the page's class: a positive
control is right when selected, a negative one when not. Per assignment and
worker it is read from the votes (an image shown twice to one worker counts
once), as the database keeps them per assignment (migration 0028); per page,
from that page's records.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from itertools import groupby

from peewee import JOIN, SQL, Case, NodeList, fn

from ...db import is_sqlite
from ...models import (
    Assignment,
    AssignmentControls,
    BatchWorker,
    BatchWorkerTime,
    Candidate,
    HitPage,
    ImageRecord,
    PageChunkCount,
    PageSubmission,
    PageTally,
    Vote,
)
from .counted import COUNTS
from .tallies import ESTIMATE_BUCKETS, SEEN, SELECTED

ESTIMATE_LABELS = ("0", "≤250 ms", "≤500 ms", "≤1 s", "≤2 s", "≤4 s", ">4 s")
CONTROL_ROLES = ("positive", "negative")
PAGE_MS = PageSubmission.ended_at - PageSubmission.started_at
VOTE_SELECTED = Case(None, [(Vote.selected == True, 1)], 0)  # noqa: E712 (SQL, not Python)
DONE = Case(None, [(Assignment.done == True, 1)], 0)  # noqa: E712


@dataclass
class ControlScore:
    """Answers on known images: ``correct`` of ``n``."""

    n: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    def __add__(self, other: ControlScore) -> ControlScore:
        return ControlScore(self.n + other.n, self.correct + other.correct)


def _score(role: str, n: int, selected: int) -> ControlScore:
    return ControlScore(n, selected if role == "positive" else n - selected)


@dataclass
class Figures:
    """What one key's submitted pages add up to."""

    pages: int = 0
    total_ms: int = 0
    chunks_reported: int = 0
    chunks_received: int = 0
    images: int = 0
    selected: int = 0
    estimate_histogram: list[int] = field(default_factory=lambda: [0] * len(ESTIMATE_BUCKETS))
    positive: ControlScore = field(default_factory=ControlScore)
    negative: ControlScore = field(default_factory=ControlScore)
    seconds_per_image: float | None = None  # median over pages, when asked for

    @property
    def controls(self) -> ControlScore:
        return self.positive + self.negative

    @property
    def seconds_per_page(self) -> float | None:
        return self.total_ms / self.pages / 1000 if self.pages else None

    @property
    def completeness(self) -> float | None:
        """Share of the pointer batches the tracker reported that reached the database."""
        if not self.chunks_reported:
            return None
        return min(self.chunks_received, self.chunks_reported) / self.chunks_reported

    @property
    def estimate_bars(self) -> list[tuple[str, int, float]]:
        """(label, count, share of the tallest bar) per estimateTime bucket, for a small histogram."""
        top = max(self.estimate_histogram) or 1
        return [(label, n, n / top) for label, n in zip(ESTIMATE_LABELS, self.estimate_histogram)]


def _pages(out: dict, key, where) -> None:
    sums = [fn.SUM(getattr(PageTally, name)) for name, _, _ in ESTIMATE_BUCKETS]
    query = (
        PageSubmission.select(
            key,
            fn.COUNT(PageSubmission.id),
            fn.SUM(PAGE_MS),
            fn.SUM(PageSubmission.chunks_reported),
            fn.SUM(PageChunkCount.received),
            fn.SUM(PageTally.images),
            fn.SUM(PageTally.selected),
            *sums,
        )
        .join(Assignment)
        .switch(PageSubmission)
        .join(PageTally, JOIN.LEFT_OUTER, on=(PageTally.page == PageSubmission.id))
        # In the same pass: only the chunks of submitted pages count (a page still open has reported nothing yet).
        .join(PageChunkCount, JOIN.LEFT_OUTER, on=PageChunkCount.of_submission())
        .where(*where)
        .group_by(key)
    )
    for k, pages, ms, reported, received, images, selected, *histogram in query.tuples():
        out[k] = Figures(
            pages,
            int(ms or 0),
            int(reported or 0),
            int(received or 0),
            int(images or 0),
            int(selected or 0),
            [int(n or 0) for n in histogram],
        )


def control_scores(key, *where) -> dict:
    """(positive, negative) ControlScores per key, over the admitted assignments.

    From the control answers kept per assignment (AssignmentControls, migration 0028): a batch's or an
    organization's scope reads a row per assignment, never its control votes.
    """
    kept = AssignmentControls
    query = (
        Assignment.select(
            key,
            fn.SUM(kept.positive),
            fn.SUM(kept.positive_selected),
            fn.SUM(kept.negative),
            fn.SUM(kept.negative_selected),
        )
        .join(kept, on=(kept.assignment == Assignment.id))
        .where(*where)
        .group_by(key)
    )
    out: dict = {}
    for k, positive, positive_selected, negative, negative_selected in query.tuples():
        if positive or negative:
            out[k] = (
                _score("positive", int(positive), int(positive_selected)),
                _score("negative", int(negative), int(negative_selected)),
            )
    return out


def _kept_worker_figures(batches, worker_ids: list[str]) -> dict[str, Figures]:
    """``figures`` of the workers ``worker_ids`` in ``batches`` (batch ids: a list or a query) from the rows kept per
    batch and worker (BatchWorker) added up, speed aside. Their pages are the derived ones (PageTally), as each batch's
    own figures are (BatchTally)."""
    kept = BatchWorker
    sums = [kept.pages, kept.page_ms, kept.chunks_reported, kept.chunks_received, kept.images, kept.selected]
    sums += [getattr(kept, name) for name, _, _ in ESTIMATE_BUCKETS]
    sums += [kept.positive, kept.positive_selected, kept.negative, kept.negative_selected]
    query = (
        kept.select(kept.worker_id, *(fn.SUM(column) for column in sums))
        .where(kept.batch.in_(batches), kept.worker_id.in_(worker_ids))
        .group_by(kept.worker_id)
    )
    out: dict[str, Figures] = {}
    for worker, *values in query.tuples():
        pages, ms, reported, received, images, selected, *rest = (int(v) for v in values)
        histogram, (positive, positive_selected, negative, negative_selected) = rest[:-4], rest[-4:]
        if not (pages or positive or negative):
            continue
        out[worker] = Figures(
            pages,
            ms,
            reported,
            received,
            images,
            selected,
            histogram,
            _score("positive", positive, positive_selected),
            _score("negative", negative, negative_selected),
        )
    return out


def workers_below(batch_id: int, bar: float) -> list[str]:
    """The batch's workers whose control accuracy over their assignments that count is below ``bar``, from the sums
    kept per worker (BatchWorker, migration 0030). The database compares (as ControlScore.accuracy divides), so the
    page reads the workers below the bar, not every worker's row."""
    answered = BatchWorker.positive + BatchWorker.negative
    correct = BatchWorker.positive_selected + BatchWorker.negative - BatchWorker.negative_selected
    query = BatchWorker.select(BatchWorker.worker_id).where(
        BatchWorker.batch == batch_id, BatchWorker.assignments > 0, answered > 0, correct.cast("FLOAT") / answered < bar
    )
    return [w for (w,) in query.tuples()]


def _speed(out: dict, key, where) -> None:
    """The median time per image of each key's pages. PostgreSQL takes the median itself (a page of 50 workers
    is some 15,000 pages: fetching them into Python was half the workers page); SQLite, in process, hands the
    times over."""
    per_image = PageTally.page_ms.cast("FLOAT") / PageTally.images / 1000
    pages = (
        PageTally.select(key)
        .join(Assignment, on=(PageTally.assignment == Assignment.id))
        .where(PageTally.images > 0, *where)
    )
    if not is_sqlite():
        # percentile_cont interpolates between the middle two as statistics.median does
        median = NodeList((fn.percentile_cont(0.5), SQL("WITHIN GROUP (ORDER BY"), per_image, SQL(")")))
        for k, value in pages.select_extend(median).group_by(key).tuples():
            out.setdefault(k, Figures()).seconds_per_image = value
        return
    times: dict = {}
    for k, value in pages.select_extend(per_image).tuples():
        times.setdefault(k, []).append(value)
    for k, values in times.items():
        out.setdefault(k, Figures()).seconds_per_image = statistics.median(values)


# Buckets of time per image kept per batch and worker (BatchWorkerTime, migration 0031): 0 below 1 ms, then each power
# of two of milliseconds cut into PAGE_TIME_STEPS equal steps. A bucket's middle is within half a step, 1/64 of the
# bucket's low end, of any time in it; so is a median of middles of the exact median (it is one middle, or the mean of
# two, each as near its page's time).
PAGE_TIME_STEPS = 32
KEPT_SPEED_WITHIN = 1 / (2 * PAGE_TIME_STEPS)


def _bucket_middle_s(bucket: int) -> float:
    if bucket == 0:
        return 0.0005
    octave, step = divmod(bucket - 1, PAGE_TIME_STEPS)
    return 2**octave * (1 + (step + 0.5) / PAGE_TIME_STEPS) / 1000


def _kept_speed(out: dict, batches, worker_ids: list[str]) -> None:
    """``_speed`` of the workers ``worker_ids`` in ``batches`` (batch ids: a list or a query), from their kept buckets
    added up over the batches (within KEPT_SPEED_WITHIN): a few dozen rows a worker and batch, not every page."""
    pages = fn.SUM(BatchWorkerTime.pages)
    rows = (
        BatchWorkerTime.select(BatchWorkerTime.worker_id, BatchWorkerTime.bucket, pages)
        .where(BatchWorkerTime.batch.in_(batches), BatchWorkerTime.worker_id.in_(worker_ids))
        .group_by(BatchWorkerTime.worker_id, BatchWorkerTime.bucket)
        .having(pages > 0)
        .order_by(BatchWorkerTime.worker_id, BatchWorkerTime.bucket)
        .tuples()
    )
    for worker, found in groupby(rows, key=lambda row: row[0]):
        buckets = [(bucket, int(n)) for _, bucket, n in found]
        n = sum(pages for _, pages in buckets)
        middle = (_nth_page_s(buckets, (n - 1) // 2) + _nth_page_s(buckets, n // 2)) / 2
        out.setdefault(worker, Figures()).seconds_per_image = middle


def _nth_page_s(buckets: list[tuple[int, int]], k: int) -> float:
    """The middle of the bucket of the ``k``-th page (from 0) in time order."""
    for bucket, pages in buckets:
        if k < pages:
            return _bucket_middle_s(bucket)
        k -= pages
    raise IndexError(k)


def figures(key, *where) -> dict:
    """Figures per value of ``key`` (an Assignment column) over the assignments ``where`` admits."""
    out: dict = {}
    _pages(out, key, where)
    for k, (positive, negative) in control_scores(key, *where).items():
        row = out.setdefault(k, Figures())
        row.positive, row.negative = positive, negative
    return out


def page_figures(assignment: Assignment) -> dict:
    """Figures per page number of one assignment; controls from its records (votes have no page)."""
    mine = PageSubmission.assignment == assignment.id
    out: dict = {}
    _pages(out, PageSubmission.pageno, (mine,))
    controls = (
        ImageRecord.select(PageSubmission.pageno, Candidate.role, fn.COUNT(ImageRecord.id), fn.SUM(SELECTED))
        .join(PageSubmission)
        .join(HitPage, on=(PageSubmission.hit_page == HitPage.id))
        .join(Candidate, on=((Candidate.image_class == HitPage.image_class) & (Candidate.image == ImageRecord.image)))
        .where(mine, SEEN, Candidate.role.in_(CONTROL_ROLES))
        .group_by(PageSubmission.pageno, Candidate.role)
    )
    for pageno, role, n, selected in controls.tuples():
        row = out.setdefault(pageno, Figures())
        score = _score(role, n, int(selected or 0))
        if role == "positive":
            row.positive += score
        else:
            row.negative += score
    return out


# --- rows for the tables ------------------------------------------------------
# A worker's figures are over the assignments whose votes count (services/review/counted.py); their MTurk assignments
# that do not, waiting for MTurk's confirmation or rejected, are counted beside them (kept since migration 0033), so a
# worker whose only work does not count is listed too.

# The organization's workers list's sortable columns (sorting.apply): sums over its batches' kept rows, so the
# database sorts before it paginates.
WORKER_SORTS = {
    "worker": BatchWorker.worker_id,
    "assignments": fn.SUM(BatchWorker.assignments),
    "waiting": fn.SUM(BatchWorker.waiting),
    "rejected": fn.SUM(BatchWorker.rejected),
}


# The same for one batch's workers, read from the rows kept per batch and worker (BatchWorker).
BATCH_WORKER_SORTS = {
    "worker": BatchWorker.worker_id,
    "assignments": BatchWorker.assignments,
    "waiting": BatchWorker.waiting,
    "rejected": BatchWorker.rejected,
}


def batch_workers_query(batch_id: int):
    """One row per anonymised worker of one batch (worker_id, assignments and done that count, waiting, rejected),
    every worker with an assignment in any of the three, in a stable order, for pagination: a kept row per worker
    (BatchWorker, migrations 0030, 0033), so a page of the list reads the batch's workers, not its assignments."""
    return (
        BatchWorker.select(
            BatchWorker.worker_id,
            BatchWorker.assignments,
            BatchWorker.done,
            BatchWorker.waiting,
            BatchWorker.rejected,
        )
        .where(
            BatchWorker.batch == batch_id,
            (BatchWorker.assignments > 0) | (BatchWorker.waiting > 0) | (BatchWorker.rejected > 0),
        )
        .order_by(BatchWorker.worker_id)
    )


# What a batch's workers list and workers CSV show of each worker, as kept (BatchWorker): every column but the keys.
WORKER_FIGURES = tuple(
    field for name, field in BatchWorker._meta.fields.items() if name not in ("id", "batch", "worker_id")
)


def kept_workers_version(batch_id: int) -> str:
    """Changes whenever a figure of the batch's kept rows per worker does (BatchWorker: assignments that count, done,
    waiting for MTurk, rejected, control answers, pages and their sums), so whenever the workers CSV's figures would:
    one aggregate over the batch's rows, not a read of them. Each column's sum (any change of one worker's row moves
    one), and one sum of each row's figures mixed and weighted by the row's id (it moves when figures pass from one
    worker to another as well); page_ms, which can be large, only summed: it moves with ``pages``. Kept small
    (modulo a prime) so that no sum overflows SQLite's integers. Pages are the derived ones, as wherever the rows are
    read."""
    wide = (lambda f: f) if is_sqlite() else (lambda f: f.cast("bigint"))  # PostgreSQL's integers are 32 bits
    mixed = sum((wide(f) * (n + 1) for n, f in enumerate(f for f in WORKER_FIGURES if f.name != "page_ms")), 0)
    row = (
        BatchWorker.select(
            *(fn.SUM(f) for f in WORKER_FIGURES),
            fn.SUM(modulo(mixed) * modulo(BatchWorker.id)),
        )
        .where(BatchWorker.batch == batch_id)
        .scalar(as_tuple=True)
    )
    return hashlib.sha1(",".join(str(int(v or 0)) for v in row).encode()).hexdigest()[:16]


_PRIME = 1_000_003


def modulo(value):
    """``value`` (not negative) modulo _PRIME in SQL, by integer division: peewee's ``%`` is LIKE, and SQLite has no
    MOD() unless built with its math functions."""
    return value - (value / _PRIME) * _PRIME


def workers_query(batches):
    """``batch_workers_query`` over several batches (batch ids: a list or a query), a worker's kept rows added up: an
    organization's list reads a row per batch and worker, not its assignments."""
    assignments, waiting, rejected = (
        fn.SUM(BatchWorker.assignments),
        fn.SUM(BatchWorker.waiting),
        fn.SUM(BatchWorker.rejected),
    )
    return (
        BatchWorker.select(
            BatchWorker.worker_id,
            assignments.alias("assignments"),
            fn.SUM(BatchWorker.done).alias("done"),
            waiting.alias("waiting"),
            rejected.alias("rejected"),
        )
        .where(BatchWorker.batch.in_(batches))
        .group_by(BatchWorker.worker_id)
        .having((assignments > 0) | (waiting > 0) | (rejected > 0))
        .order_by(BatchWorker.worker_id)
    )


@dataclass
class WorkerRow:
    worker_id: str
    assignments: int  # that count
    done: int  # of those, done
    figures: Figures  # over the assignments that count
    waiting: int = 0  # MTurk assignments waiting for MTurk's confirmation
    rejected: int = 0  # MTurk assignments MTurk rejected


def worker_rows(rows, batches, *where, exact_speed: bool = False) -> list[WorkerRow]:
    """Figures for the workers of ``rows`` (from ``workers_query`` or ``batch_workers_query``) in ``batches`` (batch
    ids: a list or a query), from the rows kept per batch and worker added up (BatchWorker, BatchWorkerTime). Their
    median time per image is read from the kept buckets, within KEPT_SPEED_WITHIN, unless ``exact_speed``: then from
    every page of the workers among the assignments ``where`` admits (the same batches)."""
    rows = list(rows)
    if not rows:
        return []
    ids = [r.worker_id for r in rows]
    found = _kept_worker_figures(batches, ids)
    if exact_speed:
        _speed(found, Assignment.worker_id, (Assignment.worker_id.in_(ids), COUNTS, *where))
    else:
        _kept_speed(found, batches, ids)
    return [
        WorkerRow(
            r.worker_id,
            int(r.assignments or 0),
            int(r.done or 0),
            found.get(r.worker_id, Figures()),
            int(r.waiting or 0),
            int(r.rejected or 0),
        )
        for r in rows
    ]
