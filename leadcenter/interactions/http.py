"""The interactions API: the agent's inbox, a lead's timeline, reading and classifying interactions, their
audio (recordings, voicemail messages), the CSV report of them, and the conversations' verbs (text threads and
chats: messages, Respond, Close text / End Chat, typing)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from flask import Blueprint, send_file

from leadcenter.chats.schemas import TypingOut
from leadcenter.chats.services import Chats
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.flows.services import audience
from leadcenter.interactions import notifier, services
from leadcenter.interactions.lifecycle import Conflict, IllegalTransition
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import (
    AnswerOut,
    ClassificationChangeOut,
    ClassificationChanges,
    ClassificationHistory,
    DeclineOut,
    HangupOut,
    InboxOut,
    InteractionList,
    InteractionOut,
    InteractionQuery,
    Reply,
    ReportQuery,
    TagNames,
    TimelinePage,
    TimelineQuery,
    decode_cursor,
    encode_cursor,
)
from leadcenter.leads.models import Lead
from leadcenter.reports import services as reports
from leadcenter.texts.schemas import MessageList, MessageOut
from leadcenter.texts.services import Texts
from leadcenter.web import ports, spreadsheet
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

log = logging.getLogger(__name__)

bp = Blueprint("interactions", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "GET",
    "/inbox",
    response=InboxOut,
    summary="The signed-in agent's inbox: incoming, active and recent (incoming only without an agent profile)",
)
def get_inbox(principal: Principal):
    box = services.inbox(principal.company, principal.agent)
    return InboxOut(
        incoming=InteractionOut.from_rows(box.incoming),
        active=InteractionOut.from_rows(box.active),
        recent=InteractionOut.from_rows(box.recent),
    )


@endpoint(
    bp,
    "GET",
    "/leads/<int:lead_id>/timeline",
    query=TimelineQuery,
    response=TimelinePage,
    summary="A lead's interactions, newest first, a page at a time (pass `next` as `before`)",
)
def get_timeline(principal: Principal, lead_id: int, query: TimelineQuery):
    lead = scoped(Lead, lead_id, principal, "lead")
    try:
        before = decode_cursor(query.before) if query.before is not None else None
    except ValueError as exc:
        raise invalid({"before": str(exc)}) from None
    page, following = services.timeline(lead, before, query.limit)
    return TimelinePage(
        items=InteractionOut.from_rows(page), next=encode_cursor(following) if following is not None else None
    )


@endpoint(
    bp,
    "GET",
    "/interactions",
    query=InteractionQuery,
    response=InteractionList,
    summary="The company's interactions, newest first, optionally of one status and kind",
)
def list_interactions(principal: Principal, query: InteractionQuery):
    return InteractionList(
        InteractionOut.from_rows(services.newest_first(principal.company, query.status, query.kind, query.limit))
    )


@endpoint(
    bp,
    "GET",
    "/interactions/report.csv",
    role="supervisor",
    query=ReportQuery,
    summary="Every interaction started in the days asked (the company's time zone, as the KPIs' days), oldest "
    "first, with its attribution and classification, its times in the company's time zone with their offset: a CSV "
    "download for the business's own reporting",
)
def get_report(principal: Principal, query: ReportQuery):
    zone = reports.time_zone(principal.company)
    until = query.until or reports.local_date(ports.controller().clock(), zone)
    since = query.since or until - dt.timedelta(days=30)
    if since > until:
        raise invalid({"since": "must be on or before until"})
    # The KPIs' very period (reports.scope_of_days), so that the two agree on which interactions are in it.
    period = reports.scope_of_days(principal.company, since, until, zone)
    rows = services.report(principal.company, period.since, period.until, zone)
    return spreadsheet.download(services.REPORT_COLUMNS, rows, f"interactions-{since}-{until}.csv")


@endpoint(bp, "GET", "/interactions/<int:interaction_id>", response=InteractionOut, summary="An interaction")
def get_interaction(principal: Principal, interaction_id: int):
    return InteractionOut.from_row(scoped(Interaction, interaction_id, principal, "interaction"))


def _classification(interaction: Interaction) -> dict:
    return {
        "qualified": interaction.qualified,
        "value_cents": interaction.value_cents,
        "notes": interaction.notes,
        "tags": services.tags_of(interaction),
    }


_CALL_STATES = {"incoming": "waiting", "active": "in progress"}


def _call(principal: Principal, interaction_id: int, status: str, verb: str) -> Interaction:
    """The company's call ``interaction_id``, which must be ``status`` (incoming or active) to ``verb`` it."""
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    if interaction.kind != "call" or not interaction.channel_id:
        raise ApiError("not-a-call", f"this is a {interaction.kind}, not a call to {verb}")
    if interaction.status != status:
        raise ApiError(
            "not-incoming" if status == "incoming" else "not-active",
            f"this call is {interaction.status}, not {_CALL_STATES[status]}",
        )
    return interaction


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/answer",
    response=AnswerOut,
    summary="Answer an incoming call: if my phone rings for it I pick it up there; otherwise it stops waiting "
    "in the queue (or ringing someone else) and rings my phone at once",
)
def answer_interaction(principal: Principal, interaction_id: int):
    interaction = _call(principal, interaction_id, "incoming", "answer")
    agent = principal.agent
    if agent is None:
        raise ApiError("not-an-agent", "only agents answer calls")
    if agent.status == "offline":
        raise ApiError("agent-offline", "you are Offline: choose Available to answer calls")
    number = interaction.tracking_number
    if number is None or number.flow is None or agent.id not in audience(number.flow):
        raise ApiError("not-offered", "this call's flow does not offer calls to you")
    outcome = ports.controller().call_control.answer(interaction, agent)
    if outcome == "gone":
        raise ApiError("call-gone", "the call ended or was answered meanwhile")
    return AnswerOut(interaction_id=interaction.id, ringing_already=outcome == "ringing")


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/hangup",
    response=HangupOut,
    summary="Hang up my call (a supervisor or admin may hang up anyone's): it lands in Recent as answered, "
    "with its talk time",
)
def hang_up_interaction(principal: Principal, interaction_id: int):
    interaction = _call(principal, interaction_id, "active", "hang up")
    mine = principal.agent is not None and interaction.agent_id == principal.agent.id
    if not mine and not principal.at_least("supervisor"):
        raise ApiError("not-your-call", "only the agent on the call (or a supervisor) can hang it up")
    ports.controller().call_control.hang_up(interaction)
    return HangupOut(interaction_id=interaction.id, hanging_up=True)


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/decline",
    response=DeclineOut,
    summary="Decline an incoming interaction: it leaves my Incoming and, if my phone rings for it, the call "
    "moves on at once (next agent or the flow's next step)",
)
def decline_interaction(principal: Principal, interaction_id: int):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents have an Incoming to decline from")
    if interaction.status != "incoming":
        raise ApiError("not-incoming", f"this interaction is {interaction.status}, not waiting any more")
    rang, passed_on = ports.controller().call_control.decline(interaction, principal.agent)
    return DeclineOut(interaction_id=interaction.id, ringing_leg_hung_up=rang, passed_to_next_step=passed_on)


@endpoint(
    bp,
    "PATCH",
    "/interactions/<int:interaction_id>/classification",
    body=ClassificationChanges,
    response=InteractionOut,
    summary="Classify an interaction: qualified, value, notes, tags (only the fields sent)",
)
def classify_interaction(principal: Principal, interaction_id: int, body: ClassificationChanges):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    changes = body.model_dump(exclude_unset=True)
    before = _classification(interaction)
    services.classify(interaction, principal.user, changes, ports.controller().clock())
    after = _classification(interaction)
    if any(before[field] != after[field] for field in changes):
        notifier.changed(ports.controller().bus, interaction)
    return InteractionOut.from_row(interaction)


@endpoint(
    bp,
    "GET",
    "/interactions/<int:interaction_id>/classification/history",
    response=ClassificationHistory,
    summary="Every change to an interaction's classification, oldest first, with who made it",
)
def get_classification_history(principal: Principal, interaction_id: int):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    return ClassificationHistory(
        [ClassificationChangeOut.from_row(change) for change in services.classification_history(interaction)]
    )


@endpoint(bp, "GET", "/tags", response=TagNames, summary="The company's tag names, sorted (for the tag picker)")
def list_tags(principal: Principal):
    return TagNames(services.company_tags(principal.company))


def _send_audio(principal: Principal, interaction_id: int, audio: str):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    relative = getattr(interaction, audio)
    if not relative:
        raise not_found(audio)
    # Audio lives under Asterisk's instance directory; the data directory above it also holds the database
    # and the secrets: whatever the column says ("..", an absolute path, a symlink), nothing else is served.
    root = ports.controller().settings.asterisk_dir
    path = (ports.controller().settings.data_dir / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        log.warning("interaction %s: %s file %s is missing or outside %s", interaction.id, audio, relative, root)
        raise not_found(f"{audio} file")
    # conditional=True answers Range requests with 206: that is how the browser's audio element seeks.
    return send_file(path, conditional=True)


@endpoint(
    bp,
    "GET",
    "/interactions/<int:interaction_id>/recording",
    summary="The call's recording (audio; Range requests answered with 206)",
)
def get_recording(principal: Principal, interaction_id: int):
    return _send_audio(principal, interaction_id, "recording")


@endpoint(
    bp,
    "GET",
    "/interactions/<int:interaction_id>/voicemail",
    summary="The voicemail message (audio; Range requests answered with 206). A message in an agent's own mailbox is "
    "theirs: their colleagues get 403 not-your-voicemail (supervisors and admins may play it)",
)
def get_voicemail(principal: Principal, interaction_id: int):
    mailbox_agent_id = scoped(Interaction, interaction_id, principal, "interaction").mailbox_agent_id
    mine = principal.agent is not None and principal.agent.id == mailbox_agent_id
    if mailbox_agent_id is not None and not mine and not principal.at_least("supervisor"):
        raise ApiError("not-your-voicemail", "the message is in a colleague's own mailbox")
    return _send_audio(principal, interaction_id, "voicemail")


# -- conversations: text threads and chats ------------------------------------------------------------------------


def _conversation(principal: Principal, interaction_id: int) -> tuple[Interaction, Texts | Chats]:
    """The company's text thread, chat or chat form ``interaction_id``, with the service that carries out its
    verbs."""
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    controller = ports.controller()
    services_by_kind: dict[str, Texts | Chats] = {
        "text": controller.texts,
        "chat": controller.chats,
        "form": controller.chats,
    }
    service = services_by_kind.get(interaction.kind)
    if service is None:
        raise ApiError(
            "not-a-conversation", f"this interaction is a {interaction.kind}, not a text thread, a chat or a form"
        )
    return interaction, service


@contextlib.contextmanager
def _moving(interaction_id: int, verb: str):
    """A conversation verb whose lifecycle move another request beat (another agent responded first, the timer
    fired meanwhile) or the table refuses: illegal-transition, saying where the conversation is now."""
    try:
        yield
    except (IllegalTransition, Conflict):
        interaction = Interaction.get_by_id(interaction_id)
        what = {"text": "a text conversation", "chat": "a chat", "form": "a form"}[interaction.kind]
        raise ApiError("illegal-transition", f"cannot {verb} {what} that is {interaction.status}") from None


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/messages",
    body=Reply,
    response=MessageOut,
    status=201,
    summary="Send a message in a conversation: a text in a lead's thread (to the lead's number, from the thread's "
    "tracking number), or a chat message to the visitor (writing in a waiting chat responds to it)",
)
def reply(principal: Principal, interaction_id: int, body: Reply):
    interaction, service = _conversation(principal, interaction_id)
    with _moving(interaction.id, "write in"):
        return MessageOut.from_row(service.reply(interaction, principal.agent, body.body))


@endpoint(
    bp,
    "GET",
    "/interactions/<int:interaction_id>/messages",
    response=MessageList,
    summary="The messages of a text conversation, a chat or a chat form, oldest first",
)
def list_messages(principal: Principal, interaction_id: int):
    interaction, _ = _conversation(principal, interaction_id)
    return MessageList([MessageOut.from_row(m) for m in services.messages_of(interaction)])


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/respond",
    response=InteractionOut,
    summary="Respond to an incoming text, chat or chat form: it becomes my active conversation (when two agents "
    "respond at once, one gets it and the other 409)",
)
def respond(principal: Principal, interaction_id: int):
    interaction, service = _conversation(principal, interaction_id)
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents respond to texts and chats")
    with _moving(interaction.id, "respond to"):
        service.respond(interaction, principal.agent)
    return InteractionOut.from_row(interaction)


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/close",
    response=InteractionOut,
    summary="Close text, End Chat, or close a form: the active conversation moves to Recent (a chat's visitor is told)",
)
def close(principal: Principal, interaction_id: int):
    interaction, service = _conversation(principal, interaction_id)
    with _moving(interaction.id, "close"):
        service.close(interaction)
    return InteractionOut.from_row(interaction)


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/typing",
    response=TypingOut,
    summary="I am typing in this chat: its visitor sees my chat display name typing (send every few seconds while "
    "typing)",
)
def typing_in_chat(principal: Principal, interaction_id: int):
    interaction, service = _conversation(principal, interaction_id)
    if not isinstance(service, Chats):
        raise ApiError("not-a-conversation", "only a chat's visitor sees typing")
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents type in chats")
    return TypingOut(interaction_id=interaction.id, sent=service.agent_typing(interaction, principal.agent))
