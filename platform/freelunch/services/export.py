"""Byproduct records in the seed's format, streamed: one dict per image per submitted page.

Pages are read in keyset slices and each page's pointer chunks only while that
page is written, so memory stays flat however large the batch. The field names
and units are record-format.md's; the context fields are listed in docs/export.md.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from peewee import JOIN

from ..models import Assignment, Batch, Hit, HitPage, Image, ImageClass, ImageRecord, PageSubmission, PointerChunk

PAGES_PER_QUERY = 200


def _submitted_pages(batch: Batch) -> Iterator[PageSubmission]:
    last = 0
    while True:
        pages = list(
            PageSubmission.select(PageSubmission, Assignment, Hit, HitPage, ImageClass)
            .join(Assignment).join(Hit).switch(PageSubmission).join(HitPage).join(ImageClass)
            .where(Hit.batch == batch, PageSubmission.id > last)
            .order_by(PageSubmission.id).limit(PAGES_PER_QUERY)
        )
        yield from pages
        if len(pages) < PAGES_PER_QUERY:
            return
        last = pages[-1].id


def mouse_tracking(page: PageSubmission) -> dict[int, list[dict]]:
    """The page's "move" events by grid index, in time order, from its stored chunks.

    Only moves between the page's startedAt and endedAt count: a worker who
    reloaded a page mid-way left chunks of an abandoned view of it, whose other
    fields (hovers, clicks) are not in the submitted records either.
    """
    moves: dict[int, list[dict]] = {}
    chunks = PointerChunk.select(PointerChunk.events).where(
        PointerChunk.assignment == page.assignment_id, PointerChunk.pageno == page.pageno
    ).order_by(PointerChunk.seq)
    for chunk in chunks:
        for event in json.loads(chunk.events):
            if event.get("type") == "move" and page.started_at <= event["time"] <= page.ended_at:
                moves.setdefault(event["i"], []).append({"x": event["x"], "y": event["y"], "time": event["time"]})
    for points in moves.values():
        points.sort(key=lambda p: p["time"])  # stable: equal times keep their sending order
    return moves


def _records(page: PageSubmission) -> Iterator[dict]:
    assignment, hit, image_class = page.assignment, page.assignment.hit, page.hit_page.image_class
    moves = mouse_tracking(page)
    replaced = Image.alias()
    rows = (
        ImageRecord.select(ImageRecord, Image.key, replaced.key.alias("replaces_key"))
        .join(Image, on=(ImageRecord.image == Image.id))
        .switch(ImageRecord).join(replaced, on=(ImageRecord.replaces == replaced.id), join_type=JOIN.LEFT_OUTER)
        .where(ImageRecord.page == page).order_by(ImageRecord.grid_index).objects()
    )
    for row in rows:
        has_position = row.position_x is not None and row.position_y is not None
        yield {
            "imageID": row.key,
            "originalImageHeight": row.original_height,
            "originalImageWidth": row.original_width,
            "imageHeight": row.height,
            "imageWidth": row.width,
            "imagePosition": {"x": row.position_x, "y": row.position_y} if has_position else None,
            "hoveredRecord": row.hovered_record,
            "hoveredCount": row.hovered_count,
            "mouseTracking": moves.get(row.grid_index, []),
            "selected": row.selected,
            "selectedCount": row.selected_count,
            "selectedRecord": row.selected_record,
            "estimateTime": row.estimate_time,
            "worker_id": assignment.worker_id,
            # context: enough to use the record on its own (docs/export.md)
            "batchId": hit.batch_id,
            "hitId": hit.key,
            "mturkHitId": assignment.mturk_hit_id or hit.mturk_hit_id,
            "assignmentId": assignment.id,
            "mturkAssignmentId": assignment.mturk_assignment_id,
            "source": assignment.source,
            "version": assignment.version,
            "pageno": page.pageno,
            "pageStartedAt": page.started_at,
            "pageEndedAt": page.ended_at,
            "gridIndex": row.grid_index,
            "classKey": image_class.key,
            "classNames": image_class.names,
            "loadStatus": row.load_status,
            "replacesImageID": row.replaces_key,
        }


def seed_records(batch: Batch) -> Iterator[dict]:
    """Every image record of every submitted page of the batch, in submission order."""
    for page in _submitted_pages(batch):
        yield from _records(page)


def write_seed_jsonl(batch: Batch, out: IO[str]) -> int:
    """Write the batch's records as JSON Lines; returns how many."""
    count = 0
    for record in seed_records(batch):
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        count += 1
    return count
