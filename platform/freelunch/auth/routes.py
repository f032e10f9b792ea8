from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..models import Invite
from ..services.accounts.users import AccountError, accept_invite, authenticate, create_user, sign_up
from ..tenancy import switch_to
from . import bp
from .forms import InviteSignupForm, LoginForm, SignupForm


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    # Only same-site paths: an absolute URL here would be an open redirect.
    return target if target.startswith("/") and not target.startswith("//") else default


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            login_user(user)
            session.pop("org_id", None)
            return redirect(_safe_next(url_for("home.index")))
        form.password.errors.append("Wrong email or password.")
    return render_template("auth/login.html", form=form, open_signup=current_app.config["OPEN_SIGNUP"])


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if not current_app.config["OPEN_SIGNUP"]:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = sign_up(form.email.data, form.password.data, form.organization.data, form.name.data)
        except AccountError as error:
            form.email.errors.append(str(error))
        else:
            login_user(user)
            flash(f"Welcome to Freelunch. {form.organization.data} is ready.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/signup.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token):
    invitation = Invite.get_or_none(Invite.token == token)
    if invitation is None or invitation.used_at is not None:
        return render_template("auth/invite_invalid.html"), 404
    form = InviteSignupForm()
    if request.method == "POST" and current_user.is_authenticated:
        accept_invite(invitation, current_user._get_current_object())
        switch_to(invitation.organization_id)
        flash(f"You joined {invitation.organization.name} as {invitation.role}.", "success")
        return redirect(url_for("datasets.index"))
    if not current_user.is_authenticated and form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.password.data, form.name.data)
        except AccountError as error:
            form.email.errors.append(f"{error} Log in first, then open the invite link again.")
        else:
            accept_invite(invitation, user)
            login_user(user)
            switch_to(invitation.organization_id)
            flash(f"Welcome. You joined {invitation.organization.name} as {invitation.role}.", "success")
            return redirect(url_for("datasets.index"))
    return render_template("auth/invite.html", invite=invitation, form=form)


@bp.route("/switch/<int:organization_id>", methods=["POST"])
@login_required
def switch(organization_id):
    if not switch_to(organization_id):
        abort(404)
    return redirect(url_for("datasets.index"))
