"""Links that keep a list's query (its page, sort and filters): the one way pages build them.

The query is encoded here and never handed to ``url_for`` as keyword arguments, where a ``_method``,
``_external`` or ``_anchor`` in a stranger's query, or a key named like a route value (``batch_id``), would be
taken for url_for's own and fail (a 500).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request, url_for


def url_with_query(endpoint: str | None = None, route: dict | None = None, drop: tuple = (), **changes) -> str:
    """``endpoint`` (the request's by default) with ``route`` values (the request's by default) and the request's
    query, less the keys in ``drop``, with ``changes`` set (None removes a key)."""
    query = [(key, value) for key, value in request.args.items(multi=True) if key not in drop and key not in changes]
    query += [(key, str(value)) for key, value in changes.items() if value is not None]
    base = url_for(endpoint or request.endpoint, **(request.view_args if route is None else route))
    return f"{base}?{urlencode(query)}" if query else base


def register(app: Flask) -> None:
    app.jinja_env.globals["url_with_query"] = url_with_query
