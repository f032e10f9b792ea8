"""Importing classes into a dataset: ImageNetV2's class_info.json (+ wikipedia_pages.json) or a CSV.

Imports add new classes and update existing ones (matched by key), row by row:
a bad row is reported with its place in the file and skipped, the good rows
still land. A file that cannot be read at all raises ImportFailure. The formats
are documented in docs/import-formats.md; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ... import formatting
from ...db import database
from ...models import Dataset, ImageClass
from ...presets import Preset
from ..errors import RequesterError
from ..jobs import ReportProgress

MAX_ERRORS_KEPT = 200
CHUNK = 500
KEY_MAX = 120
NAME_MAX = 200  # one synonym
NAMES_MAX = 100  # synonyms of one class
DESCRIPTION_MAX = 10_000
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class ImportFailure(RequesterError, ValueError):
    """The whole file is unusable (not JSON, not a ZIP, unsafe...); the message says why."""


def _place(where: str) -> float:
    """Where an error happened, in the file's order: "line 9" before "line 12"; other places (a ZIP's file, a class
    file's entry) after the lines, in the order found."""
    number = re.match(r"(?:line|row) ([0-9]+)", where)
    return int(number.group(1)) if number else float("inf")


@dataclass
class Report:
    """What an import did: counts by kind, and the errors of the first MAX_ERRORS_KEPT places with where they
    happened, in the file's order (a chunk's unreadable lines are found before its unknown classes and failed
    fetches, which come before the lines stored: they are told in line order all the same)."""

    counts: Counter = field(default_factory=Counter)
    _errors: list[tuple[str, str]] = field(default_factory=list)
    error_count: int = 0

    def error(self, where: str, message: str) -> None:
        self.error_count += 1
        self._errors.append((where, message))
        if len(self._errors) >= 2 * MAX_ERRORS_KEPT:
            self._keep_first()

    def _keep_first(self) -> None:
        """The errors of the first places, whatever order they were found in (sorted: stable, so one place's
        errors stay in the order found)."""
        self._errors.sort(key=lambda error: _place(error[0]))
        del self._errors[MAX_ERRORS_KEPT:]

    @property
    def errors(self) -> list[tuple[str, str]]:
        self._keep_first()
        return self._errors

    def summary(self) -> str:
        """One line: what was imported, and how many rows had errors."""
        counts = ", ".join(_counted(n, what) for what, n in sorted(self.counts.items()) if n) or "nothing imported"
        return counts + (f"; {formatting.counted(self.error_count, 'row')} with errors" if self.error_count else "")

    def as_result(self, summary: str, link: dict | None = None) -> dict:
        """The job result the progress partial shows (see services/jobs.py)."""
        result = {
            "summary": summary,
            "counts": dict(self.counts),
            "errors": self.errors,
            "error_count": self.error_count,
        }
        if link:
            result["link"] = link
        return result


# The counted things of every import's report (counts' keys name them in the plural: "images created").
_SINGULAR = {"classes": "class", "images": "image", "rows": "row", "files": "file", "scores": "score"}


def _counted(n: int, what: str) -> str:
    """ "1,000 classes created", "1 image created": as the rest of the dashboard writes counts (formatting.counted)."""
    if n == 1:
        words = what.split(" ")
        noun = next((i for i, word in enumerate(words) if word in _SINGULAR), None)
        if noun is not None:
            words[noun] = _SINGULAR[words[noun]]
        return "1 " + " ".join(words)
    return f"{n:,} {what}"


def decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFailure(f"{what} is not UTF-8 text (byte {error.start} is not valid UTF-8).") from error


# Python's words for JSON it cannot read, in a requester's (the start of json.decoder's messages).
JSON_PROBLEMS = {
    "Expecting ',' delimiter": "a comma or a closing brace is missing",
    "Expecting ':' delimiter": "a colon is missing after a name",
    "Expecting value": "a value is missing, or text is not in double quotes",
    "Expecting property name enclosed in double quotes": "a name is not in double quotes, or a comma is left over",
    "Illegal trailing comma before end of object": "a comma is left over before the closing brace",
    "Illegal trailing comma before end of array": "a comma is left over before the closing bracket",
    "Unterminated string starting at": "a text in double quotes is not closed",
    "Invalid control character at": "a text holds a tab or line break: write them as \\t and \\n",
    "Invalid \\escape": "a backslash starts an escape JSON does not have: write \\\\ for a backslash",
    "Invalid \\uXXXX escape": "a \\u escape needs four hexadecimal digits",
    "Extra data": "more follows the end of the JSON",
}


def json_problem(error: json.JSONDecodeError) -> str:
    """What is wrong with the JSON, in plain words: "a comma or a closing brace is missing"."""
    return next((plain for python, plain in JSON_PROBLEMS.items() if error.msg.startswith(python)), "it is not JSON")


def json_line_error(error: json.JSONDecodeError) -> str:
    """A JSON Lines line's error: "not valid JSON (a comma or a closing brace is missing, near character 17)"."""
    return f"not valid JSON ({json_problem(error)}, near character {error.colno:,})"


def load_json(data: bytes, what: str):
    try:
        return json.loads(decode(data, what))
    except json.JSONDecodeError as error:
        raise ImportFailure(
            f"{what} is not valid JSON: {json_problem(error)} at line {error.lineno:,}, character {error.colno:,}."
        ) from error
    except RecursionError:
        raise ImportFailure(f"{what} nests its JSON deeper than any class list does.") from None


# Unicode's categories Cc (less tab, newline and carriage return) and Cs, as character ranges: a regular expression
# finds them ten times faster than unicodedata.category per character, which was a sixth of a manifest import.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SURROGATE = re.compile("[\ud800-\udfff]")


# An identifier (an image id, a class key) is a key that files and programs match character for character, and
# every export writes it (ImageNet-AB's XML, whose parsers read a carriage return as a line feed; CSV; JSON Lines):
# it may hold no control character at all, tab and line breaks included (Unicode's Cc), nor a line or paragraph
# separator (U+2028, U+2029), which line-based readers take for the end of a line. Free text (names,
# descriptions) keeps CONTROL's rule: tabs and line breaks are text there.
KEY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CHARACTER_NAMES = {
    "\x00": "a NUL byte",
    "\t": "a tab",
    "\n": "a line feed",
    "\r": "a carriage return",
    "\x1b": "an escape",
    "\x7f": "a delete",
    "\x85": "a next-line character",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}


def _which(found: re.Match) -> str:
    """The character a check found, by name, code point and place: "a carriage return (U+000D) at character 7"."""
    c, at = found.group(), f"at character {found.start() + 1:,}"
    return f"{CHARACTER_NAMES[c]} (U+{ord(c):04X}) {at}" if c in CHARACTER_NAMES else f"U+{ord(c):04X} {at}"


def check_text(value: str, what: str, limit: int) -> str:
    """``value`` if it has no control character (a NUL would not even reach PostgreSQL), is text a database
    can store (no lone surrogate: a JSON ``"\\ud800"``, or bytes that were not UTF-8), and fits ``limit``."""
    if found := CONTROL.search(value):
        raise ValueError(f"the {what} may not contain control characters: {_which(found)}")
    if not value.isascii() and SURROGATE.search(value):  # isascii reads a flag the string keeps
        raise ValueError(f"the {what} is not valid text (a lone surrogate, or bytes that are not UTF-8)")
    if len(value) > limit:
        raise ValueError(f"the {what} is longer than {limit:,} characters")
    return value


def check_identifier(value: str, what: str, limit: int) -> str:
    """``check_text`` for an identifier (an image id, a class key): no control character at all (KEY_CONTROL, which
    holds CONTROL's characters: one search a row, as before, on the manifest's path)."""
    if found := KEY_CONTROL.search(value):
        raise ValueError(f"the {what} may not contain control characters: {_which(found)}")
    if not value.isascii() and SURROGATE.search(value):
        raise ValueError(f"the {what} is not valid text (a lone surrogate, or bytes that are not UTF-8)")
    if len(value) > limit:
        raise ValueError(f"the {what} is longer than {limit:,} characters")
    return value


def check_names(names: list[str]) -> list[str]:
    if len(names) > NAMES_MAX:
        raise ValueError(f"a class may have at most {NAMES_MAX} names")
    return [check_text(name, "name", NAME_MAX) for name in names]


def check_links(value, where: str) -> list[str]:
    """Wikipedia links as a list of http(s) URLs; raises ValueError naming the bad one."""
    links = [value] if isinstance(value, str) else value
    if not isinstance(links, list) or not all(isinstance(link, str) for link in links):
        raise ValueError(f"{where} must be a URL or a list of URLs")
    links = [link.strip() for link in links if link.strip()]
    for link in links:
        check_text(link, "link", 2048)
        if not URL_RE.match(link):
            raise ValueError(f"{link!r} is not an http(s) URL")
    return links


def check_key(key, what: str = "key") -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"the {what} is missing")
    key = check_identifier(key, what, 10 * KEY_MAX).strip()  # a line break at either end is refused, not stripped
    if len(key) > KEY_MAX:
        raise ValueError(f"the {what} is longer than {KEY_MAX} characters")
    if "/" in key:
        raise ValueError(f"the {what} {key!r} contains '/', which image ids use as a separator")
    return key


def split_names(cell: str) -> list[str]:
    """Synonyms separated by ';', or by ',' when the cell has no ';' (as in ImageNet's words.txt)."""
    separator = ";" if ";" in cell else ","
    return [name.strip() for name in cell.split(separator) if name.strip()]


def upsert_classes(dataset: Dataset, rows: Iterable[dict], report: Report, with_links: bool) -> None:
    """Insert new classes and update existing ones by key, in chunks; rows are already valid."""
    rows = list(rows)
    fields = [ImageClass.names, ImageClass.description] + ([ImageClass.wikipedia] if with_links else [])
    existing = {key for (key,) in ImageClass.select(ImageClass.key).where(ImageClass.dataset == dataset).tuples()}
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with database.atomic():
            ImageClass.insert_many(
                [
                    dict(
                        organization=dataset.organization_id,
                        dataset=dataset.id,
                        key=row["key"],
                        names=row["names"],
                        description=row["description"],
                        wikipedia=row.get("wikipedia") or [],
                    )
                    for row in chunk
                ]
            ).on_conflict(conflict_target=[ImageClass.dataset, ImageClass.key], preserve=fields).execute()
    for row in rows:
        report.counts["classes updated" if row["key"] in existing else "classes created"] += 1


def _class_from_json(entry, where: str, links: dict[str, list[str]] | None) -> dict:
    if not isinstance(entry, dict):
        raise ValueError("expected an object with wnid, synset and gloss")
    key = check_key(entry.get("wnid"), "wnid")
    synset = entry.get("synset")
    names = [synset] if isinstance(synset, str) else synset
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError("synset must be a non-empty list of names")
    gloss = entry.get("gloss", "")
    if not isinstance(gloss, str):
        raise ValueError("gloss must be text")
    if "cid" in entry and not isinstance(entry["cid"], int):
        raise ValueError("cid must be an integer")
    row = {
        "key": key,
        "names": check_names([n.strip() for n in names]),
        "description": check_text(gloss.strip(), "gloss", DESCRIPTION_MAX),
    }
    if links is not None:
        row["wikipedia"] = links.get(key, [])
    return row


def _wikipedia_links(data: bytes, report: Report) -> dict[str, list[str]]:
    pages = load_json(data, "wikipedia_pages.json")
    if not isinstance(pages, dict):
        raise ImportFailure("wikipedia_pages.json must be a JSON object mapping each wnid to its Wikipedia URLs.")
    links = {}
    for wnid, value in pages.items():
        try:
            links[wnid] = check_links(value, f"the links of {wnid}")
        except ValueError as error:
            shown = wnid.encode("utf-8", "backslashreplace").decode()  # a lone surrogate could not be shown
            report.error(f"wikipedia_pages.json {shown}", str(error))
    return links


def import_classes_json(
    dataset: Dataset, data: bytes, wikipedia: bytes | None = None, progress: ReportProgress | None = None
) -> Report:
    """Classes from ImageNetV2's class_info.json: a list of {cid, wnid, synset, gloss}."""
    report = Report()
    entries = load_json(data, "The class file")
    if not isinstance(entries, list):
        raise ImportFailure(
            "The class file must be a JSON list of classes like ImageNetV2's class_info.json "
            '([{"cid": 0, "wnid": "n01440764", "synset": ["tench", ...], "gloss": "..."}, ...]).'
        )
    links = _wikipedia_links(wikipedia, report) if wikipedia else None
    rows, seen = [], set()
    for index, entry in enumerate(entries):
        where = f"class {index + 1}"
        try:
            row = _class_from_json(entry, where, links)
        except ValueError as error:
            report.error(where, str(error))
            continue
        if row["key"] in seen:
            report.error(where, f"wnid {row['key']} appears twice; the first one was kept")
            continue
        seen.add(row["key"])
        rows.append(row)
    if progress:
        progress(0.5, f"Read {formatting.counted(len(rows), 'class')}")
    upsert_classes(dataset, rows, report, with_links=links is not None)
    if links is not None:
        report.counts["classes with Wikipedia links"] = sum(1 for row in rows if row["wikipedia"])
    return report


CSV_COLUMNS = {
    "key": ("key", "wnid", "class", "id"),
    "names": ("names", "synset", "synonyms", "name"),
    "description": ("description", "gloss", "definition"),
    "wikipedia": ("wikipedia", "wikipedia_links", "wikipedia_pages", "links"),
}


def header_map(header: Sequence[str], columns: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Our field name -> the file's column name, matching aliases case-insensitively."""
    by_lower = {name.strip().lower(): name for name in header if name}
    found = {}
    for ours, aliases in columns.items():
        for alias in aliases:
            if alias in by_lower:
                found[ours] = by_lower[alias]
                break
    return found


def import_classes_csv(dataset: Dataset, data: bytes, progress: ReportProgress | None = None) -> Report:
    """Classes from a CSV with a header: key, names, description, wikipedia."""
    report = Report()
    reader = csv.DictReader(io.StringIO(decode(data, "The CSV file"), newline=""))
    columns = header_map(reader.fieldnames or [], CSV_COLUMNS)
    missing = [c for c in ("key", "names") if c not in columns]
    if missing:
        raise ImportFailure(
            f"The CSV needs a header row with the columns key and names (and optionally description "
            f"and wikipedia); missing: {', '.join(missing)}."
        )
    rows, seen = [], set()
    try:
        for record in reader:
            where = f"line {reader.line_num}"
            try:
                key = check_key(record.get(columns["key"]))
                names = split_names(record.get(columns["names"]) or "")
                if not names:
                    raise ValueError("names is empty")
                description = record.get(columns["description"]) if "description" in columns else ""
                row = {
                    "key": key,
                    "names": check_names(names),
                    "description": check_text((description or "").strip(), "description", DESCRIPTION_MAX),
                }
                if "wikipedia" in columns:
                    row["wikipedia"] = check_links(
                        re.split(r"[\s;]+", record.get(columns["wikipedia"]) or ""), "wikipedia"
                    )
            except ValueError as error:
                report.error(where, str(error))
                continue
            if key in seen:
                report.error(where, f"key {key} appears twice; the first one was kept")
                continue
            seen.add(key)
            rows.append(row)
    except csv.Error as error:
        raise ImportFailure(f"The CSV cannot be read past line {reader.line_num}: {error}.") from error
    if progress:
        progress(0.5, f"Read {formatting.counted(len(rows), 'class')}")
    upsert_classes(dataset, rows, report, with_links="wikipedia" in columns)
    return report


def import_preset(dataset: Dataset, preset: Preset, progress: ReportProgress | None = None) -> Report:
    """A built-in class list (freelunch/presets/), imported like its class_info.json and wikipedia_pages.json."""
    return import_classes_json(dataset, preset.classes(), preset.wikipedia(), progress=progress)
