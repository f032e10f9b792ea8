from flask import flash, redirect, request, url_for

from ..models import Assignment, Batch
from ..queues import queue
from ..services.mturk.campaign import MTurkError, review_assignment
from ..services.mturk.cost import FEE_STEP_ASSIGNMENTS
from ..tenancy import owned_or_404
from . import bp


@bp.post("/batches/<int:batch_id>/mturk/publish")
def publish(batch_id):
    batch = owned_or_404(Batch, batch_id)
    if batch.state not in ("ready", "published"):
        flash("Build the batch's HITs before publishing it.", "error")
    else:
        queue().enqueue("tasks.mturk.publish_batch", batch.id, job_timeout=3600)
        note = " Note: 10 or more assignments per HIT doubles MTurk's fee." if batch.assignments_per_hit >= FEE_STEP_ASSIGNMENTS else ""
        flash(f"Publishing {batch.hits.count()} HITs to MTurk in the background.{note}", "success")
    return redirect(url_for("batches.mturk", batch_id=batch.id))


@bp.post("/batches/<int:batch_id>/mturk/sync")
def sync(batch_id):
    batch = owned_or_404(Batch, batch_id)
    queue().enqueue("tasks.mturk.sync_batch", batch.id)
    flash("Reconciling assignments with MTurk in the background.", "success")
    return redirect(url_for("batches.mturk", batch_id=batch.id))


@bp.post("/assignments/<int:assignment_id>/mturk/review")
def review(assignment_id):
    assignment = owned_or_404(Assignment, assignment_id)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        flash("Choose approve or reject.", "error")
    else:
        try:
            review_assignment(assignment, decision == "approve", request.form.get("feedback", ""))
        except MTurkError as error:
            flash(str(error), "error")
        else:
            flash(f"Assignment {assignment.mturk_assignment_id} {decision}d on MTurk.", "success")
    return redirect(url_for("batches.show", batch_id=assignment.hit.batch_id))
