"""Which passwords we accept, and checking one in the same time whether or not its account exists.

A password needs ``MIN_LENGTH`` characters and must not be on the shipped list
of common (breached) passwords (data/README.md says where it comes from).
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 200


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files(__package__).joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused, or None if it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords():
        return "This password is one of the most common ones; choose another."
    local = email.partition("@")[0].lower()
    if len(local) >= 3 and local in lowered:
        return "Your password must not contain your email address."
    return None


def _method() -> str:
    # Outside an app (a script with the models alone) Werkzeug's default stands.
    return current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"


def hashed(password: str) -> str:
    return generate_password_hash(password, method=_method())


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not anybody's password", method=method)


def check(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; an unknown account (None) costs the same hash, so timing tells nothing."""
    if password_hash is None:
        check_password_hash(_dummy_hash(_method()), password)
        return False
    return check_password_hash(password_hash, password)
