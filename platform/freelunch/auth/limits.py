"""How often the account endpoints may be tried: per address, per (account, address), and per account.

Per-address limits count every attempt (a bot trying many accounts). Password
guesses are counted only when they fail, so an owner who gets in is never held
up, and in two ways:

- per (account, address): one address guessing one account is refused after a
  few failures; this costs the owner nothing when they log in from elsewhere.
- per account, from browsers the account has never logged in from: many
  addresses guessing one account are slowed down. A browser that logged in to
  the account before carries a signed device cookie and skips this limit, so a
  distributed guesser cannot lock the owner out of their own browser.

The email counted is the one the login form reads, whichever way it was posted
(form-encoded, multipart or a JSON body, where a list's first email is the form's). Counts live in Redis through
Flask-Limiter; a refusal is a 429 with Retry-After.
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..services.accounts.users import normalise_email
from ..web.extensions import limiter
from ..web.forms import posted_fields

PER_ADDRESS = {
    "login": "20 per minute; 200 per hour",
    "signup": "5 per minute; 20 per hour",
    "invite": "10 per minute; 50 per hour",
    "password": "10 per minute; 50 per hour",
}
FAILURES_PER_ACCOUNT_AND_ADDRESS = "5 per minute; 30 per hour"
FAILURES_PER_ACCOUNT_FROM_NEW_BROWSERS = "20 per minute; 100 per hour"
MESSAGE = "Too many attempts. Wait a minute, then try again."

DEVICE_COOKIE = "freelunch_device"
DEVICE_COOKIE_DAYS = 180


def submitted_email() -> str:
    """The email of a posted form exactly as the form reads it (web/forms.posted_fields), however it was posted."""
    fields = posted_fields()
    email = fields.get("email") if fields is not None else None
    return normalise_email(email)[:254] if email is not None else ""


def _account() -> str:
    return "account:" + submitted_email()


def _account_and_address() -> str:
    return f"account:{submitted_email()}|address:{get_remote_address()}"


def _failed(response: Response) -> bool:
    return response.status_code != 302  # every success redirects


def per_address(name: str):
    return limiter.limit(PER_ADDRESS[name], methods=["POST"], scope=f"address:{name}", error_message=MESSAGE)


def failures_per_account(key_func=_account):
    """Failures on one account, whatever the address (the password change, where the session is the account)."""
    return limiter.limit(
        FAILURES_PER_ACCOUNT_AND_ADDRESS,
        key_func=key_func,
        methods=["POST"],
        scope="account",
        deduct_when=_failed,
        error_message=MESSAGE,
    )


def login_failures():
    """The login form's two failure limits (see the module's docstring), applied together."""
    per_account_and_address = limiter.limit(
        FAILURES_PER_ACCOUNT_AND_ADDRESS,
        key_func=_account_and_address,
        methods=["POST"],
        scope="login:account-address",
        deduct_when=_failed,
        error_message=MESSAGE,
    )
    per_account = limiter.limit(
        FAILURES_PER_ACCOUNT_FROM_NEW_BROWSERS,
        key_func=_account,
        methods=["POST"],
        scope="login:account",
        deduct_when=_failed,
        exempt_when=_known_browser,
        error_message=MESSAGE,
    )
    return lambda view: per_account_and_address(per_account(view))


# --- the device cookie ---------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="freelunch-login-device")


def _fingerprint(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]  # the cookie never carries the email itself


def _known_browser() -> bool:
    cookie = request.cookies.get(DEVICE_COOKIE)
    email = submitted_email()
    if not cookie or not email:
        return False
    try:
        accounts = _serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadSignature:
        return False
    return isinstance(accounts, list) and _fingerprint(email) in accounts


def remember_browser(response: Response, email: str) -> Response:
    """Mark this browser as one the account logged in from (a few accounts per browser, the latest kept)."""
    accounts = []
    cookie = request.cookies.get(DEVICE_COOKIE)
    if cookie:
        try:
            loaded = _serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
            accounts = [a for a in loaded if isinstance(a, str)] if isinstance(loaded, list) else []
        except BadSignature:
            pass
    fingerprint = _fingerprint(normalise_email(email))
    accounts = ([a for a in accounts if a != fingerprint] + [fingerprint])[-5:]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(accounts),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        samesite="Lax",
    )
    return response
