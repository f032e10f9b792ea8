"""A batch's live progress, its assignments and workers, and the replay of a submitted page."""

from flask import abort, flash, redirect, render_template, request, url_for
from peewee import JOIN

from ..models import (
    SOURCES,
    Assignment,
    Batch,
    BatchCount,
    BatchWorker,
    Hit,
    HitPage,
    ImageClass,
    LabLink,
    PageSubmission,
)
from ..services import jobs
from ..services.review import annotators, counted, fits, labels, quality, replay, tallies
from ..tenancy import current_org, owned_or_404
from ..web import partials, sorting
from ..web.batch_tabs import batch_progress, render_tab
from ..web.pagination import paginate
from . import bp


@bp.get("/batches/<int:batch_id>/progress")
def progress_view(batch_id):
    """HITs, assignments, pages and byproducts done, and throughput: the partial polls itself; a page load gets the
    Overview tab."""
    batch = owned_or_404(Batch, batch_id)
    if not partials.wanted():
        return redirect(url_for("batches.show", batch_id=batch.id))
    return render_template("review/_progress.html", batch=batch, progress=batch_progress(batch))


ASSIGNMENT_SORTS = {
    "started": Assignment.started_at,
    "worker": Assignment.worker_id,
    "source": Assignment.source,
    "hit": Hit.key,
    "done": Assignment.done,
}


@bp.get("/batches/<int:batch_id>/assignments")
def assignments(batch_id):
    batch = owned_or_404(Batch, batch_id)
    query = (
        Assignment.select(Assignment, Hit, LabLink)
        .join(Hit)
        .switch(Assignment)
        .join(LabLink, JOIN.LEFT_OUTER)
        .where(Assignment.batch_id == batch.id)  # newest first from the (batch_id, started_at) index
    )
    worker = request.args.get("worker", "").strip().upper()[:16]
    if worker:
        query = query.where(Assignment.worker_id == worker)
    source = request.args.get("source", "")
    if source in SOURCES:
        query = query.where(Assignment.source == source)
    sort = sorting.requested(ASSIGNMENT_SORTS, "-started")
    # Unfiltered, the list is every assignment of the batch: the database keeps how many (BatchCount).
    total = None if worker or source in SOURCES else BatchCount.of([batch.id])[batch.id].assignments
    page = paginate(sorting.apply(query, sort, ASSIGNMENT_SORTS, Assignment.id.desc()), total=total)
    found = quality.figures(Assignment.id, Assignment.id.in_([a.id for a in page.items]))
    rows = [(a, found.get(a.id, quality.Figures())) for a in page.items]
    counting = {a.id: counted.state(a) for a in page.items}
    return render_tab(
        "review",
        "review/assignments.html",
        batch,
        partial="review/_assignments.html",
        page=page,
        rows=rows,
        counting=counting,
        worker=worker,
        sort=sort,
        source=source,
        sources=SOURCES,
    )


@bp.get("/assignments/<int:assignment_id>")
def assignment(assignment_id):
    assignment = owned_or_404(Assignment, assignment_id)
    batch = assignment.hit.batch
    hit_pages = (
        HitPage.select(HitPage, ImageClass)
        .join(ImageClass)
        .where(HitPage.hit == assignment.hit_id)
        .order_by(HitPage.pageno)
    )
    submitted = {s.pageno: s for s in PageSubmission.select().where(PageSubmission.assignment == assignment)}
    found = quality.page_figures(assignment)
    rows = [(hp, submitted.get(hp.pageno), found.get(hp.pageno, quality.Figures())) for hp in hit_pages]
    return render_template(
        "review/assignment.html",
        batch=batch,
        assignment=assignment,
        rows=rows,
        total=quality.figures(Assignment.id, Assignment.id == assignment.id).get(assignment.id),
    )


@bp.get("/assignments/<int:assignment_id>/pages/<int:pageno>")
def replay_view(assignment_id, pageno):
    """The page as the worker lived it: pointer paths, hovers and clicks over the grid, with a time slider."""
    assignment = owned_or_404(Assignment, assignment_id)
    submission = PageSubmission.get_or_none(PageSubmission.assignment == assignment, PageSubmission.pageno == pageno)
    if submission is None:
        abort(404, "This page has not been submitted.")
    return render_template(
        "review/replay.html", batch=assignment.hit.batch, assignment=assignment, replay=replay.replay(submission)
    )


# The panels whose jobs change what the workers lists show: the work that counts, waits or was rejected (MTurk's
# reconciliation and decisions) and the label model's estimates. The list reloads itself when one ends
# (review/_workers.html); a batch's tab follows those another page started.
WORKERS_CHANGE_ON = {"assignments", "labels"}


@bp.get("/batches/<int:batch_id>/workers")
def batch_workers(batch_id):
    batch = owned_or_404(Batch, batch_id)
    scope = tallies.in_batch(batch.id)
    fit = fits.latest(batch)
    sort = sorting.requested(quality.BATCH_WORKER_SORTS, "worker")
    query = sorting.apply(
        quality.batch_workers_query(batch.id), sort, quality.BATCH_WORKER_SORTS, BatchWorker.worker_id
    )
    flagged = request.args.get("flagged") == "1"
    if flagged:
        query = query.where(BatchWorker.worker_id.in_(fits.flagged_workers(fit) if fit else []))
    page = paginate(query)
    return render_tab(
        "review",
        "review/batch_workers.html",
        batch,
        partial="review/_workers.html",
        page=page,
        rows=quality.worker_rows(page.items, [batch.id]),
        speed_within=quality.KEPT_SPEED_WITHIN,
        lab_annotators=annotators.lab_annotators(scope, [w.worker_id for w in page.items]),
        estimates=fits.worker_estimates(fit, [w.worker_id for w in page.items]),
        not_counted=counted.not_counted([batch.id]),
        following=jobs.running(current_org().id, batch.id, WORKERS_CHANGE_ON),
        changes_on=sorted(WORKERS_CHANGE_ON),
        fit=fit,
        sort=sort,
        flagged=flagged,
    )


@bp.post("/batches/<int:batch_id>/exclusions")
def exclude_worker(batch_id):
    """Leave a worker's votes out of this batch's labels, or count them again."""
    batch = owned_or_404(Batch, batch_id)
    worker = request.form.get("worker_id", "").strip().upper()
    if not Assignment.select().join(Hit).where(Hit.batch == batch, Assignment.worker_id == worker).exists():
        abort(404, "No such worker in this batch.")
    excluded = request.form.get("action") != "include"
    labels.set_excluded(batch, worker, excluded)
    flash(f"Worker {worker} is {'left out of' if excluded else 'counted again in'} this batch's labels.", "success")
    return redirect(url_for("review.batch_workers", batch_id=batch.id))


@bp.get("/workers")
def workers():
    """Every worker of the organization, across its batches: their kept rows per batch added up."""
    batches = Batch.owned(current_org(), Batch.id)
    sort = sorting.requested(quality.WORKER_SORTS, "worker")
    page = paginate(sorting.apply(quality.workers_query(batches), sort, quality.WORKER_SORTS, BatchWorker.worker_id))
    worker_ids = [w.worker_id for w in page.items]
    return partials.render(
        "review/workers.html",
        "review/_workers.html",
        batch=None,
        page=page,
        sort=sort,
        rows=quality.worker_rows(page.items, batches),
        speed_within=quality.KEPT_SPEED_WITHIN,
        lab_annotators=annotators.lab_annotators(Assignment.organization == current_org(), worker_ids),
        not_counted=counted.not_counted(batches),
        following=jobs.organization_running(current_org().id, WORKERS_CHANGE_ON),
        changes_on=sorted(WORKERS_CHANGE_ON),
        announced_scope=jobs.organization_scope(current_org().id),
        announced=jobs.announced(current_org().id, jobs.organization_scope(current_org().id), 0).number,
    )
