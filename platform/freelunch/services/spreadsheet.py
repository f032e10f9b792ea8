"""CSV writers for files a spreadsheet will open: a text cell that starts like a formula is neutralised.

Excel, LibreOffice and Google Sheets run a cell that begins with ``=``, ``+``,
``-`` or ``@`` (and, after a tab or carriage return, still do) as a formula, so
a worker's ``=HYPERLINK(...)`` in a field we echo would run on the requester's
machine. OWASP's remedy: prefix such a cell with a single quote, which the
spreadsheet shows as text. Numbers are written as numbers, untouched; only
strings are changed. Every CSV we write goes through here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """The value as a spreadsheet should show it: a formula-like string gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _neutral_row(row: Iterable[Any]) -> list[Any]:
    """``neutral`` of every cell, inline: exports write tens of millions of cells, a call each would show."""
    return [("'" + v if v.startswith(FORMULA_STARTS) else v) if isinstance(v, str) else v for v in row]


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


class Writer:
    """``csv.writer`` whose cells are neutralised."""

    def __init__(self, out: Writable, **options):
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow(_neutral_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows(map(_neutral_row, rows))


class DictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose cells (and header) are neutralised."""

    def _dict_to_list(self, rowdict):
        return [neutral(v) for v in super()._dict_to_list(rowdict)]
