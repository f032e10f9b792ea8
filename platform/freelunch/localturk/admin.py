"""``/_localturk``: look at the stand-in's state, inject faults and move its clock, over HTTP.

For a stand-in run as its own process (``make run``, a subprocess in a test);
in-process tests use the ``Store`` directly. These endpoints show every worker's
id and move the clock, so they answer only a request that carries the token the
stand-in was started with (``LOCALTURK_ADMIN_TOKEN``, sent as ``Authorization:
Bearer <token>``); with no token set they are off (404).
"""

from __future__ import annotations

import hmac
from dataclasses import asdict

from flask import Blueprint, abort, current_app, jsonify, request

from .store import Faults
from .wire import store

bp = Blueprint("localturk_admin", __name__, url_prefix="/_localturk")


@bp.before_request
def _only_with_the_token():
    token = current_app.config.get("LOCALTURK_ADMIN_TOKEN") or ""
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        return jsonify(error="send Authorization: Bearer $LOCALTURK_ADMIN_TOKEN"), 401
    return None


@bp.get("/state")
def state():
    with store().lock:
        store().catch_up()
        return jsonify(
            hits=[asdict(h) for h in store().hits.values()],
            assignments=[asdict(a) for a in store().assignments.values()],
            bonuses=[asdict(b) for b in store().bonuses],
            blocks=store().blocks,
            messages=store().messages,
            events=store().events,
            submissions=store().submissions,
            faults=asdict(store().faults),
            now=store().now(),
        )


@bp.post("/faults")
def faults():
    """Body: ``{"throttle_first": true, "drop_creates": 1}``; replaces the current faults."""
    body = request.get_json(silent=True) or {}
    try:
        new = Faults(
            throttle_first=bool(body.get("throttle_first", False)), drop_creates=int(body.get("drop_creates", 0))
        )
    except (TypeError, ValueError):
        return jsonify(error="drop_creates must be a whole number"), 400
    with store().lock:
        store().faults = new
    return jsonify(asdict(new))


@bp.post("/clock")
def clock():
    """Body: ``{"advance": seconds}``: deadlines, auto-approvals and token windows pass without waiting."""
    body = request.get_json(silent=True) or {}
    try:
        seconds = float(body["advance"])
    except (KeyError, TypeError, ValueError):
        return jsonify(error='send {"advance": seconds}'), 400
    store().advance(seconds)
    return jsonify(now=store().now())
