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
order, so each image's metadata is appended to a file of its own in a
temporary folder (gathered in memory up to BUFFERED_RECORDS records first, so
that a file is opened once per image per buffer, not once per record) and the
files are zipped at the end: memory stays flat.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from ...models import Batch
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


def _trajectory(points: list[dict]) -> str:
    """``mouseTracking`` elements: ``_points`` for points that always have x, y and time (seed.py makes them so),
    without its per-field loop: a record has ten points or more."""
    return "".join(
        [
            f"<mouseTracking><x>{_text(p['x'])}</x><y>{_text(p['y'])}</y><time>{_text(p['time'])}</time></mouseTracking>"
            for p in points
        ]
    )


def metadata(record: dict) -> str:
    """One record as a ``<metadata>`` element."""
    clicks = [e for e in record["selectedRecord"] if "x" in e and "y" in e]
    keys = [e for e in record["selectedRecord"] if not ("x" in e and "y" in e)]
    if not record["selected"]:
        selected = "False"
    else:
        selected = "True" if clicks else "keyboard"
    position = record["imagePosition"] or {}
    return (
        f"<metadata><imageID>{_text(record['imageID'])}</imageID><worker_id>{_text(record['worker_id'])}</worker_id>"
        f"<selected>{selected}</selected><selectedCount>{_text(record['selectedCount'])}</selectedCount>"
        + _points("selectedRecord", clicks, ("x", "y", "time"))
        + _points("keyboardSelectedRecord", keys, ("time",))
        + f"<hoveredCount>{_text(record['hoveredCount'])}</hoveredCount>"
        + _points("hoveredRecord", record["hoveredRecord"], ("action", "time"))
        + _trajectory(record["mouseTracking"])
        + f"<estimateTime>{_text(record['estimateTime'])}</estimateTime>"
        f"<imageWidth>{_text(record['imageWidth'])}</imageWidth><imageHeight>{_text(record['imageHeight'])}</imageHeight>"
        f"<originalImageWidth>{_text(record['originalImageWidth'])}</originalImageWidth>"
        f"<originalImageHeight>{_text(record['originalImageHeight'])}</originalImageHeight>"
        + _points("imagePosition", [position] if position else [], ("x", "y"))
        + "</metadata>\n"
    )


def write(batch: Batch, out: IO[bytes], params: dict, report: ReportProgress) -> int:
    """Write the ZIP; returns the number of XML files (images)."""
    chosen = of_record.from_params(batch, params)
    wanted = of_record.yes_set(batch, chosen)
    with tempfile.TemporaryDirectory(prefix="imagenet-ab-") as folder:
        parts: dict[str, Path] = {}
        buffered: dict[str, list[str]] = {}
        records = 0

        def write_buffered() -> None:
            for name, texts in buffered.items():
                path = parts.get(name)
                if path is None:
                    path = parts[name] = Path(folder) / f"{len(parts)}.part"
                with path.open("a", encoding="utf-8") as part:
                    part.write("".join(texts))
            buffered.clear()

        def keep(class_key: str, image_key: str, load_status: str) -> bool:
            return (class_key, image_key) in wanted and load_status != "dropped"

        for record in (r for records in seed_format.seed_slices(batch, keep) for r in records):
            key = (record["classKey"], record["imageID"])
            name = member_name(*key)
            texts = buffered.get(name)
            if texts is None:
                texts = buffered[name] = []
                if name not in parts:
                    texts.append(_element("folder", key[0]) + _element("filename", _stem(key[1])) + "\n")
            texts.append(metadata(record))
            records += 1
            if records % BUFFERED_RECORDS == 0:
                write_buffered()
                report(0.5, f"{records:,} records of {len(parts):,} images")
        write_buffered()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            note = f"Images decided yes by the batch's labels of record, the {chosen.describe()}.\n"
            archive.writestr(RECORD_MEMBER, note)
            for n, (name, path) in enumerate(sorted(parts.items()), 1):
                with archive.open(name, "w") as member:
                    member.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n')
                    member.write(path.read_bytes())
                    member.write(b"</annotation>\n")
                if n % 500 == 0:
                    report(0.5 + 0.5 * n / len(parts), f"{n:,} of {len(parts):,} images zipped")
    report(1.0, f"{len(parts):,} images")
    return len(parts)
