"""Serving locally stored media (``/media/<path>``) to a requester's browser.

It serves only URLs that storage.py signed and that have not expired, and needs no
session. Workers' pages never use it (its URLs name the stored path): they load images
by ref from the annotate blueprint. On S3 browsers get pre-signed URLs instead.
"""

from flask import Blueprint

bp = Blueprint("media", __name__)

from . import routes  # noqa: E402,F401
