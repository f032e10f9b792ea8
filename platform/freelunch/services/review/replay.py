"""A submitted page as the worker lived it: the grid, and per image the pointer path, hovers and clicks.

Pointer paths come from the page's PointerChunks ("move" events, normalised
to the displayed image); hovers and selecting clicks from the image records,
which the page summarised at Submit; de-selecting clicks only exist in the
chunks. Times are kept relative to the page's start so the slider can scrub
from 0 to the page's duration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ... import storage
from ...models import Candidate, Image, ImageRecord, PageSubmission, PointerChunk


@dataclass
class Cell:
    index: int
    image: Image
    src: str
    role: str
    record: ImageRecord
    moves: list[tuple[float, float, int]] = field(default_factory=list)  # x, y, ms since start
    clicks: list[tuple[float | None, float | None, int, bool]] = field(default_factory=list)  # x, y, ms, selected after
    hovers: list[tuple[int, int]] = field(default_factory=list)  # enter, leave in ms since start

    @property
    def box(self) -> tuple[int, int]:
        """The displayed size the normalised coordinates refer to (the viewBox of the overlay)."""
        r = self.record
        return (r.width or r.original_width or 100), (r.height or r.original_height or 100)

    def path(self) -> str:
        w, h = self.box
        return " ".join(f"{x * w:.1f},{y * h:.1f}" for x, y, _ in self.moves)


@dataclass
class Replay:
    submission: PageSubmission
    duration: int  # ms
    cells: list[Cell]
    chunks: int

    def data(self) -> str:
        """The timeline as compact JSON for the slider script, safe inside a <script> element."""
        return json.dumps(
            {
                "duration": self.duration,
                "cells": [
                    {
                        "i": c.index,
                        "w": c.box[0],
                        "h": c.box[1],
                        "moves": c.moves,
                        "clicks": c.clicks,
                        "hovers": c.hovers,
                        "selected": c.record.selected,
                    }
                    for c in self.cells
                ],
            },
            separators=(",", ":"),
        ).replace("</", "<\\/")


def _hover_intervals(hovered_record: list, start: int, end: int) -> list[tuple[int, int]]:
    intervals, entered = [], None
    for item in hovered_record or []:
        t = int(item.get("time", start)) - start
        if item.get("action") == "enter":
            entered = t
        elif item.get("action") == "leave" and entered is not None:
            intervals.append((entered, t))
            entered = None
    if entered is not None:
        intervals.append((entered, end - start))
    return intervals


def _unit(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def replay(submission: PageSubmission) -> Replay:
    start, end = submission.started_at, submission.ended_at
    records = (
        ImageRecord.select(ImageRecord, Image)
        .join(Image, on=(ImageRecord.image == Image.id))
        .where(ImageRecord.page == submission)
        .order_by(ImageRecord.grid_index)
    )
    class_id = submission.hit_page.image_class_id
    cells: dict[int, Cell] = {}
    records = list(records)
    roles = {
        c.image_id: c.role
        for c in Candidate.select(Candidate.image, Candidate.role).where(
            Candidate.image_class == class_id, Candidate.image.in_([r.image_id for r in records])
        )
    }
    for r in records:
        cells[r.grid_index] = Cell(
            r.grid_index,
            r.image,
            storage.image_src(r.image),
            roles.get(r.image_id, "candidate"),
            r,
            hovers=_hover_intervals(r.hovered_record, start, end),
        )

    chunks = (
        PointerChunk.select(PointerChunk.events)
        .where(
            PointerChunk.assignment == submission.assignment_id,
            PointerChunk.pageno == submission.pageno,
            PointerChunk.tab == submission.tab,
        )
        .order_by(PointerChunk.seq)
    )
    n_chunks = 0
    for chunk in chunks:
        n_chunks += 1
        for event in json.loads(chunk.events):
            cell = cells.get(event.get("i"))
            if cell is None or not isinstance(event.get("time"), (int, float)):
                continue
            t = int(event["time"]) - start
            x, y = _unit(event.get("x")), _unit(event.get("y"))
            if event.get("type") == "move" and x is not None and y is not None:
                cell.moves.append((x, y, t))
            elif event.get("type") in ("click", "key"):
                cell.clicks.append((x, y, t, event.get("selected") is True))

    for cell in cells.values():
        cell.moves.sort(key=lambda m: m[2])
        if cell.clicks:
            cell.clicks.sort(key=lambda c: c[2])
        else:  # the chunks are missing: the summary still knows the clicks that selected
            cell.clicks = [
                (_unit(s.get("x")), _unit(s.get("y")), int(s.get("time", start)) - start, True)
                for s in cell.record.selected_record or []
            ]
    return Replay(submission, max(end - start, 1), [cells[i] for i in sorted(cells)], n_chunks)
