"""Chunks received per page: counted by the database as the flush stores them (migration 0020), read by the batch's
progress and its workers' figures without reading the chunks."""

from __future__ import annotations

import datetime as dt

from factories import pointer_batch
from peewee import fn
from support import post_ingest

from freelunch.models import Assignment, HitPage, PageChunkCount, PageSubmission, PointerChunk
from freelunch.services.accounts.identity import assignment_token
from freelunch.services.review import quality, tallies
from freelunch.web import batch_tabs


def _received_by_reading_every_chunk(batch_id: int) -> int:
    """What the pages counted before migration 0020: every stored chunk of a submitted page, from its tab."""
    return (
        PointerChunk.select(fn.COUNT(PointerChunk.id))
        .join(PageSubmission, on=PointerChunk.of_submission())
        .join(Assignment, on=(PointerChunk.assignment == Assignment.id))
        .where(tallies.in_batch(batch_id))
        .scalar()
    )


def _progress(app, batch):
    with app.app_context():
        return batch_tabs.batch_progress(batch)


def test_the_flush_counts_each_chunk_it_stores_once_per_page_and_tab(app, client, campaign, run_jobs):
    late = campaign.assignments["h2w3"]  # page 2 not submitted yet
    with app.app_context():
        token = assignment_token(late.id)
    before = _progress(app, campaign.batch).pages.chunks_received
    assert before == _received_by_reading_every_chunk(campaign.batch.id) == 8

    for seq in (0, 1, 1):  # the second seq 1 is a retried request: stored once, counted once
        assert post_ingest(client, pointer_batch(token, seq=seq, page=2)).status_code == 202
    assert post_ingest(client, pointer_batch(token, seq=0, page=2, tab=5)).status_code == 202  # another tab's view
    run_jobs("ingest")
    counts = {(c.pageno, c.tab): c.received for c in PageChunkCount.select().where(PageChunkCount.assignment == late)}
    assert counts == {(1, 0): 1, (2, 0): 2, (2, 5): 1}
    # A page still open has reported nothing: its chunks are not "received" ones yet.
    assert _progress(app, campaign.batch).pages.chunks_received == before

    page = PageSubmission.create(
        assignment=late,
        hit_page=HitPage.get(HitPage.hit == late.hit_id, HitPage.pageno == 2),
        pageno=2,
        started_at=1_700_000_000_000,
        ended_at=1_700_000_010_000,
        chunks_reported=2,
        submitted_at=dt.datetime(2026, 12, 6),
    )
    tallies.derive([page.id])  # as submit does, in its transaction
    figures = _progress(app, campaign.batch).pages
    assert figures.chunks_received == before + 2 == _received_by_reading_every_chunk(campaign.batch.id)
    per_worker = quality.figures(Assignment.worker_id, tallies.in_batch(campaign.batch.id))
    assert per_worker["W3CCCCCCCC"].chunks_received == 1 + 1 + 1 + 2  # h1w3's two pages, h2w3's two


def test_counts_go_with_their_assignment(app, campaign):
    assignment = campaign.assignments["h1w1"]
    assert PageChunkCount.select().where(PageChunkCount.assignment == assignment).count() == 2
    assignment.delete_instance(recursive=False)
    assert PageChunkCount.select().where(PageChunkCount.assignment == assignment.id).count() == 0
