"""How often the account endpoints may be tried: per address, and per account for password guesses.

Per-address limits count every attempt (a bot trying many accounts); per-account
limits count only failures (a bot trying many passwords on one account, from
many addresses), so the account's owner, who gets in, is never held up. Both
live in Redis through Flask-Limiter; a refusal is a 429 with Retry-After.
"""

from __future__ import annotations

from flask import Response, request

from ..extensions import limiter
from ..services.accounts.users import normalise_email

PER_ADDRESS = {
    "login": "20 per minute; 200 per hour",
    "signup": "5 per minute; 20 per hour",
    "invite": "10 per minute; 50 per hour",
    "password": "10 per minute; 50 per hour",
}
FAILURES_PER_ACCOUNT = "5 per minute; 30 per hour"
MESSAGE = "Too many attempts. Wait a minute, then try again."


def _account() -> str:
    return "account:" + normalise_email(request.form.get("email", ""))[:254]


def _failed(response: Response) -> bool:
    return response.status_code != 302  # every success redirects


def per_address(name: str):
    return limiter.limit(PER_ADDRESS[name], methods=["POST"], scope=f"address:{name}", error_message=MESSAGE)


def failures_per_account(key_func=_account):
    return limiter.limit(
        FAILURES_PER_ACCOUNT,
        key_func=key_func,
        methods=["POST"],
        scope="account",
        deduct_when=_failed,
        error_message=MESSAGE,
    )
