"""Users, organizations and memberships."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from ...db import database
from ...models import Invite, Membership, Organization, User, utcnow


class AccountError(ValueError):
    """A request that cannot be honoured, with a message fit for the user."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, name: str = "", is_admin: bool = False) -> User:
    email = normalise_email(email)
    if User.select().where(User.email == email).exists():
        raise AccountError("An account with this email already exists.")
    return User.create(
        email=email, name=(name or "").strip(), is_admin=is_admin, password_hash=generate_password_hash(password)
    )


def sign_up(email: str, password: str, organization_name: str, name: str = "") -> User:
    """A new user and a new organization that the user owns."""
    with database.atomic():
        user = create_user(email, password, name)
        organization = Organization.create(name=organization_name.strip())
        Membership.create(user=user, organization=organization, role="owner")
    return user


def authenticate(email: str, password: str) -> User | None:
    user = User.get_or_none(User.email == normalise_email(email))
    if user and check_password_hash(user.password_hash, password):
        return user
    return None


def accept_invite(invite: Invite, user: User) -> Membership:
    """Add the user to the invite's organization; an invite works once."""
    with database.atomic():
        if invite.used_at is not None:
            raise AccountError("This invite link has already been used.")
        membership = Membership.get_or_none(user=user, organization=invite.organization_id)
        if membership is None:
            membership = Membership.create(user=user, organization=invite.organization_id, role=invite.role)
        invite.used_by = user
        invite.used_at = utcnow()
        invite.save()
    return membership
