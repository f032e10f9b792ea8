"""What an organization may spend on MTurk in a day, checked before every call that moves money.

Creating a HIT (MTurk takes every assignment's reward and fee then), extending
one, and paying a bonus each reserve their cost with MTurk's fee (cost.py) as
an ``MTurkSpend`` row keyed by the call's UniqueRequestToken, in one
transaction that first adds up what the organization reserved since midnight
UTC: a call that would cross the limit is refused before anything is sent, and
a retried call reserves nothing twice. A call MTurk refused releases its
reservation. Approving moves no new money (the reward was taken at creation).

The limit is the organization's own (``Organization.mturk_daily_limit``: its
owners set it when the account is theirs and no grant of the server's is in
force, a site admin otherwise), else ``MTURK_DAILY_LIMIT``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from peewee import fn

from ...db import database
from ...models import MTurkSpend, Organization, utcnow
from . import access
from .errors import OVER_LIMIT, MTurkError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Reservation:
    token: str  # the call's UniqueRequestToken
    kind: str  # hit, extension, bonus
    amount: Decimal  # with MTurk's fee


def default_limit() -> Decimal:
    return Decimal(str(current_app.config["MTURK_DAILY_LIMIT"])).quantize(CENT)


def limit(organization_id: int) -> Decimal:
    own = Organization.select(Organization.mturk_daily_limit).where(Organization.id == organization_id).scalar()
    return default_limit() if own is None else Decimal(own).quantize(CENT)


def set_by_owners(organization_id: int) -> bool:
    """Whether the organization's owners set its limit: only on an account of their own, and no grant in force.

    With a grant in force the limit is the site admin's even while a key pair is stored, or an organization could
    add any key pair, raise its limit, remove the key pair and spend the server's account under its own limit.
    """
    return access.source(organization_id) == access.OWN and access.grant_in_force(organization_id) is None


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight UTC of today (naive, as the database keeps times): the day the limit counts."""
    return (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today(organization_id: int) -> Decimal:
    total = (
        MTurkSpend.select(fn.SUM(MTurkSpend.amount))
        .where(MTurkSpend.organization == organization_id, MTurkSpend.created_at >= day_start())
        .scalar()
    )
    return Decimal(total or 0).quantize(CENT)


@dataclass(frozen=True)
class Today:
    """Spend so far today and the limit, for the MTurk tab."""

    spent: Decimal
    limit: Decimal

    @property
    def left(self) -> Decimal:
        return max(Decimal("0.00"), self.limit - self.spent)


def today(organization_id: int) -> Today:
    return Today(spent_today(organization_id), limit(organization_id))


def refusal(organization_id: int, amount: Decimal, what: str) -> MTurkError:
    spent, ceiling = spent_today(organization_id), limit(organization_id)
    return MTurkError(
        f"{what.capitalize()} costs ${amount:.2f} with MTurk's fee, but this organization has spent "
        f"${spent:.2f} of its ${ceiling:.2f} daily MTurk limit today (UTC), so nothing was sent. "
        "Make it smaller (fewer HITs, assignments or a lower bonus), wait until tomorrow (UTC), or raise the daily "
        "limit (owners, on the MTurk account page; a site admin when the organization uses the server's account).",
        OVER_LIMIT,
    )


def check(organization_id: int, amount: Decimal, what: str) -> None:
    """Refuse (MTurkError OVER_LIMIT) when ``amount`` more today would cross the limit; reserves nothing."""
    if spent_today(organization_id) + amount > limit(organization_id):
        raise refusal(organization_id, amount, what)


def reserve(organization_id: int, reservations: Iterable[Reservation], what: str, enforce: bool = True) -> None:
    """Reserve every call's cost, all or none, before the first of them is sent; tokens reserved before are kept.

    ``enforce=False`` records money MTurk turned out to have moved already (a payment found on a retry).
    """
    wanted = {r.token: r for r in reservations}
    if not wanted:
        return
    with database.atomic():
        # A no-op write first: it locks the organization's row (PostgreSQL) or the database (SQLite), so two
        # jobs reserving at once add up one after the other instead of both fitting under the limit.
        Organization.update(mturk_daily_limit=Organization.mturk_daily_limit).where(
            Organization.id == organization_id
        ).execute()
        known = {t for (t,) in MTurkSpend.select(MTurkSpend.token).where(MTurkSpend.token.in_(list(wanted))).tuples()}
        new = [r for token, r in wanted.items() if token not in known]
        amount = sum((r.amount for r in new), Decimal("0"))
        if not new:
            return
        if enforce and spent_today(organization_id) + amount > limit(organization_id):
            raise refusal(organization_id, amount, what)
        rows = [{"organization": organization_id, "token": r.token, "kind": r.kind, "amount": r.amount} for r in new]
        MTurkSpend.insert_many(rows).execute()


def release(tokens: Iterable[str]) -> int:
    """Forget the reservations of calls MTurk refused (no money moved)."""
    tokens = list(tokens)
    return MTurkSpend.delete().where(MTurkSpend.token.in_(tokens)).execute() if tokens else 0
