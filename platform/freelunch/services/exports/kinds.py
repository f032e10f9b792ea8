"""Every kind of export, in one table: what the dashboard offers, the CLI's ``--format``, the job's writer.

Adding a kind is one row here (and its writer, ``(batch, out, params, report) -> rows``):
the Exports tab lists it, ``POST /review/batches/<id>/exports/<name>`` starts it,
``freelunch export --format <name>`` writes it through the same writer, and its
file is named, typed and downloaded by this row. A kind whose ``rule`` is set
reads the label rule (threshold, annotations needed, control accuracy bar): the
form and the CLI ask for it, and ``Export.params`` records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ...models import Batch
from . import imagenet_ab, writers


@dataclass(frozen=True)
class Kind:
    name: str  # in URLs, Export.kind (at most 16 characters) and file names
    title: str
    extension: str
    mimetype: str
    description: str
    rows: str  # what one row is, for "Wrote 12 records."
    write: Callable[[Batch, IO, dict, writers.Progress], int]
    rule: bool = False
    binary: bool = False  # the writer gets a bytes file


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "seed-jsonl",
            "Seed-format JSON Lines",
            "jsonl",
            "application/x-ndjson",
            "Every image record with its pointer trajectory, hovers and clicks, in the original tool's format.",
            "records",
            writers.write_seed_jsonl,
        ),
        Kind(
            "records-csv",
            "Image records CSV",
            "csv",
            "text/csv",
            "One row per image record: selection, hovers, times, the image's role, byproduct counts.",
            "records",
            writers.write_records_csv,
        ),
        Kind(
            "labels-csv",
            "Labels CSV",
            "csv",
            "text/csv",
            "Selection frequency and label decision per image and class, under the chosen rule.",
            "labels",
            writers.write_labels_csv,
            rule=True,
        ),
        Kind(
            "workers-csv",
            "Workers CSV",
            "csv",
            "text/csv",
            "Per worker: assignments, control accuracy, time per image, estimateTime distribution.",
            "workers",
            writers.write_workers_csv,
        ),
        Kind(
            "imagenet-ab",
            "ImageNet-AB ZIP",
            "zip",
            "application/zip",
            "The NFL paper's ImageNet-AB layout: one XML per image decided yes, one metadata per worker.",
            "images",
            imagenet_ab.write,
            binary=True,
        ),
    )
}
