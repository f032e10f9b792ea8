"""Importing images into a dataset: a manifest of URLs (CSV or JSON Lines), or a ZIP of files.

Each image is offered to one class with a role (candidate, positive or negative
control). Sizes and perceptual hashes (services/imports/hashing.py) are
probed with Pillow: a ZIP's files directly, a manifest's URLs by fetching them
through services/safe_fetch (unless the manifest gives width and height, and
then perhaps the hash). Rows are handled in chunks; a bad row is reported and
skipped, the good ones still land. A ZIP with an unsafe path (absolute,
``..``, a link) is refused whole, before anything is stored. The formats are
documented in docs/import-formats.md; keep the two in step.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
import stat
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import msgspec
import peewee
from flask import current_app
from PIL import Image as PILImage

from ... import storage
from ...db import CopyText, copy_rows, copy_text, database, is_sqlite, staged_rows, upsert_rows, write_transaction
from ...models import CANDIDATE_ROLES, Dataset, ImageClass
from ...read_ahead import read_ahead
from ..jobs import ReportProgress
from . import hashing, quota, safe_fetch
from .classes import (
    CHUNK,
    ImportFailure,
    Report,
    check_identifier,
    check_key,
    check_text,
    header_map,
    json_line_error,
)

WEB_FORMATS = {
    "JPEG": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "GIF": (".gif", "image/gif"),
    "WEBP": (".webp", "image/webp"),
}
ROLE_ALIASES = {
    "candidate": "candidate",
    "positive": "positive",
    "negative": "negative",
    "positive control": "positive",
    "negative control": "negative",
    "pos": "positive",
    "neg": "negative",
    "": "candidate",
}
IMAGE_KEY_MAX = 255
URL_MAX = 2048
SIZE_MAX = 100_000
FETCH_THREADS = 8
ZIP_MAX_ENTRIES = 200_000
ZIP_MAX_FILE = 50 * 1024 * 1024
ZIP_MAX_TOTAL = 4 * 1024**3  # uncompressed, the whole archive: 10 MB that unpack to 10 GB are refused at upload
ZIP_MAX_RATIO = 100  # photos hardly compress; a file packed 100:1 or better is padding, not a picture
ZIP_RATIO_FLOOR = 1024 * 1024  # ... once it unpacks to more than a megabyte
MANIFEST_CHUNK = 10_000  # rows a transaction at most: fewer round trips; a chunk of manifest rows is ~5 MB in Python
FIRST_CHUNK = 1_000  # the database starts on a small first chunk; each next one is twice as large, to MANIFEST_CHUNK
READ_AHEAD = 2  # chunks of a manifest read and checked ahead of the one being stored
# The whole archive too: many padded files just under the floor (300 x 1 MB from 0.5 MB) are as much a bomb.
# Pictures in a ZIP unpack to about their archive's size; 10 times it is far beyond any real photo archive.
ZIP_MAX_EXPANSION = 10
ZIP_EXPANSION_FLOOR = 16 * 1024 * 1024  # ... once the archive unpacks to more than 16 MB
PENDING_MAX_BYTES = 64 * 1024 * 1024  # file bytes held before a chunk is stored
MAX_PIXELS = storage.MAX_PIXELS
ZIP_SKIP = re.compile(r"(^|/)(__MACOSX/|\.)")  # macOS resource forks, .DS_Store and other hidden files

MANIFEST_COLUMNS = {
    "key": ("image_id", "imageid", "image", "id", "key"),
    "url": ("url", "image_url"),
    "class": ("class", "class_key", "wnid", "label"),
    "role": ("role",),
    "width": ("width", "original_width"),
    "height": ("height", "original_height"),
    "phash": ("phash", "perceptual_hash"),
}

Fetcher = Callable[[str], bytes]


def probe(data: bytes) -> tuple[int, int, str, hashing.Hashes]:
    """(width, height, Pillow format, perceptual hashes) of an image browsers can show; ValueError says what is
    wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as image:  # reads the header only
                width, height, kind = image.width, image.height, image.format
                if width * height > MAX_PIXELS:
                    raise PILImage.DecompressionBombError(f"{width}x{height}")
                image.verify()
            hashes = hashing.hashes_of_bytes(data)  # verify() leaves the image unusable: decoded afresh
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as error:
        raise ValueError(
            f"the image has too many pixels to be safe to open (at most {MAX_PIXELS // 1_000_000} megapixels)"
        ) from error
    except Exception as error:  # Pillow raises many kinds for a file that is not an image
        raise ValueError("not an image file that can be opened (JPEG, PNG, GIF or WebP)") from error
    if kind not in WEB_FORMATS:
        raise ValueError(f"{kind} images do not show in browsers; convert to JPEG or PNG")
    return width, height, kind, hashes


def default_fetcher() -> Fetcher:
    """The safe fetcher; private addresses only for tests that say so (TESTING and IMPORT_ALLOW_PRIVATE_URLS)."""
    allow = bool(current_app.testing and current_app.config.get("IMPORT_ALLOW_PRIVATE_URLS"))
    return lambda url: safe_fetch.fetch(url, allow_private=allow)


def _unknown_class(key: str) -> str:
    """A row's class the dataset lacks: what to do, naming the checkbox as the dataset page labels it."""
    return (
        f"unknown class {key!r}: import the classes first, or tick"
        " 'Create classes that do not exist yet' and import the file again"
    )


def _classes(dataset: Dataset, keys: set[str], create: bool, report: Report) -> dict[str, int]:
    """Class key -> id for the keys seen; creates missing ones (named after their key) when asked."""
    found = dict(
        ImageClass.select(ImageClass.key, ImageClass.id)
        .where(ImageClass.dataset == dataset, ImageClass.key.in_(list(keys)))
        .tuples()
    )
    missing = keys - found.keys()
    if create and missing:
        ImageClass.insert_many(
            [
                dict(organization=dataset.organization_id, dataset=dataset.id, key=key, names=[key])
                for key in sorted(missing)
            ]
        ).execute()
        report.counts["classes created"] += len(missing)
        return _classes(dataset, keys, False, report)
    return found


IMAGE_COLUMNS = ["organization_id", "dataset_id", "key", "url", "storage_path", "width", "height", "stored_bytes"]
IMAGE_COLUMNS += ["phash", "edge_phashes"]
IMAGE_CONFLICT = (
    "ON CONFLICT (dataset_id, key) DO UPDATE SET url = excluded.url, storage_path = excluded.storage_path,"
    " width = excluded.width, height = excluded.height, stored_bytes = excluded.stored_bytes, phash = excluded.phash,"
    " edge_phashes = excluded.edge_phashes"
)
CANDIDATE_COLUMNS = ["organization_id", "image_class_id", "image_id", "role"]
CANDIDATE_CONFLICT = "ON CONFLICT (image_class_id, image_id) DO UPDATE SET role = excluded.role"


def _ids_by_key(dataset_id: int, keys: list[str]) -> dict[str, int]:
    """Image id by key, of those keys that the dataset has (SQLite). Plain SQL: peewee spent more writing the query
    for a chunk's 5,000 keys than the database spent answering it (py-spy: 14 % of a manifest import)."""
    marks = ", ".join([database.param] * len(keys))
    cursor = database.execute_sql(
        f"SELECT key, id FROM image WHERE dataset_id = {database.param} AND key IN ({marks})", [dataset_id, *keys]
    )
    return dict(cursor.fetchall())


def _upsert_images_postgres(images: CopyText, count: int) -> tuple[dict[str, int], set[int]]:
    """Upsert ``count`` images (IMAGE_COLUMNS, in COPY's text format) of one dataset, distinct keys: (image id by
    key, the ids created).

    The ids come back from the upserts themselves. Looking the keys up before and after (as on SQLite) cost two
    queries a chunk, and PostgreSQL planned each as a scan of all the dataset's images whenever its statistics were
    older than the import (130,000 rows read for the last 5,000 keys at SCALE=0.1): the manifest's cost grew with
    the square of its size. New keys first; an existing key (or one another import added meanwhile) is then
    updated through the same conflict clause, each row found by the unique index."""
    names = ", ".join(IMAGE_COLUMNS)
    with staged_rows("image", IMAGE_COLUMNS, images) as staged, peewee.__exception_wrapper__:
        cursor = database.cursor()
        cursor.execute(
            f"INSERT INTO image ({names}) SELECT {names} FROM {staged} ORDER BY ctid"
            " ON CONFLICT (dataset_id, key) DO NOTHING RETURNING key, id"
        )
        ids = dict(cursor.fetchall())
        created = set(ids.values())
        if len(ids) < count:
            cursor.execute(
                f"INSERT INTO image ({names}) SELECT {names} FROM {staged} WHERE NOT key = ANY(%s) ORDER BY ctid"
                f" {IMAGE_CONFLICT} RETURNING key, id",
                [list(ids)],
            )
            ids.update(cursor.fetchall())
    return ids, created


@dataclass
class _Prepared:
    """Rows made ready to store, without the database: the manifest's reader thread prepares the next chunks while
    the database stores one. The images once each, as the last row for a key gives them (IMAGE_COLUMNS; in COPY's
    text format on PostgreSQL); their candidacies by (class key, image key), the last row's role; rows by role."""

    images: list[tuple] | CopyText
    keys: list[str]
    candidacies: dict[tuple[str, str], str]
    roles: Counter


def _prepare(dataset: Dataset, rows: list[dict]) -> _Prepared:
    org = dataset.organization_id
    latest = {row["key"]: row for row in rows}  # the last row for an image decides its file and size
    images = [
        (
            org,
            dataset.id,
            key,
            row.get("url"),
            row.get("storage_path"),
            row["width"],
            row["height"],
            row.get("stored_bytes", 0),
            row.get("phash"),
            row.get("edge_phashes"),
        )
        for key, row in latest.items()
    ]
    return _Prepared(
        images=images if is_sqlite() else copy_text(images),
        keys=list(latest),
        candidacies={(row["class"], row["key"]): row["role"] for row in rows},
        roles=Counter(row["role"] for row in rows),
    )


def _candidate_text(org: int, candidacies: dict[tuple[str, str], str], classes: dict[str, int], ids: dict[str, int]):
    """Candidacies (CANDIDATE_COLUMNS) in COPY's text format, straight from their ids: whole numbers and a role of
    CANDIDATE_ROLES need no escaping, and this is the only Python between a chunk's statements that grows with it."""
    return CopyText(
        "".join(f"{org}\t{classes[class_key]}\t{ids[key]}\t{role}\n" for (class_key, key), role in candidacies.items())
    )


def _store_rows(dataset: Dataset, rows: _Prepared, classes: dict[str, int], report: Report) -> None:
    """Upsert images by key and their candidacies by (class, image), in one transaction; ``classes``: the id of each
    class key the rows name."""
    if not rows.keys:
        return
    org = dataset.organization_id
    with write_transaction():
        if is_sqlite():
            existing = _ids_by_key(dataset.id, rows.keys)
            upsert_rows("image", IMAGE_COLUMNS, rows.images, IMAGE_CONFLICT)
            ids = _ids_by_key(dataset.id, rows.keys)
            created = set(ids.values()) - set(existing.values())
        else:
            assert isinstance(rows.images, CopyText)  # _prepare made them for this engine
            ids, created = _upsert_images_postgres(rows.images, len(rows.keys))
        # An image made in this transaction has no candidacy yet: its rows are plain inserts (COPY on PostgreSQL),
        # without the conflict check and staging an upsert takes.
        if len(created) == len(rows.keys) and not is_sqlite():  # all new (the common case): COPY's text at once
            copy_rows("candidate", CANDIDATE_COLUMNS, _candidate_text(org, rows.candidacies, classes, ids))
        else:
            new: list[tuple] = []
            known: list[tuple] = []
            for (class_key, key), role in rows.candidacies.items():
                image_id = ids[key]
                (new if image_id in created else known).append((org, classes[class_key], image_id, role))
            copy_rows("candidate", CANDIDATE_COLUMNS, new)
            upsert_rows("candidate", CANDIDATE_COLUMNS, known, CANDIDATE_CONFLICT)
    report.counts["images created"] += len(created)
    report.counts["images updated"] += len(rows.keys) - len(created)
    for role, n in rows.roles.items():
        report.counts[f"{role} rows"] += n


# --- manifests ------------------------------------------------------------


def _manifest_records(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, record) for each row of a CSV or JSON Lines manifest; a broken JSON line yields its error."""
    with open(path, "rb") as head:
        start = head.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    # Bytes that are not UTF-8 become lone surrogates, which check_text refuses as a row error: one bad
    # line costs that line, not the whole import (nor a crashed job).
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as text:
        if start.startswith(b"{"):
            for number, line in enumerate(text, 1):
                if not line.strip():
                    continue
                try:
                    record = _json_line(line)
                except json.JSONDecodeError as error:
                    yield f"line {number}", {"__error__": json_line_error(error)}
                    continue
                except RecursionError:
                    yield f"line {number}", {"__error__": "JSON nested too deeply"}
                    continue
                yield (
                    f"line {number}",
                    _json_record(record) if isinstance(record, dict) else {"__error__": "not a JSON object"},
                )
            return
        reader = csv.DictReader(text)
        columns = header_map(reader.fieldnames or [], MANIFEST_COLUMNS)
        missing = [MANIFEST_COLUMNS[c][0] for c in ("key", "url", "class") if c not in columns]
        if missing:
            raise ImportFailure(
                "The manifest needs a header row with image_id, url and class (optional: role, "
                f"width, height, phash), or JSON Lines objects with those keys; missing: {', '.join(missing)}."
            )
        try:
            for record in reader:
                yield f"line {reader.line_num}", {ours: record.get(theirs) for ours, theirs in columns.items()}
        except csv.Error as error:
            raise ImportFailure(f"The CSV cannot be read past line {reader.line_num}: {error}.") from error


_decode_json = msgspec.json.Decoder().decode


def _json_line(line: str):
    """``json.loads(line)`` at msgspec's speed (a fifth of json's time a manifest line): what msgspec accepts,
    json.loads reads the same; what msgspec refuses (NaN, a lone surrogate, bytes that were not UTF-8, a syntax
    error) json.loads decides, with its own messages, as before."""
    try:
        return _decode_json(line)
    except (ValueError, RecursionError):  # msgspec.DecodeError, or a lone surrogate that cannot be encoded
        return json.loads(line)


def _json_record(record: dict) -> dict:
    """A JSON Lines object's fields under our names (same aliases as the CSV columns)."""
    return {ours: record[theirs] for ours, theirs in _json_columns(tuple(record)).items()}


@functools.lru_cache(maxsize=64)
def _json_columns(names: tuple[str, ...]) -> dict[str, str]:
    """header_map of a JSON object's names, once per set of names: a manifest's lines share theirs, and matching
    the aliases afresh for every line was a tenth of the import's Python time (py-spy)."""
    return header_map(list(names), MANIFEST_COLUMNS)


def _manifest_row(record: dict) -> dict:
    """Validate one manifest row; ValueError says what is wrong."""
    if "__error__" in record:
        raise ValueError(record["__error__"])
    key = record.get("key")
    key = str(key) if isinstance(key, (str, int)) else ""
    if not key.strip():
        raise ValueError("the image id is missing")
    # Checked before the spaces around it are stripped: a line break at either end is refused, not dropped.
    key = check_identifier(key, "image id", 10 * IMAGE_KEY_MAX).strip()
    if len(key) > IMAGE_KEY_MAX:
        raise ValueError(f"the image id is longer than {IMAGE_KEY_MAX} characters")
    url = str(record.get("url") or "").strip()
    if not url:
        raise ValueError("the url is missing")
    check_text(url, "url", URL_MAX)
    if len(url) > URL_MAX:
        raise ValueError(f"the url is longer than {URL_MAX} characters")
    safe_fetch.validate_url(url)
    class_key = check_key(str(record.get("class") or ""), "class")
    role = ROLE_ALIASES.get(str(record.get("role") or "").strip().lower())
    if role is None:
        raise ValueError(f"role {record.get('role')!r} is not one of {', '.join(CANDIDATE_ROLES)}")
    given = record.get("width"), record.get("height")
    if given[0] in (None, "") and given[1] in (None, ""):
        if str(record.get("phash") or "").strip():
            raise ValueError("a phash needs width and height beside it (without them the image is fetched and hashed)")
        return {"key": key, "url": url, "class": class_key, "role": role, "width": None, "height": None}
    both = "width and height must both be whole numbers (or both left out)"
    if given[0] is None or given[1] is None:
        raise ValueError(both)
    try:
        width, height = int(given[0]), int(given[1])
    except (TypeError, ValueError, OverflowError) as error:  # OverflowError: a JSON 1e400 is infinity
        raise ValueError(both) from error
    if not (0 < width <= SIZE_MAX and 0 < height <= SIZE_MAX):
        raise ValueError(f"width and height must be between 1 and {SIZE_MAX}")
    given_hash = str(record.get("phash") or "").strip()
    phash = hashing.parse_hex(given_hash) if given_hash else None
    return {"key": key, "url": url, "class": class_key, "role": role, "width": width, "height": height, "phash": phash}


def _probe_urls(rows: list[tuple[str, dict]], fetcher: Fetcher, cache: dict, report: Report) -> list[dict]:
    """Fill in the sizes and hashes of rows without sizes by fetching each URL once; drops rows that fail."""
    urls = {row["url"] for _, row in rows if row["width"] is None and row["url"] not in cache}

    def size_of(url: str):
        try:
            width, height, _, hashes = probe(fetcher(url))
            return width, height, hashes
        except (ValueError, OSError) as error:  # FetchError/UnsafeURL are ValueErrors
            return error

    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        cache.update(zip(urls, pool.map(size_of, urls)))
    kept = []
    for where, row in rows:
        if row["width"] is None:
            size = cache[row["url"]]
            if isinstance(size, Exception):
                report.error(where, f"{row['url']}: {size}")
                continue
            row["width"], row["height"], (row["phash"], row["edge_phashes"]) = size
        kept.append(row)
    return kept


def import_image_manifest(
    dataset: Dataset,
    path: Path,
    create_classes: bool = False,
    fetcher: Fetcher | None = None,
    progress: ReportProgress | None = None,
) -> Report:
    """Images from a manifest of (image id, URL, class, role[, width, height[, phash]]) rows.

    A thread reads, checks and prepares the next chunks (READ_AHEAD) while this one stores a chunk, so the job's
    Python and the database's work overlap; all the database work stays here, on the job's connection, one
    transaction a chunk."""
    fetcher = fetcher or default_fetcher()
    report = Report()
    with open(path, "rb") as count:
        total = max(sum(1 for _ in count), 1)
    sizes: dict[str, object] = {}
    done = 0
    chunks = read_ahead(lambda: _manifest_chunks(dataset, path), READ_AHEAD, "manifest-reader")
    try:
        for chunk in chunks:
            done = chunk.done
            for where, message in chunk.errors:
                report.error(where, message)
            if not chunk.rows:
                continue
            classes = _classes(dataset, chunk.classes, create_classes, report)
            if chunk.prepared is not None and chunk.classes <= classes.keys():
                prepared = chunk.prepared  # every row's class is known and no row needs its image fetched
            else:
                known = []
                for where, row in chunk.rows:
                    if row["class"] in classes:
                        known.append((where, row))
                    else:
                        report.error(where, _unknown_class(row["class"]))
                prepared = _prepare(dataset, _probe_urls(known, fetcher, sizes, report))
            _store_rows(dataset, prepared, classes, report)
            if progress:
                progress(done / total, f"{done} of about {total} rows")
    finally:
        chunks.close()  # stops the reader now
    if done == 0:
        raise ImportFailure("The manifest has no rows.")
    return report


@dataclass
class _Chunk:
    """Up to MANIFEST_CHUNK good rows of a manifest as (where, row), in order; (where, message) of the rows refused
    before them; rows read so far; the rows' class keys; the rows prepared to store when none needs its image
    fetched (else None)."""

    rows: list[tuple[str, dict]]
    errors: list[tuple[str, str]]
    done: int
    classes: set[str]
    prepared: _Prepared | None


def _manifest_chunks(dataset: Dataset, path: Path) -> Generator[_Chunk, None, None]:
    """The manifest's rows, checked and prepared, a chunk at a time (FIRST_CHUNK rows, then twice as many each time
    up to MANIFEST_CHUNK), and a last chunk with the rest. Refused rows also come on their own once MANIFEST_CHUNK of
    them wait, so a manifest of bad rows is not held whole."""
    pending: list[tuple[str, dict]] = []
    errors: list[tuple[str, str]] = []
    done = 0
    size = min(FIRST_CHUNK, MANIFEST_CHUNK)

    def chunk() -> _Chunk:
        rows = [row for _, row in pending]
        sized = all(row["width"] is not None for row in rows)
        return _Chunk(pending, errors, done, {row["class"] for row in rows}, _prepare(dataset, rows) if sized else None)

    for where, record in _manifest_records(path):
        done += 1
        try:
            pending.append((where, _manifest_row(record)))
        except ValueError as error:
            errors.append((where, str(error)))
        if len(pending) >= size:
            yield chunk()
            pending, errors = [], []
            size = min(2 * size, MANIFEST_CHUNK)
        elif len(errors) >= MANIFEST_CHUNK:
            yield _Chunk([], errors, done, set(), None)
            errors = []
    yield chunk()


# --- ZIP archives ---------------------------------------------------------


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why a ZIP entry's name or type is unsafe to extract, or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path that climbs out of the folder (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.file_size > ZIP_RATIO_FLOOR and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
        return f"compressed {info.file_size // max(info.compress_size, 1):,} to 1 (a compression bomb, not a picture)"
    return None


def check_zip(path: Path, room: quota.Room | None = None) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after refusing the whole archive if any entry is unsafe, if it unpacks
    to too much, or if it would not fit in the organization's ``room``."""
    if not zipfile.is_zipfile(path):
        raise ImportFailure("The file is not a ZIP archive.")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as error:  # a name flagged UTF-8 that is not
        raise ImportFailure(f"The ZIP archive cannot be read: {error}.") from error
    if len(entries) > ZIP_MAX_ENTRIES:
        raise ImportFailure(f"The ZIP has {len(entries)} entries; split it into archives of at most {ZIP_MAX_ENTRIES}.")
    total = sum(info.file_size for info in entries)
    if total > ZIP_MAX_TOTAL:
        raise ImportFailure(
            f"The ZIP unpacks to {total / 1024**3:,.1f} GB; at most {ZIP_MAX_TOTAL // 1024**3} GB "
            "per archive. Split it."
        )
    packed = path.stat().st_size
    if total > ZIP_EXPANSION_FLOOR and total > ZIP_MAX_EXPANSION * packed:
        raise ImportFailure(
            f"The ZIP unpacks to {total / 1024**2:,.1f} MB from {packed / 1024**2:,.1f} MB, "
            f"{total // max(packed, 1):,} times its size; pictures hardly compress, so an archive may unpack to at "
            f"most {ZIP_MAX_EXPANSION} times its size. Nothing was imported: this is padding, not pictures."
        )
    if room is not None:  # before a byte is extracted: its declared sizes, against what the organization has left
        try:
            room.check(total)
        except quota.QuotaExceeded as error:
            raise ImportFailure(str(error)) from error
    unsafe = [f"{info.filename!r} is {reason}" for info in entries if (reason := _unsafe(info))]
    if unsafe:
        shown = "; ".join(unsafe[:5]) + (f"; and {len(unsafe) - 5} more" if len(unsafe) > 5 else "")
        raise ImportFailure(
            f"The ZIP was refused, nothing was imported: {shown}. Entries must be relative paths <class>/<file>."
        )
    return [info for info in entries if not info.is_dir()]


def _zip_place(name: str) -> tuple[str, str, str]:
    """(class key, role, file name) from <class>/<file> or <class>/positive|negative/<file>."""
    parts = name.replace("\\", "/").split("/")
    if len(parts) == 2:
        return check_key(parts[0], "class folder"), "candidate", parts[1]
    if len(parts) == 3 and parts[1] in CANDIDATE_ROLES:
        return check_key(parts[0], "class folder"), parts[1], parts[2]
    raise ValueError("expected <class>/<file> or <class>/positive/<file> or <class>/negative/<file>")


def media_path(dataset: Dataset, key: str, kind: str) -> str:
    """Where a stored image lives: under the dataset, named by a hash of its key (stable, not guessable from a
    listing)."""
    return f"datasets/{dataset.id}/{hashlib.sha256(key.encode()).hexdigest()[:24]}{WEB_FORMATS[kind][0]}"


def import_image_zip(
    dataset: Dataset, path: Path, create_classes: bool = False, progress: ReportProgress | None = None
) -> Report:
    """Images from a ZIP of <class>/<file> folders, stored in media storage."""
    report = Report()
    room = quota.Room(dataset.organization_id)
    entries = check_zip(path, room)
    total = max(len(entries), 1)
    pending: list[tuple[str, dict]] = []
    pending_bytes = 0
    seen: dict[str, str] = {}

    def flush():
        nonlocal pending, pending_bytes
        classes = _classes(dataset, {row["class"] for _, row in pending}, create_classes, report)
        rows, full = [], None
        for where, row in pending:
            if row["class"] not in classes:
                report.error(where, _unknown_class(row["class"]))
                continue
            data = row.pop("data")
            try:
                room.take(len(data))
            except quota.QuotaExceeded as error:
                full = error
                break
            row["storage_path"] = storage.save(
                media_path(dataset, row["key"], row["kind"]), data, WEB_FORMATS[row["kind"]][1]
            )
            row["stored_bytes"] = len(data)
            rows.append({**row, "class_id": classes[row["class"]]})
            storage.ensure_thumbnail(row["storage_path"])  # here in the job, not on the dataset page's first view
        _store_rows(dataset, _prepare(dataset, rows), classes, report)
        pending, pending_bytes = [], 0
        if full:
            raise full

    with zipfile.ZipFile(path) as archive:
        for number, info in enumerate(entries, 1):
            where = info.filename
            if ZIP_SKIP.search(info.filename):
                report.counts["hidden or system files skipped"] += 1
                continue
            try:
                class_key, role, filename = _zip_place(info.filename)
                key = check_identifier(f"{class_key}/{PurePosixPath(filename).stem}", "image id", IMAGE_KEY_MAX)
                if key in seen:
                    raise ValueError(f"image id {key} was already taken by {seen[key]}")
                if info.file_size > ZIP_MAX_FILE:
                    raise ValueError(f"larger than {ZIP_MAX_FILE // (1024 * 1024)} MB")
                with archive.open(info) as member:
                    data = member.read(ZIP_MAX_FILE + 1)
                if len(data) > ZIP_MAX_FILE:
                    raise ValueError(f"larger than {ZIP_MAX_FILE // (1024 * 1024)} MB")
                width, height, kind, (phash, edge_phashes) = probe(data)
            except (ValueError, zipfile.BadZipFile, OSError) as error:
                report.error(where, str(error))
                continue
            seen[key] = info.filename
            pending.append(
                (
                    where,
                    {
                        "key": key,
                        "class": class_key,
                        "role": role,
                        "width": width,
                        "height": height,
                        "phash": phash,
                        "edge_phashes": edge_phashes,
                        "kind": kind,
                        "data": data,
                        "url": None,
                    },
                )
            )
            pending_bytes += len(data)
            if len(pending) >= CHUNK // 5 or pending_bytes >= PENDING_MAX_BYTES:  # file bytes are held until stored
                try:
                    flush()
                except quota.QuotaExceeded as error:
                    report.error("storage quota", f"{error} The import stopped after {number} of {total} files.")
                    return report
                if progress:
                    progress(number / total, f"{number} of {total} files")
    if pending:
        try:
            flush()
        except quota.QuotaExceeded as error:
            report.error("storage quota", f"{error} The import stopped before its last files.")
    return report
