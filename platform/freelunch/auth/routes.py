from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..services.accounts.users import (
    AccountError,
    InviteUsed,
    accept_invite,
    authenticate,
    end_sessions,
    sign_up,
    sign_up_with_invite,
    take_sign_up_notice,
    usable_invite,
)
from ..services.accounts.users import (
    change_password as change_account_password,
)
from ..tenancy import switch_to
from ..web.forms import LoginForm
from . import bp, limits
from .forms import InviteSignupForm, PasswordChangeForm, SignupForm


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


def start_session(user) -> None:
    """Log the user in for a session that ends after PERMANENT_SESSION_LIFETIME without a request."""
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limits.per_address("login")
@limits.login_failures()
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET" and not form.email.data:
        form.email.data = request.args.get("email", "")[:254]
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            start_session(user)
            session.pop("org_id", None)
            attempted = take_sign_up_notice(user)
            if attempted:
                flash(
                    f"Someone tried to sign up with your email on {attempted}. Nothing changed; "
                    "if it was not you, no action is needed.",
                    "info",
                )
            response = redirect(safe_next(request.args.get("next"), url_for("home.index")))
            return limits.remember_browser(response, user.email)
        form.password.errors.append("Wrong email or password.")
    return render_template("auth/login.html", form=form, open_signup=current_app.config["OPEN_SIGNUP"])


@bp.route("/signup", methods=["GET", "POST"])
@limits.per_address("signup")
def signup():
    if not current_app.config["OPEN_SIGNUP"]:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        # One answer whether or not the email had an account, so sign-up never tells (issue 18): the new
        # user logs in with the password they just chose; an existing one hears of it at their next login.
        sign_up(form.email.data, form.password.data, form.organization.data, form.name.data)
        flash(
            "Thank you. If this email was new, your account and organization are ready: log in with the password "
            "you chose. If it already had an account, nothing changed: log in with that account's password.",
            "success",
        )
        return redirect(url_for("auth.login", email=form.email.data))
    return render_template("auth/signup.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        end_sessions(current_user._get_current_object())  # a copied cookie dies with this one
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limits.per_address("invite")
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
            start_session(user)
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


def _current_account() -> str:
    return "account:" + current_user.email


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limits.per_address("password")
@limits.failures_per_account(_current_account)
def change_password():
    """A new password ends every other session of the account; this one goes on."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_account_password(user, form.current.data, form.password.data)
        except AccountError as error:
            form.current.errors.append(str(error))
        else:
            start_session(user)
            flash("Password changed. Every other session of your account has ended.", "success")
            return redirect(url_for("datasets.index"))
    return render_template("auth/password.html", form=form)
