"""What the chat widget's admin API and the visitor websocket accept and answer."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, RootModel, field_validator

from leadcenter.chats.models import ChatWidget
from leadcenter.wire import Schema, Text

BODY_LIMIT = 2000  # characters of one chat message (the visitor's or an agent's)
FIELD_LIMIT = 200  # a pre-chat field
URL_LIMIT = 2000

Mode = Literal["off", "optional", "required"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*|[0-9a-f:.]+")  # a DNS name or an IP address (urlsplit lowers it)
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")


def origin_of(text: str) -> str:
    """``scheme://host[:port]`` as browsers send it in Origin (lower case, no default port); ValueError otherwise."""
    parts = urlsplit(text.strip())
    hostname = parts.hostname or ""  # lower case
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(hostname) or parts.path not in ("", "/"):
        raise ValueError(f"{text!r} is not an origin like https://www.example.com")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{text!r} is not an origin like https://www.example.com")
    host = f"[{hostname}]" if ":" in hostname else hostname
    port = parts.port  # ValueError for a bad one
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class Prechat(Schema):
    name: Mode = "optional"
    phone: Mode = "off"
    email: Mode = "off"


class Hours(Schema):
    """When chat is open; outside these hours the widget offers the offline form."""

    timezone: str = Field("UTC", max_length=60, description="an IANA zone, e.g. America/New_York")
    days: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]] = Field(
        description="each day's open spans, e.g. {'mon': [['09:00', '17:30']]}; a day left out is closed"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not _ZONE.fullmatch(zone):
            raise ValueError(f"{zone!r} is not a time zone")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{zone!r} is not a time zone") from None
        return zone

    @field_validator("days")
    @classmethod
    def _spans(cls, days: dict) -> dict:
        for day, spans in days.items():
            if len(spans) > 6:
                raise ValueError(f"{day}: at most 6 spans")
            for start, end in spans:
                if not (_CLOCK.fullmatch(start) and _CLOCK.fullmatch(end)) or start >= end:
                    raise ValueError(f"{day}: {start}-{end} is not a span like 09:00-17:30")
        return days


class ChatWidgetOut(Schema):
    public_key: str
    snippet: str  # the tag to paste into every page of the site
    allowed_origins: list[str]
    greeting: Text
    color: str
    position: str
    prechat: Prechat
    team_id: int | None
    response_timeout_seconds: int
    hours: Hours | None
    enabled: bool

    @classmethod
    def from_row(cls, widget: ChatWidget, base_url: str) -> ChatWidgetOut:
        return cls(
            public_key=widget.public_key,
            snippet=f'<script src="{base_url}/s/{widget.public_key}.js" async></script>',
            allowed_origins=origins(widget.allowed_origins),
            greeting=widget.greeting,
            color=widget.color,
            position=widget.position,
            prechat=Prechat(**json.loads(widget.prechat)),
            team_id=widget.team_id,
            response_timeout_seconds=widget.response_timeout_seconds,
            hours=Hours(**json.loads(widget.hours)) if widget.hours else None,
            enabled=widget.enabled,
        )


def _without_default(schema: dict) -> None:
    schema.pop("default", None)


def not_sent(description: str | None = None, **constraints):
    """A PATCH field's default: None, left out of the schema (as accounts.schemas.not_sent), with constraints."""
    return Field(None, description=description, json_schema_extra=_without_default, **constraints)


class ChatWidgetChanges(Schema):
    """Only the fields sent are changed."""

    allowed_origins: list[Annotated[str, Field(max_length=300)]] = not_sent(max_length=50)
    greeting: Text = not_sent(min_length=1, max_length=300)
    color: str = not_sent(pattern=r"^#[0-9a-fA-F]{6}$")
    position: Literal["left", "right"] = not_sent()
    prechat: Prechat = not_sent()
    team_id: int | None = not_sent("null: every agent of the company")
    response_timeout_seconds: int = not_sent(ge=15, le=3600)
    hours: Hours | None = not_sent("null: always open")
    enabled: bool = not_sent()
    new_key: bool = not_sent("true: a new public key (the old snippet stops working)")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(origin_of(value) for value in values))


# -- the visitor websocket's frames (from the widget) -----------------------------------------------------------


class Page(Schema):
    url: str = Field("", max_length=URL_LIMIT)
    title: str = Field("", max_length=300)
    referrer: str = Field("", max_length=URL_LIMIT)


class Hello(Schema):
    type: Literal["hello"]
    visitor: str | None = Field(None, max_length=64)
    page: Page = Field(default_factory=Page)


class Contact(Schema):
    name: str = Field("", max_length=FIELD_LIMIT)
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=FIELD_LIMIT)
    body: Text = Field(min_length=1, max_length=BODY_LIMIT)
    client_id: str | None = Field(None, max_length=64)


class Start(Contact):
    type: Literal["start"]


class OfflineForm(Contact):
    type: Literal["offline_form"]


class Say(Schema):
    type: Literal["say"]
    body: Text = Field(min_length=1, max_length=BODY_LIMIT)
    client_id: str | None = Field(None, max_length=64)


class Typing(Schema):
    type: Literal["typing"]


class End(Schema):
    type: Literal["end"]


class Navigate(Page):
    type: Literal["page"]


VisitorFrame = Annotated[Start | OfflineForm | Say | Typing | End | Navigate, Field(discriminator="type")]


class VisitorFrameIn(RootModel[VisitorFrame]):
    pass


# -- the agent side ---------------------------------------------------------------------------------------------


class TypingOut(Schema):
    interaction_id: int
    sent: bool  # False when the visitor is not connected (nobody to tell)
