"""A WSGI app in front of Flask for endpoints that need none of Flask's request machinery.

A handler takes the Flask app (for its config) and the WSGI environ and returns
(status, JSON body, extra headers). Every other path, and every method but POST
on these paths, goes on to Flask unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus

import orjson
from flask import Flask

from .endpoint import Answer, ingest

Handler = Callable[[Flask, Mapping], Answer]
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class FastPath:
    def __init__(self, app: Flask, routes: dict[str, Handler]):
        self.app, self.routes, self.flask = app, routes, app.wsgi_app

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        handler = self.routes.get(environ.get("PATH_INFO", ""))
        if handler is None:
            return self.flask(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            status, body, headers = 405, _error("Method Not Allowed", "Use POST."), [("Allow", "POST")]
        else:
            try:
                status, body, headers = handler(self.app, environ)
            except Exception:  # a bug must still answer in JSON, and be logged
                self.app.logger.exception("Unhandled error on %s", environ.get("PATH_INFO"))
                status, body, headers = 500, _error("Internal Server Error", "Something went wrong on our side."), []
        start_response(
            STATUS_LINES[status],
            [
                ("Content-Type", "application/json"),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Length", str(len(body))),
                *headers,
            ],
        )
        return [body]


def _error(error: str, message: str) -> bytes:
    return orjson.dumps({"error": error, "message": message})


def install(app: Flask, extra: dict[str, Handler] | None = None) -> FastPath:
    """Answer POST /api/ingest (and ``extra`` paths) before Flask does."""
    fast = FastPath(app, {"/api/ingest": ingest, **(extra or {})})
    app.wsgi_app = fast
    return fast
