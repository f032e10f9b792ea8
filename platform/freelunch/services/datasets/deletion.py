"""Deleting a dataset, and saying first what goes with it.

Batch.dataset is RESTRICT so that no code path drops a batch's collected work
by accident. Deleting a dataset on purpose removes its batches too (with their
HITs, lab links, assignments, annotations and export files): the confirmation
page shows those counts and, when there is anything to lose, asks for the
dataset's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from ... import storage
from ...db import database
from ...models import Assignment, Batch, Dataset, DatasetImageCount, Export, Hit, ImageClass, PageSubmission
from ..exports import files as exports


@dataclass
class BatchImpact:
    batch: Batch
    hits: int
    assignments: int
    pages: int


@dataclass
class Impact:
    classes: int
    images: int
    batches: list[BatchImpact]

    @property
    def assignments(self) -> int:
        return sum(b.assignments for b in self.batches)

    @property
    def pages(self) -> int:
        return sum(b.pages for b in self.batches)

    @property
    def published(self) -> list[Batch]:
        return [b.batch for b in self.batches if b.batch.state == "published"]

    @property
    def needs_typed_confirmation(self) -> bool:
        return bool(self.batches)


def impact(dataset: Dataset) -> Impact:
    batches = list(Batch.select().where(Batch.dataset == dataset).order_by(Batch.created_at))
    ids = [b.id for b in batches]
    hits = (
        dict(Hit.select(Hit.batch, fn.COUNT(Hit.id)).where(Hit.batch.in_(ids)).group_by(Hit.batch).tuples())
        if ids
        else {}
    )
    assignments = (
        dict(
            Assignment.select(Hit.batch, fn.COUNT(Assignment.id))
            .join(Hit)
            .where(Hit.batch.in_(ids))
            .group_by(Hit.batch)
            .tuples()
        )
        if ids
        else {}
    )
    pages = (
        dict(
            PageSubmission.select(Hit.batch, fn.COUNT(PageSubmission.id))
            .join(Assignment)
            .join(Hit)
            .where(Hit.batch.in_(ids))
            .group_by(Hit.batch)
            .tuples()
        )
        if ids
        else {}
    )
    return Impact(
        classes=ImageClass.select().where(ImageClass.dataset == dataset).count(),
        images=DatasetImageCount.of([dataset.id])[dataset.id],
        batches=[BatchImpact(b, hits.get(b.id, 0), assignments.get(b.id, 0), pages.get(b.id, 0)) for b in batches],
    )


def delete_dataset(dataset: Dataset) -> None:
    """Delete the dataset, its batches (the database cascades the rest), their export files and its stored media."""
    export_files = list(Export.select().join(Batch).where(Batch.dataset == dataset))
    with database.atomic():
        Batch.delete().where(Batch.dataset == dataset).execute()
        dataset.delete_instance()
    for export in export_files:  # after the commit: a rolled-back delete keeps its files
        exports.remove_file(export)
    prefix = f"datasets/{dataset.id}"
    storage.delete_prefix(prefix)
    storage.delete_prefix(f"thumbs/{prefix}")  # see storage.thumbnail_path
