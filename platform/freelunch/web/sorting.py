"""Sortable lists: the column to sort by comes from the ``sort`` query argument ("name", or "-name" for
descending), so a sorted list is a URL (bookmarks, Back, a reload keep it), like pagination's ``page``.

A view names its sortable columns and a default; ``templates/_sorting.html``'s ``th`` draws the header
links that flip the order and keep every other argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from peewee import Ordering


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @property
    def arg(self) -> str:
        return ("-" if self.descending else "") + self.key


def requested(columns: dict, default: str) -> Sort:
    """The sort the request asks for, if it names one of ``columns``; else ``default`` ("key" or "-key")."""
    value = request.args.get("sort", "")
    key = value.lstrip("-")
    if key not in columns:
        value, key = default, default.lstrip("-")
    return Sort(key, value.startswith("-"))


def apply(query, sort: Sort, columns: dict, *tie_breakers, backwards: bool = False):
    """``query`` ordered by the sort's column, then ``tie_breakers`` (a stable order for pagination).

    ``backwards``: the exact opposite order (every column flipped; NULLs too, on SQLite and PostgreSQL alike),
    so that pagination can read a page near the end from the end (see ``pagination.paginate``).
    """
    descending = [sort.descending] + [isinstance(t, Ordering) and t.direction == "DESC" for t in tie_breakers]
    nodes = [columns[sort.key]] + [t.node if isinstance(t, Ordering) else t for t in tie_breakers]
    return query.order_by(
        *(node.desc() if down != backwards else node.asc() for node, down in zip(nodes, descending, strict=True))
    )
