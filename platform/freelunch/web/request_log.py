"""The access log a person reads: only requests that failed or were slow.

Every request logged would bury the few that matter (an idle batch page polls
every 5 s, an annotator's page posts pointer batches every second), so requests
that answered below 400 within ``REQUEST_LOG_SLOW_MS`` are not logged.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request

log = logging.getLogger("freelunch.requests")


def install(app: Flask) -> None:
    slow_ms = app.config["REQUEST_LOG_SLOW_MS"]
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))  # the process manager or log router adds the time
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO)
    # The development server's own line per request (werkzeug, INFO) is what this log replaces.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @app.before_request
    def _start_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_if_worth_reading(response):
        started = g.pop("request_started", None)
        ms = 1000 * (time.perf_counter() - started) if started is not None else 0.0
        if response.status_code >= 400 or ms >= slow_ms:
            log.log(
                logging.WARNING if response.status_code >= 500 else logging.INFO,
                "%s %s %s %.0f ms%s",
                request.method,
                _path(),
                response.status_code,
                ms,
                " (slow)" if ms >= slow_ms else "",
            )
        return response


def _path() -> str:
    """The path without secrets: no query string (signed assignment ids), tokens in the path (lab links) elided."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if "token" in name and isinstance(value, str) and value:
            path = path.replace(value, "…")
    return path
