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

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterator
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import msgspec
import orjson
from peewee import Cast, JSONField, Tuple

from ...db import database
from ...models import Assignment, Batch, Hit, HitPage, Image, ImageClass, ImageRecord, PageSubmission, PointerChunk
from ...read_ahead import read_ahead
from ..annotation import record
from ..review.counted import COUNTS

# A slice's trajectories are held at once: a busy page has ~3,000 points (~0.8 MB as dicts),
# so 50 pages keep the peak near 40 MB however large the batch.
PAGES_PER_QUERY = 50
PAGES_PER_READ = 500  # pages a query reads, then cut into slices: a query a slice cost 0.4 us of a record, this 0.2
READ_AHEAD = 2  # slices read and waiting to be written: memory stays a few slices
BY_TIME = attrgetter("time")
OWN_COLUMNS = ("page_id", "grid_index", "key", "load_status", "replaces_key", "image_id")  # beside record.COLUMNS
KEYS_KEPT = 100_000  # image keys an export keeps for its next slices (~15 MB); past that it forgets them all
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
    class_id: int
    completed_at: dt.datetime | None  # the assignment's last page submitted (ImageNet-AB's hit_submit_time)


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
    ImageClass.id,
    Assignment.completed_at,
)


class Slice(NamedTuple):
    """One slice as read: its pages, its records as raw rows and their column names, and per page id its moves
    by grid index: a list in time order, or (``count_moves``) their number."""

    pages: list[Page]
    names: list[str]
    rows: list[tuple]
    moves: dict[int, dict[int, Any]]


Keep = Callable[[int, int, str], bool]  # (class id, image id, load status) -> write the record?


def _submitted_pages(batch: Batch) -> Iterator[list[Page]]:
    """The batch's submitted pages whose votes count, in id order, a slice (PAGES_PER_QUERY) at a time."""
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
            .limit(PAGES_PER_READ)
        )
        pages = [Page._make(row) for row in query.tuples()]
        for start in range(0, len(pages), PAGES_PER_QUERY):
            yield pages[start : start + PAGES_PER_QUERY]
        if len(pages) < PAGES_PER_READ:
            return
        last = pages[-1].id


class Event(msgspec.Struct, gc=False):
    """A stored pointer event, as far as the exports read it (x and y: a move's or a click's). Decoded by msgspec
    into a struct, not by orjson into a dict: a page's ~600 events were half of the reader's time. The numbers
    are those orjson reads (an int stays an int, a float a float), so every file's bytes are the same."""

    type: str
    i: int
    time: int | float
    x: int | float | None = None
    y: int | float | None = None


EVENTS = msgspec.json.Decoder(list[Event])  # a chunk's other keys (``selected``) are skipped unread


def _page_moves(texts: list[str], page: Page, wanted: Collection[int] | None = None) -> dict[int, list[Event]]:
    """A page's "move" events between its start and its end, by grid index, in time order (a stable sort: equal
    times keep their sending order), from its chunks' JSON in sending order; only those of the grid indexes
    ``wanted``, if given. As stored: a record's are made into the seed's points (``_points``) only if it is
    written."""
    started, ended = page.started_at, page.ended_at
    by_index: dict[int, list[Event]] = {}
    for text in texts:
        for event in EVENTS.decode(text):
            if event.type == "move" and started <= event.time <= ended and (wanted is None or event.i in wanted):
                moves = by_index.get(event.i)
                if moves is None:
                    by_index[event.i] = [event]
                else:
                    moves.append(event)
    for moves in by_index.values():
        moves.sort(key=BY_TIME)
    return by_index


def _page_move_counts(texts: list[str], page: Page) -> Counter[int]:
    """How many moves ``_page_moves`` would give each grid index, without sorting or keeping them."""
    started, ended = page.started_at, page.ended_at
    return Counter(
        [
            event.i
            for text in texts
            for event in EVENTS.decode(text)
            if event.type == "move" and started <= event.time <= ended
        ]
    )


def _points(moves: list[Event]) -> list[dict]:
    return [{"x": move.x, "y": move.y, "time": move.time} for move in moves]


def _chunk_texts(pages: list[Page]) -> dict[int, list[str]]:
    """Per page id, the JSON of the page's stored chunks in sending order.

    One query reads the chunks of a whole slice. Only moves between the page's
    startedAt and endedAt count, and only those of the browser tab that submitted
    the page: a worker who reloaded a page mid-way, or had it open in another
    tab, left chunks of an abandoned view of it, whose other fields (hovers,
    clicks) are not in the submitted records either.
    """
    by_key = {(p.assignment_id, p.pageno, p.tab): p for p in pages}
    texts: dict[int, list[str]] = {p.id: [] for p in pages}
    # By page (the chunks' unique index), not by assignment: a slice's pages are of as many assignments as pages
    # when workers submit at the same time, and each assignment's other pages' chunks would be read and dropped.
    chunks = (
        PointerChunk.select(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.tab, PointerChunk.events)
        .where(Tuple(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.tab).in_(list(by_key)))
        .order_by(PointerChunk.assignment, PointerChunk.pageno, PointerChunk.seq)
    )
    for assignment_id, pageno, tab, events in database.execute(chunks):
        texts[by_key[assignment_id, pageno, tab].id].append(events)
    return texts


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


def _record_rows(pages: list[Page], fields: tuple[record.Field, ...]) -> tuple[list[str], list[tuple]]:
    """The slice's image records as raw rows (OWN_COLUMNS and the columns of ``fields``), and their column
    names."""
    columns = [column for field in fields for column in field.columns]
    rows = (
        ImageRecord.select(
            ImageRecord.page.alias("page_id"),
            ImageRecord.grid_index,
            ImageRecord.load_status,
            ImageRecord.image.alias("image_id"),
            ImageRecord.replaces.alias("replaces_id"),
            *(_as_read(getattr(ImageRecord, column)) for column in columns),
        )
        .where(ImageRecord.page.in_([p.id for p in pages]))
        .order_by(ImageRecord.page, ImageRecord.grid_index)
    )
    # Raw rows, read by name (found once, then by index): peewee's per-column conversion would cost
    # more than all the rest of the export.
    return ["page_id", "grid_index", "load_status", "image_id", "replaces_id", *columns], list(database.execute(rows))


class ImageKeys:
    """Image keys by id, read for the ids a slice lacks and kept for the next slices (up to KEYS_KEPT).

    Read by a lookup per record, the keys were a third of the database's time for an export. The records of a
    HIT's assignments show the same images, and are mostly submitted near each other, so most slices find most
    of their keys kept; a batch submitted in no such order costs one more query a slice than the lookups did.
    """

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}

    def added(self, names: list[str], rows: list[tuple]) -> tuple[list[str], list[tuple]]:
        """The rows with their image's key and the replaced image's (or None) after their columns."""
        image_at, replaces_at = names.index("image_id"), names.index("replaces_id")
        wanted = {row[image_at] for row in rows} | {row[replaces_at] for row in rows}
        wanted.discard(None)
        missing = wanted - self.by_id.keys()
        if len(self.by_id) + len(missing) > KEYS_KEPT:
            self.by_id.clear()
            missing = wanted
        if missing:
            self.by_id.update(Image.select(Image.id, Image.key).where(Image.id.in_(list(missing))).tuples())
        key = self.by_id
        return [*names, "key", "replaces_key"], [(*row, key[row[image_at]], key.get(row[replaces_at])) for row in rows]


def _as_read(column):
    """A JSON column as its text, which record's fields decode with orjson: psycopg2 would decode PostgreSQL's
    jsonb with the json module, a fifth of the export's time."""
    return Cast(column, "text").alias(column.column_name) if isinstance(column, JSONField) else column


def _read(
    pages: list[Page],
    keys: ImageKeys,
    fields: tuple[record.Field, ...] = record.FIELDS,
    count_moves: bool = False,
    keep: Keep | None = None,
) -> Slice:
    """A slice of pages read: their records (only those ``keep`` keeps, if given), the columns of ``fields``, and
    the moves of the records kept, in time order or (``count_moves``) counted."""
    names, rows = _record_rows(pages, fields)
    texts = _chunk_texts(pages)
    wanted: dict[int, set[int] | None] = dict.fromkeys(texts)  # None: every grid index
    if keep is not None:
        page_at, grid_at, status_at, image_at = (
            names.index(name) for name in ("page_id", "grid_index", "load_status", "image_id")
        )
        class_of = {page.id: page.class_id for page in pages}
        rows = [row for row in rows if keep(class_of[row[page_at]], row[image_at], row[status_at])]
        kept: dict[int, set[int]] = {page.id: set() for page in pages}
        for row in rows:
            kept[row[page_at]].add(row[grid_at])
        wanted.update(kept)
    names, rows = keys.added(names, rows)  # only the records kept: ImageNet-AB's are its yes records
    moves: dict[int, dict[int, Any]] = {}
    for page in pages:
        indexes = wanted[page.id]
        if indexes is not None and not indexes:
            moves[page.id] = {}  # nothing of the page is written: its chunks are not parsed
        elif count_moves:
            moves[page.id] = _page_move_counts(texts[page.id], page)
        else:  # the moves of records left out are neither sorted nor grouped
            moves[page.id] = _page_moves(texts[page.id], page, indexes)
    return Slice(pages, names, rows, moves)


class _Readers:
    """How a slice's raw rows are read: by name, found once per slice (record.FIELDS's readers)."""

    def __init__(self, names: list[str]):
        self.page, self.grid, self.key, self.status, self.replaces = (
            itemgetter(names.index(name)) for name in OWN_COLUMNS[:5]
        )
        self.before = [field.reader(names) for field in record.BEFORE_TRACKING]
        self.after = [field.reader(names) for field in record.AFTER_TRACKING]


def _records(part: Slice) -> Iterator[dict]:
    """The slice's records, in KEYS's order, made as they are asked for."""
    contexts = {p.id: _page_context(p) for p in part.pages}
    read = _Readers(part.names)
    for row in part.rows:
        page_id, grid_index = read.page(row), read.grid(row)
        shared, named = contexts[page_id]
        yield dict(
            zip(
                KEYS,
                (
                    read.key(row),
                    *[field(row) for field in read.before],
                    _points(part.moves[page_id].get(grid_index, ())),
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


def _lines(part: Slice) -> bytes:
    """The slice's records as JSON Lines: ``orjson.dumps`` of each of ``_records``'s dicts and a newline, byte for
    byte, but the context that a page's records share is serialized once per page and joined to each record's
    own fields: half the keys and a third of the time of a record."""
    read = _Readers(part.names)
    of_page = {}  # per page: its moves, and its context as the JSON around gridIndex
    for page in part.pages:
        shared, named = _page_context(page)
        before = orjson.dumps(dict(zip(KEYS[len(OWN_KEYS) : KEYS.index("gridIndex")], shared)))
        after = orjson.dumps(dict(zip(("classKey", "classNames"), named)))
        of_page[page.id] = (part.moves[page.id], b"," + before[1:-1] + b',"gridIndex":', b"," + after[1:-1] + b",")
    # The own fields but mouseTracking, read into one list that the trajectory is inserted into: fewer
    # temporaries a record than unpacking two lists into a tuple (4.5 -> 3.9 us a record for this function).
    fields: list[Callable[[tuple], Any]] = [read.key, *read.before, *read.after]
    tracking_at = 1 + len(read.before)
    tails: dict[tuple, bytes] = {}
    out: list[bytes] = []
    for row in part.rows:
        grid_index = read.grid(row)
        moves, before, after = of_page[read.page(row)]
        values = [field(row) for field in fields]
        values.insert(tracking_at, _points(moves.get(grid_index, ())))
        own = dict(zip(OWN_KEYS, values))
        end = (read.status(row), read.replaces(row))
        tail = tails.get(end)
        if tail is None:
            tail = tails[end] = orjson.dumps(dict(zip(("loadStatus", "replacesImageID"), end)))[1:] + b"\n"
        out += (orjson.dumps(own)[:-1], before, b"%d" % grid_index, after, tail)
    return b"".join(out)


def slices(
    batch: Batch,
    fields: tuple[record.Field, ...] = record.FIELDS,
    count_moves: bool = False,
    keep: Keep | None = None,
) -> Generator[Slice, None, None]:
    """The batch's submitted pages as raw slices (PAGES_PER_QUERY pages each), for a writer that makes its rows
    from them itself: each record's own columns (OWN_COLUMNS) and those of ``fields``; only the records that
    ``keep(class id, image id, load status)`` keeps, if given; their moves by page and grid index, in time order,
    or only their number (``count_moves``). A kind reads what it writes: decoding the JSON of fields it does not
    write, or sorting moves it only counts, was a third of its time."""
    read_ahead = _read_ahead(batch, lambda pages, keys: _read(pages, keys, fields, count_moves, keep))
    try:
        yield from read_ahead
    finally:
        read_ahead.close()  # stops the reader now, not whenever the generator is collected


def seed_lines(batch: Batch) -> Generator[tuple[int, bytes], None, None]:
    """``seed_records`` as JSON Lines (each record's ``orjson.dumps`` and a newline), a slice at a time:
    (records, their lines)."""
    read_ahead = _read_ahead(batch, _read)
    try:
        for part in read_ahead:
            yield len(part.rows), _lines(part)
    finally:
        read_ahead.close()


def seed_records(batch: Batch) -> Iterator[dict]:
    """Every image record of every submitted page of the batch, in submission order."""
    read_ahead = _read_ahead(batch, _read)
    try:
        for part in read_ahead:
            yield from _records(part)
    finally:
        read_ahead.close()  # stops the reader now, not whenever the generator is collected


def _read_ahead(batch: Batch, read_slice: Callable[[list[Page], ImageKeys], Slice]) -> Generator[Slice, None, None]:
    """The batch's slices, read by ``read_slice`` (with the export's image keys) in a thread on a connection of its
    own while the caller writes the one before."""

    def read_slices() -> Iterator[Slice]:
        keys = ImageKeys()
        for pages in _submitted_pages(batch):
            yield read_slice(pages, keys)

    return read_ahead(
        read_slices,
        READ_AHEAD,
        f"export-reader-{batch.id}",
        database.connection_context,
    )
