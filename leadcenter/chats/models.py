from __future__ import annotations

import hashlib

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead
from leadcenter.teams.models import Team

POSITIONS = ("left", "right")
PRECHAT_FIELDS = ("name", "phone", "email")
PRECHAT_MODES = ("off", "optional", "required")
ENDED_BY = ("", "visitor", "agent", "timeout")


class ChatWidget(TimestampedModel):
    """A company's chat widget (one per company): what visitors see, where it may run, who gets its chats."""

    company = ForeignKeyField(Company, unique=True, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    # In the snippet's URL (/s/<key>.js) and the iframe's (/w/<key>): public, random, names the company to nobody.
    public_key = CharField(unique=True)
    allowed_origins = TextField(default="")  # one origin a line, scheme://host[:port]
    greeting = CharField(default="Hi! How can we help?")
    color = CharField(default="#1f6feb")
    position = CharField(default="right", choices=[(p, p) for p in POSITIONS])
    prechat = TextField(default='{"name": "optional", "phone": "off", "email": "off"}')  # JSON: field -> mode
    team = ForeignKeyField(Team, null=True, on_delete="SET NULL")  # null: every agent of the company
    team_id: IntegerField[int | None]  # the related row's id
    response_timeout_seconds = IntegerField(default=120)
    # JSON {"timezone": "Europe/London", "days": {"mon": [["09:00", "17:30"]], ...}}, or null: always open.
    hours = TextField(null=True)
    enabled = BooleanField(default=True)


def key_hash(visitor_key: str) -> str:
    """What is stored of a visitor's key."""
    return hashlib.sha256(visitor_key.encode()).hexdigest()


class Visitor(TimestampedModel):
    """Someone on the company's site, known by the key their browser keeps in the site's own storage (only its
    SHA-256 is stored here); a lead once they chat or leave a form."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    key_hash = CharField(unique=True)
    lead = ForeignKeyField(Lead, null=True, on_delete="SET NULL")
    lead_id: IntegerField[int | None]  # the related row's id
    name = CharField(default="")
    phone = CharField(default="")
    email = CharField(default="")
    last_seen_at = DateTimeField()


class ChatSession(BaseModel):
    """What a chat interaction knows of its visitor's visit: the page they are on, and whether they are still there."""

    interaction = ForeignKeyField(Interaction, unique=True, backref="chat_sessions", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    visitor = ForeignKeyField(Visitor, backref="chats", on_delete="CASCADE")
    visitor_id: IntegerField[int]  # the related row's id
    page_url = CharField(default="")
    page_title = CharField(default="")
    referrer = CharField(default="")
    ended_by = CharField(default="", choices=[(e, e) for e in ENDED_BY])
    visitor_left_at = DateTimeField(null=True)  # null while one of the visitor's pages is connected
    form_name = CharField(default="")  # a form of the site's own (its data-leadcenter-form); "" for a chat's form

    class Meta:
        indexes = ((("visitor", "interaction"), False),)
