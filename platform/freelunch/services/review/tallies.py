"""The review read model (PageTally, Vote): derived from each submitted page as it is stored.

Review pages add up millions of image records per batch; summing them per
request is too slow, and grouping them by (class, image) needs a sort. A
submitted page never changes, so its tally and its votes are derived once, in
the transaction that stores the page (``derive``, called by
services/annotation/pages.submit_page), and read from then on through narrow
indexed tables. No request derives anything: at ImageNet's size (305,000
pages a batch) even the check for underived pages is an anti-join a page view
cannot afford. ``refresh`` derives whatever is missing (pages stored before
this rule, or by a bulk load) in steps; the label fit job and a periodic job
(``tasks/labels.derive_missing``) run it.

Deriving the same page twice (two requests at once) writes the same rows:
tallies are insert-or-ignore, and a vote is an upsert that ORs the selection,
so an image shown twice to one worker (a control on two pages) is one vote,
selected if either record was. Candidate roles, which a requester may still
change, are joined when read, except a vote's control role: written here, and
kept by the database when a role changes (Vote.control, migration 0028).
"""

from __future__ import annotations

from peewee import EXCLUDED, JOIN, Case, Value, fn

from ...db import database, is_sqlite
from ...models import Assignment, Candidate, Hit, HitPage, ImageRecord, PageChunkCount, PageSubmission, PageTally, Vote

PAGES_PER_STEP = 200
SELECTED = Case(None, [(ImageRecord.selected == True, 1)], 0)  # noqa: E712 (SQL, not Python)
# Records of images that failed to load and were dropped were never seen: they count nowhere.
SEEN = ImageRecord.load_status != "dropped"
# (PageTally field, estimateTime above, up to and including) in ms; None is open.
ESTIMATE_BUCKETS = (
    ("estimate_zero", None, 0),
    ("estimate_250", 0, 250),
    ("estimate_500", 250, 500),
    ("estimate_1000", 500, 1000),
    ("estimate_2000", 1000, 2000),
    ("estimate_4000", 2000, 4000),
    ("estimate_over", 4000, None),
)


def _in_bucket(low: int | None, high: int | None):
    condition = None
    if low is not None:
        condition = ImageRecord.estimate_time > low
    if high is not None:
        upper = ImageRecord.estimate_time <= high
        condition = upper if condition is None else condition & upper
    return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)


def in_batch(batch_id: int):
    """The ``where`` clause for assignments of one batch."""
    return Assignment.hit.in_(Hit.select(Hit.id).where(Hit.batch == batch_id))


def pending_pages(*where):
    """Ids of the submitted pages (of the assignments ``where`` admits) that have no tally yet."""
    return (
        PageSubmission.select(PageSubmission.id)
        .join(Assignment)
        .switch(PageSubmission)
        .join(PageTally, JOIN.LEFT_OUTER, on=(PageTally.page == PageSubmission.id))
        .where(PageTally.id.is_null(), *where)
        .order_by(PageSubmission.id)
    )


def _add_votes(page_ids: list[int]) -> None:
    # Each vote carries its image's control role (Vote.control), which the database keeps when a role changes.
    control = Case(Candidate.role, [("positive", 1), ("negative", -1)], 0)
    answers = (
        ImageRecord.select(
            Hit.batch,
            HitPage.image_class,
            ImageRecord.image,
            PageSubmission.assignment,
            fn.MAX(SELECTED) == 1,
            fn.MAX(control),
        )
        .join(PageSubmission)
        .join(HitPage, on=(PageSubmission.hit_page == HitPage.id))
        .join(Hit, on=(HitPage.hit == Hit.id))
        .join(
            Candidate,
            JOIN.LEFT_OUTER,
            on=((Candidate.image_class == HitPage.image_class) & (Candidate.image == ImageRecord.image)),
        )
        .where(ImageRecord.page.in_(page_ids), SEEN)
        .group_by(Hit.batch, PageSubmission.assignment, HitPage.image_class, ImageRecord.image)
    )
    fields = [Vote.batch, Vote.image_class, Vote.image, Vote.assignment, Vote.selected, Vote.control]
    (
        Vote.insert_from(answers, fields)
        .on_conflict(
            conflict_target=[Vote.assignment, Vote.image_class, Vote.image],
            update={Vote.selected: Vote.selected | EXCLUDED.selected},
        )
        .execute()
    )


def _hold_chunk_counts(page_ids: list[int]) -> None:
    """Take the pages' chunk-count rows (made if missing) until the transaction ends, on PostgreSQL.

    A flush adds chunks to a page's tally only if it sees the tally; one that committed while this transaction
    was deriving would not, and this tally would have read the count from before it. Holding the rows makes such
    a flush wait for the tally, and this transaction read what a flush before it stored. (SQLite has one writer.)
    """
    if is_sqlite():
        return
    rows = (
        PageSubmission.select(PageSubmission.assignment, PageSubmission.pageno, PageSubmission.tab, Value(0))
        .where(PageSubmission.id.in_(page_ids))
        .order_by(PageSubmission.assignment, PageSubmission.pageno, PageSubmission.tab)
    )
    (
        PageChunkCount.insert_from(
            rows, [PageChunkCount.assignment, PageChunkCount.pageno, PageChunkCount.tab, PageChunkCount.received]
        )
        .on_conflict(
            conflict_target=[PageChunkCount.assignment, PageChunkCount.pageno, PageChunkCount.tab],
            update={PageChunkCount.received: PageChunkCount.received},
        )
        .execute()
    )


def _add_tallies(page_ids: list[int]) -> None:
    # From the page side, so a page whose images were all dropped still gets its (empty) tally.
    sums = (
        PageSubmission.select(
            PageSubmission.id,
            PageSubmission.assignment,
            fn.COUNT(ImageRecord.id),
            fn.COALESCE(fn.SUM(SELECTED), 0),
            *(_in_bucket(lo, hi) for _, lo, hi in ESTIMATE_BUCKETS),
            Hit.batch,
            PageSubmission.ended_at - PageSubmission.started_at,
            PageSubmission.chunks_reported,
            fn.COALESCE(PageChunkCount.received, 0),
            PageSubmission.submitted_at,
        )
        .join(ImageRecord, JOIN.LEFT_OUTER, on=((ImageRecord.page == PageSubmission.id) & SEEN))
        .switch(PageSubmission)
        .join(Assignment)
        .join(Hit)
        .switch(PageSubmission)
        .join(PageChunkCount, JOIN.LEFT_OUTER, on=PageChunkCount.of_submission())
        .where(PageSubmission.id.in_(page_ids))
        .group_by(PageSubmission.id, PageSubmission.assignment, Hit.batch, PageChunkCount.received)
        # In page order: the batch's kept sums (BatchTally, migration 0027) are taken in one order by every writer.
        .order_by(PageSubmission.id)
    )
    fields = [
        PageTally.page,
        PageTally.assignment,
        PageTally.images,
        PageTally.selected,
        *(getattr(PageTally, name) for name, _, _ in ESTIMATE_BUCKETS),
        PageTally.batch,
        PageTally.page_ms,
        PageTally.chunks_reported,
        PageTally.chunks_received,
        PageTally.submitted_at,
    ]
    PageTally.insert_from(sums, fields).on_conflict_ignore().execute()


def derive(page_ids: list[int]) -> None:
    """The votes and tallies of these submitted pages, in the caller's transaction."""
    _add_votes(page_ids)  # votes first: a tally marks its page's votes as written
    _hold_chunk_counts(page_ids)
    _add_tallies(page_ids)  # last: its triggers take the batch's kept sums, held until the commit


def refresh(*where) -> int:
    """Derive what is missing for the submitted pages ``where`` admits, in steps; returns how many pages that was."""
    pending = [page_id for (page_id,) in pending_pages(*where).tuples()]
    for start in range(0, len(pending), PAGES_PER_STEP):
        with database.atomic():
            derive(pending[start : start + PAGES_PER_STEP])
    return len(pending)
