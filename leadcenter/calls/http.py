"""Outbound calls: an agent places a call to a lead from the dialer.

The server decides everything the lead and the carrier see: the caller ID is one of the company's tracking
numbers (whatever the browser sends, another company's number is "no such tracking number"), the trunk is that
number's trunk. The agent's ring device rings first (the browser softphone answers it by itself, a desk phone is
picked up), then the lead is dialled. The call is an interaction at once: Active, then Recent and on the timeline.
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

from leadcenter.errors import ApiError, invalid
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped
from leadcenter.wire import Schema

bp = Blueprint("calls", __name__, url_prefix="/api/v1")


class NewCall(Schema):
    to: str = Field(min_length=1, max_length=40, description="the lead's number as typed")
    tracking_number_id: int = Field(description="the company's tracking number the lead sees as caller ID")
    record: bool = False


@endpoint(
    bp,
    "POST",
    "/calls",
    body=NewCall,
    response=InteractionOut,
    status=201,
    summary="Place a call to a lead: my device rings first, then the lead, with the tracking number as "
    "caller ID (recorded only when asked)",
)
def place_call(principal: Principal, body: NewCall):
    number = scoped(TrackingNumber, body.tracking_number_id, principal, "tracking number")
    agent = principal.agent
    if agent is None:
        raise ApiError("not-an-agent", "only agents place calls")
    try:
        lead_number = to_e164(body.to, principal.company.default_region)
    except InvalidNumber as exc:
        raise invalid({"to": str(exc)}) from None
    interaction = ports.controller().call_control.place(agent, number, lead_number, body.record)
    if interaction is None:
        raise ApiError("call-not-placed", "Asterisk did not place the call; try again")
    return InteractionOut.from_row(interaction)
