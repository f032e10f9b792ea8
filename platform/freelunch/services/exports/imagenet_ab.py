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
(docs/export.md).

"Decided yes" is the batch's labels of record (services/review/of_record.py:
the chosen rule or the latest fit), as the export recorded them when it
started; ``labels_of_record.txt`` in the archive says which. Records stream in page
order, so each image's metadata is gathered in memory up to BUFFERED_RECORDS
records, then appended to one temporary file (``_Spool``), and read back an image
at a time into the ZIP at the end: memory stays flat.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from array import array
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import IO
from xml.sax.saxutils import escape

from ...models import Batch
from ..annotation import record
from ..jobs import ReportProgress
from ..review import of_record
from . import seed as seed_format

ROOT = "Annotations/CLS-LOC/train_enriched"
RECORD_MEMBER = "labels_of_record.txt"
BUFFERED_RECORDS = 5000  # a few MB of XML


def decided_yes(batch: Batch, params: dict | None = None) -> set[tuple[str, str]]:
    """(class key, image key) of every image the labels of record (those ``params`` recorded) call yes."""
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


def _text(value) -> str:
    """A value as element text: strings escaped; numbers, booleans and None as str() writes them (no markup in
    them to escape)."""
    return escape(value) if isinstance(value, str) else str(value)


def _element(name: str, value) -> str:
    return f"<{name}>{_text(value)}</{name}>"


def _points(name: str, entries: Iterable[dict], fields: tuple[str, ...]) -> str:
    return "".join(
        [f"<{name}>" + "".join([f"<{f}>{_text(e[f])}</{f}>" for f in fields if f in e]) + f"</{name}>" for e in entries]
    )


def _trajectory(moves: list[dict]) -> str:
    """``mouseTracking`` elements of a record's moves (``_points`` without its per-field loop: a record has ten
    points or more). Their x, y and time are numbers (ingest refuses anything else: services/ingest/validate.py),
    which an f-string writes as ``_text`` does."""
    return "".join(
        [f"<mouseTracking><x>{m['x']}</x><y>{m['y']}</y><time>{m['time']}</time></mouseTracking>" for m in moves]
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
    pages = {page.id: (page.class_key, _element("worker_id", page.worker_id)) for page in part.pages}
    for row in part.rows:
        page_id, image_key = row[page_at], row[key_at]
        class_key, worker = pages[page_id]
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
            f"<metadata><imageID>{_text(image_key)}</imageID>{worker}"
            f"<selected>{selected}</selected><selectedCount>{selected_count}</selectedCount>"
            + _points("selectedRecord", clicks, ("x", "y", "time"))
            + _points("keyboardSelectedRecord", keys, ("time",))
            + f"<hoveredCount>{hovered_count}</hoveredCount>"
            + _points("hoveredRecord", hovers(row), ("action", "time"))
            + _trajectory(part.moves[page_id].get(row[grid_at], ()))
            + f"<estimateTime>{estimate_time}</estimateTime>"
            f"<imageWidth>{width}</imageWidth><imageHeight>{height}</imageHeight>"
            f"<originalImageWidth>{original_width}</originalImageWidth>"
            f"<originalImageHeight>{original_height}</originalImageHeight>"
            + _points("imagePosition", [position] if position else [], ("x", "y"))
            + "</metadata>\n",
        )


class _Spool:
    """Each image's XML, appended to one temporary file in pieces as records come, and read back an image at a time.

    A file per image in a folder did the same with the filesystem as the index: opening 40,000 files to append and
    deleting them took half of the export's time at SCALE=0.1 (py-spy). Here a piece is an offset and a length,
    and each image's pieces a chain (its first and last piece, each piece's next): 24 bytes a piece and 16 an
    image, in arrays, so memory stays flat."""

    def __init__(self, file: IO[bytes]):
        self.file = file
        self.first, self.last = array("q"), array("q")  # by image number
        self.offset, self.length, self.next = array("q"), array("q"), array("q")  # by piece; next -1: the last
        self.end = 0

    def append(self, image: int, data: bytes) -> None:
        """Append to image number ``image`` (numbered from 0 in the order first seen)."""
        piece = len(self.offset)
        self.offset.append(self.end)
        self.length.append(len(data))
        self.next.append(-1)
        self.file.write(data)
        self.end += len(data)
        if image == len(self.first):
            self.first.append(piece)
            self.last.append(piece)
        else:
            self.next[self.last[image]] = piece
            self.last[image] = piece

    def read(self, image: int) -> bytes:
        pieces, piece = [], self.first[image]
        while piece != -1:
            self.file.seek(self.offset[piece])
            pieces.append(self.file.read(self.length[piece]))
            piece = self.next[piece]
        return b"".join(pieces)


def write(batch: Batch, out: IO[bytes], params: dict, report: ReportProgress) -> int:
    """Write the ZIP; returns the number of XML files (images)."""
    chosen = of_record.from_params(batch, params)
    wanted = of_record.yes_set(batch, chosen)
    with tempfile.TemporaryFile(prefix="imagenet-ab-") as file:
        spool = _Spool(file)
        images: dict[str, int] = {}  # member name -> its number in the spool
        buffered: dict[str, list[str]] = {}
        records = 0

        def write_buffered() -> None:
            for name, texts in buffered.items():
                number = images.get(name)
                if number is None:
                    number = images[name] = len(images)
                spool.append(number, "".join(texts).encode())
            buffered.clear()

        def keep(class_key: str, image_key: str, load_status: str) -> bool:
            return (class_key, image_key) in wanted and load_status != "dropped"

        for part in seed_format.slices(batch, keep=keep):
            for class_key, image_key, element in _metadata(part):
                name = member_name(class_key, image_key)
                texts = buffered.get(name)
                if texts is None:
                    texts = buffered[name] = []
                    if name not in images:
                        texts.append(_element("folder", class_key) + _element("filename", _stem(image_key)) + "\n")
                texts.append(element)
                records += 1
                if records % BUFFERED_RECORDS == 0:
                    write_buffered()
                    report(0.5, f"{records:,} records of {len(images):,} images")
        write_buffered()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            note = f"Images decided yes by the batch's labels of record, the {chosen.describe()}.\n"
            archive.writestr(RECORD_MEMBER, note)
            for n, (name, number) in enumerate(sorted(images.items()), 1):
                with archive.open(name, "w") as member:
                    member.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n')
                    member.write(spool.read(number))
                    member.write(b"</annotation>\n")
                if n % 500 == 0:
                    report(0.5 + 0.5 * n / len(images), f"{n:,} of {len(images):,} images zipped")
    report(1.0, f"{len(images):,} images")
    return len(images)
