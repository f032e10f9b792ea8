"""Vote files for ``freelunch labels``: any crowd's votes in, labels or the next round's asks out.

Liberal in form, strict in values. Columns are found by their header (any
order, any case, extra columns ignored), cells are stripped, a UTF-8 byte
order mark and blank lines are ignored. But a value that is not what its
column holds (a ``selected`` that is not 0 or 1, an empty image) stops the
read with the line it is on: a label computed from a file we misread would be
worse than none.

A worker who voted more than once on one image and class is not a misread
file: real MTurk data has it (controls recur across a worker's HITs). On a
control each vote counts: every answer against a known label tells how the
worker answers. On a candidate only the last vote counts, with a warning
naming the lines: the worker's repeated answers on one image are not
independent evidence (the same eyes on the same ambiguity), and Dawid–Skene
would take two of them for two workers' worth.
Outputs are written to a temporary file beside the target and renamed into
place only when complete, so a failure leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import spreadsheet
from ..errors import RequesterError
from .aggregation import UNKNOWN, Votes

VOTE_COLUMNS = ("image", "class", "worker", "selected")
GOLD_COLUMNS = ("image", "class", "label")
SCORE_COLUMNS = ("image", "class", "score")
BINARY = {"0": False, "1": True}
# Other names a header may give a column: those of the dashboard's scores import (docs/import-formats.md),
# which reads its header from this table, so a scores file the dashboard takes, the CLI takes too.
ALIASES = {"image": ("image", "image_id", "imageid"), "class": ("class", "class_key", "wnid")}


class VoteFileError(RequesterError, ValueError):
    """A file we cannot read as it says; ``str()`` names the file and line."""

    def __init__(self, path: str, line: int | None, message: str):
        where = f"{path}, line {line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass
class VoteTable:
    """The votes as arrays, with the (image, class) and worker names their indices stand for."""

    votes: Votes
    items: list[tuple[str, str]]  # per item: (image, class)
    workers: list[str]
    warnings: list[str] = field(default_factory=list)  # what was read but not counted as given


def _rows(path: str, columns: tuple[str, ...]) -> Iterable[tuple[int, list[str]]]:
    """(line number, the named columns' cells) per non-blank line after the header."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise VoteFileError(path, None, f"cannot be read ({error.strerror or error}).") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise VoteFileError(path, line, "is not UTF-8 text.") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    try:
        for fields in reader:
            line = reader.line_num
            cells = [f.strip() for f in fields]
            if not any(cells):
                continue
            if header is None:
                header = [c.lower() for c in cells]
                # each column under the first of its names the header has
                named = [next((a for a in ALIASES.get(c, (c,)) if a in header), c) for c in columns]
                missing = [c for c, name in zip(columns, named) if name not in header]
                if missing:
                    raise VoteFileError(
                        path,
                        line,
                        f"the header has no column {', '.join(missing)} "
                        f"(it needs {','.join(columns)}; found {','.join(cells)}).",
                    )
                duplicated = sorted({c for c in named if header.count(c) > 1})
                if duplicated:
                    raise VoteFileError(path, line, f"the header names {', '.join(duplicated)} twice.")
                where = [header.index(c) for c in named]
                continue
            if len(cells) != len(header):
                raise VoteFileError(path, line, f"has {len(cells)} cells; the header has {len(header)}.")
            yield line, [cells[i] for i in where]
    except csv.Error as error:
        raise VoteFileError(path, reader.line_num, f"is not valid CSV ({error}).") from error
    if header is None:
        raise VoteFileError(path, None, f"is empty; it needs a header {','.join(columns)}.")


def _binary(path: str, line: int, column: str, value: str) -> bool:
    if value not in BINARY:
        raise VoteFileError(path, line, f"{column} is {value!r}; it must be 0 or 1.")
    return BINARY[value]


def _named(path: str, line: int, names: dict[str, str]) -> None:
    for column, value in names.items():
        if not value:
            raise VoteFileError(path, line, f"{column} is empty.")


def read_votes(votes_path: str, gold_path: str | None = None) -> VoteTable:
    """Read votes.csv (image,class,worker,selected) and, optionally, gold.csv (image,class,label)."""
    item_index: dict[tuple[str, str], int] = {}
    worker_index: dict[str, int] = {}
    seen: dict[tuple[int, int], int] = {}  # (item, worker) -> its first vote's index
    repeated: dict[tuple[int, int], list[int]] = {}  # (item, worker) -> every vote's index, when more than one
    item: list[int] = []
    worker: list[int] = []
    selected: list[bool] = []
    lines: list[int] = []
    for line, (image, class_, who, answer) in _rows(votes_path, VOTE_COLUMNS):
        _named(votes_path, line, {"image": image, "class": class_, "worker": who})
        chosen = _binary(votes_path, line, "selected", answer)
        i = item_index.setdefault((image, class_), len(item_index))
        w = worker_index.setdefault(who, len(worker_index))
        first = seen.setdefault((i, w), len(item))
        if first != len(item):
            repeated.setdefault((i, w), [first]).append(len(item))
        lines.append(line)
        item.append(i)
        worker.append(w)
        selected.append(chosen)
    if not item_index:
        raise VoteFileError(votes_path, None, "has a header but no votes.")
    items = list(item_index)
    gold = _read_gold(gold_path, item_index) if gold_path else np.full(len(items), UNKNOWN, np.int8)
    workers = list(worker_index)
    keep, warnings = _repeated_votes(votes_path, repeated, gold, items, workers, lines, len(item))
    class_index: dict[str, int] = {}
    item_class = [class_index.setdefault(c, len(class_index)) for _, c in items]
    votes = Votes(
        np.array(item, np.int64)[keep],
        np.array(worker, np.int64)[keep],
        np.array(selected, bool)[keep],
        np.array(item_class, np.int64),
        gold,
        len(worker_index),
    )
    return VoteTable(votes, items, workers, warnings)


def _read_gold(gold_path: str, item_index: dict[tuple[str, str], int]) -> np.ndarray:
    """Per item of ``item_index``, its known label from gold.csv (image,class,label), else UNKNOWN."""
    gold = np.full(len(item_index), UNKNOWN, np.int8)
    given: dict[int, tuple[int, bool]] = {}
    for line, (image, class_, label) in _rows(gold_path, GOLD_COLUMNS):
        _named(gold_path, line, {"image": image, "class": class_})
        value = _binary(gold_path, line, "label", label)
        i = item_index.get((image, class_))
        if i is None:
            continue  # a control nobody was shown tells nothing
        if i in given and given[i][1] != value:
            raise VoteFileError(
                gold_path,
                line,
                f"image {image!r} for class {class_!r} has label {int(given[i][1])} on line {given[i][0]}.",
            )
        given[i] = (line, value)
        gold[i] = int(value)
    return gold


SHOWN_REPEATS = 20  # repeated votes on candidates named one by one; the rest are counted


def _repeated_votes(path, repeated, gold, items, workers, lines, n_votes) -> tuple[np.ndarray, list[str]]:
    """Which votes count (a mask) and what to tell about the repeated ones: on a control every vote
    counts; on a candidate the last one (see the module's docstring)."""
    keep = np.ones(n_votes, bool)
    on_controls, on_candidates = 0, []
    for (i, w), indices in repeated.items():
        if gold[i] != UNKNOWN:
            on_controls += len(indices) - 1
            continue
        keep[indices[:-1]] = False
        on_candidates.append((i, w, indices))
    warnings = []
    for i, w, indices in on_candidates[:SHOWN_REPEATS]:
        (image, class_), at = items[i], [lines[v] for v in indices]
        warnings.append(
            f"{path}, lines {', '.join(map(str, at))}: worker {workers[w]!r} voted {len(at)} times on image "
            f"{image!r} for class {class_!r}; the last vote (line {at[-1]}) counts."
        )
    if len(on_candidates) > SHOWN_REPEATS:
        warnings.append(
            f"{path}: {len(on_candidates) - SHOWN_REPEATS} more times a worker voted more than once on a "
            "candidate; the last vote of each counts."
        )
    if on_controls:
        warnings.append(
            f"{path}: {on_controls} repeated votes on controls, each counted (a worker's every answer on a "
            "known label tells how they answer)."
        )
    return keep, warnings


def read_scores(path: str, items: list[tuple[str, str]]) -> tuple[np.ndarray, int]:
    """Read scores.csv (image,class,score: any finite real number, higher = more likely shows the class).

    Returns the score per (image, class) of ``items`` (nan where none) and how many rows named another
    (ignored: nobody voted on it, nothing to label there)."""
    index = {key: i for i, key in enumerate(items)}
    scores = np.full(len(items), np.nan)
    given: dict[int, tuple[int, float]] = {}
    unmatched = 0
    for line, (image, class_, value) in _rows(path, SCORE_COLUMNS):
        _named(path, line, {"image": image, "class": class_})
        try:
            score = float(value)
        except ValueError:
            score = float("nan")
        if not np.isfinite(score):
            raise VoteFileError(path, line, f"score is {value!r}; it must be a finite number.")
        i = index.get((image, class_))
        if i is None:
            unmatched += 1
            continue
        if i in given and given[i][1] != score:
            raise VoteFileError(
                path, line, f"image {image!r} for class {class_!r} has score {given[i][1]:g} on line {given[i][0]}."
            )
        given[i] = (line, score)
        scores[i] = score
    return scores, unmatched


@dataclass
class ScoredItems:
    """The images of scores.csv before anyone voted on them (for the first round)."""

    items: list[tuple[str, str]]  # per item: (image, class)
    item_class: np.ndarray
    gold: np.ndarray  # per item: the label gold.csv gives a control, else UNKNOWN
    scores: np.ndarray


def read_scored_items(scores_path: str, gold_path: str | None) -> ScoredItems:
    """Every (image, class) scores.csv names, with its score and, for the controls, gold.csv's label."""
    item_index: dict[tuple[str, str], int] = {}
    for line, (image, class_, _) in _rows(scores_path, SCORE_COLUMNS):
        _named(scores_path, line, {"image": image, "class": class_})
        item_index.setdefault((image, class_), len(item_index))
    if not item_index:
        raise VoteFileError(scores_path, None, "has a header but no scores.")
    items = list(item_index)
    gold = _read_gold(gold_path, item_index) if gold_path else np.full(len(items), UNKNOWN, np.int8)
    scores, _ = read_scores(scores_path, items)
    class_index: dict[str, int] = {}
    item_class = np.array([class_index.setdefault(c, len(class_index)) for _, c in items], np.int64)
    return ScoredItems(items, item_class, gold, scores)


def write_csv(path: str, header: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """Write rows to ``path`` through a temporary file renamed into place; returns the rows written."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    written = 0
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = spreadsheet.Writer(out)
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
                written += 1
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written
