"""Help pages of the dashboard (open to anyone: a hosted user cannot read the repository's docs/) and sample files."""
from flask import Blueprint

bp = Blueprint("help", __name__, url_prefix="/help")

from . import routes  # noqa: E402,F401
