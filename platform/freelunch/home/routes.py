from flask import current_app, redirect, render_template, url_for
from flask_login import current_user

from ..auth.forms import LoginForm
from ..tenancy import current_membership
from . import bp


@bp.get("/")
def index():
    """Visitors get the landing page, site admins without an organization the admin area, members their overview."""
    if not current_user.is_authenticated:
        return render_template("home/landing.html", form=LoginForm(), open_signup=current_app.config["OPEN_SIGNUP"])
    if current_membership() is None and current_user.is_admin:
        return redirect(url_for("admin.index"))
    return redirect(url_for("batches.index"))
