"""A scripted worker for the browser tests: pointer paths over images, clicks, keys, and what the DOM says."""

from __future__ import annotations

import json
import socket
import time

from freelunch.models import PointerChunk
from freelunch.services.ingest.flush import incomplete_pages, sweep

NEUTRAL = (12, 12)  # the page's top-left margin: over no image
GEOMETRY_JS = """() => Array.from(document.querySelectorAll('img[data-image-id]')).map(img => {
  const box = img.getBoundingClientRect();
  return {key: img.dataset.imageId, i: +img.dataset.i, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          width: img.offsetWidth, height: img.offsetHeight,
          x: Math.round(box.left + window.scrollX), y: Math.round(box.top + window.scrollY)};
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_loaded(page) -> None:
    """Wait for what pointer moves need: the page tracked (the document done), a swapped-in page settled (htmx
    scrolls it to the top only then, which would move the images under a click aimed before), every image loaded."""
    page.wait_for_function(
        "() => document.readyState === 'complete' && !document.querySelector('.htmx-settling')"
        " && Array.from(document.querySelectorAll('img[data-image-id]'))"
        ".every(i => i.complete && (i.naturalWidth > 0 || i.closest('.cell').classList.contains('dropped')))"
    )


def at(page, i: int, fx: float, fy: float) -> tuple[float, float]:
    """Viewport coordinates of a fraction of image i's displayed box."""
    box = page.locator(f'img[data-i="{i}"]').bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def jump(page, x: float, y: float) -> None:
    """One mousemove straight to (x, y): enters only what is there."""
    page.mouse.move(x, y, steps=1)


def glide(page, i: int, path: list[tuple[float, float]], seconds: float, steps: int = 4) -> list[tuple[float, float]]:
    """Move along a polyline of image fractions for ``seconds``, ~200 moves a second (faster than 60 Hz).

    Paced by the clock, so the path takes ``seconds`` on a fast machine and a slow one alike.
    """
    legs = max(len(path) - 1, 1)
    per_leg = max(int(seconds * 200 / legs / steps), 1)
    jump(page, *at(page, i, *path[0]))
    start, total, done = time.monotonic(), legs * per_leg, 0
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        for k in range(1, per_leg + 1):
            t = k / per_leg
            page.mouse.move(*at(page, i, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t), steps=steps)
            done += 1
            time.sleep(max(0.0, start + seconds * done / total - time.monotonic()))
    return path


def click(page, i: int, fx: float, fy: float) -> None:
    page.mouse.click(*at(page, i, fx, fy))


def submit(page, next_pageno: int | None) -> None:
    """Press Submit; a page with nothing selected asks once ("none of these show ...?"), so press it again."""
    page.locator("[data-submit]").click()
    if page.is_visible("[data-none-check]"):
        page.locator("[data-submit]").click()
    if next_pageno is None:
        page.wait_for_selector("[data-completion-code]")
    else:
        page.wait_for_selector(f'form#task[data-pageno="{next_pageno}"]')
        wait_loaded(page)


def flush_until_complete(app, timeout: float = 30.0) -> None:
    """Run the ingest flush until every submitted page has the chunks it reported (the tracker may be retrying)."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            sweep("browser-test")  # every shard
            missing = incomplete_pages()
            if not missing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{missing} page(s) still missing chunks after {timeout} s")
            time.sleep(0.5)


def flush_until_stored(app, chunks: int, timeout: float = 60.0) -> None:
    """Run the ingest flush until at least ``chunks`` pointer batches are stored (a tab sends one a second)."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while PointerChunk.select().count() < chunks:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {chunks} pointer batches stored after {timeout} s")
            sweep("browser-test")
            time.sleep(0.25)


def stored_events(assignment_id: int, pageno: int) -> list[dict]:
    events = []
    for chunk in PointerChunk.select().where(PointerChunk.assignment == assignment_id, PointerChunk.pageno == pageno):
        events += json.loads(chunk.events)
    return sorted(events, key=lambda e: e["time"])


def distance_to_path(x: float, y: float, path: list[tuple[float, float]]) -> float:
    best = float("inf")
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
        best = min(best, ((x - x0 - t * dx) ** 2 + (y - y0 - t * dy) ** 2) ** 0.5)
    return best
