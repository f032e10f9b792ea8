"""Turning a batch's dataset into HITs: pages of one class with its candidates and controls."""

from __future__ import annotations

import random

from ...db import database
from ...models import Batch, Candidate, Hit, HitPage, ImageClass
from ..duplicates.groups import dropped
from ..errors import RequesterError
from ..jobs import ReportProgress
from . import builder

SPARES = 3  # replacement images kept per page
WRITE_ROWS = 1000  # HITs or pages a statement


class BuildError(RequesterError, ValueError):
    """The dataset cannot fill the batch as configured; the message says why."""


class Superseded(Exception):
    """The build's job is no longer the batch's build: the batch was settled failed while it ran (its job lost from
    Redis, services/batches/builder.settle), and may have been built again since. It writes nothing."""


def still_building(batch_id: int, job_id: str | None) -> list:
    """The condition for a build job to write to its batch: building, by ``job_id`` (or by a build from before
    migration 0034, which named no job). None: not a job's build (the demo, tests): no condition."""
    if job_id is None:
        return []
    return [
        Batch.id == batch_id,
        Batch.state == "building",
        (Batch.build_job_id == job_id) | Batch.build_job_id.is_null(),
    ]


def _pages_for_class(
    batch: Batch, image_class: ImageClass, rng: random.Random, sure: set[int]
) -> list[tuple[list[int], list[int]]]:
    """Split a class's candidates into pages, mixing controls in; returns (images, spares) per page. ``sure``: the
    class's candidates the model is sure about, which a lean first round's batches take ("only") or leave out."""
    by_role: dict[str, list[int]] = {"candidate": [], "positive": [], "negative": []}
    left_out = dropped(batch.dataset_id)  # near-duplicates the requester dropped: nobody is paid to label them twice
    query = Candidate.select(Candidate.image, Candidate.role).where(
        Candidate.image_class == image_class, ~((Candidate.role == "candidate") & Candidate.image.in_(left_out))
    )
    # Tuples: a model object per candidate was half the build's time (py-spy, 130,000 candidates at SCALE=0.1).
    for image_id, role in query.tuples():
        if role == "candidate" and batch.sure_images and (image_id in sure) != (batch.sure_images == "only"):
            continue
        by_role[role].append(image_id)
    for ids in by_role.values():
        rng.shuffle(ids)

    controls = batch.positives_per_page + batch.negatives_per_page
    per_page = batch.images_per_page - controls
    if per_page <= 0:
        raise BuildError("Controls fill the whole page: lower the controls or raise the images per page.")
    if not by_role["candidate"]:
        return []  # nothing to label in this class (e.g. its images are not imported yet)
    if controls and (
        len(by_role["positive"]) < batch.positives_per_page or len(by_role["negative"]) < batch.negatives_per_page
    ):
        raise BuildError(f"Class {image_class.key} has too few control images for {controls} controls per page.")

    candidates = by_role["candidate"]
    pages = []
    for start in range(0, len(candidates), per_page):
        images = candidates[start : start + per_page]
        images += rng.sample(by_role["positive"], batch.positives_per_page)
        images += rng.sample(by_role["negative"], batch.negatives_per_page)
        rng.shuffle(images)
        # Replacements for images that fail to load: the next candidates, else earlier ones (never this page's).
        spares = candidates[start + per_page : start + per_page + SPARES]
        spares += candidates[: min(start, SPARES - len(spares))]
        pages.append((images, spares))
    return pages


def build_hits(
    batch: Batch, class_ids: list[int] | None = None, progress: ReportProgress | None = None, job_id: str | None = None
) -> int:
    """Create the batch's HITs (pages_per_hit pages each) with a recorded shuffle seed; returns the count. Built by the
    RQ job ``job_id``: only while the batch is still building by it (``still_building``), else Superseded."""
    if batch.hits.exists():
        raise BuildError("This batch has its HITs already.")
    if batch.shuffle_seed is None:
        batch.shuffle_seed = random.SystemRandom().randrange(2**53)
    rng = random.Random(batch.shuffle_seed)
    classes = ImageClass.select().where(ImageClass.dataset == batch.dataset_id).order_by(ImageClass.key)
    if class_ids:
        classes = classes.where(ImageClass.id.in_(class_ids))
    classes = list(classes)

    sure = builder.sure_images(batch.dataset_id).by_class if batch.sure_images else {}
    pages = []
    for done, image_class in enumerate(classes, 1):
        made = _pages_for_class(batch, image_class, rng, sure.get(image_class.id, set()))
        pages += [(image_class, images, spares) for images, spares in made]
        if progress:
            progress(0.5 * done / max(len(classes), 1))
    if not pages:
        raise BuildError("The chosen classes have no candidate images.")
    rng.shuffle(pages)

    # A statement per WRITE_ROWS HITs or pages, not one per HIT (each a round trip, and on PostgreSQL a firing of
    # the batch counts' statement triggers): 620 statements at SCALE=0.1, now 5. A HIT's id is read back by its key.
    starts = range(0, len(pages), batch.pages_per_hit)
    keys = [Hit.key.default() for _ in starts]
    with database.atomic():
        # First, and in the same transaction as the HITs: the batch's row is locked (PostgreSQL; SQLite's one writer)
        # until they are in, so a newer build of it waits for this one, and a build the batch no longer waits for
        # (settled failed while it ran) writes nothing.
        if (
            job_id is not None
            and not Batch.update(build_job_id=Batch.build_job_id).where(*still_building(batch.id, job_id)).execute()
        ):
            raise Superseded()
        if batch.hits.exists():  # a build of it that ended while this one was making its pages
            raise BuildError("This batch has its HITs already.")
        for first in range(0, len(keys), WRITE_ROWS):
            Hit.insert_many(
                [
                    dict(organization=batch.organization_id, batch=batch, key=key)
                    for key in keys[first : first + WRITE_ROWS]
                ]
            ).execute()
        hit_ids = dict(Hit.select(Hit.key, Hit.id).where(Hit.batch == batch).tuples())
        rows = [
            dict(
                organization=batch.organization_id,
                hit=hit_ids[key],
                pageno=n,
                image_class=image_class,
                image_ids=images,
                spare_image_ids=spares,
            )
            for key, start in zip(keys, starts)
            for n, (image_class, images, spares) in enumerate(pages[start : start + batch.pages_per_hit], 1)
        ]
        for first in range(0, len(rows), WRITE_ROWS):
            HitPage.insert_many(rows[first : first + WRITE_ROWS]).execute()
            if progress:
                progress(0.5 + 0.5 * first / len(rows))
        batch.state = "ready"
        batch.save()
        batch.record_shape()
    return len(keys)
