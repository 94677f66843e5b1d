from __future__ import annotations

from typing import Literal, get_args

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from leadcenter.accounts.models import Company, User
from leadcenter.agents.models import Agent
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.leads.models import Lead
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber

Kind = Literal["call", "text", "chat", "voicemail", "visit", "form"]
KINDS: tuple[Kind, ...] = get_args(Kind)
DIRECTIONS = ("inbound", "outbound")


class Interaction(TimestampedModel):
    company = ForeignKeyField(Company, backref="interactions", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    lead = ForeignKeyField(Lead, backref="interactions", on_delete="CASCADE")
    lead_id: IntegerField[int]  # the related row's id
    kind = CharField(choices=[(k, k) for k in KINDS])
    direction = CharField(choices=[(d, d) for d in DIRECTIONS])
    # The lifecycle (see lifecycle.py): status moves incoming -> active -> recent; outcome is set on reaching recent.
    status = CharField(default="incoming")
    outcome = CharField(null=True)
    status_changed_at = DateTimeField()
    started_at = DateTimeField()
    answered_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    talk_seconds = IntegerField(null=True)
    # Of a call: the seconds either side held the other (AMI Hold..Unhold), a part of talk_seconds (reports/).
    hold_seconds = IntegerField(null=True)
    tracking_number = ForeignKeyField(TrackingNumber, null=True, on_delete="SET NULL")
    tracking_number_id: IntegerField[int | None]  # the related row's id
    agent = ForeignKeyField(Agent, null=True, backref="interactions", on_delete="SET NULL")
    agent_id: IntegerField[int | None]  # the related row's id
    team = ForeignKeyField(Team, null=True, on_delete="SET NULL")
    team_id: IntegerField[int | None]  # the related row's id
    # Of an inbound call: the team whose queue it entered first, answered or not (team is who answered it). The
    # queue calls the service level and abandonment rate count (reports/).
    queue_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", backref="queued_interactions")
    queue_team_id: IntegerField[int | None]  # the related row's id
    lead_number = CharField(default="")  # the lead's side of a call or text, E.164
    # Asterisk's Uniqueid of the lead's channel: how events and resynchronisation find the call.
    channel_id = CharField(null=True, unique=True)
    # Of a call: the Asterisk node it is on ([kamailio] nodes, when the controller drives several; "": the one
    # Asterisk). Where its verbs go, and whose resynchronisation may conclude it.
    node = CharField(default="")
    recording = CharField(null=True)  # path relative to the data directory
    voicemail = CharField(null=True)  # the message's audio, relative to the data directory
    duration_seconds = IntegerField(null=True)  # of the voicemail message
    # A message left in an agent's own mailbox (agentN) is theirs alone: it waits in their Incoming until they mark
    # it handled (voicemail/services.py), then it is in their Recent; nobody else's inbox shows it.
    mailbox_agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL", backref="mailbox_messages")
    mailbox_agent_id: IntegerField[int | None]  # the related row's id
    handled_at = DateTimeField(null=True)
    # Classification, set by agents: qualified (True), unqualified (False) or not yet (None).
    qualified = BooleanField(null=True)
    value_cents = IntegerField(null=True)
    notes = TextField(default="")
    # Attribution, filled where known.
    source = CharField(default="")
    campaign = CharField(default="")
    landing_page = CharField(default="")
    referrer = CharField(default="")
    keywords = CharField(default="")
    medium = CharField(default="")  # cpc, organic, social, referral, none... (visits/sources.py)
    click_id = CharField(default="")  # the ad click's gclid, msclkid or fbclid
    # A queue callback's call (callbacks/): the inbound call in which the lead asked to be called back.
    callback_of = ForeignKeyField("self", null=True, on_delete="SET NULL", backref="callback_calls")
    callback_of_id: IntegerField[int | None]  # the related row's id

    class Meta:
        indexes = (
            (("company", "started_at"), False),
            (("company", "status", "started_at"), False),
            (("company", "agent", "status", "status_changed_at"), False),
            (("company", "status", "status_changed_at"), False),
            (("lead", "started_at"), False),
            # The KPIs and report series (reports/): a company's interactions of one kind in a period.
            (("company", "kind", "started_at"), False),
            # GET /interactions?status=&kind= (services.newest_first): with the one above alone, SQLite walked all
            # of a kind to find the few of a status (a small company's incoming calls: 97 ms).
            (("company", "status", "kind", "started_at"), False),
        )


# An agent's own mailbox in their inbox (interactions/services.py:inbox), newest first: without it SQLite read every
# interaction of the company for it (0.6 s at 1,000,000: the queries benchmark). Partial: the few rows in a mailbox
# only, and no query for the many outside one (``mailbox_agent IS NULL``, everybody's Recent) can take it.
Interaction.add_index(
    Interaction.index(
        Interaction.company,
        Interaction.mailbox_agent,
        Interaction.status_changed_at,
        where=Interaction.mailbox_agent.is_null(False),
    )
)
MAILBOX_INDEX = "interaction_company_id_mailbox_agent_id_status_changed_at"


class InteractionTransition(BaseModel):
    """Every lifecycle move, kept for reporting and audit."""

    interaction = ForeignKeyField(Interaction, backref="transitions", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    event = CharField()
    from_status = CharField()
    to_status = CharField()
    outcome = CharField(null=True)
    at = DateTimeField()

    class Meta:
        indexes = ((("event", "at"), False),)  # the reopenings of a period (reports/: conversations' episodes)


MESSAGE_DIRECTIONS = ("inbound", "outbound")


class Message(TimestampedModel):
    """One text or chat message of a conversation interaction."""

    interaction = ForeignKeyField(Interaction, backref="messages", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    direction = CharField(choices=[(d, d) for d in MESSAGE_DIRECTIONS])
    body = TextField()
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    agent_id: IntegerField[int | None]  # the related row's id
    # Delivery state of an outbound message: queued, sent, delivered, failed (with the reason); see
    # texts/delivery.py. Each state has its companion timestamp.
    status = CharField(default="received")
    status_reason = CharField(default="")
    external_id = CharField(null=True)  # e.g. the SMSC's message_id (of the first part)
    sent_at = DateTimeField(null=True)
    delivered_at = DateTimeField(null=True)
    failed_at = DateTimeField(null=True)
    # Not columns: what the per-conversation query of services.message_summaries selects besides.
    count: int
    newest: int

    class Meta:
        indexes = ((("interaction", "created_at"), False),)


class Tag(TimestampedModel):
    """A company's tag; agents pick existing ones or add new ones as they classify."""

    company = ForeignKeyField(Company, backref="tags", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()

    class Meta:
        indexes = ((("company", "name"), True),)


class InteractionTag(BaseModel):
    interaction = ForeignKeyField(Interaction, backref="interaction_tags", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    tag = ForeignKeyField(Tag, backref="interaction_tags", on_delete="CASCADE")
    tag_id: IntegerField[int]  # the related row's id

    class Meta:
        indexes = ((("interaction", "tag"), True),)


class ClassificationChange(BaseModel):
    """Every change to an interaction's classification, with who and when, for reporting."""

    interaction = ForeignKeyField(Interaction, backref="classification_changes", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    user_id: IntegerField[int | None]  # the related row's id
    field = CharField()  # qualified | value_cents | notes | tags
    old_value = TextField(null=True)
    new_value = TextField(null=True)
    at = DateTimeField()

    class Meta:
        indexes = ((("interaction", "at"), False),)


class InteractionDecline(BaseModel):
    """An agent declined an incoming interaction: it leaves their Incoming (and the call rings someone else)."""

    interaction = ForeignKeyField(Interaction, backref="declines", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    agent = ForeignKeyField(Agent, on_delete="CASCADE")
    agent_id: IntegerField[int]  # the related row's id
    at = DateTimeField()

    class Meta:
        indexes = ((("interaction", "agent"), True), (("agent", "interaction"), False))


class CallLeg(BaseModel):
    """One party's time on a lead's call, besides the lead: an agent, or an external party (a number). An agent's
    handle time is the sum of their legs (reports/); the interaction's agent is whoever joined last and is still on
    (calls/legs.py)."""

    interaction = ForeignKeyField(Interaction, backref="legs", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")  # None: an external party
    agent_id: IntegerField[int | None]  # the related row's id
    number = CharField(default="")  # an external party's number, E.164
    channel_id = CharField(unique=True)  # Asterisk's Uniqueid of the party's channel
    joined_at = DateTimeField()  # when the party began talking with the lead (answered / joined)
    left_at = DateTimeField(null=True)
    hold_seconds = IntegerField(default=0)

    class Meta:
        indexes = ((("interaction", "joined_at"), False), (("agent", "joined_at"), False))

    @property
    def talk_seconds(self) -> int | None:
        """Once the party has left: their time on the call (hold included, as the call's own talk time)."""
        if self.left_at is None:
            return None
        return max(0, round((self.left_at - self.joined_at).total_seconds()))


TRANSFER_KINDS = ("blind", "warm", "conference", "refer")
TRANSFER_OUTCOMES = ("requested", "completed", "cancelled", "failed")


class CallTransfer(BaseModel):
    """One move of a call between people, for the timeline."""

    interaction = ForeignKeyField(Interaction, backref="transfers", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    kind = CharField(choices=[(k, k) for k in TRANSFER_KINDS])
    from_agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL", backref="transfers_made")
    from_agent_id: IntegerField[int | None]  # the related row's id
    to_agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL", backref="transfers_received")
    to_agent_id: IntegerField[int | None]  # the related row's id
    to_team = ForeignKeyField(Team, null=True, on_delete="SET NULL")
    to_team_id: IntegerField[int | None]  # the related row's id
    to_number = CharField(default="")
    at = DateTimeField()
    outcome = CharField(default="requested", choices=[(o, o) for o in TRANSFER_OUTCOMES])
    ended_at = DateTimeField(null=True)
    # The party's channel in Asterisk, for a conference or consult: an added party's (chosen before it exists), a
    # consulted one's once dialled. Its joining the call or hanging up unanswered settles the transfer, after a
    # controller restart too.
    channel_id = CharField(default="")
    failure = CharField(default="")  # why a party did not answer: busy, no_answer, refused, unreachable

    class Meta:
        indexes = ((("interaction", "at"), False),)
