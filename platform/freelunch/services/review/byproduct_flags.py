"""Byproduct flags per vote and per worker, and whether they predict a wrong answer on the controls.

A flag is a sign, read from the byproducts, that a selection was not looked at:

- ``no_hover``: a selection with no pointer ``enter`` on the image before it;
- ``fast_select``: a selection within 150 ms of the pointer entering the image;
- ``same_point``: a click at exactly the point (to 1e-4 of the image) of a click on
  another image of the same page, as a script or a resting hand would;
- ``fast_page``: the page's time per image below a third of the batch's median;
- ``away``: the page has a stretch of 30 s or more without any pointer event, or
  its events came from more than one browser tab. (The tracker sends no
  ``visibilitychange`` event, so "tabbed away" is read from the silence it leaves.)

The first three are per record (only selected records can carry them); the last
two per page, so every record of the page carries them. ``report`` sets each
flag against the control answers: the error rate of flagged and unflagged
answers, so a requester can see whether a flag means anything on their crowd
before trusting it. Nothing here weighs votes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

import orjson

from ...models import Assignment, Candidate, Hit, HitPage, ImageRecord, PageSubmission, PointerChunk

FLAGS = ("no_hover", "fast_select", "same_point", "fast_page", "away")
FAST_SELECT_MS = 150
FAST_PAGE_SHARE = 1 / 3
SILENCE_MS = 30_000
POINT_DIGITS = 4


@dataclass
class Vote:
    """One record of a submitted page with its flags."""

    page_id: int
    worker_id: str
    role: str
    selected: bool
    flags: set[str] = field(default_factory=set)

    @property
    def wrong(self) -> bool | None:
        """On a control: whether the answer was wrong; None on a candidate."""
        if self.role == "positive":
            return not self.selected
        if self.role == "negative":
            return self.selected
        return None


def _first_selection(record_selected: list[dict]) -> float | None:
    times = [e["time"] for e in record_selected if isinstance(e, dict) and "time" in e]
    return min(times) if times else None


def _record_flags(hovered: list[dict], selected_record: list[dict], selected: bool) -> set[str]:
    out: set[str] = set()
    at = _first_selection(selected_record)
    if not selected or at is None:
        return out
    enters = [e["time"] for e in hovered if e.get("action") == "enter" and e.get("time", at + 1) <= at]
    if not enters:
        out.add("no_hover")
    elif at - max(enters) < FAST_SELECT_MS:
        out.add("fast_select")
    return out


def _points(selected_record: list[dict]) -> set[tuple[float, float]]:
    return {
        (round(e["x"], POINT_DIGITS), round(e["y"], POINT_DIGITS))
        for e in selected_record
        if isinstance(e, dict) and "x" in e and "y" in e
    }


def _away_pages(page_ids: list[int]) -> set[int]:
    """Pages with a long pointer silence or events from several tabs."""
    pages = {p.id: p for p in PageSubmission.select().where(PageSubmission.id.in_(page_ids))}
    away = set()
    for page in pages.values():
        times, tabs = [page.started_at, page.ended_at], set()
        for tab, events in (
            PointerChunk.select(PointerChunk.tab, PointerChunk.events)
            .where(PointerChunk.assignment == page.assignment_id, PointerChunk.pageno == page.pageno)
            .tuples()
        ):
            tabs.add(tab)
            times += [e["time"] for e in orjson.loads(events) if page.started_at <= e["time"] <= page.ended_at]
        times.sort()
        if len(tabs) > 1 or any(b - a >= SILENCE_MS for a, b in zip(times, times[1:])):
            away.add(page.id)
    return away


def votes(batch_id: int) -> list[Vote]:
    """Every shown record of the batch's submitted pages, flagged."""
    rows = (
        ImageRecord.select(
            ImageRecord.page,
            ImageRecord.selected,
            ImageRecord.hovered_record,
            ImageRecord.selected_record,
            Assignment.worker_id,
            Candidate.role,
            PageSubmission.started_at,
            PageSubmission.ended_at,
        )
        .join(PageSubmission)
        .join(Assignment)
        .join(Hit)
        .switch(PageSubmission)
        .join(HitPage, on=(PageSubmission.hit_page == HitPage.id))
        .join(Candidate, on=((Candidate.image_class == HitPage.image_class) & (Candidate.image == ImageRecord.image)))
        .where(Hit.batch == batch_id, ImageRecord.load_status != "dropped")
        .order_by(ImageRecord.page, ImageRecord.grid_index)
        .tuples()
    )
    out: list[Vote] = []
    points_by_page: dict[int, list[set]] = defaultdict(list)
    per_image: dict[int, tuple[int, int]] = {}  # page -> (ms, images)
    for page_id, selected, hovered, selected_record, worker, role, started, ended in rows:
        hovered = hovered if isinstance(hovered, list) else orjson.loads(hovered or "[]")
        selected_record = (
            selected_record if isinstance(selected_record, list) else orjson.loads(selected_record or "[]")
        )
        vote = Vote(page_id, worker, role, bool(selected), _record_flags(hovered, selected_record, bool(selected)))
        out.append(vote)
        points_by_page[page_id].append(_points(selected_record))
        ms, n = per_image.get(page_id, (ended - started, 0))
        per_image[page_id] = (ms, n + 1)
    _same_points(out, points_by_page)
    speeds = {p: ms / n for p, (ms, n) in per_image.items() if n}
    median = statistics.median(speeds.values()) if speeds else 0
    fast = {p for p, s in speeds.items() if s < median * FAST_PAGE_SHARE}
    away = _away_pages(list(per_image))
    for vote in out:
        if vote.page_id in fast:
            vote.flags.add("fast_page")
        if vote.page_id in away:
            vote.flags.add("away")
    return out


def _same_points(all_votes: list[Vote], points_by_page: dict[int, list[set]]) -> None:
    """Flag selections whose click point another image of the same page shares (lists in record order)."""
    by_page: dict[int, list[Vote]] = defaultdict(list)
    for vote in all_votes:
        by_page[vote.page_id].append(vote)
    for page_id, page_votes in by_page.items():
        points = points_by_page[page_id]
        counts: dict[tuple, int] = defaultdict(int)
        for found in points:
            for point in found:
                counts[point] += 1
        for vote, found in zip(page_votes, points):
            if any(counts[p] > 1 for p in found):
                vote.flags.add("same_point")


@dataclass
class FlagRow:
    flag: str
    flagged: int  # control answers carrying the flag
    flagged_wrong: int
    unflagged: int
    unflagged_wrong: int

    @property
    def error_flagged(self) -> float | None:
        return self.flagged_wrong / self.flagged if self.flagged else None

    @property
    def error_unflagged(self) -> float | None:
        return self.unflagged_wrong / self.unflagged if self.unflagged else None

    @property
    def risk_ratio(self) -> float | None:
        """How many times likelier a flagged control answer is wrong than an unflagged one."""
        if not self.error_flagged or not self.error_unflagged:
            return None
        return self.error_flagged / self.error_unflagged


def report(all_votes: list[Vote], selected_only: bool = False) -> list[FlagRow]:
    """Each flag against the control answers (``selected_only``: only the selections, which are what
    the per-record flags can mark)."""
    controls = [v for v in all_votes if v.wrong is not None and (v.selected or not selected_only)]
    rows = []
    for flag in FLAGS:
        flagged = [v for v in controls if flag in v.flags]
        unflagged = [v for v in controls if flag not in v.flags]
        rows.append(
            FlagRow(
                flag,
                len(flagged),
                sum(bool(v.wrong) for v in flagged),
                len(unflagged),
                sum(bool(v.wrong) for v in unflagged),
            )
        )
    return rows
