from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..services.accounts.users import (AccountError, InviteUsed, end_sessions, accept_invite, authenticate, sign_up,
                                       sign_up_with_invite, usable_invite)
from ..tenancy import switch_to
from . import bp
from .forms import InviteSignupForm, LoginForm, SignupForm


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: an absolute URL here would be an open redirect.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash,
    so ``/\\evil.example`` and ``/%09/evil.example`` lead off-site as ``//`` does;
    anything with a control character or a backslash is refused outright.
    """
    if not target or len(target) > 2000 or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


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
            return redirect(safe_next(request.args.get("next"), url_for("home.index")))
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
    if current_user.is_authenticated:
        end_sessions(current_user._get_current_object())  # a copied cookie dies with this one
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token):
    invitation = usable_invite(token)
    if invitation is None:
        return render_template("auth/invite_invalid.html"), 404
    form = InviteSignupForm()
    if request.method == "POST" and current_user.is_authenticated:
        try:
            accept_invite(invitation, current_user._get_current_object())
        except InviteUsed:
            return render_template("auth/invite_invalid.html"), 404
        switch_to(invitation.organization_id)
        flash(f"You joined {invitation.organization.name} as {invitation.role}.", "success")
        return redirect(url_for("datasets.index"))
    if not current_user.is_authenticated and form.validate_on_submit():
        try:
            user = sign_up_with_invite(invitation, form.email.data, form.password.data, form.name.data)
        except InviteUsed:
            return render_template("auth/invite_invalid.html"), 404
        except AccountError as error:
            form.email.errors.append(f"{error} Log in first, then open the invite link again.")
        else:
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
