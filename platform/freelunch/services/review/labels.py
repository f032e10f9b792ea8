"""Labels from selections: per image and class, the selection frequency and a decision.

Selection frequency is ImageNetV2's: of the assignments that were shown the
image for the class, the share that selected it. It is read from the votes
(services/review/tallies.py, which ``summary``, ``page``, ``stream`` and
``excluded_workers`` bring up to date first), where an image a worker saw twice
(a control repeated on two pages) is one vote, selected if either record was.
Workers whose control accuracy in the batch falls below the requester's bar are
left out; workers without control answers cannot be judged and stay in. A
decision needs at least ``min_annotations`` assignments; then an image is a
"yes" when its frequency reaches the threshold. Only the votes that count are
read (services/review/counted.py): an MTurk assignment's once MTurk has
confirmed it, never a rejected one's.

The threshold is compared in integers (per mille), so the database and Python
agree exactly at the boundary: 3 of 10 is a yes at 0.3.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from peewee import Case, fn
from redis import RedisError

from ...models import (
    Batch,
    BatchTally,
    Candidate,
    Image,
    ImageClass,
    Vote,
    VoteCount,
    VoteHistogram,
)
from ...queues import redis_connection
from ...web.pagination import Page
from .. import jobs
from . import counted
from .quality import VOTE_SELECTED, workers_below

DECISIONS = ("yes", "no", "undecided")
SUMMARY_TTL = 3600
# A request does not wait for counts whose votes left out fill more pages than this: moving their images costs
# 2-5 µs a vote (docs/performance.md), seconds at ImageNet's size. A job makes them (COUNT_LABELS) instead.
INLINE_LEFT_OUT_PAGES = 1000


class Counting(Exception):
    """The counts under the request's rule are being made by the job ``job_id``."""

    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


@dataclass(frozen=True)
class Rule:
    threshold: float = 0.7
    min_annotations: int = 3
    min_accuracy: float = 0.0  # 0 keeps every worker

    @property
    def per_mille(self) -> int:
        return round(self.threshold * 1000)

    def decide(self, seen: int, selected: int) -> str:
        if seen < self.min_annotations:
            return "undecided"
        return "yes" if selected * 1000 >= seen * self.per_mille else "no"

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "min_annotations": self.min_annotations, "min_accuracy": self.min_accuracy}


def default_rule(batch: Batch) -> Rule:
    """0.7 as in ImageNetV2, with at least 3 annotations (fewer if the batch asks fewer per HIT)."""
    return Rule(min_annotations=max(1, min(3, batch.assignments_per_hit)))


@dataclass
class LabelRow:
    image_class: ImageClass
    image: Image
    role: str
    seen: int
    selected: int
    decision: str

    @property
    def frequency(self) -> float:
        return self.selected / self.seen if self.seen else 0.0


@dataclass
class Summary:
    total: int
    decisions: dict[str, int]
    excluded_workers: list[str]
    waiting_votes: int = 0  # votes of MTurk assignments MTurk has not confirmed yet (counted.waiting)
    waiting_assignments: int = 0
    # (class id, images, yes, undecided) per class in class order: where a page of the results starts
    per_class: list[tuple[int, int, int, int]] = field(default_factory=list)


def excluded_workers(batch: Batch, rule: Rule) -> list[str]:
    """Workers the requester left out of the batch, and those whose control accuracy is below the bar, sorted."""
    chosen = set(batch.excluded_workers or [])
    if rule.min_accuracy <= 0:
        return sorted(chosen)
    return sorted(chosen | set(workers_below(batch.id, rule.min_accuracy)))


def set_excluded(batch: Batch, worker_id: str, excluded: bool) -> None:
    """Leave a worker's votes out of the batch's labels (or count them again)."""
    chosen = set(batch.excluded_workers or [])
    chosen = chosen | {worker_id} if excluded else chosen - {worker_id}
    batch.excluded_workers = sorted(chosen)
    batch.save(only=[Batch.excluded_workers])


SEEN_BY = fn.COUNT(Vote.id)
SELECTED_BY = fn.SUM(VOTE_SELECTED)


def _counts(batch: Batch, left_out: list, class_id: int | None = None):
    """(class_id, image_id, seen, selected) per image and class, in the covering index's order.

    ``left_out``: ``counted.votes_where``'s clauses (the votes that do not count, the workers left out)."""
    query = (
        Vote.select(
            Vote.image_class.alias("class_id"),
            Vote.image.alias("image_id"),
            SEEN_BY.alias("seen"),
            SELECTED_BY.alias("selected"),
        )
        .where(Vote.batch == batch.id, *left_out)
        .group_by(Vote.image_class, Vote.image)
        .order_by(Vote.image_class, Vote.image)
    )
    if class_id is not None:
        query = query.where(Vote.image_class == class_id)
    return query


def _having(rule: Rule, decision: str):
    enough = SEEN_BY >= rule.min_annotations
    reached = SELECTED_BY * 1000 >= SEEN_BY * rule.per_mille
    return {"yes": enough & reached, "no": enough & ~reached, "undecided": ~enough}[decision]


def _class_counts(batch: Batch, rule: Rule, where: list, class_id: int | None) -> list[tuple[int, int, int, int]]:
    """(class id, images, yes, undecided) per class, in class order, from the votes ``where`` admits, grouped."""
    counts = _counts(batch, where, class_id).order_by().alias("c")
    seen, selected = counts.c.seen, counts.c.selected
    enough = seen >= rule.min_annotations
    yes = Case(None, [(enough & (selected * 1000 >= seen * rule.per_mille), 1)], 0)
    undecided = Case(None, [(~enough, 1)], 0)
    query = (
        counts.select_from(counts.c.class_id, fn.COUNT(1), fn.SUM(yes), fn.SUM(undecided))
        .group_by(counts.c.class_id)
        .order_by(counts.c.class_id)
    )
    return [(c, n, int(n_yes or 0), int(n_undecided or 0)) for c, n, n_yes, n_undecided in query.tuples()]


def _kept_class_counts(batch: Batch, rule: Rule, excluded: list[str], class_id: int | None, out_pages: int) -> list:
    """``_class_counts`` of the votes that count, read from the kept counts (VoteHistogram, VoteCount: migration 0029).
    ``out_pages``: the pages of the votes left out (``counted.left_out_pages``).

    A class's decisions are a sum over its histogram cells, whatever the rule. The votes that do not count (MTurk's
    unconfirmed, the workers left out) are usually few: their images, read through the votes' assignment index, move
    from the cell of all their votes to the cell of the votes that count. When they are more than a quarter of the
    batch's pages (a live MTurk batch before reconcile), the votes that count are grouped instead (by assignment when
    they are few).
    """
    out = counted.left_out([batch.id], excluded)
    any_out = counted.anything_left_out([batch.id], excluded)
    if any_out:
        tally = BatchTally.get_or_none(BatchTally.batch == batch.id)
        # A vote left out costs two to three times what a vote grouped does (measured at SCALE=0.1): past a quarter
        # of the pages left out, grouping the votes that count is as fast or faster.
        if tally is None or 4 * out_pages > tally.pages:
            return _class_counts(batch, rule, [Vote.assignment.in_(counted.counting([batch.id], excluded))], class_id)
    enough = VoteHistogram.seen >= rule.min_annotations
    yes = enough & (VoteHistogram.selected * 1000 >= VoteHistogram.seen * rule.per_mille)
    cells = VoteHistogram.select(
        VoteHistogram.image_class_id,
        fn.SUM(VoteHistogram.images),
        fn.SUM(Case(None, [(yes, VoteHistogram.images)], 0)),
        fn.SUM(Case(None, [(~enough, VoteHistogram.images)], 0)),
    ).where(VoteHistogram.batch_id == batch.id)
    if class_id is not None:
        cells = cells.where(VoteHistogram.image_class_id == class_id)
    per_class = {c: [int(n), int(y), int(u)] for c, n, y, u in cells.group_by(VoteHistogram.image_class_id).tuples()}
    if any_out:
        for c, seen, selected, n, s, images in _moves(batch, out, class_id):
            # The image leaves the cell of all its votes for the cell of those that count (none when seen is 0).
            for sign, (cell_seen, cell_selected) in ((-1, (seen, selected)), (1, (seen - n, selected - s))):
                if cell_seen:
                    decision = rule.decide(cell_seen, cell_selected)
                    row = per_class.setdefault(c, [0, 0, 0])
                    row[0] += sign * images
                    row[1] += sign * images * (decision == "yes")
                    row[2] += sign * images * (decision == "undecided")
    return [(c, n, y, u) for c, (n, y, u) in sorted(per_class.items()) if n]


def _moves(batch: Batch, out, class_id: int | None):
    """(class id, kept seen, kept selected, seen left out, selected left out, images) of the images with votes of the
    assignments ``out``, grouped."""
    left = Vote.select(
        Vote.image_class.alias("class_id"),
        Vote.image.alias("image_id"),
        SEEN_BY.alias("n"),
        SELECTED_BY.alias("s"),
    ).where(Vote.assignment.in_(out))
    if class_id is not None:
        left = left.where(Vote.image_class == class_id)
    left = left.group_by(Vote.image_class, Vote.image).alias("left_out")
    of_image = (
        (VoteCount.batch_id == batch.id)
        & (VoteCount.image_class_id == left.c.class_id)
        & (VoteCount.image_id == left.c.image_id)
    )
    group = (left.c.class_id, VoteCount.seen, VoteCount.selected, left.c.n, left.c.s)
    return VoteCount.select(*group, fn.COUNT(1)).join(left, on=of_image).group_by(*group).tuples()


def summary(batch: Batch, rule: Rule, class_id: int | None = None, wait: bool = True) -> Summary:
    """How many images and classes there are, and how they are decided.

    The counts are kept in Redis for an hour under the votes' version, the rule
    and which votes count (recomputed every time: control roles, MTurk's word and
    the workers left out may change): paging through the results reads them once,
    and the votes left out are read once. Without Redis they are simply computed.
    Unless ``wait``, counts with many votes left out are left to a job: raises Counting.
    """
    excluded = excluded_workers(batch, rule)
    key = (
        f"freelunch:labels:classes:{batch.id}:{counted.kept_version([batch.id], excluded)}:{rule.per_mille}:"
        f"{rule.min_annotations}:{class_id}"
    )
    try:
        cached = redis_connection().get(key)
    except RedisError:
        cached = None
    if cached:
        per_class = [tuple(row) for row in json.loads(cached)]
    else:
        out_pages = counted.left_out_pages([batch.id], excluded)
        if not wait and out_pages > INLINE_LEFT_OUT_PAGES:
            raise Counting(_count_job(batch, rule, class_id, key))
        per_class = _kept_class_counts(batch, rule, excluded, class_id, out_pages)
        try:
            redis_connection().set(key, json.dumps(per_class), ex=SUMMARY_TTL)
        except RedisError:
            pass
    total, n_yes, n_undecided = (sum(row[i] for row in per_class) for i in (1, 2, 3))
    waiting_votes, waiting_assignments = counted.waiting([batch.id])
    return Summary(
        total,
        {"yes": n_yes, "no": total - n_yes - n_undecided, "undecided": n_undecided},
        excluded,
        waiting_votes,
        waiting_assignments,
        per_class,
    )


def _count_job(batch: Batch, rule: Rule, class_id: int | None, key: str) -> str:
    """The id of the job making the counts under ``key``: the one already queued or running, else a new one."""
    connection = redis_connection()
    job_id = connection.get(f"{key}:job")
    if job_id:
        running = jobs.status(job_id.decode() if isinstance(job_id, bytes) else job_id, batch.organization_id)
        if running is not None and not running.finished:
            return running.id
    job = jobs.enqueue(
        jobs.COUNT_LABELS,
        batch.id,
        rule.threshold,
        rule.min_annotations,
        rule.min_accuracy,
        class_id,
        organization_id=batch.organization_id,
        scope=f"results:{batch.id}",
        title=f"Counting the results of {batch.name}",
    )
    connection.set(f"{key}:job", job.id, ex=SUMMARY_TTL)
    return job.id


def _describe(batch: Batch, rule: Rule, rows: list) -> list[LabelRow]:
    """Turn (class_id, image_id, seen, selected) rows into LabelRows with their class, image and role."""
    class_ids = {r[0] for r in rows}
    image_ids = {r[1] for r in rows}
    classes = {c.id: c for c in ImageClass.select().where(ImageClass.id.in_(class_ids))}
    images = {i.id: i for i in Image.select().where(Image.id.in_(image_ids))}
    roles = {
        (c.image_class_id, c.image_id): c.role
        for c in Candidate.select(Candidate.image_class, Candidate.image, Candidate.role).where(
            Candidate.image_class.in_(class_ids), Candidate.image.in_(image_ids)
        )
    }
    return [
        LabelRow(classes[c], images[i], roles.get((c, i), "candidate"), seen, selected, rule.decide(seen, selected))
        for c, i, seen, selected in rows
    ]


def page(
    batch: Batch,
    rule: Rule,
    number: int,
    per_page: int = 50,
    class_id: int | None = None,
    decision: str | None = None,
    wait: bool = True,
) -> tuple[Page, Summary]:
    """One page of labels (optionally one class, one decision) and the summary they belong to (``summary``'s
    ``wait``)."""
    totals = summary(batch, rule, class_id, wait)
    left_out = counted.votes_where([batch.id], totals.excluded_workers)
    total = totals.decisions[decision] if decision in DECISIONS else totals.total
    number = max(1, min(number, -(-total // per_page)))
    rows = _page_rows(batch, rule, left_out, totals.per_class, decision, (number - 1) * per_page, per_page)
    return Page(_describe(batch, rule, rows), number, per_page, total), totals


def _page_rows(
    batch: Batch, rule: Rule, left_out: list, per_class: list, decision: str | None, start: int, size: int
) -> list:
    """``size`` rows from row ``start`` of the labels (of one decision, if given), in (class, image) order.

    OFFSET reads every row it skips, so the summary's per-class counts find the class the page starts in: a page
    skips rows of that one class only (at most a class's images), and page 500 costs what page 1 does.
    """
    rows: list = []
    for class_id, images, yes, undecided in per_class:
        n = {"yes": yes, "no": images - yes - undecided, "undecided": undecided}.get(decision or "", images)
        if start >= n:
            start -= n
            continue
        query = _counts(batch, left_out, class_id)
        if decision in DECISIONS:
            query = query.having(_having(rule, decision))
        rows.extend(query.offset(start).limit(size - len(rows)).tuples().iterator())
        start = 0
        if len(rows) >= size:
            break
    return rows


def stream(batch: Batch, rule: Rule) -> Iterator[LabelRow]:
    """Every label of the batch, in class and image order, one class at a time.

    One query per class keeps memory bounded by the largest class on every
    database (psycopg2 would otherwise hold a whole result set in memory).
    """
    left_out = counted.votes_where([batch.id], excluded_workers(batch, rule))
    class_ids = Vote.select(Vote.image_class).distinct().where(Vote.batch == batch.id).order_by(Vote.image_class)
    for (class_id,) in class_ids.tuples():
        yield from _describe(batch, rule, list(_counts(batch, left_out, class_id).tuples()))


class YesImages:
    """The (class id, image id) pairs of the images decided yes, each packed in one integer of a sorted array:
    8 bytes an image, where a set of key tuples took ~235 (ImageNet-AB holds them all for its whole export). Ids
    are serials (32-bit on PostgreSQL), so a pair fits in 63 bits."""

    def __init__(self, pairs: Iterable[tuple[int, int]]):
        """``pairs`` in (class id, image id) order, as the database sorts them: no list of them all is made."""
        self.packed = array("q", ((class_id << 32) | image_id for class_id, image_id in pairs))

    def __contains__(self, pair: tuple[int, int]) -> bool:
        packed = (pair[0] << 32) | pair[1]
        at = bisect_left(self.packed, packed)
        return at < len(self.packed) and self.packed[at] == packed

    def __len__(self) -> int:
        return len(self.packed)


def yes_keys(batch: Batch, rule: Rule) -> YesImages:
    """(class id, image id) of every image the rule calls yes: ``stream``'s yes rows, decided by the database
    in one query (ImageNet-AB reads them all; a LabelRow each was a third of its time)."""
    left_out = counted.votes_where([batch.id], excluded_workers(batch, rule))
    yes = (
        Vote.select(Vote.image_class, Vote.image)
        .where(Vote.batch == batch.id, *left_out)
        .group_by(Vote.image_class, Vote.image)
        .having(_having(rule, "yes"))
        .order_by(Vote.image_class, Vote.image)
    )
    return YesImages(yes.tuples().iterator())


def count(batch: Batch, rule: Rule) -> int:
    return summary(batch, rule).total
