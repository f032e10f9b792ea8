"""How much pointer data one page of an assignment, and one HIT in all, may store.

Assignments are free to open (a HIT link and a made-up worker id), so a bound
per assignment alone bounds nothing: the bounds are per page-assignment and per
HIT, derived from what a real worker sends. The tracker seals at most one batch
a second, about 60 events or 4.4 KB of JSON while the pointer moves
(docs/performance.md); a worker spends a few seconds an image. A page may store
``MARGIN`` times that for ``SECONDS_PER_IMAGE`` of movement per image, and a
HIT that for each of its pages for ``HIT_MARGIN`` times its assignments (returned
and abandoned assignments send data too). With the defaults a page of 48 images
may store 2.5 MB (9.6 minutes of non-stop movement) and a HIT of 10 such pages and
3 assignments 152 MB. The figures travel in the signed assignment token, so the
ingest endpoint checks them in its one Redis round trip, without the database.
"""

from __future__ import annotations

TRACKER_BYTES_PER_SECOND = 4_400  # one sealed batch a second of ~60 moves (static/tracker.js)
SECONDS_PER_IMAGE = 3
MARGIN = 4
HIT_MARGIN = 2
# Tokens issued before the bounds travelled in them (and tools' tokens): a page of the default size.
DEFAULT_IMAGES, DEFAULT_PAGES, DEFAULT_ASSIGNMENTS = 48, 10, 3


def page_bytes(images: int) -> int:
    """What one page of one assignment may store, for a page of ``images`` images."""
    return max(images, 1) * TRACKER_BYTES_PER_SECOND * SECONDS_PER_IMAGE * MARGIN


def hit_bytes(images: int, pages: int, assignments: int) -> int:
    """What one HIT may store over all its assignments."""
    return page_bytes(images) * max(pages, 1) * max(assignments, 1) * HIT_MARGIN
