"""Every event the controller publishes, declared once: its name, what its data holds, and who receives it.

Events are named ``noun.verb``. Public events reach browsers and integrations over ``/api/v1/events`` (web/stream.py)
and carry the resource as the REST API returns it, so a client applies an event without asking for it again. They
are published only through their domain's notifier (``<domain>/notifier.py``), which builds the resource. Internal
events never leave the controller: the telephony layer's (published by name: telephony imports no domain, so it
cannot import this module) and the signals one service sends another.

The public ones are served for integrators at ``/api/events.json`` beside the OpenAPI document; a test checks that
every event published is declared here and every one declared is published somewhere.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, create_model

from leadcenter.accounts.models import ROLE_RANK
from leadcenter.accounts.schemas import ApiKeyOut, CompanyProfile, InvitationOut, MemberOut
from leadcenter.agents.schemas import AgentOut
from leadcenter.events import Publisher
from leadcenter.flows.schemas import FlowOut
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.leads.schemas import LeadOut
from leadcenter.monitors.schemas import MonitorOut
from leadcenter.teams.schemas import QueueFiguresOut, TeamOut
from leadcenter.texts.schemas import MessageOut
from leadcenter.tracking_numbers.schemas import TrackingNumberOut
from leadcenter.trunks.schemas import TrunkOut, TrunkStateOut
from leadcenter.visits.schemas import NumberPoolOut, VisitSettingsOut
from leadcenter.wire import Schema

Section = Literal["incoming", "active", "recent"]


@dataclass(frozen=True)
class Viewer:
    """Who a stream belongs to: an API key is an admin with no agent profile."""

    company_id: int
    role: str
    agent_id: int | None


class Audience(enum.Enum):
    INTERNAL = "never leaves the controller"
    COMPANY = "every stream of the company"
    SUPERVISORS = "the company's supervisors and admins, and its API keys"
    NAMED_AGENTS = (
        "the company's supervisors, admins and API keys, and of its agents those `for_agents` names "
        "(everyone when it names none)"
    )
    INBOX = (
        "every stream of the company, each with `section`: where the interaction is in that user's inbox "
        "(null: not in it)"
    )

    def variant(self, data: dict[str, Any], viewer: Viewer) -> Hashable | None:
        """What this viewer receives of an event: None for nothing; viewers with the same variant get the same
        frame (the stream encodes each variant once)."""
        if self is Audience.INTERNAL or data.get("company_id") != viewer.company_id:
            return None
        if self is Audience.SUPERVISORS:
            return "all" if ROLE_RANK[viewer.role] >= ROLE_RANK["supervisor"] else None
        if self is Audience.NAMED_AGENTS:
            named = data.get("for_agents")
            return "all" if viewer.role != "agent" or named is None or viewer.agent_id in named else None
        if self is Audience.INBOX:
            return inbox_section(data, viewer)
        return "all"

    def data(self, data: dict[str, Any], variant: Hashable) -> dict[str, Any]:
        """The data as the viewers of ``variant`` get it."""
        # Who it is routed to stays in the controller: a client learns only where it is for them.
        if self is Audience.INBOX:
            shown = {key: value for key, value in data.items() if key != "incoming_for"}
            return {**shown, "section": None if variant == "none" else variant}
        if self is Audience.NAMED_AGENTS:
            return {key: value for key, value in data.items() if key != "for_agents"}
        return data


def inbox_section(data: dict[str, Any], viewer: Viewer) -> str:
    """Where an interaction event's interaction is in a viewer's inbox, as GET /api/v1/inbox places it: an agent's
    Incoming holds what waits for them (``incoming_for``: the agents its flow offers it to, less those who declined
    it or are Offline; the messages in their own mailbox until handled), their Active what they handle, their Recent
    what they concluded (and their handled messages) and what nobody handled;
    without an agent profile (supervisors, admins, API keys) the inbox is the company's waiting interactions."""
    interaction = data["interaction"]
    status, agent = interaction["status"], (interaction.get("agent") or {}).get("id")
    mailbox = interaction.get("mailbox_agent_id")  # a message in this agent's own mailbox: theirs alone
    if viewer.agent_id is None:
        return "incoming" if status == "incoming" else "none"
    if mailbox == viewer.agent_id:
        if interaction.get("handled_at") is None:
            return "incoming"
        if status == "recent":
            return "recent"
    if status == "incoming":
        return "incoming" if viewer.agent_id in data.get("incoming_for", ()) else "none"
    if status == "active":
        return "active" if agent == viewer.agent_id else "none"
    return "recent" if agent == viewer.agent_id or (agent is None and mailbox is None) else "none"


@dataclass(frozen=True)
class EventType:
    name: str
    data: type[BaseModel] | None  # what `data` holds (None: internal, described in words)
    audience: Audience
    description: str

    @property
    def public(self) -> bool:
        return self.audience is not Audience.INTERNAL

    def publish(self, bus: Publisher, **data: Any) -> None:
        bus.publish(self.name, **data)


# -- what public events carry ----------------------------------------------------------------------------------


class InteractionData(Schema):
    company_id: int
    interaction: InteractionOut
    section: Section | None  # where it is in the receiving user's inbox; null: not in it


class VisitData(Schema):
    company_id: int
    interaction: InteractionOut  # kind visit, with its pages


class NumberPoolData(Schema):
    company_id: int
    number_pool: NumberPoolOut


class VisitSettingsData(Schema):
    company_id: int
    visit_settings: VisitSettingsOut


class InteractionIdData(Schema):
    company_id: int
    interaction_id: int


class MessageData(Schema):
    company_id: int
    interaction_id: int
    message: MessageOut


class LeadData(Schema):
    company_id: int
    lead: LeadOut


class LeadMergedData(LeadData):
    duplicate_id: int  # the lead merged into `lead`: follow `lead` from now on


class ConsentData(Schema):
    company_id: int
    lead_id: int | None  # null: an admin opted out a number no lead has
    number: str
    action: Literal["opt_out", "opt_in"]


class AgentData(Schema):
    company_id: int
    agent: AgentOut


class VoicemailCountData(Schema):
    company_id: int
    agent_id: int | None  # the agent's own mailbox; null: the company's
    mailbox: str
    new: int
    old: int


class QueueData(QueueFiguresOut):
    company_id: int


class CompanyData(Schema):
    company_id: int
    company: CompanyProfile


class UserData(Schema):
    company_id: int
    user: MemberOut


class InvitationData(Schema):
    company_id: int
    invitation: InvitationOut


class ApiKeyData(Schema):
    company_id: int
    api_key: ApiKeyOut


class MonitorData(Schema):
    company_id: int
    monitor: MonitorOut


class TrunkStateData(Schema):
    company_id: int
    trunk_state: TrunkStateOut


class RowResource(Protocol):
    """A configuration row as the REST API returns it (TrunkOut...): a schema made from the row."""

    def from_row(self, row: Any, /) -> Schema: ...


def _deleted(noun: str) -> type[BaseModel]:
    fields: dict[str, Any] = {f"{noun}_id": (int, ...)}
    return create_model(f"{noun.title().replace('_', '')}DeletedData", __base__=Schema, company_id=(int, ...), **fields)


def _row(noun: str, out: RowResource) -> type[BaseModel]:
    fields: dict[str, Any] = {noun: (out, ...)}
    return create_model(f"{noun.title().replace('_', '')}Data", __base__=Schema, company_id=(int, ...), **fields)


# -- the catalogue ---------------------------------------------------------------------------------------------


def _event(name: str, data: type[BaseModel] | None, audience: Audience, description: str) -> EventType:
    return EventType(name, data, audience, description)


INTERACTION_CREATED = _event(
    "interaction.created",
    InteractionData,
    Audience.INBOX,
    "a new interaction: a call coming in or placed, a text conversation begun",
)
INTERACTION_UPDATED = _event(
    "interaction.updated",
    InteractionData,
    Audience.INBOX,
    "an interaction moved (answered, responded, concluded, waiting again) or changed "
    "(classification, recording, a conversation's newest message)",
)
INTERACTION_DECLINED = _event(
    "interaction.declined",
    InteractionIdData,
    Audience.NAMED_AGENTS,
    "the agent who declined it: it left their Incoming",
)
MESSAGE_RECEIVED = _event(
    "message.received",
    MessageData,
    Audience.NAMED_AGENTS,
    "a lead's text, or a website visitor's chat message, came in",
)
MESSAGE_QUEUED = _event("message.queued", MessageData, Audience.COMPANY, "a text was stored to go out")
MESSAGE_SENT = _event(
    "message.sent",
    MessageData,
    Audience.COMPANY,
    "the SMSC accepted every part of a text; an agent's chat message was stored and goes to the visitor",
)
CHAT_VISITOR_TYPING = _event(
    "chat.visitor_typing",
    InteractionIdData,
    Audience.NAMED_AGENTS,
    "a website visitor is typing in their chat (told to the agent handling it, or to those whose Incoming holds it)",
)
MESSAGE_DELIVERED = _event("message.delivered", MessageData, Audience.COMPANY, "the lead's phone got the text")
MESSAGE_FAILED = _event("message.failed", MessageData, Audience.COMPANY, "a text could not go out (the reason)")
LEAD_CREATED = _event("lead.created", LeadData, Audience.COMPANY, "a lead added by hand")
LEAD_UPDATED = _event("lead.updated", LeadData, Audience.COMPANY, "a lead's name, email or numbers changed")
LEAD_MERGED = _event("lead.merged", LeadMergedData, Audience.COMPANY, "two leads became one")
CONSENT_CHANGED = _event("consent.changed", ConsentData, Audience.COMPANY, "a number opted out of texts or back in")
AGENT_STATUS_CHANGED = _event(
    "agent.status_changed",
    AgentData,
    Audience.COMPANY,
    "an agent's availability moved (their choice, or what their calls made it)",
)
AGENT_PRESENCE_CHANGED = _event(
    "agent.presence_changed",
    AgentData,
    Audience.COMPANY,
    "what colleagues see of an agent changed: their status or their phone (presence, and presence_since)",
)
AGENT_UPDATED = _event(
    "agent.updated", AgentData, Audience.COMPANY, "an agent's profile changed (name, chat name, devices, ring device)"
)
VOICEMAIL_COUNT_CHANGED = _event(
    "voicemail.count_changed", VoicemailCountData, Audience.COMPANY, "a mailbox's new and old messages"
)
QUEUE_UPDATED = _event(
    "queue.updated",
    QueueData,
    Audience.COMPANY,
    "a team's queue now: callers, waits, agents; and its service level and abandonment of today (a call concluded)",
)
COMPANY_UPDATED = _event("company.updated", CompanyData, Audience.SUPERVISORS, "the company's profile changed")
USER_CREATED = _event("user.created", UserData, Audience.SUPERVISORS, "a user joined the company")
USER_UPDATED = _event("user.updated", UserData, Audience.SUPERVISORS, "a user's role or details changed")
USER_DELETED = _event("user.deleted", _deleted("user"), Audience.SUPERVISORS, "a user left the company")
INVITATION_CREATED = _event("invitation.created", InvitationData, Audience.SUPERVISORS, "someone was invited")
INVITATION_DELETED = _event(
    "invitation.deleted", _deleted("invitation"), Audience.SUPERVISORS, "an invitation was revoked or declined"
)
VISIT_JOINED = _event(
    "visit.joined",
    VisitData,
    Audience.COMPANY,
    "a website session joined a lead's timeline as a visit (the visitor called, texted or chatted, or came back)",
)
VISIT_UPDATED = _event(
    "visit.updated",
    VisitData,
    Audience.COMPANY,
    "a visit on a lead's timeline went on: the visitor saw another page of the same session (with its pages)",
)
NUMBER_POOL_EXHAUSTED = _event(
    "number_pool.exhausted",
    NumberPoolData,
    Audience.SUPERVISORS,
    "every number of a pool is held: new visitors see its fallback number (told once until one is free again)",
)
VISIT_SETTINGS_UPDATED = _event(
    "visit_settings.updated", VisitSettingsData, Audience.SUPERVISORS, "the company's visit settings changed"
)
NUMBER_POOL_EVENTS = {
    change: _event(f"number_pool.{change}", NumberPoolData, Audience.SUPERVISORS, f"a number pool was {change}")
    for change in ("created", "updated")
}
NUMBER_POOL_DELETED = _event(
    "number_pool.deleted", _deleted("number_pool"), Audience.SUPERVISORS, "a number pool was deleted"
)
TRUNK_STATE_CHANGED = _event(
    "trunk.state_changed",
    TrunkStateData,
    Audience.SUPERVISORS,
    "a trunk's live state changed (registered, reachable, failing, unknown), from Asterisk's registration and qualify",
)
API_KEY_CREATED = _event("api_key.created", ApiKeyData, Audience.SUPERVISORS, "an API key was made")
API_KEY_REVOKED = _event("api_key.revoked", ApiKeyData, Audience.SUPERVISORS, "an API key was revoked")

# The telephony configuration's rows: each created, updated (the resource) and deleted (its id).
CONFIG_ROWS: dict[str, RowResource] = {
    "trunk": TrunkOut,
    "tracking_number": TrackingNumberOut,
    "team": TeamOut,
    "flow": FlowOut,
}
ROW_EVENTS: dict[tuple[str, str], EventType] = {}
for _noun, _out in CONFIG_ROWS.items():
    _shown = Audience.COMPANY if _noun == "tracking_number" else Audience.SUPERVISORS  # agents pick a caller ID
    _what = _noun.replace("_", " ")
    ROW_EVENTS[_noun, "created"] = _event(f"{_noun}.created", _row(_noun, _out), _shown, f"a {_what} was added")
    ROW_EVENTS[_noun, "updated"] = _event(f"{_noun}.updated", _row(_noun, _out), _shown, f"a {_what} changed")
    ROW_EVENTS[_noun, "deleted"] = _event(f"{_noun}.deleted", _deleted(_noun), _shown, f"a {_what} was deleted")

MONITOR_EVENTS = {
    verb: _event(
        f"monitor.{verb}",
        MonitorData,
        Audience.NAMED_AGENTS,
        f"a supervisor's monitor of a call {what}; the agent on the call gets it too when the company tells agents "
        "they are monitored",
    )
    for verb, what in (
        ("started", "began: their device rings into the call"),
        ("updated", "changed mode (listen, whisper, barge)"),
        ("ended", "ended: they hung up or stopped, or the call ended"),
    )
}

INTERNAL = [
    _event(name, None, Audience.INTERNAL, description)
    for name, description in (
        ("telephony.connected", "AMI or ARI is up (link; node, when the controller drives several)"),
        ("telephony.lost", "AMI or ARI went down (link; node, when the controller drives several)"),
        (
            "telephony.synced",
            "what an Asterisk has now: lead calls, queue members, the AstDB flags, device states (node, of several)",
        ),
        ("telephony.reloaded", "Asterisk reloaded rendered configuration (modules)"),
        ("telephony.device_state", "an agent endpoint's device state changed"),
        ("telephony.trunks", "every trunk's outbound registration and qualify result, as Asterisk reports them"),
        ("queue.status", "a queue's callers and members as Asterisk reports them"),
        ("queue_member.paused", "Asterisk paused or unpaused a queue member"),
        ("voicemail.waiting", "a mailbox's message counts (MessageWaiting)"),
        ("call.inbound", "a lead's call reached a tracking number's route"),
        ("call.recording_started", "MixMonitor began on a lead's call"),
        ("call.flow_ended", "a call went through every step of its flow unanswered"),
        ("call.voicemail_left", "a caller reached a mailbox"),
        ("call.callback_asked", "a caller waiting in a queue pressed 1 to be called back (lc-callback-offer)"),
        ("call.queued", "a call joined a queue"),
        ("call.agent_offered", "an agent's phone rings for a call"),
        ("call.agent_missed", "an agent's leg for a call stopped ringing unanswered"),
        ("call.agent_rang_out", "the agents a step rang let the call ring out"),
        ("call.answered", "an agent answered a lead's call"),
        ("call.lead_answered", "the lead picked up an agent's outbound call (a queue callback's too)"),
        ("call.left_queue", "a call left its queue without an agent"),
        ("call.held", "a side of a lead's call put it on hold (AMI Hold on its channel or a leg linked to it)"),
        ("call.unheld", "that side took it off hold (AMI Unhold)"),
        ("call.ended", "a lead's call hung up"),
        ("call.monitor_ended", "a supervisor's device channel listening to a call (lc-monitor) hung up"),
        ("call.conference_joined", "a party besides the lead joined a call's conference (ConfbridgeJoin)"),
        ("call.conference_left", "that party's channel hung up"),
        ("call.party_answered", "an external number a blind transfer dialled answered the lead's call"),
        ("call.consult_dialled", "lc-consult dialled the consulted party (their channel)"),
        (
            "call.party_unanswered",
            "a party dialled into a call's consult or conference did not answer (busy, no answer, refused)",
        ),
        ("call.party_left", "a party answered on a lead's call (an agent's leg, an external number) hung up"),
        ("call.referred", "an agent's desk phone transferred a lead's call (REFER, blind or attended) to an extension"),
        ("call.leg_joined", "a party (an agent, an external number) began talking with a lead (calls/legs.py)"),
        ("call.leg_left", "that party left the lead's call"),
        ("chat.visitor_frame", "what a website visitor's open pages are told (web/visitors.py sends it)"),
    )
]

EVENTS: tuple[EventType, ...] = (
    INTERACTION_CREATED,
    INTERACTION_UPDATED,
    INTERACTION_DECLINED,
    MESSAGE_RECEIVED,
    MESSAGE_QUEUED,
    MESSAGE_SENT,
    MESSAGE_DELIVERED,
    MESSAGE_FAILED,
    CHAT_VISITOR_TYPING,
    LEAD_CREATED,
    LEAD_UPDATED,
    LEAD_MERGED,
    CONSENT_CHANGED,
    AGENT_STATUS_CHANGED,
    AGENT_PRESENCE_CHANGED,
    AGENT_UPDATED,
    VOICEMAIL_COUNT_CHANGED,
    QUEUE_UPDATED,
    COMPANY_UPDATED,
    USER_CREATED,
    USER_UPDATED,
    USER_DELETED,
    INVITATION_CREATED,
    INVITATION_DELETED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    VISIT_JOINED,
    VISIT_UPDATED,
    VISIT_SETTINGS_UPDATED,
    TRUNK_STATE_CHANGED,
    *MONITOR_EVENTS.values(),
    *NUMBER_POOL_EVENTS.values(),
    NUMBER_POOL_DELETED,
    NUMBER_POOL_EXHAUSTED,
    *ROW_EVENTS.values(),
    *INTERNAL,
)
BY_NAME: dict[str, EventType] = {event.name: event for event in EVENTS}


def document() -> dict[str, Any]:
    """The public events for integrators (/api/events.json): name, audience, meaning, and the JSON schema of data."""
    return {
        "events": [
            {
                "name": e.name,
                "audience": e.audience.value,
                "description": e.description,
                "data": e.data.model_json_schema() if e.data else None,
            }
            for e in EVENTS
            if e.public
        ]
    }
