"""A local stand-in for Amazon Mechanical Turk, for ``make run``, demos and tests; development only.

It speaks MTurk's requester API on the real wire protocol (``wire``), so an
unmodified boto3 client with ``endpoint_url=MTURK_ENDPOINT_URL`` talks to it,
checks every request against botocore's service model, applies MTurk's rules
(``requester``), and serves a small worker site (``worker_site``) with
``/mturk/externalSubmit``. State lives in memory behind one lock, optionally
saved to a JSON file (``store``). Faults can be injected (``store.Faults``) and
time moved forward (``/_localturk``, ``admin``). docs/local-mturk.md says what
it models and what it does not.

Run it alone with ``python -m freelunch.localturk --port 8900``. It refuses to
start unless FREELUNCH_ENV is development or testing, and binds loopback only.
"""

from __future__ import annotations

import datetime
import os
import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..config import ROOT
from .store import Faults, Store

ALLOWED_MODES = ("development", "testing")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class NotInDevelopment(RuntimeError):
    """The stand-in was asked to run outside development or testing, or to listen beyond loopback."""


def ensure_development(env: dict | os._Environ | None = None, host: str = "127.0.0.1") -> None:
    env = os.environ if env is None else env
    mode = env.get("FREELUNCH_ENV", "development")
    if mode not in ALLOWED_MODES:
        raise NotInDevelopment(f"The local MTurk runs only with FREELUNCH_ENV=development or testing, not {mode!r}.")
    if host not in LOOPBACK:
        raise NotInDevelopment(f"The local MTurk listens on loopback only, not {host!r}.")


def create_app(store: Store | None = None) -> Flask:
    """The stand-in's own Flask app (nothing shared with the platform's), serving ``store``."""
    ensure_development()
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=None)
    app.extensions["localturk"] = store if store is not None else Store()
    app.config["LOCALTURK_ADMIN_TOKEN"] = os.environ.get("LOCALTURK_ADMIN_TOKEN", "")  # /_localturk (admin.py)
    app.jinja_env.filters["when"] = lambda t: datetime.datetime.fromtimestamp(t, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M UTC"
    )

    from . import admin, wire, worker_site

    for module in (wire, worker_site, admin):
        app.register_blueprint(module.bp)
    return app


class _SilentHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # tests make thousands of calls
        pass


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Only refusals and failures: ``make run`` stays readable."""
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


HANDLERS = {"all": WSGIRequestHandler, "failures": _QuietHandler, "none": _SilentHandler}


def serve(store: Store, host: str = "127.0.0.1", port: int = 0, log: str = "all") -> BaseWSGIServer:
    """A threaded server for ``store`` on ``host:port`` (0 picks a free port); call ``serve_forever``.

    ``log``: which requests to log, ``all``, ``failures`` (4xx and 5xx) or ``none``.
    """
    ensure_development(host=host)
    return make_server(host, port, create_app(store), threaded=True, request_handler=HANDLERS[log])


def serve_in_thread(store: Store, log: str = "none") -> tuple[BaseWSGIServer, threading.Thread]:
    """Start a server on a free loopback port in a daemon thread; ``server.shutdown()`` stops it."""
    server = serve(store, log=log)
    thread = threading.Thread(target=server.serve_forever, name="localturk", daemon=True)
    thread.start()
    return server, thread


__all__ = ["Faults", "NotInDevelopment", "Store", "create_app", "serve", "serve_in_thread"]
