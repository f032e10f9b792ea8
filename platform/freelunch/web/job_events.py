"""What a page hears when jobs end: the htmx events (``HX-Trigger``) its panels reload on, decided here only.

- A job a page started has a progress card (jobs/_progress.html, job_progress.show), which polls until the job ends
  and then sends ``finished_events``: ``job-finished`` and ``<panel>-changed`` for each panel its Task changes.
- A job no page started (cron's, ``Task.announces``) announces its end (services/jobs.announce). A page hears it
  through a poll that carries the number of the latest announcement the page has heard (``heard``) and gets the
  same events for the panels announced since (``announcements``): a batch page's status line, which polls anyway
  (batches/_status.html, batches.status), or, on a page without one (the organization's Workers),
  jobs/_announced.html (job_progress.announced).
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import BadRequest

from ..parsing import whole_number
from ..services import jobs

HEARD = "announced"  # the query argument of a poll: the latest announcement number the page has heard


def finished_events(job: jobs.JobView) -> dict | None:
    """What the page hears when the job ends: job-finished, and "<panel>-changed" for each panel its task changes,
    on which those panels reload themselves (hx-trigger="<panel>-changed from:body", templates/_panels.html)."""
    if not job.finished:
        return None
    events = {"job-finished": {"id": job.id, "changes": list(job.changes)}}
    events.update({f"{panel}-changed": {"id": job.id} for panel in job.changes})
    return events


def build_ended(job_id: str | None) -> dict:
    """What a page that showed a batch's HITs being built hears once they no longer are: what the build job's card
    sends when it ends (a card whose job is lost from Redis, or whose end was seen first by another request, never
    sends it)."""
    job = jobs.JobView(id=job_id or "build", title="", state="failed", progress=1.0, changes=jobs.BUILD_BATCH.changes)
    return finished_events(job) or {}


def heard() -> int | None:
    """The announcement number the poll says its page has heard; None when it sends none (a page drawn before the
    status line carried it). Anything but a whole number is a 400 that says what the argument is."""
    text = request.args.get(HEARD)
    if text is None:
        return None
    number = whole_number(text)
    if number is None:
        raise BadRequest(f"{HEARD} is the number of the latest announcement the page has heard: a whole number.")
    return number


def announcements(organization_id: int, scope: str, since: int | None) -> tuple[int, dict]:
    """The latest announcement number for ``scope`` (what the page has heard once it has this answer), and the events
    for the panels announced since ``since`` (none when ``since`` is None: a page that starts listening now)."""
    news = jobs.announced(organization_id, scope, since or 0)
    job = news.job() if since is not None else None
    return news.number, (finished_events(job) if job else None) or {}
