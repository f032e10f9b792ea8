"""Freelunch: crowdsourced image labelling that keeps the annotation byproducts."""

from __future__ import annotations

from flask import Flask

from . import config
from .db import database, open_database
from .web import log_redaction, partials
from .web.errors import IdConverter
from .web.extensions import csrf, htmx, limiter, login_manager


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment; ``overrides`` wins, for tests."""
    app = Flask(
        __name__,
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
    )
    app.url_map.converters["int"] = IdConverter  # before any route: ids past 64 bits are a 404
    app.config.update(config.load())
    app.config.update(overrides or {})
    app.config.setdefault("RATELIMIT_STORAGE_URI", config.limits_storage(app.config["REDIS_URL"]))

    open_database(app.config["DATABASE_URL"])
    log_redaction.install()
    csrf.init_app(app)
    htmx.init_app(app)
    partials.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    # No connect in before_request: peewee connects on a request's first query,
    # so requests that never query (the ingest endpoint, static files) cost no
    # connection, no pragmas, and never wait on a locked database.
    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()

    from . import (
        admin,
        annotate,
        auth,
        batches,
        datasets,
        formatting,
        help_pages,
        home,
        ingest_middleware,
        job_progress,
        media,
        members,
        mturk,
        review,
    )
    from .web import errors, headers, navigation, query_urls, request_log

    request_log.install(app)

    for module in (
        home,
        help_pages,
        auth,
        members,
        datasets,
        batches,
        admin,
        media,
        mturk,
        annotate,
        job_progress,
        review,
    ):
        app.register_blueprint(module.bp)
    ingest_middleware.install(app)  # POST /api/ingest, answered before Flask (ingest_middleware/fastpath.py)
    errors.register(app)
    headers.register(app)
    navigation.register(app)
    query_urls.register(app)
    formatting.register(app)
    return app
