from flask import flash, redirect, url_for

from ..models import Batch
from ..queues import queue
from ..services.mturk.campaign import FEE_STEP_ASSIGNMENTS
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
