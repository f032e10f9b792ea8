"""POST /api/ingest: the browser's pointer-event batches, into the Redis stream (docs/ingest.md).

Not a dashboard blueprint: the caller is a worker's page, identified by the
signed assignment token in the body, so there is no session and no CSRF token.
"""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("ingest", __name__, url_prefix="/api")
csrf.exempt(bp)

from . import routes  # noqa: E402,F401
