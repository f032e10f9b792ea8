from flask import current_app, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..services.overview import overview
from ..tenancy import current_membership, current_org
from ..web import partials
from ..web.forms import LoginForm
from . import bp


@bp.get("/")
def index():
    """Visitors get the landing page, site admins without an organization the admin area, members their overview."""
    if not current_user.is_authenticated:
        return render_template("home/landing.html", form=LoginForm(), open_signup=current_app.config["OPEN_SIGNUP"])
    if current_membership() is None and current_user.is_admin:
        return redirect(url_for("admin.index"))
    return _overview()


@bp.get("/overview")
@login_required
def overview_partial():
    """The overview's batches and needs, polled while the page is open."""
    return _overview()


def _overview():
    return partials.render("home/index.html", "home/_overview.html", overview=overview(current_org()))
