"""The site's front door: a landing page with the login for visitors, the organization's overview for members."""

from flask import Blueprint

bp = Blueprint("home", __name__)

from . import routes  # noqa: E402,F401
