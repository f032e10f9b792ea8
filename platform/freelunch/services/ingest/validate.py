"""Parse and check one batch of pointer events, as cheaply as the hot path allows.

Each check is a plain type test and comparison (``type(v) is int`` also refuses
booleans), because this runs ~1,000 times a second with ~60 events each. The
result is the events re-encoded as compact JSON, so the flusher stores bytes and
never touches an event again.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

MAX_EVENTS = 1000  # a tracker sends ~60-120 a second; a retried backlog is sent batch by batch
MAX_BYTES = 128 * 1024
MAX_PAGE = 1000
MAX_SEQ = 10_000_000
MAX_TAB = 2**31 - 1  # the tracker's random id for the browser tab
MAX_INDEX = 10_000  # grid index; a page shows M images (48 by default)
TOLERANCE = 0.05  # offsetX/offsetY can fall a pixel or two outside the image's box
PAST_MS = 30 * 24 * 3600 * 1000  # workers' clocks are wrong by hours, not by months
FUTURE_MS = 24 * 3600 * 1000

# The exact keys of each event type (docs/ingest.md); anything else is refused.
SHAPES = {
    "move": frozenset(("type", "i", "x", "y", "time")),
    "enter": frozenset(("type", "i", "time")),
    "leave": frozenset(("type", "i", "time")),
    "click": frozenset(("type", "i", "x", "y", "time", "selected")),
    "key": frozenset(("type", "i", "time", "selected")),
}
POSITIONED = frozenset(("move", "click"))
TOGGLES = frozenset(("click", "key"))
TOP_KEYS = frozenset(("token", "page", "tab", "seq", "events"))
UNTABBED_KEYS = TOP_KEYS - {
    "tab"
}  # what trackers sent before the tab id: still open in workers' browsers after a deploy
NUMBERS = (int, float)


class Invalid(Exception):
    """A payload the endpoint refuses with 400; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class Batch:
    token: str
    page: int
    tab: int
    seq: int
    n_events: int
    events_json: bytes


def parse(body: bytes, now_ms: int, max_events: int = MAX_EVENTS) -> Batch:
    """The checked batch in ``body``, or Invalid."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Invalid(f"The body is not JSON: {error}") from None
    if type(data) is not dict or (data.keys() != TOP_KEYS and data.keys() != UNTABBED_KEYS):
        raise Invalid("The body must be an object with exactly token, page, tab, seq and events.")
    token, page, tab, seq, events = data["token"], data["page"], data.get("tab", 0), data["seq"], data["events"]
    if type(token) is not str or not token:
        raise Invalid("token must be a non-empty string.")
    if type(page) is not int or not 1 <= page <= MAX_PAGE:
        raise Invalid(f"page must be an integer from 1 to {MAX_PAGE}.")
    if type(tab) is not int or not 0 <= tab <= MAX_TAB:
        raise Invalid(f"tab must be an integer from 0 to {MAX_TAB}.")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise Invalid(f"seq must be an integer from 0 to {MAX_SEQ}.")
    if type(events) is not list or not events:
        raise Invalid("events must be a non-empty list.")
    if len(events) > max_events:
        raise Invalid(f"At most {max_events} events per batch; send the rest in the next one.")
    check_events(events, now_ms - PAST_MS, now_ms + FUTURE_MS)
    return Batch(token, page, tab, seq, len(events), orjson.dumps(events))


def check_events(events: list, earliest: int, latest: int) -> None:
    low, high = -TOLERANCE, 1 + TOLERANCE
    for n, event in enumerate(events):
        if type(event) is not dict:
            raise Invalid(f"events[{n}] must be an object.")
        kind = event.get("type")
        shape = SHAPES.get(kind) if type(kind) is str else None
        if shape is None:
            raise Invalid(f"events[{n}].type must be one of {', '.join(SHAPES)}.")
        if event.keys() != shape:
            raise Invalid(f"events[{n}] ({kind}) must have exactly the keys {', '.join(sorted(shape))}.")
        index, time = event["i"], event["time"]
        if type(index) is not int or not 0 <= index < MAX_INDEX:
            raise Invalid(f"events[{n}].i must be a grid index from 0 to {MAX_INDEX - 1}.")
        if type(time) not in NUMBERS or not earliest <= time <= latest:
            raise Invalid(f"events[{n}].time must be epoch milliseconds near the present.")
        if kind in POSITIONED:
            x, y = event["x"], event["y"]
            if type(x) not in NUMBERS or type(y) not in NUMBERS or not (low <= x <= high and low <= y <= high):
                raise Invalid(f"events[{n}].x and .y must be numbers from 0 to 1.")
        if kind in TOGGLES and type(event["selected"]) is not bool:
            raise Invalid(f"events[{n}].selected must be true or false.")
