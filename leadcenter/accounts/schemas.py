"""What the company, users and API keys endpoints accept and answer; ``Name`` is shared by the admin API.

Request models named ``...Changes`` are for PATCH: only the fields sent change. Their fields default to
``not_sent()``; a ``null`` that is sent is refused by the field's type unless null is a meaningful value.
``changes_of`` makes one from the model that creates the same resource.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

import phonenumbers
from pydantic import Field, RootModel, create_model, field_validator, model_validator

from leadcenter.accounts.models import ApiKey, Company, Invitation, Membership, MonitorRoles, Role
from leadcenter.agents.models import RING_DEVICES
from leadcenter.pbx.names import Device
from leadcenter.wire import Schema, UtcDateTime

Name = Annotated[str, Field(min_length=1, max_length=100)]
Region = Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. US")]


def _without_default(schema: dict) -> None:
    schema.pop("default", None)


def not_sent(description: str | None = None):
    """The default of a PATCH field: None, left out of the schema, where it would contradict the field's type.
    Defaults are not validated, so an omitted field passes; a ``null`` that is sent must fit the type."""
    return Field(None, description=description, json_schema_extra=_without_default)


def changes_of(model: type[Schema], name: str, doc: str) -> type[Schema]:
    """``model`` for PATCH: the same fields, constraints and validators, every field optional (``not_sent``)."""
    fields: dict[str, Any] = {
        field: (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation,
            not_sent(info.description),
        )
        for field, info in model.model_fields.items()
    }
    return create_model(name, __base__=model, __doc__=doc, __module__=model.__module__, **fields)


TimeZone = Annotated[str, Field(min_length=1, max_length=64, description="an IANA time zone, e.g. America/New_York")]


class CompanyProfile(Schema):
    id: int
    name: str
    time_zone: str  # IANA: business hours and the console's times
    default_region: str
    text_help_reply: str
    monitor_roles: MonitorRoles  # who may monitor calls: supervisor (supervisors and admins) | admin | none
    monitor_notice: bool  # an agent is told while their call is monitored
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, company: Company) -> CompanyProfile:
        return cls(
            id=company.id,
            name=company.name,
            time_zone=company.time_zone,
            default_region=company.default_region,
            text_help_reply=company.text_help_reply or "",
            monitor_roles=company.monitor_roles,
            monitor_notice=company.monitor_notice,
            created_at=company.created_at,
        )


class CompanyChanges(Schema):
    name: Name = not_sent()
    time_zone: TimeZone = not_sent()
    default_region: Region = not_sent()
    text_help_reply: Annotated[str, Field(max_length=320)] = not_sent("the reply to a lead who texts HELP")
    monitor_roles: MonitorRoles = not_sent(
        "who may listen to, whisper to and barge into calls: supervisor (supervisors and admins), admin, none"
    )
    monitor_notice: bool = not_sent("tell an agent while one of their calls is monitored")

    @field_validator("default_region")
    @classmethod
    def known_region(cls, region: str) -> str:
        if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region phone numbers can be read in")
        return region.upper()

    @field_validator("time_zone")
    @classmethod
    def known_time_zone(cls, name: str) -> str:
        if name not in zoneinfo.available_timezones():
            raise ValueError(f"{name!r} is not a time zone name (e.g. America/New_York, Europe/London, UTC)")
        return name


class NewAgentProfile(Schema):
    """Make the user an agent: one SIP account per device; the queue rings ``ring_device``."""

    devices: list[Device] = Field(
        default_factory=lambda: list[Device](["webrtc"]), min_length=1, max_length=len(RING_DEVICES)
    )
    ring_device: Device = "webrtc"
    display_name: Name | None = None  # the user's name when not given

    @model_validator(mode="after")
    def rings_one_of_its_devices(self) -> NewAgentProfile:
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("a device is listed twice")
        if self.ring_device not in self.devices:
            raise ValueError(f"ring_device {self.ring_device!r} is not among the devices")
        return self


class NewMember(Schema):
    """An invitation. An email with no account gets one with ``name``, and ``password`` when it is sent (the person
    signs in with them, which accepts); without a password the answer carries a one-time link to set one (emailed
    to them instead when email is on). An email that has an account keeps its own name and password (they open its
    owner's other companies); its owner accepts when signed in (the link says so). The answer is the same either
    way."""

    email: str = Field(max_length=254)
    name: Name
    password: str | None = Field(None, max_length=1024, description="none: a one-time link to set it instead")
    role: Role
    agent: NewAgentProfile | None = None

    @field_validator("email")
    @classmethod
    def looks_like_an_email(cls, email: str) -> str:
        local, at, domain = email.partition("@")
        if not (local and at and domain):
            raise ValueError("not an email address")
        return email.lower()


class MemberChanges(Schema):
    """``name`` and ``active`` belong to the account: they can be changed only while it is in no other company."""

    name: Name = not_sent()
    role: Role = not_sent()
    active: bool = not_sent()


class MemberOut(Schema):
    id: int  # the user's id
    email: str
    name: str
    role: str
    active: bool
    agent_id: int | None  # their agent profile in this company
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, membership: Membership, agent_id: int | None) -> MemberOut:
        user = membership.user
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=membership.role,
            active=user.active,
            agent_id=agent_id,
            created_at=user.created_at,
        )


class MemberList(RootModel[list[MemberOut]]):
    pass


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    agent: bool  # accepting makes them an agent
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, invitation: Invitation) -> InvitationOut:
        return cls(
            id=invitation.id,
            email=invitation.user.email,
            role=invitation.role,
            agent=invitation.agent_json is not None,
            created_at=invitation.created_at,
        )


class InvitationList(RootModel[list[InvitationOut]]):
    pass


class IssuedInvitation(InvitationOut):
    """An invitation as its admin gets it: with the one-time link to hand over when it was not emailed."""

    link: str | None  # shown this once: null when it was emailed, or when the admin set the password
    emailed: bool  # the link went to the invitee by email

    @classmethod
    def issued(cls, invitation: Invitation, link: str | None, emailed: bool) -> IssuedInvitation:
        return cls(**InvitationOut.from_row(invitation).model_dump(), link=link, emailed=emailed)


class PasswordLinkOut(Schema):
    """A one-time link to set a user's password, as its admin gets it."""

    user_id: int
    link: str | None  # shown this once; null when it was emailed
    emailed: bool
    expires_at: UtcDateTime


class NewApiKey(Schema):
    name: Name


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str  # the key starts with lc_<prefix>_: tells keys apart without showing them
    created_at: UtcDateTime
    created_by: int | None  # user id; None when created with an API key
    last_used_at: UtcDateTime | None
    revoked_at: UtcDateTime | None

    @classmethod
    def from_row(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            created_by=key.created_by_id,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyList(RootModel[list[ApiKeyOut]]):
    pass


class IssuedApiKey(ApiKeyOut):
    key: str  # shown this once: only a hash is kept

    @classmethod
    def issued(cls, row: ApiKey, key: str) -> IssuedApiKey:
        return cls(**ApiKeyOut.from_row(row).model_dump(), key=key)
