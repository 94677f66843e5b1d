from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from leadcenter.agents.models import Agent
from leadcenter.companies.models import Company
from leadcenter.db import BaseModel, TimestampedModel, utcnow
from leadcenter.leads.models import Lead
from leadcenter.numbers.models import TrackingNumber
from leadcenter.teams.models import Team

KINDS = ("call", "text", "chat", "voicemail", "visit", "form")
DIRECTIONS = ("inbound", "outbound")


class Interaction(TimestampedModel):
    company = ForeignKeyField(Company, backref="interactions", on_delete="CASCADE")
    lead = ForeignKeyField(Lead, backref="interactions", on_delete="CASCADE")
    kind = CharField(choices=[(k, k) for k in KINDS])
    direction = CharField(choices=[(d, d) for d in DIRECTIONS])
    # The lifecycle (see lifecycle.py): status moves incoming -> active -> recent; outcome is set on reaching recent.
    status = CharField(default="incoming")
    outcome = CharField(null=True)
    status_changed_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(default=utcnow)
    answered_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    talk_seconds = IntegerField(null=True)
    tracking_number = ForeignKeyField(TrackingNumber, null=True, on_delete="SET NULL")
    agent = ForeignKeyField(Agent, null=True, backref="interactions", on_delete="SET NULL")
    team = ForeignKeyField(Team, null=True, on_delete="SET NULL")
    lead_number = CharField(default="")  # the lead's side of a call or text, E.164
    # Asterisk's Uniqueid of the lead's channel: how events and resynchronisation find the call.
    channel_id = CharField(null=True, unique=True)
    recording = CharField(null=True)  # path relative to the data directory
    # Attribution, filled where known.
    source = CharField(default="")
    campaign = CharField(default="")
    landing_page = CharField(default="")
    referrer = CharField(default="")
    keywords = CharField(default="")

    class Meta:
        indexes = (
            (("company", "status", "started_at"), False),
            (("lead", "started_at"), False),
        )


class InteractionTransition(BaseModel):
    """Every lifecycle move, kept for reporting and audit."""
    interaction = ForeignKeyField(Interaction, backref="transitions", on_delete="CASCADE")
    event = CharField()
    from_status = CharField()
    to_status = CharField()
    outcome = CharField(null=True)
    at = DateTimeField(default=utcnow)
