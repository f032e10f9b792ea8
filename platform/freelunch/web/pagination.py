"""Pagination for dashboard lists: every list shows one page of rows and links to the others.

The page number comes from the ``page`` query argument, so paginated URLs need
no route parameter and bookmarks keep working; a number past the end shows the
last page rather than an empty one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request

from ..parsing import whole_number

PER_PAGE = 50


@dataclass
class Page:
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """1-based position of the first item, for "rows 51-100 of 340"."""
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0


def requested_page(arg: str = "page") -> int:
    """The page number the request asks for; anything that is not a positive number means page 1."""
    return whole_number(request.args.get(arg), 1, low=1, high=10**6 - 1)


def paginate(
    query, number: int | None = None, per_page: int = PER_PAGE, total: int | None = None, backwards=None
) -> Page:
    """One page of a peewee query (ordered by the caller); ``total`` spares the count when already known.

    ``backwards``, the same query in the exact opposite order, lets a page in the second half be read from the
    end: OFFSET costs as many rows as it skips, so the last page of a million rows skips none instead of a million.
    """
    total = query.count() if total is None else total
    number = min(number or requested_page(), max(1, math.ceil(total / per_page)))
    start = (number - 1) * per_page
    if backwards is not None and start > total // 2:
        size = min(per_page, total - start)
        items = list(backwards.offset(total - start - size).limit(size))[::-1]
    else:
        items = list(query.paginate(number, per_page))
    return Page(items=items, number=number, per_page=per_page, total=total)
