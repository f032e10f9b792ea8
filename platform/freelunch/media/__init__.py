"""Serving locally stored media (``/media/<path>``) to browsers, workers included.

Workers load images inside MTurk's iframe without a session, so this
blueprint needs none: it serves only URLs that storage.py signed and that
have not expired. On S3 browsers get pre-signed URLs instead and never come here.
"""

from flask import Blueprint

bp = Blueprint("media", __name__)

from . import routes  # noqa: E402,F401
