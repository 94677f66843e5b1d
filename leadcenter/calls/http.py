"""Outbound calls: an agent places a call to a lead from the dialer.

The server decides everything the lead and the carrier see: the caller ID is one of the company's tracking
numbers (whatever the browser sends, another company's number is "no such tracking number"), the trunk is that
number's trunk. The agent's ring device rings first (the browser softphone answers it by itself, a desk phone is
picked up), then the lead is dialled. The call is an interaction at once: Active, then Recent and on the timeline.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import Field, model_validator

from leadcenter.agents.models import Agent
from leadcenter.calls.legs import CallLeg
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut, TransferOut
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped
from leadcenter.wire import Schema

bp = Blueprint("calls", __name__, url_prefix="/api/v1")


class TransferTarget(Schema):
    """Exactly one of: a colleague, a team (its queue), an external number."""

    agent_id: int | None = None
    team_id: int | None = None
    number: str | None = Field(None, min_length=1, max_length=40, description="an external number as typed")

    @model_validator(mode="after")
    def _one(self) -> TransferTarget:
        if sum(value is not None for value in (self.agent_id, self.team_id, self.number)) != 1:
            raise ValueError("name exactly one of agent_id, team_id, number")
        return self


class TransferRequest(Schema):
    to: TransferTarget
    mode: Literal["blind"] = "blind"


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


# -- warm (consult) transfer and conference, by the agent on a lead's live call (conference.py says how) ------------
# A colleague is named by agent id (another company's is 404, as one that does not exist); a number is dialled on the
# call's tracking number's trunk with that number as caller ID. Each verb answers with the interaction as
# GET /api/v1/interactions/<id> does (its legs and transfers: who is on the call, what was asked and how it went).
class Party(Schema):
    """Whom to bring in: a colleague (``agent_id``) or an external number (``number``), one of the two."""

    agent_id: int | None = None
    number: str | None = Field(default=None, min_length=1, max_length=40, description="as typed")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.agent_id is None) == (self.number is None):
            raise ValueError("give either agent_id or number")
        return self


def _agent(principal: Principal) -> Agent:
    if principal.agent is None:
        raise ApiError("not-an-agent", "only the agent on the call can do this")
    return principal.agent


def _party(principal: Principal, body: Party) -> tuple[Agent | None, str]:
    if body.agent_id is not None:
        return scoped(Agent, body.agent_id, principal, "agent"), ""
    try:
        return None, to_e164(body.number or "", principal.company.default_region)
    except InvalidNumber as exc:
        raise invalid({"number": str(exc)}) from None


def _answer(interaction: Interaction) -> InteractionOut:
    return InteractionOut.from_row(Interaction.get_by_id(interaction.id))


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/consult",
    body=Party,
    response=InteractionOut,
    summary="Consult before transferring: the lead hears hold music while my phone calls the colleague (their app "
    "shows the call and its lead before they accept) or the number",
)
def consult(principal: Principal, interaction_id: int, body: Party):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    to, number = _party(principal, body)
    ports.controller().conferences.consult(interaction, _agent(principal), to, number)
    return _answer(interaction)


def _settle(verb: str):
    def handler(principal: Principal, interaction_id: int):
        interaction = scoped(Interaction, interaction_id, principal, "interaction")
        getattr(ports.controller().conferences, verb)(interaction, _agent(principal))
        return _answer(interaction)

    handler.__name__ = f"consult_{verb}"
    return handler


for _verb, _summary in (
    ("complete", "Complete the consult transfer: the colleague joins the lead and I leave the call"),
    ("merge", "Merge the consult into a conference: the colleague, the lead and I all hear each other"),
    ("cancel", "Cancel the consult: the colleague's leg hangs up and I am back with the lead"),
):
    endpoint(
        bp, "POST", f"/interactions/<int:interaction_id>/consult/{_verb}", response=InteractionOut, summary=_summary
    )(_settle(_verb))


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/conference",
    body=Party,
    response=InteractionOut,
    summary="Add a colleague (their phone rings and their app shows the call) or a number to my live call",
)
def add_party(principal: Principal, interaction_id: int, body: Party):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    to, number = _party(principal, body)
    ports.controller().conferences.add(interaction, _agent(principal), to, number)
    return _answer(interaction)


@endpoint(
    bp,
    "DELETE",
    "/interactions/<int:interaction_id>/conference/<int:leg_id>",
    summary="Drop a party from my call: their leg hangs up, the others stay",
)
def drop_party(principal: Principal, interaction_id: int, leg_id: int):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    leg = CallLeg.get_or_none(CallLeg.id == leg_id, CallLeg.interaction == interaction)
    if leg is None:
        raise not_found("party")
    ports.controller().conferences.drop(interaction, _agent(principal), leg)


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/transfer",
    body=TransferRequest,
    response=TransferOut,
    status=202,
    summary="Blind-transfer my live call (inbound, or outbound once the lead answered) to a colleague, a team's "
    "queue or an external number (the tracking number as caller ID): I leave the call; interaction.updated follows "
    "when it is answered there",
)
def transfer_call(principal: Principal, interaction_id: int, body: TransferRequest):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    agent = principal.agent
    if (
        interaction.kind != "call"
        or not interaction.channel_id
        or interaction.status != "active"
        or interaction.answered_at is None  # an outbound call the lead has not picked up yet
    ):
        raise ApiError("not-active", "only a live call is transferred")
    if agent is None or interaction.agent_id != agent.id:
        raise ApiError("not-your-call", "only the agent on the call transfers it")
    control = ports.controller().call_control
    target = body.to
    if target.agent_id is not None:
        colleague = scoped(Agent, target.agent_id, principal, "agent")
        if colleague.id == agent.id:
            raise invalid({"to": "you are on the call already"})
        move = control.transfer(interaction, agent, to_agent=colleague)
    elif target.team_id is not None:
        move = control.transfer(interaction, agent, to_team=scoped(Team, target.team_id, principal, "team"))
    else:
        try:
            number = to_e164(target.number or "", principal.company.default_region)
        except InvalidNumber as exc:
            raise invalid({"to": str(exc)}) from None
        move = control.transfer(interaction, agent, to_number=number)
    if move.outcome == "failed":
        raise ApiError("call-not-transferred", "Asterisk did not move the call (it ended meanwhile?)")
    return TransferOut.from_row(move)
