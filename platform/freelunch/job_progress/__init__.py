"""A background job's progress (``GET /jobs/<id>``), for any dashboard page that started one (imports, exports, ...)."""

from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("job_progress", __name__, url_prefix="/jobs")
protect(bp)

from . import routes  # noqa: E402,F401
