from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, ModelSelect

from leadcenter.accounts.models import Company, Membership, User
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.pbx import names

STATUSES = ("available", "unavailable", "offline")
RING_DEVICES = names.DEVICES


class Agent(TimestampedModel):
    company = ForeignKeyField(Company, backref="agents", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    user = ForeignKeyField(User, backref="agents", on_delete="CASCADE")
    user_id: IntegerField[int]  # the related row's id
    display_name = CharField()
    chat_display_name = CharField(default="")
    # Chosen by the agent (available/offline) or set by their calls (unavailable: on a call, in wrap-up, or after
    # letting a call ring out). What colleagues see also depends on their phone: see agents/presence.py.
    status = CharField(default="available", choices=[(s, s) for s in STATUSES])
    # Why an agent is unavailable: on_call (an inbound call), wrap_up (after it, until "Rejoin the Queue") or missed
    # (they let a call offered to them ring out, until they choose Available again).
    status_reason = CharField(default="")
    status_changed_at = DateTimeField()
    # Which device the queue rings: the browser softphone or the desk phone.
    ring_device = CharField(default="webrtc", choices=[(d, d) for d in RING_DEVICES])
    # The agent's own voicemail greeting (a file under the data directory); the standard one when empty.
    voicemail_greeting = CharField(null=True)
    # Emails to the agent's sign-in address (leadcenter/notifications, when SMTP is configured): each chat offered
    # to them (off unless they choose it: the app already rings), and each chat nobody answered or offline form
    # left for their team (on: it reaches them while they are away, which is the point of email).
    email_new_chats = BooleanField(default=False)
    email_missed_chats = BooleanField(default=True)
    # An email with the recording attached for each message left in the agent's own mailbox (off unless chosen).
    email_voicemail = BooleanField(default=False)
    sip_credentials: ModelSelect[SipCredential]  # the backref of SipCredential.agent

    class Meta:
        indexes = ((("company", "user"), True),)

    @property
    def queue_interface(self) -> str:
        return names.interface(self.ring_device, self.id)

    def endpoint_name(self, device: str) -> str:
        return names.endpoint(device, self.id)


class SipCredential(BaseModel):
    """The username/password one device of an agent registers with; the password is generated."""

    agent = ForeignKeyField(Agent, backref="sip_credentials", on_delete="CASCADE")
    agent_id: IntegerField[int]  # the related row's id
    device = CharField(choices=[(d, d) for d in RING_DEVICES])
    password = CharField()
    enabled = BooleanField(default=True)

    class Meta:
        indexes = ((("agent", "device"), True),)

    @property
    def username(self) -> str:
        return names.endpoint(self.device, self.agent_id)


class AgentStatusChange(BaseModel):
    """Every availability move (see availability.py), for reporting: occupancy, wrap-up time, time offline."""

    agent = ForeignKeyField(Agent, backref="status_changes", on_delete="CASCADE")
    agent_id: IntegerField[int]  # the related row's id
    event = CharField()
    from_status = CharField()
    from_reason = CharField(default="")
    to_status = CharField()
    to_reason = CharField(default="")
    at = DateTimeField()

    class Meta:
        indexes = ((("agent", "at"), False),)


def current_agents(company: Company | None = None):
    """Agents whose users still belong to their company. A removed user's agent profile is kept so that past
    interactions still name who handled them, but nothing new may name it, and Asterisk no longer knows its
    devices. (A deactivated user stays current: they cannot sign in, and configure leaves out their devices.)"""
    query = (
        Agent.select(Agent)
        .join(Membership, on=(Membership.user == Agent.user) & (Membership.company == Agent.company))
        .order_by(Agent.id)  # one order on either engine (PostgreSQL's unordered rows move as they are updated)
    )
    return query if company is None else query.where(Agent.company == company)
