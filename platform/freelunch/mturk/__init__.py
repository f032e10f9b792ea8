"""Requester actions on MTurk: publish a batch, reconcile it, approve or reject assignments."""
from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("mturk", __name__)
protect(bp)

from . import routes  # noqa: E402,F401
