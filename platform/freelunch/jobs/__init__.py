"""Progress of background jobs, for any dashboard page that started one (imports, builds, exports)."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
protect(bp)

from . import routes  # noqa: E402,F401
