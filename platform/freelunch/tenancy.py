"""The current organization of a logged-in user, and the one place that scopes queries to it.

The current organization lives in the session (``org_id``) and is checked
against the user's memberships on every request, so a removed member loses
access at once. Dashboard blueprints call ``protect(bp)``; views fetch rows with
``owned_or_404`` and list them with ``Model.owned(current_org())``.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g, request, session
from flask_login import current_user, login_required

from .models import Membership, Organization

WRITE_ROLES = ("owner", "requester")
# Names of the blueprints behind ``protect``: the tenancy tests walk all their routes.
DASHBOARD_BLUEPRINTS: set[str] = set()
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def current_membership() -> Membership | None:
    if "membership" not in g:
        g.membership = None
        if current_user.is_authenticated:
            memberships = (
                Membership.select(Membership, Organization)
                .join(Organization)
                .where(Membership.user == current_user.id)
                .order_by(Membership.id)
            )
            by_org = {m.organization_id: m for m in memberships}
            g.membership = by_org.get(session.get("org_id")) or next(iter(by_org.values()), None)
    return g.membership


def current_org() -> Organization:
    membership = current_membership()
    if membership is None:
        abort(403, "You are not a member of any organization.")
    return membership.organization


def current_role() -> str | None:
    membership = current_membership()
    return membership.role if membership else None


def can_write() -> bool:
    return current_role() in WRITE_ROLES


def switch_to(organization_id: int) -> bool:
    """Make another of the user's organizations current; False if not a member."""
    exists = (
        Membership.select()
        .where(Membership.user == current_user.id, Membership.organization == organization_id)
        .exists()
    )
    if exists:
        session["org_id"] = organization_id
        g.pop("membership", None)
    return exists


def owned_or_404(model, row_id):
    """The row of ``model`` with this id in the current organization, or 404 (never 403).

    Works for any model with an ``organization`` field, tenant rows and memberships alike.
    """
    row = model.select().where(model.organization == current_org(), model.id == row_id).first()
    if row is None:
        abort(404)
    return row


def protect(bp) -> None:
    """Require login and a membership on every view of ``bp``; viewers may only read."""
    DASHBOARD_BLUEPRINTS.add(bp.name)

    @bp.before_request
    @login_required
    def _tenant_guard():
        current_org()
        if request.method not in SAFE_METHODS and not can_write():
            abort(403, "Viewers can look but not change anything.")


def role_required(*roles: str):
    """Limit a view to some roles of the current organization (e.g. owners for members)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_role() not in roles:
                abort(403, f"This needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
