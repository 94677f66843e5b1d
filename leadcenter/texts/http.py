"""The texts API: send a text (the interaction panel, a lead's thread), read a thread, Respond, Close text, and
the composer's count of characters and parts."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.errors import ApiError
from leadcenter.interactions.lifecycle import Conflict, IllegalTransition
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.sms import encoding
from leadcenter.texts import services
from leadcenter.texts.schemas import Draft, DraftOut, MessageList, MessageOut, NewText, Reply
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("texts", __name__, url_prefix="/api/v1")


def _texts() -> services.Texts:
    return ports.controller().texts


def _text_thread(principal: Principal, interaction_id: int) -> Interaction:
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    if interaction.kind != "text":
        raise ApiError("not-a-text-thread", f"this interaction is a {interaction.kind}, not a text conversation")
    return interaction


def _illegal(interaction: Interaction, verb: str) -> ApiError:
    return ApiError("illegal-transition", f"cannot {verb} a text conversation that is {interaction.status}")


@endpoint(
    bp,
    "POST",
    "/texts",
    body=NewText,
    response=MessageOut,
    status=201,
    summary="Send a text as a tracking number: stored in the outbox, then submitted to the SMSC; its "
    "status (queued, sent, delivered, failed) follows on the event stream as message.*",
)
def send_text(principal: Principal, body: NewText):
    number = scoped(TrackingNumber, body.tracking_number_id, principal, "tracking number")
    return MessageOut.from_row(_texts().send(principal.company, principal.agent, number, body.to, body.body))


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/messages",
    body=Reply,
    response=MessageOut,
    status=201,
    summary="Send a text in a lead's thread (to the lead's number, from the thread's tracking number)",
)
def reply(principal: Principal, interaction_id: int, body: Reply):
    interaction = _text_thread(principal, interaction_id)
    return MessageOut.from_row(_texts().reply(interaction, principal.agent, body.body))


@endpoint(
    bp,
    "GET",
    "/interactions/<int:interaction_id>/messages",
    response=MessageList,
    summary="The messages of a text conversation, oldest first",
)
def list_messages(principal: Principal, interaction_id: int):
    interaction = _text_thread(principal, interaction_id)
    return MessageList([MessageOut.from_row(m) for m in services.messages_of(interaction)])


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/respond",
    response=InteractionOut,
    summary="Respond to an incoming text: it becomes my active conversation",
)
def respond(principal: Principal, interaction_id: int):
    interaction = _text_thread(principal, interaction_id)
    if principal.agent is None:
        raise ApiError("not-an-agent", "only agents respond to texts")
    try:
        _texts().respond(interaction, principal.agent)
    except (IllegalTransition, Conflict):  # another agent responded first, or the thread timed out meanwhile
        raise _illegal(Interaction.get_by_id(interaction.id), "respond to") from None
    return InteractionOut.from_row(interaction)


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/close",
    response=InteractionOut,
    summary="Close text: the active conversation moves to Recent",
)
def close(principal: Principal, interaction_id: int):
    interaction = _text_thread(principal, interaction_id)
    try:
        _texts().close(interaction)
    except (IllegalTransition, Conflict):
        raise _illegal(Interaction.get_by_id(interaction.id), "close") from None
    return InteractionOut.from_row(interaction)


@endpoint(
    bp,
    "POST",
    "/texts/draft",
    body=Draft,
    response=DraftOut,
    summary="What the composer shows for a draft: encoding, parts, characters left before another part",
)
def draft(principal: Principal, body: Draft):
    encoded = encoding.encode(body.body)
    return DraftOut(
        encoding=encoded.encoding,
        parts=len(encoded.parts),
        characters=encoded.units,
        characters_left=encoded.units_left,
        max_parts=encoding.MAX_PARTS,
    )
