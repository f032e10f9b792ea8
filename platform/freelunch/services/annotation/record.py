"""The per-image record's fields, in one table: tracker key, ImageRecord column, export name, check.

A field is spelled the same in the tracker's page summary and in the export
(record-format.md's names, e.g. ``hoveredCount``) and lives in the columns named
here (``hovered_count``). Everything that touches a record's fields reads them
from this table, by name: the summary check (services/annotation/pages.py), the
seed export's SELECT (services/exports/seed.py) and the records CSV
(services/exports/writers.py); the model, replay and docs/export.md are tested
against it (tests/services/annotation/test_annotation_record.py). Adding a field is a row here, a
column (and its migration), and where the tracker measures it.

Not here: ``imageID``, ``loadStatus`` and ``replacesImageID``, which are checked
against the page that was shown (pages._image_record); ``mouseTracking``, which
arrives as PointerChunks; and the page's context (worker, HIT, times).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal, overload

import orjson

MAX_LIST = 20_000  # entries of a list in a summary (images, hoveredRecord, ...): far above any real page


class BadValue(ValueError):
    """A summary value that is not what the tracker sends; its message names the field."""


@overload
def number(value, name: str, low: int = 0, high: int = 2**53, null: Literal[False] = False) -> int: ...


@overload
def number(value, name: str, low: int = 0, high: int = 2**53, *, null: bool) -> int | None: ...


def number(value, name: str, low: int = 0, high: int = 2**53, null: bool = False) -> int | None:
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or not low <= value <= high:
        raise BadValue(f"The page summary has a bad {name}.")
    return int(round(value))


def unit(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -0.01 <= value <= 1.01:
        raise BadValue(f"The page summary has a bad {name}.")
    return float(value)


def bounded_list(value, name: str) -> list:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise BadValue(f"The page summary has a bad {name}.")
    return value


def _json(value):
    """A JSON column's value: text on SQLite, already decoded by psycopg2 on PostgreSQL."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


# --- checks: the tracker's value (None when left out) -> the values of the field's columns ------------


def size(name: str) -> Callable[[Any], tuple]:
    return lambda value: (number(value, name, null=True),)


def count(name: str) -> Callable[[Any], tuple]:
    return lambda value: (number(0 if value is None else value, name),)


def position(value) -> tuple:
    value = value or {}
    if not isinstance(value, dict):
        raise BadValue("The page summary has a bad imagePosition.")
    return (
        number(value.get("x"), "imagePosition", -(2**31), 2**31, null=True),
        number(value.get("y"), "imagePosition", -(2**31), 2**31, null=True),
    )


def hovers(value) -> tuple:
    out = []
    for item in bounded_list([] if value is None else value, "hoveredRecord"):
        if not isinstance(item, dict) or item.get("action") not in ("enter", "leave"):
            raise BadValue("The page summary has a bad hoveredRecord.")
        out.append({"action": item["action"], "time": number(item.get("time"), "hoveredRecord time")})
    return (out,)


def selections(value) -> tuple:
    out: list[dict[str, str | int | float | None]] = []
    for item in bounded_list([] if value is None else value, "selectedRecord"):
        if not isinstance(item, dict):
            raise BadValue("The page summary has a bad selectedRecord.")
        time = number(item.get("time"), "selectedRecord time")
        if item.get("input") == "keyboard":
            out.append({"time": time, "input": "keyboard"})
        else:
            out.append(
                {
                    "x": unit(item.get("x"), "selectedRecord x"),
                    "y": unit(item.get("y"), "selectedRecord y"),
                    "time": time,
                }
            )
    return (out,)


def flag(value) -> tuple:
    return (value is True,)


# --- exports: the columns' stored values -> the exported value ----------------------------------------


def _position_out(x: int | None, y: int | None) -> dict | None:
    return {"x": x, "y": y} if x is not None and y is not None else None


@dataclass(frozen=True)
class Field:
    key: str  # in the tracker's page summary and in the export
    columns: tuple[str, ...]  # ImageRecord columns it is stored in
    check: Callable[[Any], tuple]  # the tracker's value -> the columns' values; BadValue if it is not one
    out: Callable[..., Any] | None = (
        None  # the columns' stored values -> the exported value (None: the value as stored)
    )

    def reader(self, names: Sequence[str]) -> Callable[[Sequence], Any]:
        """The exported value from a raw row whose columns are ``names``: found by name once, then read by index."""
        at = [names.index(column) for column in self.columns]
        if self.out is None:
            return itemgetter(*at)
        out = self.out
        if len(at) == 1:
            i = at[0]
            return lambda row: out(row[i])
        columns = itemgetter(*at)  # a tuple at C speed: a generator here was a tenth of a seed export's time
        return lambda row: out(*columns(row))


def _field(key: str, column: str, check: Callable[[Any], tuple], out: Callable[..., Any] | None = None) -> Field:
    return Field(key, (column,), check, out)


# In record-format.md's order (mouseTracking, from the pointer chunks, follows hoveredCount there).
FIELDS: tuple[Field, ...] = (
    _field("originalImageHeight", "original_height", size("originalImageHeight")),
    _field("originalImageWidth", "original_width", size("originalImageWidth")),
    _field("imageHeight", "height", size("imageHeight")),
    _field("imageWidth", "width", size("imageWidth")),
    Field("imagePosition", ("position_x", "position_y"), position, _position_out),
    _field("hoveredRecord", "hovered_record", hovers, _json),
    _field("hoveredCount", "hovered_count", count("hoveredCount")),
    _field("selected", "selected", flag, bool),
    _field("selectedCount", "selected_count", count("selectedCount")),
    _field("selectedRecord", "selected_record", selections, _json),
    _field("estimateTime", "estimate_time", count("estimateTime")),
)
BY_KEY = {field.key: field for field in FIELDS}
COLUMNS: tuple[str, ...] = tuple(column for field in FIELDS for column in field.columns)
BEFORE_TRACKING = FIELDS[
    : FIELDS.index(BY_KEY["hoveredCount"]) + 1
]  # the export's order: these, mouseTracking, the rest
AFTER_TRACKING = FIELDS[len(BEFORE_TRACKING) :]


def checked(raw: Mapping) -> dict:
    """The columns' values of one image's entry in a page summary; BadValue names the first bad field."""
    values: dict = {}
    for field in FIELDS:
        values.update(zip(field.columns, field.check(raw.get(field.key))))
    return values
