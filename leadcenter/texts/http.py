"""The texts API: send a text (the interaction panel) and the composer's count of characters and parts. A thread's
messages, Respond and Close text are the conversation endpoints of interactions/http.py, shared with chats."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.accounts.http import dump
from leadcenter.audit.services import record
from leadcenter.db import database
from leadcenter.errors import invalid, not_found
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.sms import encoding
from leadcenter.texts import services
from leadcenter.texts.schemas import (
    Draft,
    DraftOut,
    MessageOut,
    NewOptOut,
    NewText,
    OptOutList,
    OptOutOut,
    SmscList,
    SmscOut,
)
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


# -- the opt-out list --------------------------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    "/opt-outs",
    role="supervisor",
    response=OptOutList,
    summary="The numbers opted out of the company's texts now (STOP from the lead, or an admin), newest first",
)
def list_opt_outs(principal: Principal):
    return OptOutList([OptOutOut.from_row(row) for row in services.opt_outs(principal.company.id)])


def _consent(principal: Principal, number: str, action: str):
    """Record an admin's opt-out or opt-in of ``number`` with its audit entry; the consent row, or None when the
    number is so already."""
    try:
        phone = to_e164(number, principal.company.default_region)
    except InvalidNumber as exc:
        raise invalid({"number": str(exc)}) from None
    with database.atomic():
        before = next((r for r in services.opt_outs(principal.company.id) if r.number == phone), None)
        row = _texts().set_consent(principal.company, phone, action, "ADMIN")
        if row is not None:
            record(
                principal,
                "created" if action == "opt_out" else "deleted",
                "opt_out",
                row.id,
                dump(OptOutOut.from_row(before)) if before else None,
                dump(OptOutOut.from_row(row)) if action == "opt_out" else None,
                phone,
            )
    return phone, row


@endpoint(
    bp,
    "POST",
    "/opt-outs",
    role="admin",
    body=NewOptOut,
    response=OptOutOut,
    status=201,
    summary="Opt a number out of the company's texts (as if the lead had texted STOP: sends to it are refused)",
)
def add_opt_out(principal: Principal, body: NewOptOut):
    phone, row = _consent(principal, body.number, "opt_out")
    current = row or next(r for r in services.opt_outs(principal.company.id) if r.number == phone)
    return OptOutOut.from_row(current)


@endpoint(
    bp,
    "DELETE",
    "/opt-outs/<string:phone>",
    role="admin",
    status=204,
    summary="Opt a number back in (as if the lead had texted START)",
)
def remove_opt_out(principal: Principal, phone: str):
    try:  # a path that names no phone number names no opt-out
        to_e164(phone, principal.company.default_region)
    except InvalidNumber:
        raise not_found("opt-out") from None
    if _consent(principal, phone, "opt_in")[1] is None:
        raise not_found("opt-out")


# -- the SMSC binds ----------------------------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    "/smscs",
    role="supervisor",
    response=SmscList,
    summary="The SMPP binds texts go through, their state now, and which of the company's numbers each sends for",
)
def list_smscs(principal: Principal):
    links = ports.controller().smscs
    numbers = [
        n.number
        for n in TrackingNumber.select()
        .where(TrackingNumber.company == principal.company, TrackingNumber.texting == True)  # noqa: E712
        .order_by(TrackingNumber.number)
    ]
    named = [{n.strip() for n in link.settings.numbers.split(",") if n.strip()} for link in links]
    claimed = set().union(*named)
    answer = []
    for link, names in zip(links, named, strict=True):
        status = link.status()
        answer.append(
            SmscOut(
                name=link.name,
                state=status["state"],
                bound_since=status["bound_since"],
                last_error=status["last_error"] or None,
                # A bind naming no numbers sends for every number no other bind names.
                numbers=[n for n in numbers if (n in names if names else n not in claimed)],
            )
        )
    return SmscList(answer)
