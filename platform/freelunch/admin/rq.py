"""rq-dashboard at /admin/rq, behind the admin area's own guard.

rq-dashboard is its own blueprint (it cannot nest in ours), so the guard is
attached to it per app. Its buttons POST with jQuery and no CSRF token: we
exempt it from Flask-WTF and instead refuse any POST whose Origin (or Referer)
is not this site, which stops cross-site forgeries just as well.

Its pages put job fields (description, meta, result, traceback) into the page
with unescaped underscore templates. Our jobs keep user text out of
descriptions and meta (services/jobs.py), but results and tracebacks quote it,
so every string in the monitor's JSON is HTML-escaped on the way out (the
templates then show it as text), and the headers module's CSP refuses inline
script besides.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

import rq_dashboard
from flask import Flask, Response, abort, request
from flask_login import current_user
from rq_dashboard.web import setup_rq_connection

from ..web.extensions import csrf, login_manager

URL_PREFIX = "/admin/rq"


def mount(app: Flask) -> None:
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    setup_rq_connection(app)
    csrf.exempt(rq_dashboard.blueprint)
    app.before_request_funcs.setdefault(rq_dashboard.blueprint.name, []).insert(0, _admins_only)
    app.after_request_funcs.setdefault(rq_dashboard.blueprint.name, []).append(_escape_json)


def _admins_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403, "Only site admins may open the queue monitor.")
    if request.method == "POST" or request.endpoint == "rq_dashboard.requeue_all":  # that one acts on GET too
        origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if urlsplit(origin).netloc != request.host:
            abort(403, "Queue actions must come from this site's own pages.")
    return None


def _escaped(value):
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def _escape_json(response: Response) -> Response:
    if response.is_json and not response.direct_passthrough:
        response.set_data(json.dumps(_escaped(response.get_json())))
    return response
