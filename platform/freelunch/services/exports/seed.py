"""Byproduct records in the seed's format, streamed: one dict per image per submitted page.

Pages are read in keyset slices of PAGES_PER_QUERY; each slice's image records
and pointer chunks are read with one query each and dropped once the slice is
written, so memory stays flat however large the batch. A thread of its own
reads the slices, on its own connection, up to READ_AHEAD slices ahead of the
one being written: the database's time and the writing's overlap instead of
adding up (half of an export's time was waiting for the database). The field names and
units are record-format.md's; the context fields are listed in docs/export.md.
Only the pages whose votes count are written (services/review/counted.py): an
MTurk assignment's once MTurk has confirmed it, never a rejected one's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from operator import itemgetter

import orjson
from peewee import JOIN

from ...db import database
from ...models import Assignment, Batch, Hit, HitPage, Image, ImageClass, ImageRecord, PageSubmission, PointerChunk
from ..annotation import record
from ..review.counted import COUNTS

# A slice's trajectories are held at once: a busy page has ~3,000 points (~0.8 MB as dicts),
# so 50 pages keep the peak near 40 MB however large the batch.
PAGES_PER_QUERY = 50
READ_AHEAD = 2  # slices read and waiting to be written: memory stays a few slices
BY_TIME = itemgetter("time")
BEFORE_KEYS = [field.key for field in record.BEFORE_TRACKING]
AFTER_KEYS = [field.key for field in record.AFTER_TRACKING]
OWN_COLUMNS = ("page_id", "grid_index", "key", "load_status", "replaces_key")  # read beside record.COLUMNS
# One slice as read: its pages, its records' (column names, raw rows), its pages' moves by grid index.
Slice = tuple[list[PageSubmission], tuple[list[str], list[tuple]], dict[int, dict[int, list[dict]]]]


def _submitted_pages(batch: Batch) -> Iterator[list[PageSubmission]]:
    """The batch's submitted pages whose votes count, in id order, a slice at a time."""
    last = 0
    while True:
        pages = list(
            PageSubmission.select(PageSubmission, Assignment, Hit, HitPage, ImageClass)
            .join(Assignment)
            .join(Hit)
            .switch(PageSubmission)
            .join(HitPage)
            .join(ImageClass)
            .where(Hit.batch == batch, COUNTS, PageSubmission.id > last)
            .order_by(PageSubmission.id)
            .limit(PAGES_PER_QUERY)
        )
        if pages:
            yield pages
        if len(pages) < PAGES_PER_QUERY:
            return
        last = pages[-1].id


def _moves(events: list[dict], page: PageSubmission, into: dict[int, list[dict]]) -> None:
    started, ended, points_of = page.started_at, page.ended_at, into.setdefault
    for event in events:
        if event["type"] == "move" and started <= event["time"] <= ended:
            points_of(event["i"], []).append({"x": event["x"], "y": event["y"], "time": event["time"]})


def _sorted(moves: dict[int, list[dict]]) -> dict[int, list[dict]]:
    for points in moves.values():
        points.sort(key=BY_TIME)  # stable: equal times keep their sending order
    return moves


def _slice_tracking(pages: list[PageSubmission]) -> dict[int, dict[int, list[dict]]]:
    """Per page id, the page's "move" events by grid index, in time order, from its stored chunks.

    One query reads the chunks of a whole slice. Only moves between the page's
    startedAt and endedAt count, and only those of the browser tab that submitted
    the page: a worker who reloaded a page mid-way, or had it open in another
    tab, left chunks of an abandoned view of it, whose other fields (hovers,
    clicks) are not in the submitted records either.
    """
    by_key = {(p.assignment_id, p.pageno, p.tab): p for p in pages}
    moves: dict[int, dict[int, list[dict]]] = {p.id: {} for p in pages}
    chunks = (
        PointerChunk.select(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.tab, PointerChunk.events)
        .where(PointerChunk.assignment.in_({p.assignment_id for p in pages}))
        .order_by(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.seq)
    )
    for assignment_id, pageno, tab, events in chunks.tuples():
        page = by_key.get((assignment_id, pageno, tab))
        if page is not None:  # chunks of pages outside the slice (or never submitted) are skipped
            _moves(orjson.loads(events), page, moves[page.id])
    return {page_id: _sorted(m) for page_id, m in moves.items()}


def _page_context(page: PageSubmission) -> tuple:
    """The fields every record of a page shares, in the order _records unpacks them."""
    assignment, image_class = page.assignment, page.hit_page.image_class
    hit = assignment.hit
    return (
        assignment.worker_id,
        hit.batch_id,
        hit.key,
        assignment.mturk_hit_id or hit.mturk_hit_id,
        assignment.id,
        assignment.mturk_assignment_id,
        assignment.source,
        assignment.version,
        page.pageno,
        page.started_at,
        page.ended_at,
        page.none_confirmed,
        image_class.key,
        image_class.names,
    )


def _record_rows(pages: list[PageSubmission]) -> tuple[list[str], list[tuple]]:
    """The slice's image records as raw rows, and their column names."""
    replaced = Image.alias()
    rows = (
        ImageRecord.select(
            ImageRecord.page.alias("page_id"),
            ImageRecord.grid_index,
            Image.key,
            ImageRecord.load_status,
            replaced.key.alias("replaces_key"),
            *(getattr(ImageRecord, column) for column in record.COLUMNS),
        )
        .join(Image, on=(ImageRecord.image == Image.id))
        .switch(ImageRecord)
        .join(replaced, on=(ImageRecord.replaces == replaced.id), join_type=JOIN.LEFT_OUTER)
        .where(ImageRecord.page.in_([p.id for p in pages]))
        .order_by(ImageRecord.page, ImageRecord.grid_index)
    )
    # Raw rows, read by name (found once, then by index): peewee's per-column conversion would cost
    # more than all the rest of the export.
    return [*OWN_COLUMNS, *record.COLUMNS], list(database.execute(rows))


def _read(pages: list[PageSubmission]) -> Slice:
    return pages, _record_rows(pages), _slice_tracking(pages)


def _records(pages: list[PageSubmission], rows: tuple[list[str], list[tuple]], tracking: dict) -> Iterator[dict]:
    names, raw = rows
    own = OWN_COLUMNS
    context = {p.id: _page_context(p) for p in pages}
    page_of, grid_of, key_of, status_of, replaces_of = (itemgetter(names.index(name)) for name in own)
    before = [field.reader(names) for field in record.BEFORE_TRACKING]
    after = [field.reader(names) for field in record.AFTER_TRACKING]
    for row in raw:
        page_id, grid_index = page_of(row), grid_of(row)
        (
            worker_id,
            batch_id,
            hit_key,
            mturk_hit_id,
            assignment_id,
            mturk_assignment_id,
            source,
            version,
            pageno,
            started_at,
            ended_at,
            none_confirmed,
            class_key,
            class_names,
        ) = context[page_id]
        out = {"imageID": key_of(row)}
        out.update(zip(BEFORE_KEYS, [read(row) for read in before]))
        out["mouseTracking"] = tracking[page_id].get(grid_index, [])
        out.update(zip(AFTER_KEYS, [read(row) for read in after]))
        out.update(
            {
                "worker_id": worker_id,
                # context: enough to use the record on its own (docs/export.md)
                "batchId": batch_id,
                "hitId": hit_key,
                "mturkHitId": mturk_hit_id,
                "assignmentId": assignment_id,
                "mturkAssignmentId": mturk_assignment_id,
                "source": source,
                "version": version,
                "pageno": pageno,
                "pageStartedAt": started_at,
                "pageEndedAt": ended_at,
                "pageNoneConfirmed": none_confirmed,
                "gridIndex": grid_index,
                "classKey": class_key,
                "classNames": class_names,
                "loadStatus": status_of(row),
                "replacesImageID": replaces_of(row),
            }
        )
        yield out


def seed_records(batch: Batch) -> Iterator[dict]:
    """Every image record of every submitted page of the batch, in submission order."""
    slices = _read_ahead(batch)
    try:
        for pages, rows, tracking in slices:
            yield from _records(pages, rows, tracking)
    finally:
        slices.close()  # stops the reader now, not whenever the generator is collected


def _read_ahead(batch: Batch) -> Generator[Slice, None, None]:
    """The batch's slices, read by a thread on a connection of its own while the caller writes the one before.

    The thread stops when the caller does (a closed generator, an error): it finishes the slice it is reading.
    An error in the thread is raised here."""
    slices: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                slices.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            with database.connection_context():
                for pages in _submitted_pages(batch):
                    if not offer(_read(pages)):
                        return
        except Exception as error:  # handed to the caller, which raises it
            offer(error)
            return
        offer(None)

    reader = threading.Thread(target=read, name=f"export-reader-{batch.id}", daemon=True)
    reader.start()
    try:
        while (item := slices.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
