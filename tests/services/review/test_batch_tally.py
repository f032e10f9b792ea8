"""A batch's page sums and pages per minute (0027), hour and day (0030), kept by the database as pages are derived,
equal a recount of the pages after every writer: submit, chunks flushed after a page, a page's times set again,
chunks and assignments deleted, pages derived later in bulk, the batch deleted with its dataset."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from factories import pointer_batch, worked_for
from peewee import JOIN, fn
from support import post_ingest

from freelunch.models import (
    Assignment,
    BatchMinute,
    BatchPeriod,
    BatchTally,
    HitPage,
    PageChunkCount,
    PageSubmission,
    PageTally,
    PointerChunk,
)
from freelunch.services.accounts.identity import assignment_token
from freelunch.services.datasets import deletion
from freelunch.services.review import progress, tallies
from freelunch.web import batch_tabs


def _recount(batch_id: int) -> tuple[tuple[int, int, int, int], dict[int, int], dict[tuple[int, int], int]]:
    """What the batch's pages add up to, read from every derived page (as the progress figures did before 0027)."""
    rows = (
        PageSubmission.select(
            PageSubmission.ended_at - PageSubmission.started_at,
            PageSubmission.chunks_reported,
            fn.COALESCE(PageChunkCount.received, 0),
            PageSubmission.submitted_at,
        )
        .join(PageTally, on=(PageTally.page == PageSubmission.id))
        .switch(PageSubmission)
        .join(Assignment)
        .switch(PageSubmission)
        .join(PageChunkCount, JOIN.LEFT_OUTER, on=PageChunkCount.of_submission())
        .where(tallies.in_batch(batch_id))
        .tuples()
    )
    sums, minutes, periods = [0, 0, 0, 0], Counter(), Counter()
    for ms, reported, received, submitted_at in rows:
        for i, value in enumerate((1, ms, reported, received)):
            sums[i] += value
        epoch = int(submitted_at.replace(tzinfo=dt.UTC).timestamp())
        minutes[epoch // 60] += 1
        for seconds in (3600, 86400):
            periods[(seconds, epoch // seconds)] += 1
    return (sums[0], sums[1], sums[2], sums[3]), dict(minutes), dict(periods)


def _kept(batch_id: int) -> tuple[tuple[int, int, int, int], dict[int, int], dict[tuple[int, int], int]]:
    row = BatchTally.get_or_none(BatchTally.batch == batch_id)
    sums = (row.pages, row.page_ms, row.chunks_reported, row.chunks_received) if row else (0, 0, 0, 0)
    minutes = {
        m.minute: m.pages for m in BatchMinute.select().where(BatchMinute.batch == batch_id, BatchMinute.pages != 0)
    }
    periods = {
        (p.seconds, p.period): p.pages
        for p in BatchPeriod.select().where(BatchPeriod.batch == batch_id, BatchPeriod.pages != 0)
    }
    return sums, minutes, periods


def test_kept_sums_equal_a_recount_after_every_writer(app, client, campaign, run_jobs):
    batch_id = campaign.batch.id
    with app.app_context():
        assert _kept(batch_id) == _recount(batch_id)
        assert _kept(batch_id)[0] == (7, 28_000, 9, 8)  # the campaign: 7 pages of 4 s, 8 of 9 chunks stored

        # Chunks flushed after their page was submitted (the flush lags), and to a page still open.
        late = campaign.assignments["h2w3"]
        token = assignment_token(late.id)
        done = campaign.assignments["h1w1"]
        done_token = assignment_token(done.id)
    for seq in (5, 6):
        assert post_ingest(client, pointer_batch(done_token, seq=seq, page=1)).status_code == 202
    assert post_ingest(client, pointer_batch(token, seq=0, page=2)).status_code == 202
    run_jobs("ingest")
    with app.app_context():
        assert _kept(batch_id) == _recount(batch_id)
        assert _kept(batch_id)[0][3] == 10

        # The open page submitted (its chunk came first), as submit stores and derives it.
        page = PageSubmission.create(
            assignment=late,
            hit_page=HitPage.get(HitPage.hit == late.hit_id, HitPage.pageno == 2),
            pageno=2,
            started_at=1_700_000_600_000,
            ended_at=1_700_000_610_000,
            chunks_reported=2,
            submitted_at=dt.datetime(2026, 12, 6, 12, 30, 5),
        )
        tallies.derive([page.id])
        assert _kept(batch_id) == _recount(batch_id)
        assert _kept(batch_id)[0][0] == 8

        # The server's clock set again on every page (moves them to other minutes), a chunk deleted, then an
        # assignment with its pages, tallies and chunks.
        worked_for(campaign.assignments.values(), seconds_per_page=90)
        assert _kept(batch_id) == _recount(batch_id)
        PointerChunk.delete().where(PointerChunk.assignment == done, PointerChunk.seq == 5).execute()
        assert _kept(batch_id) == _recount(batch_id)
        campaign.assignments["h1w3"].delete_instance(recursive=False)
        assert _kept(batch_id) == _recount(batch_id)
        assert _kept(batch_id)[0][0] == 6

        # Pages stored without their tally (a bulk load) count once derived, as the periodic job does.
        PageTally.delete().where(PageTally.assignment == done).execute()
        assert _kept(batch_id) == _recount(batch_id) and _kept(batch_id)[0][0] == 4
        assert tallies.refresh(tallies.in_batch(batch_id)) == 2
        assert _kept(batch_id) == _recount(batch_id) and _kept(batch_id)[0][0] == 6
        # The highest tally id added, which the votes' version reads: raised by every tally added.
        newest = PageTally.select(fn.MAX(PageTally.id)).where(PageTally.batch == batch_id).scalar()
        assert BatchTally.get(BatchTally.batch == batch_id).last_tally == newest

        figures = batch_tabs.batch_progress(campaign.batch)
        (pages, ms, reported, received), _, _ = _recount(batch_id)
        assert (figures.pages.pages, figures.pages.total_ms) == (pages, ms)
        assert (figures.pages.chunks_reported, figures.pages.chunks_received) == (reported, received)
        assert sum(bar.pages for bar in figures.throughput.bars) == pages
        assert figures.last_submitted_at == max(
            p.submitted_at for p in PageSubmission.select().join(PageTally, on=(PageTally.page == PageSubmission.id))
        )

        # The batch goes with its dataset: its kept rows with it.
        deletion.delete_dataset(campaign.batch.dataset)
        assert _kept(batch_id) == ((0, 0, 0, 0), {}, {}) and not BatchMinute.select().exists()
        assert not BatchPeriod.select().exists()


def test_throughput_buckets_the_minutes_as_the_pages_would_be(app, campaign):
    with app.app_context():
        worked_for(campaign.assignments.values(), seconds_per_page=3600)  # hours apart: bars of several minutes
        chart = progress.throughput(campaign.batch)
        submitted = [
            p.submitted_at for p in PageSubmission.select().join(PageTally, on=(PageTally.page == PageSubmission.id))
        ]
    epochs = [int(s.replace(tzinfo=dt.UTC).timestamp()) for s in submitted]
    assert chart.seconds == 300
    expected = Counter(e // chart.seconds for e in epochs)
    first = min(epochs) // chart.seconds
    assert [bar.pages for bar in chart.bars] == [expected.get(first + i, 0) for i in range(len(chart.bars))]
    assert chart.bars[0].start == dt.datetime.fromtimestamp(first * 300, dt.UTC).replace(tzinfo=None)


def test_throughput_of_a_long_batch_reads_its_hours_and_days(app, campaign):
    """Bars of hours and of days come from the pages kept per hour and day, and equal the pages' own buckets."""
    for seconds_per_page, bucket in ((200_000, 3 * 3600), (3_000_000, 86400)):  # spans of 2 and 35 days
        with app.app_context():
            worked_for(campaign.assignments.values(), seconds_per_page=seconds_per_page)
            chart = progress.throughput(campaign.batch)
            submitted = [
                p.submitted_at
                for p in PageSubmission.select().join(PageTally, on=(PageTally.page == PageSubmission.id))
            ]
        epochs = [int(s.replace(tzinfo=dt.UTC).timestamp()) for s in submitted]
        assert chart.seconds == bucket
        expected = Counter(e // bucket for e in epochs)
        first = min(epochs) // bucket
        assert [bar.pages for bar in chart.bars] == [expected.get(first + i, 0) for i in range(len(chart.bars))]
