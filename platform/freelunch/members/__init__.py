from flask import Blueprint

from ..tenancy import protect

bp = Blueprint("members", __name__, url_prefix="/members")
protect(bp)

from . import routes  # noqa: E402,F401
