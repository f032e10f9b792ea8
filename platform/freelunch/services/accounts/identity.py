"""Keyed identities for workers: anonymised worker ids, assignment tokens, completion codes.

All three are derived with server secrets, so a worker can neither forge a
token or code nor recover anyone's raw MTurk WorkerId from what we store.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_TOKEN_SALT = "freelunch.assignment"


def _hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def anonymous_worker_id(organization_id: int, raw_worker_id: str) -> str:
    """10 upper-case hex characters: stable per worker within a tenant, different across tenants."""
    return _hmac_hex(current_app.config["WORKER_ID_KEY"], f"{organization_id}:{raw_worker_id.strip()}")[:10]


def completion_code(hit_key: str, worker_id: str, assignment_id: int) -> str:
    """6 upper-case hex characters the requester can recompute and the worker cannot forge."""
    return _hmac_hex(current_app.config["SECRET_KEY"], f"completion:{hit_key}:{worker_id}:{assignment_id}")[:6]


def browser_cookie(assignment_id: int) -> str:
    """The name of the cookie by which the browser that started an assignment is known again."""
    return f"freelunch_a{assignment_id}"


def browser_key(assignment_id: int) -> str:
    """The cookie's value: only the server can make it, and only the browser that started the assignment got it."""
    return _hmac_hex(current_app.config["SECRET_KEY"], f"browser:{assignment_id}")[:32]


def holds_browser_key(cookies, assignment_id: int) -> bool:
    return hmac.compare_digest(cookies.get(browser_cookie(assignment_id), ""), browser_key(assignment_id))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


@dataclass(frozen=True)
class TokenClaims:
    """What an assignment token vouches for: the assignment, how many pages its HIT has, until when, and how much
    pointer data a page of it and its HIT in all may store (services/ingest/budget.py; 0: the defaults)."""

    assignment_id: int
    pages: int
    expires_at: int  # epoch seconds
    hit_id: int = 0
    page_bytes: int = 0
    hit_bytes: int = 0


# Tokens made without a HIT's figures (tests, tools): any page of a HIT, for a day.
ANY_PAGES = 1000
DEFAULT_TOKEN_SECONDS = 24 * 3600


def assignment_token(
    assignment_id: int,
    pages: int = ANY_PAGES,
    seconds: int = DEFAULT_TOKEN_SECONDS,
    hit_id: int = 0,
    page_bytes: int = 0,
    hit_bytes: int = 0,
) -> str:
    """The signed token that carries a worker's identity in URLs and forms (no cookies in MTurk's iframe).

    It names the HIT's page count and expires ``seconds`` from now (the assignment's duration), so a copied
    token neither sends pointer data for pages that do not exist nor works after the assignment's time; and
    it carries its HIT and the pointer data a page and the HIT may store, which the ingest endpoint enforces
    without the database.
    """
    return _serializer().dumps([assignment_id, pages, int(time.time()) + seconds, hit_id, page_bytes, hit_bytes])


def token_claims(token: str | None) -> TokenClaims | None:
    """The claims of a genuine token, expired or not; None if it is missing, tampered or foreign."""
    if not token or len(token) > 200:
        return None
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    # Three figures: a token issued before the HIT and its bounds travelled in it.
    if not (isinstance(value, list) and len(value) in (3, 6) and all(type(v) is int for v in value)):
        return None
    return TokenClaims(*value)


def assignment_from_token(token: str | None) -> int | None:
    """The assignment id a token was signed for, or None if it is missing, tampered, foreign or expired."""
    claims = token_claims(token)
    return claims.assignment_id if claims and claims.expires_at > time.time() else None


def without_worker_id(text: str, raw_worker_id: str | None, anonymous_id: str) -> str:
    """``text`` (an MTurk error message, say) with a raw WorkerId replaced by its hash, to be stored or logged."""
    return text.replace(raw_worker_id, anonymous_id) if raw_worker_id else text
