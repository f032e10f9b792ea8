"""The site admins' area: every organization and user, and (later) the queues."""
from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only():
    if not current_user.is_admin:
        abort(403, "Only site admins may open the admin area.")


from . import routes  # noqa: E402,F401
