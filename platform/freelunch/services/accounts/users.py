"""Users, organizations and memberships."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from ...db import database, write_transaction
from ...models import Invite, Membership, Organization, User, utcnow
from ...queues import redis_connection
from ..errors import RequesterError
from . import passwords


class AccountError(RequesterError, ValueError):
    """A request that cannot be honoured, with a message fit for the user."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, name: str = "", is_admin: bool = False) -> User:
    email = normalise_email(email)
    # The check the sign-up and login forms make (wtforms' Email()), for the command too: an account no one could
    # log in to is refused when it is made.
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise AccountError(f"That email is refused: {error}") from None
    if User.select().where(User.email == email).exists():
        raise AccountError("An account with this email already exists.")
    return User.create(
        email=email, name=(name or "").strip(), is_admin=is_admin, password_hash=passwords.hashed(password)
    )


def sign_up(email: str, password: str, organization_name: str, name: str = "") -> User | None:
    """A new user and a new organization that the user owns; None, and nothing changed, when the email has an account.

    The caller answers both the same way, so sign-up never tells whether an
    email has an account; the account's owner learns of the attempt at their
    next login (``note_sign_up_attempt``). Both ways hash a password, so they
    take the same time.
    """
    existing = User.get_or_none(User.email == normalise_email(email))
    if existing is not None:
        passwords.hashed(password)
        note_sign_up_attempt(existing)
        return None
    with database.atomic():
        user = create_user(email, password, name)
        # Sign-up is open and free: each organization it makes gets the smaller quota, so that many sign-ups
        # do not multiply the disk anyone may fill (an operator raises an organization's storage_quota_mb).
        quota = current_app.config["SIGNUP_STORAGE_QUOTA_MB"]
        organization = Organization.create(name=organization_name.strip(), storage_quota_mb=quota)
        Membership.create(user=user, organization=organization, role="owner")
    return user


SIGN_UP_NOTICE_DAYS = 30


def _notice_key(user: User) -> str:
    return f"freelunch:signup-attempt:{user.id}"


def note_sign_up_attempt(user: User) -> None:
    """Remember, for the account's next login, that someone tried to sign up with its email."""
    redis_connection().set(_notice_key(user), utcnow().strftime("%Y-%m-%d %H:%M UTC"), ex=SIGN_UP_NOTICE_DAYS * 86400)


def take_sign_up_notice(user: User) -> str | None:
    """When someone last tried to sign up with the user's email (shown once, at login), or None."""
    when = redis_connection().getdel(_notice_key(user))
    return when.decode() if isinstance(when, bytes) else when  # our connections answer bytes


def authenticate(email: str, password: str) -> User | None:
    user = User.get_or_none(User.email == normalise_email(email))
    return user if passwords.check(user.password_hash if user else None, password) else None


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password and end every session of the user (the caller starts a fresh one)."""
    if not passwords.check(user.password_hash, current):
        raise AccountError("Your current password is not right.")
    User.update(password_hash=passwords.hashed(new)).where(User.id == user.id).execute()
    end_sessions(user)


class InviteUsed(AccountError):
    """The invite was used (perhaps a moment ago, by a simultaneous request) or has expired."""

    def __init__(self):
        super().__init__("This invite link has already been used or has expired.")


def usable_invite(token: str) -> Invite | None:
    """The invite of a link, if it is unused and unexpired."""
    invite = Invite.get_or_none(Invite.token == token)
    return invite if invite is not None and invite.used_at is None and invite.expires_at > utcnow() else None


def _claim(invite: Invite, user: User) -> Membership:
    """Mark the invite used by ``user`` and add the membership; call inside a transaction.

    The claim is one conditional UPDATE, so of many simultaneous uses of one
    link exactly one changes the row; the others raise and roll back.
    """
    now = utcnow()
    claimed = (
        Invite.update(used_by=user, used_at=now)
        .where(Invite.id == invite.id, Invite.used_at.is_null(), Invite.expires_at > now)
        .execute()
    )
    if claimed != 1:
        raise InviteUsed()
    membership = Membership.get_or_none(user=user, organization=invite.organization_id)
    if membership is None:
        membership = Membership.create(user=user, organization=invite.organization_id, role=invite.role)
    return membership


def end_sessions(user: User) -> None:
    """End every session of the user, on every device: sessions name the version they began with (User.get_id)."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
    user.session_version += 1


def accept_invite(invite: Invite, user: User) -> Membership:
    """Add an existing user to the invite's organization; an invite works once, before it expires."""
    with write_transaction():
        return _claim(invite, user)


def sign_up_with_invite(invite: Invite, email: str, password: str, name: str = "") -> User:
    """A new user who joins the invite's organization: both happen, or neither (a used invite makes no account)."""
    with write_transaction():
        user = create_user(email, password, name)
        _claim(invite, user)
    return user
