"""Security headers on every response: a Content-Security-Policy per kind of page, framing rules, nosniff, HSTS.

Three kinds of page: the dashboard (never framed), the worker's annotation page
(framed by MTurk only) and the RQ monitor (never framed; its templates use
underscore.js, which compiles them with ``new Function``, so it alone may eval).
No page runs inline script: ours load static files only, and the monitor's one
inline block carries this request's nonce (templates/rq_dashboard/base.html), so
markup injected into a page cannot run, whatever an upstream template forgets
to escape.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

# Where MTurk shows an ExternalQuestion's iframe: the worker sites and the requester sandbox's preview.
MTURK_FRAME_HOSTS = (
    "https://www.mturk.com",
    "https://worker.mturk.com",
    "https://workersandbox.mturk.com",
    "https://requestersandbox.mturk.com",
)
HSTS = "max-age=31536000; includeSubDomains"
WORKER_BLUEPRINTS = {"annotate"}
MONITOR_BLUEPRINTS = {"rq_dashboard"}


def csp_nonce() -> str:
    """This request's nonce for the few inline scripts we trust (the monitor's)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def mturk_origins() -> list[str]:
    """MTurk's hosts, plus the local MTurk stand-in (MTURK_ENDPOINT_URL) outside production."""
    origins = list(MTURK_FRAME_HOSTS)
    local = _origin(current_app.config.get("MTURK_ENDPOINT_URL"))
    if local and current_app.config.get("ENV_MODE") != "production":
        origins.append(local)
    return origins


def _policy(script_src: str, frame_ancestors: str, form_action: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script_src}",
            "style-src 'self' 'unsafe-inline'",  # htmx injects its indicator style; styles cannot run code
            "img-src * data: blob:",  # datasets may list images by external URL
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            f"frame-ancestors {frame_ancestors}",
        )
    )


def content_security_policy(blueprint: str | None) -> str:
    nonce = f"'nonce-{csp_nonce()}'"
    if blueprint in WORKER_BLUEPRINTS:
        mturk = " ".join(mturk_origins())
        return _policy(f"'self' {nonce}", mturk, f"'self' {mturk}")  # the completion form posts to MTurk
    if blueprint in MONITOR_BLUEPRINTS:
        return _policy(f"'self' {nonce} 'unsafe-eval'", "'none'", "'self'")
    return _policy(f"'self' {nonce}", "'none'", "'self'")


def _secure() -> bool:
    return request.is_secure or current_app.config.get("PUBLIC_URL", "").startswith("https://")


def add_headers(response: Response) -> Response:
    blueprint = request.blueprint
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(blueprint))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Worker pages carry the assignment token in their URL: it must not leak to image hosts.
    headers.setdefault("Referrer-Policy", "no-referrer" if blueprint in WORKER_BLUEPRINTS else "same-origin")
    if blueprint not in WORKER_BLUEPRINTS:
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
    if _secure():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    app.after_request(add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
