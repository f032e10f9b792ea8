"""Help pages of the dashboard (open to anyone: a hosted user cannot read the repository's docs/) and sample files."""

from flask import Blueprint

bp = Blueprint("help", __name__, url_prefix="/help")

from . import routes  # noqa: E402,F401


@bp.record_once
def _favicon(state):
    state.app.add_url_rule("/favicon.ico", "favicon", routes.favicon)
