"""The one way to MTurk: a boto3 client per organization and environment, and ``call`` for every request.

``call`` checks the request against botocore's model first (validation.py),
then sends it with botocore's standard retries (throttling is normal on MTurk:
exponential backoff with jitter), and turns any failure into an MTurkError of
one plain sentence with MTurk's code kept (errors.py). Never call it inside a
database transaction: a slow or retried call would hold the transaction open,
and a rollback would forget that MTurk acted.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from ...db import database
from . import access, credentials
from .errors import MTurkError, translate
from .validation import validate

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
REGION = "us-east-1"  # MTurk's only region
RETRIES = {"mode": "standard", "total_max_attempts": 6}  # the first try and 5 retries, backing off up to 20 s
CLIENT_CONFIG = Config(retries=RETRIES, connect_timeout=10, read_timeout=60, region_name=REGION)


def default_sandbox() -> bool:
    return bool(current_app.config["MTURK_SANDBOX"])


def endpoint(sandbox: bool) -> str:
    """``MTURK_ENDPOINT_URL`` (a local stand-in, say) wins over the sandbox/production choice."""
    return current_app.config.get("MTURK_ENDPOINT_URL") or (SANDBOX_ENDPOINT if sandbox else PRODUCTION_ENDPOINT)


def is_local_endpoint(url: str | None = None) -> bool:
    """Whether requests go to a server on this machine (the development stand-in), not to Amazon."""
    host = urlsplit(url or endpoint(True)).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_stand_in_origin() -> str | None:
    """``scheme://host:port`` of the local MTurk stand-in MTURK_ENDPOINT_URL names, outside production; else None.

    Workers' pages let that origin frame them and take it as ``turkSubmitTo`` (docs/local-mturk.md).
    """
    url = current_app.config.get("MTURK_ENDPOINT_URL")
    if not url or current_app.config.get("ENV_MODE") == "production" or not is_local_endpoint(url):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def client(organization_id: int | None = None, sandbox: bool | None = None):
    """A boto3 MTurk client with the organization's key pair, or the server's credential chain when it was granted.

    ``None`` is the operator at the command line, who uses the server's account knowingly. An organization
    with neither a key pair nor a grant gets an MTurkError (access.NO_ACCOUNT_SENTENCE) and no client.
    """
    sandbox = default_sandbox() if sandbox is None else sandbox
    keys = credentials.load(organization_id) if access.require_or_operator(organization_id) == access.OWN else None
    extra = {"aws_access_key_id": keys.access_key_id, "aws_secret_access_key": keys.secret_access_key} if keys else {}
    return boto3.session.Session().client("mturk", endpoint_url=endpoint(sandbox), config=CLIENT_CONFIG, **extra)


def call(mturk, operation: str, action: str, **params) -> dict:
    """``mturk.<operation>(**params)`` after checking them against the model; ``action`` names it in errors."""
    if database.obj is not None and database.in_transaction():  # no database bound: no transaction to be in
        raise RuntimeError(f"MTurk {operation} called inside a database transaction: commit first, then call MTurk.")
    validate(operation, params)
    try:
        return getattr(mturk, operation)(**params)
    except (ClientError, BotoCoreError) as error:
        raise translate(error, action) from error


def balance(mturk) -> str:
    """The account's available balance in dollars, as MTurk states it (the sandbox always says 10000.00)."""
    return call(mturk, "get_account_balance", "read the account balance")["AvailableBalance"]


def check_connection(organization_id: int | None, sandbox: bool | None = None) -> tuple[bool, str]:
    """(ok, sentence) for the "check connection" button: the balance, or what is wrong with the credentials."""
    sandbox = default_sandbox() if sandbox is None else sandbox
    where = (
        "the local MTurk stand-in"
        if is_local_endpoint(endpoint(sandbox))
        else "the MTurk sandbox"
        if sandbox
        else "MTurk (production)"
    )
    try:
        owner = access.require_or_operator(organization_id)
        source = {
            access.OWN: "this organization's key pair",
            access.SERVER: "the server's account (granted by a site admin)",
        }[owner]
        if organization_id is None:
            source = "the server's AWS credentials"
        amount = balance(client(organization_id, sandbox))
    except MTurkError as error:
        return False, f"Could not connect to {where}. {error}"
    return True, f"Connected to {where} with {source}: the available balance is ${amount}."
