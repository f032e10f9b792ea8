"""Which MTurk account an organization's calls use: its own AWS key pair, or the server's only when granted.

Sign-up is open, so the server's account (the operator's balance) is never a
default: an organization with no key pair uses it only while a site admin's
grant is in force (the admin page, or ``freelunch mturk grant``). Without
either, every MTurk call is refused before it is made, with what to do about
it, and nothing about the server's account is shown. Whether an organization
*owns* its account also decides how far its blocks reach (services/mturk/workers.py).
"""

from __future__ import annotations

from ...db import database
from ...models import MTurkAccount, Organization, ServerAccountGrant, utcnow
from .errors import NO_ACCOUNT, MTurkError

OWN = "own"  # the organization's stored key pair
SERVER = "server"  # the server's AWS credentials, granted by a site admin

NO_ACCOUNT_SENTENCE = (
    "This organization has no MTurk account yet: an owner adds the organization's AWS key pair "
    "(an IAM user linked to your MTurk requester account) on the MTurk account page."
)


def grant_in_force(organization_id: int) -> ServerAccountGrant | None:
    return (
        ServerAccountGrant.select()
        .where(ServerAccountGrant.organization == organization_id, ServerAccountGrant.revoked_at.is_null())
        .order_by(ServerAccountGrant.id.desc())
        .first()
    )


def source(organization_id: int) -> str | None:
    """OWN, SERVER, or None when the organization may not call MTurk at all."""
    if MTurkAccount.select().where(MTurkAccount.organization == organization_id).exists():
        return OWN
    return SERVER if grant_in_force(organization_id) else None


def require(organization_id: int) -> str:
    """The organization's account (OWN or SERVER), or an MTurkError saying to add a key pair."""
    found = source(organization_id)
    if found is None:
        raise MTurkError(NO_ACCOUNT_SENTENCE, NO_ACCOUNT)
    return found


def require_or_operator(organization_id: int | None) -> str:
    """As ``require``; ``None`` (the operator at the command line) is the server's account."""
    return SERVER if organization_id is None else require(organization_id)


def owns_account(organization_id: int) -> bool:
    """Whether the MTurk account is the organization's own: only then may an action reach beyond it (a hard block)."""
    return source(organization_id) == OWN


def grant(organization: Organization, by: str, note: str = "") -> tuple[ServerAccountGrant, bool]:
    """Let the organization use the server's account: (the grant in force, whether it is new).

    A new grant starts at the site's default daily limit: one the owners set for an account of their own never
    carries over to the server's (a site admin sets another on the admin page or with ``freelunch mturk limit``).
    """
    found = grant_in_force(organization.id)
    if found is not None:
        return found, False
    with database.atomic():
        Organization.update(mturk_daily_limit=None).where(Organization.id == organization.id).execute()
        organization.mturk_daily_limit = None
        return ServerAccountGrant.create(organization=organization, granted_by=by, note=note.strip()), True


def revoke(organization: Organization, by: str) -> int:
    """End the grant in force (kept as a record); the organization's next MTurk call is refused. Revoked count."""
    return (
        ServerAccountGrant.update(revoked_at=utcnow(), revoked_by=by)
        .where(ServerAccountGrant.organization == organization.id, ServerAccountGrant.revoked_at.is_null())
        .execute()
    )
