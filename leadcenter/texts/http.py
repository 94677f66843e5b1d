"""The texts API: send a text (the interaction panel) and the composer's count of characters and parts. A thread's
messages, Respond and Close text are the conversation endpoints of interactions/http.py, shared with chats."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.sms import encoding
from leadcenter.texts import services
from leadcenter.texts.schemas import Draft, DraftOut, MessageOut, NewText
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("texts", __name__, url_prefix="/api/v1")


def _texts() -> services.Texts:
    return ports.controller().texts


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
