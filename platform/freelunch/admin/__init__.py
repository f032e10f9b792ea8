"""The site admins' area: every organization and user, the ingest buffer, and the RQ queues."""

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only():
    if not current_user.is_admin:
        abort(403, "Only site admins may open the admin area.")


@bp.record_once
def _mount_queue_monitor(state):
    # rq-dashboard is a blueprint of its own; it comes with the admin area.
    from .rq import mount

    mount(state.app)


from . import ingest, mturk, routes  # noqa: E402,F401
