from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("batches", __name__, url_prefix="/batches")
protect(bp)

from . import routes  # noqa: E402,F401
