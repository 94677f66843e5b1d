"""One-time links to set a password: an invitation's (its account has no password of its own yet) and a reset's
(an admin's for a user of their company, or the user's own "forgot password" by email).

A link is ``<app>/password#<token>``: the token is in the fragment, which browsers never send to a server, nor
put in a Referer, so it reaches no log. Only its SHA-256 is stored. Using it deletes every link of the account;
setting a password signs the account out everywhere (services.set_password); a link expires after its time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from leadcenter.accounts.models import Company, Invitation, PasswordLink, User
from leadcenter.accounts.services import set_password
from leadcenter.db import database

LIFETIME = {
    "invite": dt.timedelta(days=7),
    "reset": dt.timedelta(days=2),  # an admin's: handed over by them
    "forgot": dt.timedelta(hours=1),  # the user's own, by email: a reset that lives an hour
}


class LinkError(ValueError):
    pass


class PasswordKept(ValueError):
    """An invitation's link for an account that has a password: its owner signs in with it to accept."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url(app_url: str, token: str) -> str:
    return f"{app_url.rstrip('/')}/password#{token}"


def issue(user: User, purpose: str, company: Company | None, now: dt.datetime) -> str:
    """A new link's token for ``user`` (``purpose``: invite, reset or forgot); their earlier links stop working."""
    token = secrets.token_urlsafe(32)
    with database.atomic():
        PasswordLink.delete().where(PasswordLink.user == user).execute()
        PasswordLink.create(
            user=user,
            company=company,
            purpose="invite" if purpose == "invite" else "reset",
            token_hash=digest(token),
            expires_at=now + LIFETIME[purpose],
        )
    return token


def valid(token: str, now: dt.datetime) -> PasswordLink:
    """The link of ``token`` while it works; LinkError otherwise (unknown, used, expired, inactive account)."""
    link = (
        (PasswordLink.select(PasswordLink, User).join(User).where(PasswordLink.token_hash == digest(token)).first())
        if token
        else None
    )
    if link is None or link.expires_at <= now or not link.user.active:
        raise LinkError("this link does not work: it was used already, or it expired; ask for a new one")
    return link


def sets_password(link: PasswordLink) -> bool:
    """A reset always sets the password; an invitation only while it is unanswered and created the account (an
    existing account keeps its own: its owner signs in to accept)."""
    if link.purpose == "reset":
        return True
    return (
        Invitation.select()
        .where(Invitation.user == link.user, Invitation.company == link.company, Invitation.new_account)
        .exists()
    )


def use(token: str, password: str, now: dt.datetime) -> User:
    """Set the account's password through its link, once; LinkError, or services.AccountError for a password too
    short."""
    with database.atomic():
        link = valid(token, now)
        if not sets_password(link):
            raise PasswordKept("this account has a password already: sign in with it to accept the invitation")
        user = link.user
        set_password(user, password)
        user.save()
        PasswordLink.delete().where(PasswordLink.user == user).execute()
    return user
