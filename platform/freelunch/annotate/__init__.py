"""The worker-facing annotation page: links in, pages out, Submit stored once.

Workers have no account and, inside MTurk's iframe, no usable cookies: every
route here is csrf-exempt and identifies the worker by the signed assignment
token carried in the URL and the forms.
"""

from flask import Blueprint

from ..web.extensions import csrf

bp = Blueprint("annotate", __name__)
csrf.exempt(bp)

from . import routes  # noqa: E402,F401
