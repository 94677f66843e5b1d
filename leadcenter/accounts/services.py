"""Creating companies, users and memberships."""

from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from leadcenter import clock
from leadcenter.accounts.models import ROLES, Company, Membership, User, UserSession
from leadcenter.db import database

MIN_PASSWORD_LENGTH = 8
# werkzeug's scrypt (n=2**15, r=8, p=1), salted. Unit tests lower the cost; the stored hash names its own.
PASSWORD_METHOD = "scrypt"


class AccountError(ValueError):
    pass


def create_company(name: str, default_region: str = "US") -> Company:
    return Company.create(name=name, default_region=default_region.upper())


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method=PASSWORD_METHOD)


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    if user.id is not None:
        end_sessions(user=user)  # a new password signs the account out everywhere


def create_user(email: str, name: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address")
    if User.select().where(User.email == email).exists():
        raise AccountError(f"a user with email {email} already exists")
    user = User(email=email, name=name)
    set_password(user, password)
    user.save()
    return user


_unknown_account_hash: dict[str, str] = {}


def _hash_for_unknown_account() -> str:
    """A hash of a password nobody knows, at today's cost: checked when an email has no account, so that a
    wrong email takes as long as a wrong password (else the time of the answer tells which emails exist)."""
    if PASSWORD_METHOD not in _unknown_account_hash:
        _unknown_account_hash[PASSWORD_METHOD] = generate_password_hash(
            secrets.token_urlsafe(32), method=PASSWORD_METHOD
        )
    return _unknown_account_hash[PASSWORD_METHOD]


def authenticate(email: str, password: str) -> User | None:
    """The active account with this email and password, or None; one password hash is checked whatever the
    outcome (no account, an inactive one, a wrong password), so the time taken tells nothing."""
    user = User.get_or_none(User.email == email.strip().lower())
    matches = check_password_hash(user.password_hash if user is not None else _hash_for_unknown_account(), password)
    return user if user is not None and user.active and matches else None


def add_member(user: User, company: Company, role: str) -> Membership:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    with database.atomic():
        membership, _ = Membership.get_or_create(user=user, company=company, defaults={"role": role})
        if membership.role != role:
            membership.role = role
            membership.save()
    return membership


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(user: User) -> str:
    """Record a new signed-in session; returns the random id its cookie carries (only a hash is stored)."""
    sid = secrets.token_urlsafe(32)
    UserSession.create(user=user, token_hash=_digest(sid))
    return sid


def sessions_user(sid: str) -> User | None:
    """The user of a session that has not been revoked."""
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(UserSession.token_hash == _digest(sid), UserSession.revoked_at.is_null())
        .first()
    )
    return row.user if row else None


def end_sessions(*, sid: str | None = None, user: User | None = None) -> None:
    """Revoke one session (sign-out) or every session of a user (new password, deactivation)."""
    # When, for the record: nothing compares it with a domain's clock (see clock.py).
    query = UserSession.update(revoked_at=clock.system()).where(UserSession.revoked_at.is_null())
    query.where(UserSession.token_hash == _digest(sid) if sid else UserSession.user == user).execute()
