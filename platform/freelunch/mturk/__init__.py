"""The batch page's MTurk tab: publish a batch (routes), reconcile, review and pay it (review_routes), and the
survey-link kit for publishing without the API (survey_routes)."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("mturk", __name__)
protect(bp)

from . import review_routes, routes, survey_routes  # noqa: E402,F401
