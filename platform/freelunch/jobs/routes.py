from flask import abort, render_template
from htmx_flask import make_response

from .. import partials
from ..services import jobs
from ..tenancy import current_org
from . import bp


@bp.get("/<job_id>")
def show(job_id):
    """The job's progress partial (it polls itself until the job ends), or a page around it."""
    job = jobs.status(job_id, current_org().id)
    if job is None:
        abort(404)
    if not partials.wanted():
        return render_template("jobs/show.html", job=job)
    # Lets the page refresh what the job changed, e.g. hx-trigger="job-finished from:body".
    trigger = {"job-finished": {"id": job.id}} if job.finished else None
    return make_response(render_template("jobs/_progress.html", job=job), trigger=trigger)
