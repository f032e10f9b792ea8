"""The batch page's MTurk tab: publish a batch (routes); reconcile it, decide on its MTurk assignments and pay
them (assignment_routes); the survey-link kit for publishing without the API (survey_routes)."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("mturk", __name__)
protect(bp)

from . import assignment_routes, routes, survey_routes  # noqa: E402,F401
