import re

from flask import abort, render_template, request
from htmx_flask import make_response

from ..parsing import whole_number
from ..services import jobs
from ..tenancy import current_org
from ..web import job_events, partials
from . import bp

SCOPE = re.compile(r"[a-z]+:\d{1,12}")


@bp.get("/")
def index():
    """A page's job list (jobs/_list.html), which reloads itself when one of its jobs ends.
    The scope's key holds this organization's jobs only, so any scope is safe to answer."""
    scope = request.args.get("scope", "")
    if not SCOPE.fullmatch(scope):
        abort(404)
    return render_template("jobs/_list.html", jobs=jobs.recent(current_org().id, scope), jobs_scope=scope)


@bp.get("/announced")
def announced():
    """What jobs no page watches (cron's) announced to a scope since the page's number (jobs/_announced.html), for a
    page without a status line to carry them (the organization's Workers): the events a finished job's card sends,
    for the panels they changed (web/job_events). The announcements are this organization's."""
    scope = request.args.get("scope", "")
    since = whole_number(request.args.get("since", ""))
    if not SCOPE.fullmatch(scope) or since is None:
        abort(404)
    number, events = job_events.announcements(current_org().id, scope, since)
    body = render_template("jobs/_announced.html", scope=scope, number=number)
    return make_response(body, trigger=events or None)


@bp.get("/<job_id>")
def show(job_id):
    """The job's progress partial (it polls itself until the job ends), or a page around it."""
    job = jobs.status(job_id, current_org().id)
    if job is None:
        abort(404)
    if not partials.wanted():
        return render_template("jobs/show.html", job=job)
    return make_response(render_template("jobs/_progress.html", job=job), trigger=job_events.finished_events(job))
