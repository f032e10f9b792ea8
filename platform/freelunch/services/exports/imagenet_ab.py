"""The ``imagenet-ab`` export: a batch's byproducts in the layout of the NFL paper's ImageNet-AB release.

A ZIP with one XML file per image decided *yes* for its class, at
``Annotations/CLS-LOC/train_enriched/<wnid>/<image>.xml``, holding one
``<metadata>`` element per record of that image (one per worker per page
that showed it), so the paper's data loader, which reads
``root.findall("metadata")``, ``selected == "True"`` and
``selectedRecord/x``, ``selectedRecord/y``, reads it as it is.

A keyboard selection (Space/Enter) has no pointer coordinates. So that a
loader reading ``selectedRecord/x`` never meets a point without one:
``selectedRecord`` holds pointer clicks only; a keyboard selection is a
``keyboardSelectedRecord`` (its time); and an image that ended selected with
no click at all says ``<selected>keyboard</selected>`` rather than ``True``
(docs/export.md). A release field with no value (no hover, no click, no move, no
position) is the text ``None``, as in the released files, which also give each record its
``assignment_id``, ``hit_id``, ``hit_submit_time`` and ``page_idx`` (``_context``).

"Decided yes" is the batch's labels of record (services/review/of_record.py:
the chosen rule or the latest fit), as the export recorded them when it
started; ``labels_of_record.txt`` in the archive says which. Records stream in page
order, so each image's metadata is gathered in memory up to BUFFERED_RECORDS
records, then written to one temporary file as a run sorted by member name
(``_Runs``), and the runs merged an image at a time into the ZIP at the end,
written by ``zip_writer`` (zipfile's bytes, without zipfile's object per member):
memory stays flat.
"""

from __future__ import annotations

import calendar
import hashlib
import heapq
import json
import os
import re
import struct
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import IO
from xml.sax.saxutils import escape

from ...models import Batch
from ..annotation import record
from ..errors import RequesterError
from ..jobs import ReportProgress
from ..review import labels, of_record
from . import seed as seed_format
from .zip_writer import ZipWriter

ROOT = "Annotations/CLS-LOC/train_enriched"
RECORD_MEMBER = "labels_of_record.txt"
BUFFERED_RECORDS = 5000  # a few MB of XML


def decided_yes(batch: Batch, params: dict | None = None) -> labels.YesImages:
    """(class id, image id) of every image the labels of record (those ``params`` recorded) call yes."""
    return of_record.yes_set(batch, of_record.from_params(batch, params or {}))


def member_name(class_key: str, image_key: str) -> str:
    """``Annotations/CLS-LOC/train_enriched/<wnid>/<image>.xml`` for an image key like ``n01440764/n01440764_105``."""
    return f"{ROOT}/{_safe(class_key)}/{_safe(_stem(image_key))}.xml"


def _stem(image_key: str) -> str:
    """The file name up to its first dot, as the release's loader cuts an image path."""
    return image_key.rsplit("/", 1)[-1].split(".", 1)[0]


def _safe(part: str) -> str:
    """A path part that cannot climb out of its folder or hide: anything else becomes a hash."""
    if part and part not in (".", "..") and "/" not in part and "\\" not in part and "\x00" not in part:
        return part
    return hashlib.sha1(part.encode()).hexdigest()[:16]


# Characters XML 1.0 cannot hold at all, not even as a character reference (its production Char): C0 controls but
# tab, line feed and carriage return; lone surrogates; U+FFFE and U+FFFF.
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class Unwritable(RequesterError):
    """A stored text holds a character no XML file can (UNWRITABLE); the message names the text and what to do."""


def _text(value) -> str:
    """A value as element text that a parser reads back as the value: strings escaped, and a carriage return as
    the reference ``&#13;`` (a parser reads a literal one, or a CR LF, as one line feed: XML 1.0's end-of-line
    handling; tabs and line feeds are read as they are); numbers, booleans and None as str() writes them (no markup
    in them to escape). Imports refuse control characters in ids and keys, but data stored before could hold any:
    one XML cannot hold (a NUL, an escape) stops the export with Unwritable rather than be changed silently."""
    if not isinstance(value, str):
        return str(value)
    if found := UNWRITABLE.search(value):
        raise Unwritable(
            f"The text {json.dumps(value)} (an image id or class key of the batch) holds "
            f"U+{ord(found.group()):04X}, which no XML file can hold, not even as a character reference: the "
            "ImageNet-AB export cannot carry it as stored. The JSON Lines and CSV exports carry it."
        )
    text = escape(value)
    return text.replace("\r", "&#13;") if "\r" in text else text


def _element(name: str, value) -> str:
    return f"<{name}>{_text(value)}</{name}>"


def _points(name: str, entries: Iterable[dict], fields: tuple[str, ...], empty: str = "") -> str:
    """An element per entry, a child per field it has; ``empty`` when there is none."""
    return (
        "".join(
            [
                f"<{name}>" + "".join([f"<{f}>{_text(e[f])}</{f}>" for f in fields if f in e]) + f"</{name}>"
                for e in entries
            ]
        )
        or empty
    )


def _none(name: str) -> str:
    """A release field with no value, as the released files write one: ``<hoveredRecord>None</hoveredRecord>``
    beside ``<hoveredCount>0</hoveredCount>`` (docs/export.md)."""
    return f"<{name}>None</{name}>"


NO_HOVERS, NO_CLICKS, NO_MOVES, NO_POSITION = map(
    _none, ("hoveredRecord", "selectedRecord", "mouseTracking", "imagePosition")
)


def _clicks(clicks: list[dict]) -> str:
    """``selectedRecord`` elements of a record's pointer clicks (``_points`` without its per-field loop, as
    ``_trajectory``): their x, y and time are numbers (services/annotation/record.py refuses anything else), which an
    f-string writes as ``_text`` does."""
    return (
        "".join(
            [f"<selectedRecord><x>{c['x']}</x><y>{c['y']}</y><time>{c['time']}</time></selectedRecord>" for c in clicks]
        )
        or NO_CLICKS
    )


def _hovers(hovers: list[dict]) -> str:
    """``hoveredRecord`` elements, as ``_clicks``: the action is "enter" or "leave" and the time a number
    (services/annotation/record.py)."""
    return (
        "".join(
            [f"<hoveredRecord><action>{h['action']}</action><time>{h['time']}</time></hoveredRecord>" for h in hovers]
        )
        or NO_HOVERS
    )


def _trajectory(moves: list[seed_format.Event]) -> str:
    """``mouseTracking`` elements of a record's moves (``_points`` without its per-field loop: a record has ten
    points or more). Their x, y and time are numbers (ingest refuses anything else: services/ingest/validate.py),
    which an f-string writes as ``_text`` does."""
    return (
        "".join([f"<mouseTracking><x>{m.x}</x><y>{m.y}</y><time>{m.time}</time></mouseTracking>" for m in moves])
        or NO_MOVES
    )


def _context(page: seed_format.Page) -> str:
    """The elements a page's records share, the release's names for them: ``worker_id``; ``assignment_id`` and
    ``hit_id``, MTurk's ids where the page came from MTurk (as the release's are) and ours otherwise;
    ``hit_submit_time``, epoch seconds when the worker submitted the HIT's last page (None before); ``page_idx``, the
    page's place in the HIT from 0."""
    submitted = None if page.completed_at is None else calendar.timegm(page.completed_at.utctimetuple())
    return (
        _element("worker_id", page.worker_id)
        + _element("assignment_id", page.mturk_assignment_id or str(page.assignment_id))
        + _element("hit_id", page.assignment_hit_id or page.hit_mturk_id or page.hit_key)
        + _element("hit_submit_time", submitted)
        + _element("page_idx", page.pageno - 1)
    )


def _metadata(part: seed_format.Slice) -> Iterator[tuple[str, str, str]]:
    """(class key, image key, ``<metadata>`` element) of each record of a slice, made straight from its raw rows."""
    names = part.names
    page_at, grid_at, key_at = (names.index(name) for name in seed_format.OWN_COLUMNS[:3])
    read = {field.key: field.reader(names) for field in record.FIELDS}
    entries, hovers, selected_of, position_of = (
        read[key] for key in ("selectedRecord", "hoveredRecord", "selected", "imagePosition")
    )
    # Integer columns (or null), which an f-string writes as ``_text`` does.
    counted = itemgetter(*(names.index(column) for column in ("selected_count", "hovered_count", "estimate_time")))
    sizes = itemgetter(*(names.index(column) for column in ("width", "height", "original_width", "original_height")))
    pages = {page.id: (page.class_key, _context(page)) for page in part.pages}
    for row in part.rows:
        page_id, image_key = row[page_at], row[key_at]
        class_key, context = pages[page_id]
        selections = entries(row)
        clicks = [e for e in selections if "x" in e and "y" in e]
        keys = [e for e in selections if not ("x" in e and "y" in e)]
        if not selected_of(row):
            selected = "False"
        else:
            selected = "True" if clicks else "keyboard"
        selected_count, hovered_count, estimate_time = counted(row)
        width, height, original_width, original_height = sizes(row)
        position = position_of(row)
        yield (
            class_key,
            image_key,
            f"<metadata><imageID>{_text(image_key)}</imageID>{context}"
            f"<selected>{selected}</selected><selectedCount>{selected_count}</selectedCount>"
            + _clicks(clicks)
            + _points("keyboardSelectedRecord", keys, ("time",))
            + f"<hoveredCount>{hovered_count}</hoveredCount>"
            + _hovers(hovers(row))
            + _trajectory(part.moves[page_id].get(row[grid_at], ()))
            + f"<estimateTime>{estimate_time}</estimateTime>"
            f"<imageWidth>{width}</imageWidth><imageHeight>{height}</imageHeight>"
            f"<originalImageWidth>{original_width}</originalImageWidth>"
            f"<originalImageHeight>{original_height}</originalImageHeight>"
            + _points("imagePosition", [position] if position else [], ("x", "y"), NO_POSITION)
            + "</metadata>\n",
        )


class _Runs:
    """Each image's XML, in runs sorted by member name in one temporary file, merged by name at the end.

    Records come in page order, an image's scattered over the whole export. Each buffer of them is written as a
    run of pieces (member name, the class and image keys of its first record, XML) sorted by name, and the ZIP
    from a merge of the runs, each read through a small window: memory is the buffer and a window per run, not
    an index of every image and piece (with the names and the yes set, ~800 bytes an image: ~430 MB at full
    size)."""

    HEAD = struct.Struct("<IIII")  # the byte lengths of a piece's name, class key, image key and XML
    # Bytes read at once from a run in the merge: at full size ~4.4 M records make ~900 runs, 7 MB of windows.
    WINDOW = 8 * 1024

    def __init__(self, file: IO[bytes]):
        self.file = file
        self.starts = array("q", [0])  # run n is bytes starts[n] to starts[n + 1]

    def write(self, pieces: Iterable[tuple[str, list[str]]]) -> None:
        """A run of (name, [class key, image key, its records' XML...]), in name order, a piece at a time (the
        run at once was another copy of the buffer)."""
        head, write, end = self.HEAD.pack, self.file.write, self.starts[-1]
        for name, texts in pieces:
            parts = (name.encode(), texts[0].encode(), texts[1].encode(), "".join(texts[2:]).encode())
            piece = head(*map(len, parts)) + b"".join(parts)
            write(piece)
            end += len(piece)
        self.starts.append(end)

    def _run(self, n: int) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
        fd, at, end = self.file.fileno(), self.starts[n], self.starts[n + 1]
        unpack, size = self.HEAD.unpack_from, self.HEAD.size
        window, used = b"", 0
        while at < end or used < len(window):
            left = len(window) - used
            lengths = unpack(window, used) if left >= size else (0, 0, 0, 0)
            need = size + sum(lengths)
            if left < need:  # the next piece is not all in the window: read on
                chunk = os.pread(fd, min(max(self.WINDOW, need - left), end - at), at)
                window, used, at = window[used:] + chunk, 0, at + len(chunk)
                continue
            name_at = used + size
            class_at = name_at + lengths[0]
            image_at = class_at + lengths[1]
            xml_at = image_at + lengths[2]
            used = xml_at + lengths[3]
            yield window[name_at:class_at], window[class_at:image_at], window[image_at:xml_at], window[xml_at:used]

    def merged(self) -> Iterator[tuple[str, str, str, list[bytes]]]:
        """(member name, class key, image key of its first record, XML of its pieces) of each name, in name order
        (UTF-8's byte order is its code points'); a name's pieces in the order written."""
        self.file.flush()
        runs = [self._run(n) for n in range(len(self.starts) - 1)]
        # On equal names heapq.merge takes the earlier run first.
        for _, group in groupby(heapq.merge(*runs, key=itemgetter(0)), key=itemgetter(0)):
            pieces = list(group)
            name, class_key, image_key, _ = pieces[0]
            yield name.decode(), class_key.decode(), image_key.decode(), [piece[3] for piece in pieces]


def write(batch: Batch, out: IO[bytes], params: dict, report: ReportProgress) -> int:
    """Write the ZIP; returns the number of XML files (images)."""
    chosen = of_record.from_params(batch, params)
    wanted = of_record.yes_set(batch, chosen)
    with tempfile.TemporaryFile(prefix="imagenet-ab-") as file:
        runs = _Runs(file)
        buffered: dict[str, list[str]] = {}  # member name -> class key, image key, then its records' XML
        records = 0

        def write_buffered() -> None:
            runs.write(sorted(buffered.items()))  # a str's order is its UTF-8 bytes' order
            buffered.clear()

        def keep(class_id: int, image_id: int, load_status: str) -> bool:
            return load_status != "dropped" and (class_id, image_id) in wanted

        for part in seed_format.slices(batch, keep=keep):
            for class_key, image_key, element in _metadata(part):
                name = member_name(class_key, image_key)
                texts = buffered.get(name)
                if texts is None:
                    texts = buffered[name] = [class_key, image_key]
                texts.append(element)
                records += 1
                if records % BUFFERED_RECORDS == 0:
                    write_buffered()
                    report(0.5, f"{records:,} records")
        write_buffered()
        images = 0
        with ZipWriter(out) as archive:
            note = f"Images decided yes by the batch's labels of record, the {chosen.describe()}.\n"
            archive.write(RECORD_MEMBER, [note.encode()], date_time=time.localtime()[:6])
            for name, class_key, image_key, pieces in runs.merged():
                header = _element("folder", class_key) + _element("filename", _stem(image_key)) + "\n"
                archive.write(
                    name,
                    [
                        b'<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n',
                        b"".join([header.encode(), *pieces]),
                        b"</annotation>\n",
                    ],
                )
                images += 1
                if images % 500 == 0:
                    report(0.5 + 0.5 * min(images / max(len(wanted), 1), 1), f"{images:,} images zipped")
    report(1.0, f"{images:,} images")
    return images
