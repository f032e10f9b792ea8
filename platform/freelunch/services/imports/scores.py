"""Importing a model's scores: a CSV of image, class, score per row, the label model's prior (docs/review.md).

The header is found case-insensitively (``image`` or ``image_id``, ``class`` or
``class_key``, ``score``; extra columns ignored). A row naming an image or class
the dataset does not have, or a score that is not a finite number, is reported
with its line and skipped; the good rows still land. A score imported again for
the same image and class replaces the earlier one.
"""

from __future__ import annotations

import csv
import io
import math

from ...db import database
from ...models import Dataset, Image, ImageClass, ModelScore
from ..jobs import ReportProgress
from ..review.vote_files import ALIASES
from .classes import CHUNK, ImportFailure, Report, decode, header_map

COLUMNS = {**ALIASES, "score": ("score",)}


def import_scores(dataset: Dataset, data: bytes, progress: ReportProgress | None = None) -> Report:
    report = Report()
    text = decode(data, "The scores file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = header_map(reader.fieldnames or [], COLUMNS)
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise ImportFailure(
            "The scores file needs a header row with the columns image, class and score; "
            f"missing: {', '.join(missing)}."
        )
    classes = dict(ImageClass.select(ImageClass.key, ImageClass.id).where(ImageClass.dataset == dataset).tuples())
    total = max(text.count("\n"), 1)
    seen: set[tuple[int, str]] = set()
    chunk: list[tuple[str, str, int, float]] = []  # (where, image key, class id, score)
    try:
        for record in reader:
            where = f"line {reader.line_num}"
            image, class_, value = ((record.get(columns[c]) or "").strip() for c in ("image", "class", "score"))
            if not image or not class_:
                report.error(where, "image and class must not be empty")
                continue
            class_id = classes.get(class_)
            if class_id is None:
                report.error(where, f"the dataset has no class {class_!r}")
                continue
            try:
                score = float(value)
            except ValueError:
                score = math.nan
            if not math.isfinite(score):
                report.error(where, f"score {value!r} is not a finite number")
                continue
            if (class_id, image) in seen:
                report.error(where, f"image {image!r} for class {class_!r} appears twice; the first score was kept")
                continue
            seen.add((class_id, image))
            chunk.append((where, image, class_id, score))
            if len(chunk) >= CHUNK:
                _store(dataset, chunk, report)
                chunk = []
                if progress:
                    progress(min(reader.line_num / total, 0.99), f"{report.counts['scores']:,} scores stored")
    except csv.Error as error:
        raise ImportFailure(f"The scores file cannot be read past line {reader.line_num}: {error}.") from error
    _store(dataset, chunk, report)
    return report


def _store(dataset: Dataset, chunk: list[tuple[str, str, int, float]], report: Report) -> None:
    """Look the chunk's images up by key and upsert their scores; a key the dataset lacks is a row error."""
    if not chunk:
        return
    keys = {image for _, image, _, _ in chunk}
    images = dict(Image.select(Image.key, Image.id).where(Image.dataset == dataset, Image.key.in_(list(keys))).tuples())
    rows = []
    for where, image, class_id, score in chunk:
        image_id = images.get(image)
        if image_id is None:
            report.error(where, f"the dataset has no image {image!r}")
            continue
        rows.append(
            {
                "organization": dataset.organization_id,
                "dataset": dataset.id,
                "image_class": class_id,
                "image": image_id,
                "score": score,
            }
        )
    with database.atomic():
        for start in range(0, len(rows), 500):
            ModelScore.insert_many(rows[start : start + 500]).on_conflict(
                conflict_target=[ModelScore.image_class, ModelScore.image], preserve=[ModelScore.score]
            ).execute()
    report.counts["scores"] += len(rows)
