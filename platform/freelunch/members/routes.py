from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..models import Invite, Membership, User, utcnow
from ..tenancy import current_org, owned_or_404, role_required
from . import bp
from .forms import RoleForm


def _page(invite_form=None, **extra):
    organization = current_org()
    members = (
        Membership.select(Membership, User)
        .join(User)
        .where(Membership.organization == organization)
        .order_by(User.email)
    )
    invites = Invite.select().where(
        Invite.organization == organization, Invite.used_at.is_null(), Invite.expires_at > utcnow()
    )
    return render_template(
        "members/index.html",
        members=members,
        invites=invites.order_by(Invite.created_at.desc()),
        invite_form=invite_form or RoleForm(),
        **extra,
    )


@bp.get("/")
def index():
    return _page()


@bp.post("/invites")
@role_required("owner")
def create_invite():
    form = RoleForm()
    if not form.validate_on_submit():
        return _page(invite_form=form), 400
    invite = Invite.create(organization=current_org(), role=form.role.data, created_by=current_user.id)
    flash("Invite link created. Copy it and send it to the new member.", "success")
    return _page(new_invite=invite)


@bp.post("/invites/<int:invite_id>/revoke")
@role_required("owner")
def revoke_invite(invite_id):
    owned_or_404(Invite, invite_id).delete_instance()
    flash("Invite revoked.", "success")
    return redirect(url_for("members.index"))


@bp.post("/<int:membership_id>/role")
@role_required("owner")
def change_role(membership_id):
    membership = owned_or_404(Membership, membership_id)
    form = RoleForm()
    if form.validate_on_submit():
        if membership.user_id == current_user.id and form.role.data != "owner":
            flash("You cannot demote yourself; ask another owner.", "error")
        else:
            membership.role = form.role.data
            membership.save()
            flash(f"{membership.user.email} is now {membership.role}.", "success")
    return redirect(url_for("members.index"))


@bp.post("/<int:membership_id>/remove")
@role_required("owner")
def remove(membership_id):
    membership = owned_or_404(Membership, membership_id)
    if membership.user_id == current_user.id:
        flash("You cannot remove yourself.", "error")
    else:
        membership.delete_instance()
        flash(f"{membership.user.email} was removed.", "success")
    return redirect(url_for("members.index"))
