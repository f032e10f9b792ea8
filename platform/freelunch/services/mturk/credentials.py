"""An organization's own AWS key pair for MTurk, encrypted at rest with Fernet.

The key comes from ``MTURK_CREDENTIALS_KEY``: one or more Fernet keys,
comma-separated, newest first. The first encrypts; every one decrypts, so a new
key can be put in front while ``rotate()`` (``freelunch mturk rotate-credentials``)
re-encrypts the stored secrets, after which the old key can go. Outside
production, an unset variable means a key derived from ``SECRET_KEY``, so
``make run`` needs no set-up. An organization without a key pair uses the
server's boto3 credential chain only when a site admin granted it (access.py).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from ...models import MTurkAccount, utcnow
from .errors import NO_CREDENTIALS, MTurkError


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str


def _fernet() -> MultiFernet:
    config = current_app.config
    keys = [k.strip() for k in (config.get("MTURK_CREDENTIALS_KEY") or "").split(",") if k.strip()]
    if not keys:
        if config.get("ENV_MODE") == "production":
            raise MTurkError(
                "MTURK_CREDENTIALS_KEY is not set, so organizations' AWS keys cannot be stored or read: "
                "ask the operator to set it (docs/configuration.md).",
                NO_CREDENTIALS,
            )
        derived = hashlib.sha256(f"freelunch.mturk-credentials:{config['SECRET_KEY']}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise MTurkError(
            "MTURK_CREDENTIALS_KEY is not a list of Fernet keys (32 url-safe base64 bytes each).", NO_CREDENTIALS
        ) from None


def store(organization_id: int, access_key_id: str, secret_access_key: str) -> MTurkAccount:
    """Keep (or replace) the organization's key pair; only the access key id stays readable."""
    token = _fernet().encrypt(secret_access_key.strip().encode()).decode()
    account = MTurkAccount.get_or_none(MTurkAccount.organization == organization_id)
    if account is None:
        return MTurkAccount.create(
            organization=organization_id, access_key_id=access_key_id.strip(), secret_token=token
        )
    account.access_key_id, account.secret_token, account.updated_at = access_key_id.strip(), token, utcnow()
    account.save()
    return account


def remove(organization_id: int) -> bool:
    return MTurkAccount.delete().where(MTurkAccount.organization == organization_id).execute() > 0


def load(organization_id: int | None) -> KeyPair | None:
    """The organization's key pair, or None (the caller decides whether the boto3 credential chain may be used)."""
    if organization_id is None:
        return None
    account = MTurkAccount.get_or_none(MTurkAccount.organization == organization_id)
    if account is None:
        return None
    try:
        secret = _fernet().decrypt(account.secret_token.encode()).decode()
    except InvalidToken:
        raise MTurkError(
            "The organization's stored AWS secret key cannot be decrypted with the server's "
            "MTURK_CREDENTIALS_KEY (was the key changed?): enter the key pair again.",
            NO_CREDENTIALS,
        ) from None
    return KeyPair(account.access_key_id, secret)


def rotate() -> tuple[int, int]:
    """Re-encrypt every stored secret with the first key of MTURK_CREDENTIALS_KEY: (re-encrypted, unreadable)."""
    fernet = _fernet()
    rotated = unreadable = 0
    for account in MTurkAccount.select():
        try:
            account.secret_token = fernet.rotate(account.secret_token.encode()).decode()
        except InvalidToken:
            unreadable += 1  # no key reads it: the organization must enter its keys again, as load() tells it
            continue
        account.save(only=[MTurkAccount.secret_token])
        rotated += 1
    return rotated, unreadable
