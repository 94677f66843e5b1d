from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from leadcenter.db import BaseModel, TimestampedModel

Role = Literal["admin", "supervisor", "agent"]
ROLES: tuple[Role, ...] = get_args(Role)
# Each role may do what the ones below it do (an API key acts as the admin of its company).
ROLE_RANK = {"agent": 1, "supervisor": 2, "admin": 3}
# Who may monitor a company's calls (Company.monitor_roles): supervisors and admins, admins only, nobody.
MonitorRoles = Literal["supervisor", "admin", "none"]


def server_time_zone() -> str:
    """The server's IANA time zone (TZ, else what /etc/localtime links to), a new company's; UTC when unknown."""
    named = os.environ.get("TZ", "").lstrip(":")
    if not named:
        target = str(Path("/etc/localtime").resolve()) if Path("/etc/localtime").is_symlink() else ""
        named = target.partition("/zoneinfo/")[2]
    return named if named and not named.startswith(("/", ".")) else "UTC"


class Company(TimestampedModel):
    name = CharField()
    # Its IANA time zone (America/New_York): business hours and what the console shows in local time.
    time_zone = CharField(default=server_time_zone)
    # The region phone numbers are read in when written without a country code (ISO 3166 alpha-2).
    default_region = CharField(default="US")
    # What a lead who texts HELP gets back; empty or null: a reply naming the company and how to opt out.
    text_help_reply = CharField(null=True)
    # Who may listen to, whisper to and barge into its agents' calls (monitors/): supervisor (supervisors and
    # admins), admin (admins only) or none; and whether an agent is told while one of their calls is monitored.
    monitor_roles = CharField(default="supervisor")
    monitor_notice = BooleanField(default=True)


class User(TimestampedModel):
    """Someone who signs in; belongs to one or more companies through Membership."""

    email = CharField(unique=True)
    name = CharField()
    password_hash = CharField()
    active = BooleanField(default=True)
    # The installation owner: the person running the server, above every company's admins (custom dialplans).
    owner = BooleanField(default=False)


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    user_id: IntegerField[int]  # the related row's id
    company = ForeignKeyField(Company, backref="memberships", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    role = CharField(choices=[(r, r) for r in ROLES])

    class Meta:
        indexes = ((("user", "company"), True),)


class ApiKey(TimestampedModel):
    """A company's key for integrations (``Authorization: Bearer lc_<prefix>_<secret>``); only a hash is kept."""

    company = ForeignKeyField(Company, backref="api_keys", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    prefix = CharField(unique=True)
    key_hash = CharField()
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: IntegerField[int | None]  # the related row's id
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


class UserSession(TimestampedModel):
    """A signed-in browser. The cookie carries its random id; signing out (or a password change) revokes it, so
    a copy of the cookie stops working at once, open event streams included."""

    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    user_id: IntegerField[int]  # the related row's id
    token_hash = CharField(unique=True)  # SHA-256 of the id in the cookie
    revoked_at = DateTimeField(null=True)


class Invitation(TimestampedModel):
    """An admin's offer of a role in their company to an account: the membership exists only once the account's
    owner accepts it, signed in, so an admin can neither add someone else's account to their company nor learn
    from the answer whether an email has an account. ``new_account``: the invitation created the account, with the
    password the admin handed over, so its first sign-in accepts it. A row is deleted once accepted or declined."""

    company = ForeignKeyField(Company, backref="invitations", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    user = ForeignKeyField(User, backref="invitations", on_delete="CASCADE")
    user_id: IntegerField[int]  # the related row's id
    role = CharField(choices=[(r, r) for r in ROLES])
    agent_json = TextField(null=True)  # the agent profile to make on acceptance: {"devices", "ring_device", ...}
    new_account = BooleanField(default=False)
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    invited_by_id: IntegerField[int | None]  # the related row's id

    class Meta:
        indexes = ((("company", "user"), True),)


class PasswordLink(TimestampedModel):
    """A one-time link to set an account's password: an invitation's (the account it created has no password yet)
    or a reset's. The link carries a random token; only its SHA-256 is kept. Used once (the row is deleted), or
    never after ``expires_at``."""

    user = ForeignKeyField(User, backref="password_links", on_delete="CASCADE")
    user_id: IntegerField[int]  # the related row's id
    company = ForeignKeyField(Company, null=True, on_delete="CASCADE")  # who invited, or whose admin reset it
    company_id: IntegerField[int | None]  # the related row's id
    purpose = CharField(choices=[("invite", "invite"), ("reset", "reset")])
    token_hash = CharField(unique=True)
    expires_at = DateTimeField()
