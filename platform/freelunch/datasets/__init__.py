from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("datasets", __name__, url_prefix="/datasets")
protect(bp)

from . import routes  # noqa: E402,F401
