"""Requester actions on MTurk: publish a batch (routes), reconcile, review and pay it (review_routes)."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("mturk", __name__)
protect(bp)

from . import review_routes, routes  # noqa: E402,F401
