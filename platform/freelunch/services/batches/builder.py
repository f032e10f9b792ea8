"""Making a batch from the builder form: check the dataset can fill it, then build its HITs in a job."""

from __future__ import annotations

from peewee import fn

from ... import formatting
from ...models import Batch, Candidate, ClassRoleCount, Dataset, ImageClass
from .. import jobs
from ..duplicates.groups import dropped
from ..review import prior_report

SURE_ASSIGNMENTS = 1  # what a lean first round asks of the images the model is sure about
SURE_SUFFIX = " · sure images"


def class_role_counts(dataset: Dataset, class_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Per class of the dataset (or of ``class_ids``): how many candidates (less the near-duplicates dropped),
    positives and negatives it has."""
    classes = ImageClass.select(ImageClass.id).where(ImageClass.dataset == dataset)
    if class_ids:
        classes = classes.where(ImageClass.id.in_(class_ids))
    counts: dict[int, dict[str, int]] = {class_id: {} for (class_id,) in classes.tuples()}
    # Kept counts (ClassRoleCount), less the few dropped near-duplicates, found from the decisions' side: reading
    # every candidate cost a pass over the whole dataset.
    for class_id, role, n in (
        ClassRoleCount.select(ClassRoleCount.image_class, ClassRoleCount.role, ClassRoleCount.n)
        .where(ClassRoleCount.image_class.in_(classes), ClassRoleCount.n > 0)
        .tuples()
    ):
        counts[class_id][role] = n
    for class_id, n in (
        Candidate.select(Candidate.image_class, fn.COUNT(Candidate.id))
        .where(
            Candidate.image.in_(dropped(dataset.id)),
            Candidate.role == "candidate",
            Candidate.image_class.in_(classes),
        )
        .group_by(Candidate.image_class)
        .tuples()
    ):
        counts[class_id]["candidate"] -= n
        if not counts[class_id]["candidate"]:
            del counts[class_id]["candidate"]
    return counts


def sure_images(dataset_id: int) -> prior_report.SureImages:
    """The candidates the dataset's model scores make sure (one agreeing vote reaches the target, by the scored
    controls), less the near-duplicates dropped: what a lean first round asks one vote of."""
    sure = prior_report.sure_images(dataset_id)
    if sure.by_class:
        left_out = {image_id for (image_id,) in dropped(dataset_id).tuples()}
        sure.by_class = {class_id: ids - left_out for class_id, ids in sure.by_class.items()}
    return sure


def sure_companion(batch: Batch) -> Batch:
    """A lean first round: ``batch`` keeps the candidates the model is not sure about, and a second batch like it
    (same classes, pages, controls, reward) asks the sure ones SURE_ASSIGNMENTS each; both built by ``start_build``."""
    batch.sure_images = "left-out"
    batch.save(only=[Batch.sure_images])
    same = ["pages_per_hit", "images_per_page", "positives_per_page", "negatives_per_page", "versions"]
    same += ["one_hit_per_worker", "reward", "title", "description", "mturk"]
    fields = {name: getattr(batch, name) for name in same}
    fields.update(
        organization=batch.organization_id,
        dataset=batch.dataset_id,
        name=batch.name[: 120 - len(SURE_SUFFIX)] + SURE_SUFFIX,
        assignments_per_hit=SURE_ASSIGNMENTS,
        sure_images="only",
    )
    return Batch.create(**fields)


def dropped_candidates(dataset: Dataset, class_ids: list[int] | None) -> int:
    """How many candidacies of the chosen classes the builder leaves out as dropped near-duplicates."""
    query = (
        Candidate.select()
        .join(ImageClass)
        .where(ImageClass.dataset == dataset, Candidate.role == "candidate", Candidate.image.in_(dropped(dataset.id)))
    )
    if class_ids:
        query = query.where(Candidate.image_class.in_(class_ids))
    return query.count()


def plan(
    candidates_per_class: list[int], images_per_page: int, controls_per_page: int, pages_per_hit: int
) -> tuple[int, int]:
    """(pages, HITs) a build makes from classes with these candidate counts (services/batches/hits.py's split).

    static/builder.js computes the same in the browser, for the builder's cost line.
    """
    per_page = images_per_page - controls_per_page
    if per_page <= 0 or pages_per_hit <= 0:
        return 0, 0
    pages = sum(-(-n // per_page) for n in candidates_per_class if n > 0)
    return pages, -(-pages // pages_per_hit)


def shape_warnings(
    classes: list[tuple[str, int, int, int]], images_per_page: int, positives: int, negatives: int, pages_per_hit: int
) -> list[str]:
    """Where the chosen classes (key, candidates, positives, negatives) cannot fill the shape asked for, said before
    the build; static/builder.js says the same as the form changes."""
    per_page = images_per_page - positives - negatives
    classes = [c for c in classes if c[1] > 0]
    if per_page <= 0 or pages_per_hit <= 0 or not classes:
        return []
    warnings = []
    short = [key for key, _, pos, neg in classes if pos < positives or neg < negatives]
    if short:
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        warnings.append(
            f"{len(short)} class{'' if len(short) == 1 else 'es'} ({', '.join(short[:5])}{more}) "
            f"{'has' if len(short) == 1 else 'have'} fewer than {positives} positive or {negatives} negative "
            "controls: the build would stop. Lower the controls per page, import controls, or leave them out."
        )
    pages = sum(-(-n // per_page) for _, n, _, _ in classes)
    if pages < pages_per_hit:
        warnings.append(
            f"The chosen classes fill only {pages} page{'' if pages == 1 else 's'}: a HIT will have "
            f"{pages}, not {pages_per_hit}."
        )
    partial = sum(1 for _, n, _, _ in classes if n % per_page)
    if partial:
        warnings.append(
            f"{partial} of the {pages} pages will show fewer than {images_per_page} images "
            "(a class's last page takes the candidates that are left)."
        )
    return warnings


def problems(dataset: Dataset, class_ids: list[int] | None, positives: int, negatives: int) -> list[str]:
    """Why the chosen classes cannot fill pages as configured (empty when they can)."""
    counts = class_role_counts(dataset, class_ids)
    if not counts:
        return ["The dataset has no classes yet: import them first."]
    if not any(c.get("candidate") for c in counts.values()):
        return ["The chosen classes have no candidate images: import images first."]
    short = [
        cid
        for cid, c in counts.items()
        if c.get("candidate") and (c.get("positive", 0) < positives or c.get("negative", 0) < negatives)
    ]
    if not short:
        return []
    keys = [k for (k,) in ImageClass.select(ImageClass.key).where(ImageClass.id.in_(short[:5])).tuples()]
    more = f" and {len(short) - 5} more" if len(short) > 5 else ""
    return [
        f"{len(short)} class(es) have fewer than {positives} positive or {negatives} negative controls "
        f"({', '.join(keys)}{more}): lower the controls per page, import controls, or leave those classes out."
    ]


def start_build(batch: Batch, class_ids: list[int] | None):
    """Mark the batch as building and queue the job that makes its HITs from ``class_ids`` (None: every class).

    The choice is kept on the batch, so that building again after a failure uses the same classes; so is the job's id
    (``settle``), written before the job is queued: a fast job that ends at once finds it, and is never undone by it.
    A refused job (jobs.QueueFull) leaves the batch as it was.
    """

    def record(job_id: str) -> None:
        batch.state, batch.class_ids, batch.build_job_id, batch.build_error = "building", class_ids or None, job_id, ""
        batch.save(only=[Batch.state, Batch.class_ids, Batch.build_job_id, Batch.build_error])

    return jobs.enqueue(
        jobs.BUILD_BATCH,
        batch.id,
        batch.organization_id,
        organization_id=batch.organization_id,
        scope=jobs.batch_scope(batch.id),
        title=f"Build HITs of {batch.name}"
        + (f" from {formatting.counted(len(class_ids), 'chosen class')}" if class_ids else ""),
        record=record,
    )


# Why a build whose job RQ will never run failed (jobs.gone's reasons), as the Overview says it beside "Build again".
GONE = {
    "stopped": "It stopped before it finished: its worker was stopped (a restart, or it ran out of memory).",
    "lost": "Its job was lost from the queue before it finished (the queue was emptied or restarted).",
}


def settle(batch: Batch) -> Batch:
    """The batch as it stands: one building whose job RQ will never run (jobs.gone: its worker killed hard, or the job
    lost from Redis) is recorded failed, with why (``GONE``), and can be built again; one whose job is queued, or
    running with its worker alive, however slow, is left building. ``batch`` is updated in place and returned. Every
    view of a batch's state reads it through here (web/batch_tabs.batch_progress: the tabs and the status line; the
    batch lists, services/overview.batch_lines, and their filter; the dataset page's batches; the build route).

    A batch left building by a version that kept no job id (before migration 0034) is settled by the build jobs its
    page lists: left building while one may still run, failed once none is left that may."""
    if batch.state != "building":
        return batch
    if batch.build_job_id:
        reason = jobs.gone(batch.build_job_id)
    else:
        listed = jobs.listed(batch.organization_id, jobs.batch_scope(batch.id), jobs.BUILD_BATCH)
        reasons = [jobs.gone(job_id) for job_id in listed]
        reason = None if None in reasons else (reasons[0] if reasons else "lost")
    if reason is None:
        return batch
    same_job = Batch.build_job_id == batch.build_job_id if batch.build_job_id else Batch.build_job_id.is_null()
    # Only if still building with the same job: a job that ended as it was read has recorded ready or failed itself.
    Batch.update(state="failed", build_error=GONE[reason]).where(
        Batch.id == batch.id, Batch.state == "building", same_job
    ).execute()
    now = Batch.get_or_none(Batch.id == batch.id)
    if now is not None:
        batch.state, batch.build_error, batch.build_job_id = now.state, now.build_error, now.build_job_id
    return batch
