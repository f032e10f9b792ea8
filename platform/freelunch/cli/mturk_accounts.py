"""``freelunch mturk grant/revoke/grants/limit`` (``ACCOUNTS``, added to the ``mturk`` group by mturk.py): which
organization may use the server's MTurk account.

The same decisions as the admin page (services/mturk/access.py, budget.py);
a grant made here records "command line (<unix user>)" as who made it.
"""

from __future__ import annotations

import getpass
from decimal import Decimal, InvalidOperation

import click
from flask.cli import with_appcontext

from ..models import MTurkAccount, Organization, ServerAccountGrant
from ..services.mturk import access, budget
from ..services.mturk.errors import InvalidRequest
from ..services.mturk.validation import money
from .common import organization_or_fail


def _operator() -> str:
    return f"command line ({getpass.getuser()})"


def _limit(text: str | None) -> Decimal | None:
    if text is None or text.strip().lower() in ("", "default"):
        return None
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 <= value < 100_000_000:
        raise click.BadParameter(f"{text!r} is not an amount in dollars from 0 to 99,999,999 (or 'default').")
    try:
        money(value, "The daily limit")  # whole cents, as the admin page takes it: 0.001 is not a limit of $0.00
    except InvalidRequest as refused:
        raise click.BadParameter(str(refused)) from None
    return value.quantize(Decimal("0.01"))


def _set_limit(org: Organization, text: str) -> None:
    org.mturk_daily_limit = _limit(text)
    org.save(only=[Organization.mturk_daily_limit])


@click.command("grant")
@with_appcontext
@click.option("--org", "org_ref", required=True, help="The organization's id or exact name.")
@click.option("--note", default="", help="Why: kept with the grant.")
@click.option("--daily-limit", help="Its daily MTurk limit in dollars ('default': MTURK_DAILY_LIMIT).")
def grant(org_ref, note, daily_limit):
    """Let an organization with no key pair of its own use the server's MTurk account (and its balance)."""
    org = organization_or_fail(org_ref)
    if daily_limit is not None:
        _limit(daily_limit)  # a bad amount is refused before anything is granted
    found, new = access.grant(org, _operator(), note)  # a new grant starts at the site default
    if daily_limit is not None:
        _set_limit(org, daily_limit)
    if MTurkAccount.select().where(MTurkAccount.organization == org.id).exists():
        click.echo(f"Note: {org.name} has its own key pair, which it keeps using while it has one.")
    click.echo(
        (f"Granted {org.name} the server's MTurk account" if new else f"{org.name} had the grant already")
        + f" (by {found.granted_by}, {found.granted_at:%Y-%m-%d %H:%M} UTC); daily limit ${budget.limit(org.id):.2f}."
    )


@click.command("revoke")
@with_appcontext
@click.option("--org", "org_ref", required=True, help="The organization's id or exact name.")
def revoke(org_ref):
    """End an organization's use of the server's MTurk account: its next MTurk call is refused."""
    org = organization_or_fail(org_ref)
    if not access.revoke(org, _operator()):
        raise click.ClickException(f"{org.name} has no grant of the server's MTurk account.")
    click.echo(f"Revoked: {org.name} may no longer use the server's MTurk account.")


@click.command("grants")
@with_appcontext
def grants():
    """List every grant of the server's account, in force and revoked."""
    rows = (
        ServerAccountGrant.select(ServerAccountGrant, Organization).join(Organization).order_by(ServerAccountGrant.id)
    )
    for g in rows:
        state = f"revoked by {g.revoked_by} on {g.revoked_at:%Y-%m-%d %H:%M} UTC" if g.revoked_at else "in force"
        note = f" ({g.note})" if g.note else ""
        click.echo(
            f"{g.organization.id}\t{g.organization.name}\tgranted by {g.granted_by} on "
            f"{g.granted_at:%Y-%m-%d %H:%M} UTC{note}\t{state}"
        )
    if not rows.exists():
        click.echo("No organization was ever granted the server's MTurk account.")


@click.command("limit")
@with_appcontext
@click.option("--org", "org_ref", required=True, help="The organization's id or exact name.")
@click.argument("dollars")
def limit(org_ref, dollars):
    """Set an organization's daily MTurk limit in dollars ('default': MTURK_DAILY_LIMIT)."""
    org = organization_or_fail(org_ref)
    _set_limit(org, dollars)
    today = budget.today(org.id)
    click.echo(f"{org.name}: daily MTurk limit ${today.limit:.2f}, spent today ${today.spent:.2f}.")


ACCOUNTS = (grant, revoke, grants, limit)
