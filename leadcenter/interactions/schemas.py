"""What the interactions API accepts and answers, and the timeline's page cursor."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Literal, cast

from peewee import JOIN
from pydantic import Field, RootModel

from leadcenter.agents.models import Agent
from leadcenter.chats.models import ChatSession
from leadcenter.chats.schemas import BODY_LIMIT as CHAT_BODY_LIMIT
from leadcenter.db import ByIds
from leadcenter.interactions.lifecycle import CONVERSATIONS
from leadcenter.interactions.models import CallLeg, CallTransfer, ClassificationChange, Interaction, Kind, Message
from leadcenter.interactions.services import INBOX_LIMIT, TIMELINE_PAGE, message_summaries, tags_by_interaction
from leadcenter.leads.models import Lead
from leadcenter.leads.services import numbers_by_lead
from leadcenter.texts.schemas import BODY_LIMIT as TEXT_BODY_LIMIT
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.models import PageView, VisitSession
from leadcenter.visits.schemas import PageOut
from leadcenter.wire import DATE_RANGE, INT_RANGE, Schema, Text, UtcDateTime

NOTES_LIMIT = 20_000
VALUE_LIMIT_CENTS = 10**11
TAGS_LIMIT = 30
# What an inbox row shows of a conversation's newest message.
PREVIEW_LENGTH = 160

TagName = Annotated[str, Field(min_length=1, max_length=50)]


# -- requests --------------------------------------------------------------------------------------------------


class InteractionQuery(Schema):
    status: Literal["incoming", "active", "recent"] | None = None
    kind: Kind | None = None
    limit: int = Field(INBOX_LIMIT, ge=1, le=200)


class ReportQuery(Schema):
    since: dt.date | None = Field(
        None,
        ge=DATE_RANGE[0],
        le=DATE_RANGE[1],
        description="first day (the company's time zone), e.g. 2026-11-01; default: 30 days before until",
    )
    until: dt.date | None = Field(
        None,
        ge=DATE_RANGE[0],
        le=DATE_RANGE[1],
        description="last day (the company's time zone), included; default: today (the company's)",
    )


class TimelineQuery(Schema):
    before: str | None = Field(None, description="the `next` cursor of the previous page")
    limit: int = Field(TIMELINE_PAGE, ge=1, le=100)


class ClassificationChanges(Schema):
    """Only the fields sent are changed, so two people classifying at once never undo each other's other fields."""

    qualified: bool | None = None
    value_cents: int | None = Field(None, ge=0, le=VALUE_LIMIT_CENTS)
    # Typed text is kept as typed: trailing spaces matter while the agent is still writing.
    notes: Text = Field("", max_length=NOTES_LIMIT)
    tags: list[TagName] = Field(default_factory=list, max_length=TAGS_LIMIT)


class Reply(Schema):
    """A message in a conversation: a text to the lead (from the thread's tracking number), or a chat message to the
    visitor. Each kind checks its own limit (a text's parts, a chat message's characters)."""

    body: Text = Field(min_length=1, max_length=max(TEXT_BODY_LIMIT, CHAT_BODY_LIMIT))


# -- the timeline's cursor -------------------------------------------------------------------------------------


def encode_cursor(position: tuple[dt.datetime, int]) -> str:
    """Opaque to clients: the (started_at, id) of the last interaction of a page, which the next page starts after."""
    started_at, interaction_id = position
    encoded = base64.urlsafe_b64encode(json.dumps([started_at.isoformat(), interaction_id]).encode())
    return encoded.decode().rstrip("=")  # no padding: nothing to escape in a query string


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The position in a cursor from ``encode_cursor``; ValueError for anything else."""
    try:
        started_at, interaction_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = dt.datetime.fromisoformat(started_at), interaction_id
    except (ValueError, TypeError, RecursionError):  # binascii.Error and JSONDecodeError are ValueErrors
        raise ValueError("not a cursor from this timeline") from None
    # A client can forge any cursor: what it carries must fit the database like any other input.
    if (
        not isinstance(interaction_id, int)
        or not 0 <= interaction_id <= INT_RANGE[1]
        or not DATE_RANGE[0] <= position[0].date() <= DATE_RANGE[1]
    ):
        raise ValueError("not a cursor from this timeline")
    return position


# -- responses -------------------------------------------------------------------------------------------------


class LeadSummary(Schema):
    id: int
    name: str
    numbers: list[str]


class TrackingNumberSummary(Schema):
    id: int
    number: str
    name: str

    @classmethod
    def from_row(cls, number: TrackingNumber) -> TrackingNumberSummary:
        return cls(id=number.id, number=number.number, name=number.name)


class AgentSummary(Schema):
    id: int
    display_name: str

    @classmethod
    def from_row(cls, agent: Agent) -> AgentSummary:
        return cls(id=agent.id, display_name=agent.display_name)


class LastMessage(Schema):
    direction: str
    body: Text  # the first PREVIEW_LENGTH characters
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, message: Message | None) -> LastMessage | None:
        if message is None:
            return None
        return cls(direction=message.direction, body=message.body[:PREVIEW_LENGTH], created_at=message.created_at)


class ChatSummary(Schema):
    """A chat's (or its offline form's) visit: the page the visitor is on, where they came from, whether they are
    still there."""

    page_url: str
    page_title: str
    referrer: str
    visitor_left_at: UtcDateTime | None  # null while one of the visitor's pages is open
    ended_by: str  # "" while it goes on; visitor, agent or timeout
    form_name: str  # a form of the site's own: its name (data-leadcenter-form); "" for a chat and its offline form

    @classmethod
    def from_row(cls, session: ChatSession) -> ChatSummary:
        return cls(
            page_url=session.page_url,
            page_title=session.page_title,
            referrer=session.referrer,
            visitor_left_at=session.visitor_left_at,
            ended_by=session.ended_by,
            form_name=session.form_name,
        )


class LegOut(Schema):
    """One party's time on a call besides the lead: an agent, or an external number."""

    id: int  # the party to drop: DELETE /api/v1/interactions/<id>/conference/<leg id>
    agent_id: int | None
    agent_name: str  # "" for an external party
    number: str  # an external party's number
    joined_at: UtcDateTime
    left_at: UtcDateTime | None  # null while they are on
    talk_seconds: int | None  # once they have left; hold included
    hold_seconds: int


class TransferOut(Schema):
    """A move of the call between people: blind, warm (consult), conference, or a desk phone's REFER."""

    kind: str
    from_agent_id: int | None
    to_agent_id: int | None
    to_team_id: int | None
    to_number: str
    at: UtcDateTime
    outcome: str  # requested, completed, cancelled, failed
    ended_at: UtcDateTime | None
    failure: str = Field(
        "",
        description="why the party did not answer (a failed consult or conference): busy, no_answer, refused, "
        "unreachable; empty otherwise",
    )

    @classmethod
    def from_row(cls, move: CallTransfer) -> TransferOut:
        return cls(
            kind=move.kind,
            from_agent_id=move.from_agent_id,
            to_agent_id=move.to_agent_id,
            to_team_id=move.to_team_id,
            to_number=move.to_number,
            at=move.at,
            outcome=move.outcome,
            ended_at=move.ended_at,
            failure=move.failure,
        )


NO_MESSAGES = (0, None)


_LEGS_OF_CALLS = ByIds(
    lambda match: (
        CallLeg.select(CallLeg, Agent.id, Agent.display_name)
        .join(Agent, join_type=JOIN.LEFT_OUTER)
        .where(match(CallLeg.interaction))
        .order_by(CallLeg.joined_at, CallLeg.id)
    )
)
_TRANSFERS_OF_CALLS = ByIds(
    lambda match: CallTransfer.select().where(match(CallTransfer.interaction)).order_by(CallTransfer.at)
)


def legs_by_call(call_ids: list[int]) -> tuple[dict[int, list[LegOut]], dict[int, list[TransferOut]]]:
    """The legs and the transfers of each of these calls, oldest first, in two queries."""
    legs: dict[int, list[LegOut]] = {i: [] for i in call_ids}
    transfers: dict[int, list[TransferOut]] = {i: [] for i in call_ids}
    for leg in _LEGS_OF_CALLS.rows(call_ids):
        legs[leg.interaction_id].append(
            LegOut(
                id=leg.id,
                agent_id=leg.agent_id,
                agent_name=leg.agent.display_name if leg.agent is not None else "",
                number=leg.number,
                joined_at=leg.joined_at,
                left_at=leg.left_at,
                talk_seconds=leg.talk_seconds,
                hold_seconds=leg.hold_seconds,
            )
        )
    for move in _TRANSFERS_OF_CALLS.rows(call_ids):
        transfers[move.interaction_id].append(TransferOut.from_row(move))
    return legs, transfers


class InteractionOut(Schema):
    id: int
    kind: str
    direction: str
    status: str
    outcome: str | None
    lead: LeadSummary
    lead_number: str
    # A call's id in Asterisk: the agents' ringing INVITEs name it in X-LC-Call (None for texts, chats...)
    call_id: str | None
    # A queue callback's call: the id of the inbound call in which the lead pressed 1 to be called back.
    callback_of: int | None = None
    tracking_number: TrackingNumberSummary | None
    agent: AgentSummary | None
    started_at: UtcDateTime
    answered_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    status_changed_at: UtcDateTime
    talk_seconds: int | None
    source: str
    campaign: str
    landing_page: str
    referrer: str
    keywords: str
    medium: str
    click_id: str  # the ad click's gclid, msclkid or fbclid
    qualified: bool | None
    value_cents: int | None
    notes: Text
    tags: list[str]
    # Once the call has ended: until then Asterisk is still writing the file, and there is nothing to play.
    recording_url: str | None
    voicemail_url: str | None
    voicemail_seconds: int | None
    mailbox_agent_id: int | None  # the message is in this agent's own mailbox (theirs alone); null: the company's
    handled_at: UtcDateTime | None  # when that agent marked the message handled
    message_count: int
    last_message: LastMessage | None  # texts and chats: the newest message, for the inbox row
    chat: ChatSummary | None = None  # chats and chat forms: the visit
    pages: list[PageOut] | None = None  # visits: the pages seen, oldest first
    legs: list[LegOut] | None = None  # calls: each agent's (or external party's) time on it, oldest first
    transfers: list[TransferOut] | None = None  # calls: its moves between people, oldest first

    @classmethod
    def from_rows(cls, interactions: list[Interaction]) -> list[InteractionOut]:
        """A page of interactions with what they refer to, in a fixed number of queries whatever the page size."""
        ids = [i.id for i in interactions]
        lead_ids = {i.lead_id for i in interactions}
        numbers = numbers_by_lead(lead_ids)
        leads = {
            lead.id: LeadSummary(id=lead.id, name=lead.name, numbers=numbers[lead.id]) for lead in _LEADS.rows(lead_ids)
        }
        tracking_numbers = _summaries(
            TrackingNumberSummary, TrackingNumber, {i.tracking_number_id for i in interactions}
        )
        agents = _summaries(AgentSummary, Agent, {i.agent_id for i in interactions})
        tags = tags_by_interaction(ids)
        messages = message_summaries([i.id for i in interactions if i.kind in CONVERSATIONS])  # calls have none
        visits = [i.id for i in interactions if i.kind in ("chat", "form")]
        chats = {
            session.interaction_id: ChatSummary.from_row(session)
            for session in (ChatSession.select().where(ChatSession.interaction.in_(visits)) if visits else [])
        }
        pages = pages_by_visit([i.id for i in interactions if i.kind == "visit"])
        legs, transfers = legs_by_call([i.id for i in interactions if i.kind == "call"])
        return [
            cls(
                id=i.id,
                kind=i.kind,
                direction=i.direction,
                status=i.status,
                outcome=i.outcome,
                lead=leads[i.lead_id],
                lead_number=i.lead_number,
                call_id=i.channel_id,
                callback_of=i.callback_of_id,
                tracking_number=tracking_numbers.get(i.tracking_number_id),
                agent=agents.get(i.agent_id),
                started_at=i.started_at,
                answered_at=i.answered_at,
                ended_at=i.ended_at,
                status_changed_at=i.status_changed_at,
                talk_seconds=i.talk_seconds,
                source=i.source,
                campaign=i.campaign,
                landing_page=i.landing_page,
                referrer=i.referrer,
                keywords=i.keywords,
                medium=i.medium,
                click_id=i.click_id,
                qualified=i.qualified,
                value_cents=i.value_cents,
                notes=i.notes,
                tags=tags[i.id],
                recording_url=_audio_url(i, "recording") if i.status == "recent" else None,
                voicemail_url=_audio_url(i, "voicemail"),
                voicemail_seconds=i.duration_seconds,
                mailbox_agent_id=i.mailbox_agent_id,
                handled_at=i.handled_at,
                message_count=messages.get(i.id, NO_MESSAGES)[0],
                last_message=LastMessage.from_row(messages.get(i.id, NO_MESSAGES)[1]),
                chat=chats.get(i.id),
                pages=pages.get(i.id),
                legs=legs.get(i.id),
                transfers=transfers.get(i.id),
            )
            for i in interactions
        ]

    @classmethod
    def from_row(cls, interaction: Interaction) -> InteractionOut:
        return cls.from_rows([interaction])[0]


def pages_by_visit(visit_ids: list[int]) -> dict[int, list[PageOut]]:
    """Each visit interaction's pages, oldest first, in one query."""
    pages: dict[int, list[PageOut]] = {visit_id: [] for visit_id in visit_ids}
    if not pages:
        return {}
    rows = (
        PageView.select(PageView, VisitSession.interaction)
        .join(VisitSession)
        .where(VisitSession.interaction.in_(visit_ids))
        .order_by(PageView.at, PageView.id)
    )
    for page in rows:
        pages[cast(int, page.session.interaction_id)].append(PageOut.from_row(page))
    return pages


_LEADS = ByIds(lambda match: Lead.select().where(match(Lead.id)))
_ROWS = {model: ByIds.of_model(model) for model in (TrackingNumber, Agent)}


def _summaries(summary, model, ids: set) -> dict:
    """``summary.from_row`` of each ``model`` row with one of these ids (None ids skipped), by id."""
    return {row.id: summary.from_row(row) for row in _ROWS[model].rows(i for i in ids if i is not None)}


def _audio_url(interaction: Interaction, audio: str) -> str | None:
    return f"/api/v1/interactions/{interaction.id}/{audio}" if getattr(interaction, audio) else None


class InteractionList(RootModel[list[InteractionOut]]):
    pass


class TimelinePage(Schema):
    items: list[InteractionOut]
    next: str | None  # the cursor of the next (older) page; None on the last page


class InboxOut(Schema):
    incoming: list[InteractionOut]
    active: list[InteractionOut]
    recent: list[InteractionOut]


class UserSummary(Schema):
    id: int
    name: str


class ClassificationChangeOut(Schema):
    field: str
    old_value: str | None
    new_value: str | None
    at: UtcDateTime
    user: UserSummary | None  # None: made by an integration, or by a user since deleted

    @classmethod
    def from_row(cls, change: ClassificationChange) -> ClassificationChangeOut:
        user = change.user if change.user_id is not None else None
        return cls(
            field=change.field,
            old_value=change.old_value,
            new_value=change.new_value,
            at=change.at,
            user=UserSummary(id=user.id, name=user.name) if user else None,
        )


class ClassificationHistory(RootModel[list[ClassificationChangeOut]]):
    pass


class TagNames(RootModel[list[str]]):
    pass


class AnswerOut(Schema):
    interaction_id: int
    # True: my phone already rings for it, I pick it up there. False: the call was taken out of the queue (or
    # whichever step it was in) and my phone is being rung for it, with auto-answer where the phone honours it.
    ringing_already: bool


class HangupOut(Schema):
    interaction_id: int
    # The call ends a moment later: interaction.updated (status recent, outcome answered, talk time) follows.
    hanging_up: bool


class DeclineOut(Schema):
    interaction_id: int
    ringing_leg_hung_up: bool  # False when my phone was not ringing for it (it only left my Incoming)
    # Everyone it is offered to has declined it: it left its queue for the flow's next step (e.g. voicemail).
    passed_to_next_step: bool
