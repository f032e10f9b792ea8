"""Progress and review of a batch: assignments, workers, page replays, labels and exports."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("review", __name__, url_prefix="/review")
protect(bp)

from . import exports, fits, labels, routes  # noqa: E402,F401
