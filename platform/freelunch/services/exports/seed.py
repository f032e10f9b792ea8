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
from collections.abc import Callable, Generator, Iterator
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

import orjson
from peewee import Cast, JSONField

from ...db import database
from ...models import Assignment, Batch, Hit, HitPage, Image, ImageClass, ImageRecord, PageSubmission, PointerChunk
from ..annotation import record
from ..review.counted import COUNTS

# A slice's trajectories are held at once: a busy page has ~3,000 points (~0.8 MB as dicts),
# so 50 pages keep the peak near 40 MB however large the batch.
PAGES_PER_QUERY = 50
READ_AHEAD = 2  # slices read and waiting to be written: memory stays a few slices
BY_INDEX = itemgetter("i")
BY_INDEX_AND_TIME = itemgetter("i", "time")
OWN_COLUMNS = ("page_id", "grid_index", "key", "load_status", "replaces_key")  # read beside record.COLUMNS
# The keys of a record, in the export's order: the fields of record.FIELDS around the trajectory, then the context.
KEYS = (
    "imageID",
    *(field.key for field in record.BEFORE_TRACKING),
    "mouseTracking",
    *(field.key for field in record.AFTER_TRACKING),
    # context: enough to use the record on its own (docs/export.md)
    "worker_id",
    "batchId",
    "hitId",
    "mturkHitId",
    "assignmentId",
    "mturkAssignmentId",
    "source",
    "version",
    "pageno",
    "pageStartedAt",
    "pageEndedAt",
    "pageNoneConfirmed",
    "gridIndex",
    "classKey",
    "classNames",
    "loadStatus",
    "replacesImageID",
)


class Page(NamedTuple):
    """A submitted page, as a slice reads it (plain values: peewee's models cost more than the rest of a page)."""

    id: int
    assignment_id: int
    pageno: int
    tab: int
    started_at: int
    ended_at: int
    none_confirmed: bool
    worker_id: str
    source: str
    version: str
    mturk_assignment_id: str | None
    assignment_hit_id: str | None
    batch_id: int
    hit_key: str
    hit_mturk_id: str | None
    class_key: str
    class_names: list[str]


PAGE_COLUMNS = (
    PageSubmission.id,
    PageSubmission.assignment,
    PageSubmission.pageno,
    PageSubmission.tab,
    PageSubmission.started_at,
    PageSubmission.ended_at,
    PageSubmission.none_confirmed,
    Assignment.worker_id,
    Assignment.source,
    Assignment.version,
    Assignment.mturk_assignment_id,
    Assignment.mturk_hit_id,
    Hit.batch,
    Hit.key,
    Hit.mturk_hit_id,
    ImageClass.key,
    ImageClass.names,
)
# One slice as read: its pages, its records' (column names, raw rows), its pages' moves by grid index.
Slice = tuple[list[Page], tuple[list[str], list[tuple]], dict[int, dict[int, list[dict]]]]


def _submitted_pages(batch: Batch) -> Iterator[list[Page]]:
    """The batch's submitted pages whose votes count, in id order, a slice at a time."""
    last = 0
    while True:
        query = (
            PageSubmission.select(*PAGE_COLUMNS)
            .join(Assignment)
            .join(Hit)
            .switch(PageSubmission)
            .join(HitPage)
            .join(ImageClass)
            .where(Hit.batch == batch, COUNTS, PageSubmission.id > last)
            .order_by(PageSubmission.id)
            .limit(PAGES_PER_QUERY)
        )
        pages = [Page._make(row) for row in query.tuples()]
        if pages:
            yield pages
        if len(pages) < PAGES_PER_QUERY:
            return
        last = pages[-1].id


def _page_moves(texts: list[str], page: Page) -> dict[int, list[dict]]:
    """A page's "move" events between its start and its end, by grid index, in time order (a stable sort: equal
    times keep their sending order), from its chunks' JSON in sending order. As stored: a record's are made
    into the seed's points (``_points``) only if it is written."""
    started, ended = page.started_at, page.ended_at
    moves = [
        event
        for text in texts
        for event in orjson.loads(text)
        if event["type"] == "move" and started <= event["time"] <= ended
    ]
    moves.sort(key=BY_INDEX_AND_TIME)
    return {i: list(events) for i, events in groupby(moves, BY_INDEX)}


def _points(moves: list[dict]) -> list[dict]:
    return [{"x": move["x"], "y": move["y"], "time": move["time"]} for move in moves]


def _slice_tracking(pages: list[Page]) -> dict[int, dict[int, list[dict]]]:
    """Per page id, the page's "move" events by grid index, in time order, from its stored chunks.

    One query reads the chunks of a whole slice. Only moves between the page's
    startedAt and endedAt count, and only those of the browser tab that submitted
    the page: a worker who reloaded a page mid-way, or had it open in another
    tab, left chunks of an abandoned view of it, whose other fields (hovers,
    clicks) are not in the submitted records either.
    """
    by_key = {(p.assignment_id, p.pageno, p.tab): p for p in pages}
    texts: dict[int, list[str]] = {p.id: [] for p in pages}
    chunks = (
        PointerChunk.select(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.tab, PointerChunk.events)
        .where(PointerChunk.assignment.in_({p.assignment_id for p in pages}))
        .order_by(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.seq)
    )
    for assignment_id, pageno, tab, events in database.execute(chunks):
        page = by_key.get((assignment_id, pageno, tab))
        if page is not None:  # chunks of pages outside the slice (or never submitted) are skipped
            texts[page.id].append(events)
    return {page.id: _page_moves(texts[page.id], page) for page in pages}


def _page_context(page: Page) -> tuple:
    """The fields every record of a page shares, in KEYS's order: worker_id to pageNoneConfirmed, then classKey
    and classNames (around gridIndex)."""
    return (
        (
            page.worker_id,
            page.batch_id,
            page.hit_key,
            page.assignment_hit_id or page.hit_mturk_id,
            page.assignment_id,
            page.mturk_assignment_id,
            page.source,
            page.version,
            page.pageno,
            page.started_at,
            page.ended_at,
            page.none_confirmed,
        ),
        (page.class_key, page.class_names),
    )


def _record_rows(pages: list[Page]) -> tuple[list[str], list[tuple]]:
    """The slice's image records as raw rows, and their column names."""
    shown, replaced = Image.alias(), Image.alias()
    rows = (
        ImageRecord.select(
            ImageRecord.page.alias("page_id"),
            ImageRecord.grid_index,
            # Image keys by a lookup per record: as joins, PostgreSQL's planner hashed the whole image table for
            # every slice (200 ms of a slice's 2,400 records; the lookups take a few).
            shown.select(shown.key).where(shown.id == ImageRecord.image).alias("key"),
            ImageRecord.load_status,
            replaced.select(replaced.key).where(replaced.id == ImageRecord.replaces).alias("replaces_key"),
            *(_as_read(getattr(ImageRecord, column)) for column in record.COLUMNS),
        )
        .where(ImageRecord.page.in_([p.id for p in pages]))
        .order_by(ImageRecord.page, ImageRecord.grid_index)
    )
    # Raw rows, read by name (found once, then by index): peewee's per-column conversion would cost
    # more than all the rest of the export.
    return [*OWN_COLUMNS, *record.COLUMNS], list(database.execute(rows))


def _as_read(column):
    """A JSON column as its text, which record's fields decode with orjson: psycopg2 would decode PostgreSQL's
    jsonb with the json module, a fifth of the export's time."""
    return Cast(column, "text").alias(column.column_name) if isinstance(column, JSONField) else column


def _read(pages: list[Page]) -> Slice:
    return pages, _record_rows(pages), _slice_tracking(pages)


class _Readers:
    """How a slice's raw rows are read: by name, found once per slice (record.FIELDS's readers)."""

    def __init__(self, names: list[str]):
        self.page, self.grid, self.key, self.status, self.replaces = (
            itemgetter(names.index(name)) for name in OWN_COLUMNS
        )
        self.before = [field.reader(names) for field in record.BEFORE_TRACKING]
        self.after = [field.reader(names) for field in record.AFTER_TRACKING]


Keep = Callable[[str, str, str], bool]  # (class key, image key, load status) -> write the record?


def _records(
    pages: list[Page],
    rows: tuple[list[str], list[tuple]],
    tracking: dict,
    keep: Keep | None = None,
    points: bool = True,
) -> Iterator[dict]:
    """The slice's records, in KEYS's order (only those ``keep`` keeps, if given; moves as stored unless
    ``points``), made as they are asked for."""
    names, raw = rows
    contexts = {p.id: _page_context(p) for p in pages}
    read = _Readers(names)
    trajectory = _points if points else list
    for row in raw:
        page_id, grid_index = read.page(row), read.grid(row)
        shared, named = contexts[page_id]
        if keep is not None and not keep(named[0], read.key(row), read.status(row)):
            continue
        yield dict(
            zip(
                KEYS,
                (
                    read.key(row),
                    *[field(row) for field in read.before],
                    trajectory(tracking[page_id].get(grid_index, ())),
                    *[field(row) for field in read.after],
                    *shared,
                    grid_index,
                    *named,
                    read.status(row),
                    read.replaces(row),
                ),
            )
        )


OWN_KEYS = KEYS[: KEYS.index("worker_id")]  # imageID, the fields and mouseTracking: each record's own


def _lines(pages: list[Page], rows: tuple[list[str], list[tuple]], tracking: dict) -> bytes:
    """The slice's records as JSON Lines: ``orjson.dumps`` of each of ``_records``'s dicts and a newline, byte for
    byte, but the context that a page's records share is serialized once per page and joined to each record's
    own fields: half the keys and a third of the time of a record."""
    names, raw = rows
    read = _Readers(names)
    around_grid = {}
    for page in pages:
        shared, named = _page_context(page)
        before = orjson.dumps(dict(zip(KEYS[len(OWN_KEYS) : KEYS.index("gridIndex")], shared)))
        after = orjson.dumps(dict(zip(("classKey", "classNames"), named)))
        around_grid[page.id] = (b"," + before[1:-1] + b',"gridIndex":', b"," + after[1:-1] + b",")
    tails: dict[tuple, bytes] = {}
    out: list[bytes] = []
    for row in raw:
        page_id, grid_index = read.page(row), read.grid(row)
        own = dict(
            zip(
                OWN_KEYS,
                (
                    read.key(row),
                    *[field(row) for field in read.before],
                    _points(tracking[page_id].get(grid_index, ())),
                    *[field(row) for field in read.after],
                ),
            )
        )
        end = (read.status(row), read.replaces(row))
        tail = tails.get(end)
        if tail is None:
            tail = tails[end] = orjson.dumps(dict(zip(("loadStatus", "replacesImageID"), end)))[1:] + b"\n"
        before, after = around_grid[page_id]
        out += (orjson.dumps(own)[:-1], before, b"%d" % grid_index, after, tail)
    return b"".join(out)


def seed_slices(batch: Batch, keep: Keep | None = None, points: bool = True) -> Generator[list[dict], None, None]:
    """``seed_records``, a slice at a time (PAGES_PER_QUERY pages): a writer that writes a slice at once makes
    fewer calls per record. ``keep(class key, image key, load status)``: only the records it keeps are made.
    Without ``points``, each record's ``mouseTracking`` holds its moves as stored (every key, in time order), for
    a writer that only counts them (a dict a point is most of the trajectories' cost)."""
    slices = _read_ahead(batch)
    try:
        for pages, rows, tracking in slices:
            yield list(_records(pages, rows, tracking, keep, points))
    finally:
        slices.close()  # stops the reader now, not whenever the generator is collected


def seed_lines(batch: Batch) -> Generator[tuple[int, bytes], None, None]:
    """``seed_records`` as JSON Lines (each record's ``orjson.dumps`` and a newline), a slice at a time:
    (records, their lines)."""
    slices = _read_ahead(batch)
    try:
        for pages, rows, tracking in slices:
            yield len(rows[1]), _lines(pages, rows, tracking)
    finally:
        slices.close()


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
