"""Site admins grant (and revoke) an organization the server's MTurk account, and set its daily MTurk limit.

Every grant records who made it and when; revoking keeps the record. The
decisions themselves live in services/mturk/access.py and budget.py.
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import NumberRange, Optional

from ..models import Organization
from ..parsing import PlainDecimalField
from ..services.mturk import access
from ..web.forms import Form, at_most, whole_cents
from . import bp


class GrantForm(Form):
    note = StringField("Why (kept with the grant)", validators=[at_most(500, "A grant's note")])


class LimitForm(Form):
    daily_limit = PlainDecimalField(
        "Daily MTurk limit (USD)",
        places=2,
        validators=[Optional(), NumberRange(0, 99_999_999, "From 0 to 99,999,999 dollars.")],
        description="Empty: the site default (MTURK_DAILY_LIMIT).",
    )

    def validate_daily_limit(self, field):
        whole_cents(field, "The daily limit")


def _organization(organization_id: int) -> Organization:
    org = Organization.get_or_none(Organization.id == organization_id)
    if org is None:
        abort(404, "There is no such organization.")
    return org


def _back():
    return redirect(url_for("admin.index") + "#mturk-accounts")


@bp.post("/organizations/<int:organization_id>/mturk/grant")
def grant_server_account(organization_id):
    org = _organization(organization_id)
    form = GrantForm()
    if not form.validate_on_submit():
        flash("The form expired or the note is too long: reload the page and try again.", "error")
        return _back()
    _, new = access.grant(org, current_user.email, form.note.data or "")
    flash(
        f"{org.name} may now use the server's MTurk account." if new else f"{org.name} had the grant already.",
        "success",
    )
    return _back()


@bp.post("/organizations/<int:organization_id>/mturk/revoke")
def revoke_server_account(organization_id):
    org = _organization(organization_id)
    if not GrantForm().validate_on_submit():
        flash("The form expired: reload the page and try again.", "error")
        return _back()
    if access.revoke(org, current_user.email):
        flash(f"{org.name} may no longer use the server's MTurk account.", "success")
    return _back()


@bp.post("/organizations/<int:organization_id>/mturk/limit")
def set_daily_limit(organization_id):
    org = _organization(organization_id)
    form = LimitForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"{org.name}: {error}", "error")
        return _back()
    org.mturk_daily_limit = form.daily_limit.data
    org.save(only=[Organization.mturk_daily_limit])
    flash(
        f"{org.name}'s daily MTurk limit is now "
        + (f"${org.mturk_daily_limit:.2f}." if org.mturk_daily_limit is not None else "the site default."),
        "success",
    )
    return _back()
