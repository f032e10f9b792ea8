"""Every kind of export, in one table: what the dashboard offers, the CLI's ``--format``, the job's writer.

Adding a kind is one row here (and its writer, ``(batch, out, params, report) -> rows``):
the Exports tab lists it, ``POST /review/batches/<id>/exports/<name>`` starts it,
``freelunch export --format <name>`` writes it through the same writer, and its
file is named, typed and downloaded by this row. A kind whose ``labels`` is set
carries labels: the batch's labels of record (services/review/of_record.py,
recorded in ``Export.params`` when the export starts), and ``labels`` says where
the file names the labels it used. The other kinds carry votes, not labels.

``reads`` names what else the writer reads that can change under a finished file (files.INPUTS: the votes that
count or the pages that count, the control roles, the class names, the workers a rule's accuracy bar leaves out, the
pointer chunks stored, the batch's kept rows per worker, the latest label fit): ``Export.params`` records each when
the file is written, and the file is out of date when one of them is no longer what it was (files.out_of_date).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ...models import Batch
from ..jobs import ReportProgress
from . import imagenet_ab, writers


@dataclass(frozen=True)
class Kind:
    name: str  # in URLs, Export.kind (at most 16 characters) and file names
    title: str
    extension: str
    mimetype: str
    description: str
    rows: str  # what one row is, for "Wrote 12 records."
    write: Callable[[Batch, IO, dict, ReportProgress], int]
    labels: str = ""  # where the file names the labels of record it used; "": it carries no labels
    binary: bool = False  # the writer gets a bytes file
    reads: tuple[str, ...] = ("votes",)  # what the file is written from besides its labels: files.INPUTS's names


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "seed-jsonl",
            "ImageNetV2-tool JSON Lines",
            "jsonl",
            "application/x-ndjson",
            "Every image record with its pointer trajectory, hovers and clicks, in the original tool's format.",
            "records",
            writers.write_seed_jsonl,
            # Every counted page's records, whoever is left out of the labels, with their pointer trajectories.
            reads=("pages", "pointer", "class_names"),
        ),
        Kind(
            "records-csv",
            "Image records CSV",
            "csv",
            "text/csv",
            "One row per image record: selection, hovers, times, the image's role, byproduct counts.",
            "records",
            writers.write_records_csv,
            reads=("pages", "roles", "pointer"),  # the seed's records, with each image's role and its moves counted
        ),
        Kind(
            "labels-csv",
            "Labels CSV",
            "csv",
            "text/csv",
            "Per image and class: its votes and its label under the batch's labels of record.",
            "labels",
            writers.write_labels_csv,
            labels="the labels_of_record column",
            reads=(
                "votes",
                "roles",
                "bar",
                "class_names",
            ),  # the role column; a rule's bar leaves out workers by their controls
        ),
        Kind(
            "workers-csv",
            "Workers CSV",
            "csv",
            "text/csv",
            "Per worker: assignments, control accuracy, time per image, hover-time distribution.",
            "workers",
            writers.write_workers_csv,
            # Every column is the batch's kept row per worker (BatchWorker) or the latest fit's estimate: not the
            # votes (a worker left out of the labels is still a row, with the same figures).
            reads=("workers", "estimates"),
        ),
        Kind(
            "imagenet-ab",
            "ImageNet-AB ZIP",
            "zip",
            "application/zip",
            "The NFL paper's ImageNet-AB layout: one XML per image the labels of record call yes, one metadata per "
            "worker.",
            "images",
            imagenet_ab.write,
            binary=True,
            labels=f"the archive's {imagenet_ab.RECORD_MEMBER}",
            reads=("votes", "pointer", "bar"),  # no role: controls are written as the other images
        ),
    )
}
