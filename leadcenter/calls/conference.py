"""Warm (consult) transfers and conferences: more than two people on a lead's call.

Asterisk does it (dialplans/conference.conf): the call's people meet in the ConfBridge lc-call-<interaction id>.
Consult: the lead waits there alone, hearing hold music, while the agent's own channel dials the colleague (their
app shows the call and its lead: X-LC-Call) or a number; then Complete (the agent's channel hangs up and the
colleague joins the lead), Merge (both join: three on the call) or Cancel (the colleague's leg hangs up and the agent
is back with the lead). Conference: a colleague's device or a number is originated into the conference (the lead and
its agent move in first). Agents are marked and the lead end_marked: the lead stays while any agent is on, and any
party may leave; the agent on the call drops a party by hanging up its channel.

Web threads ask (the verbs run on the telephony loop, waited for); who joined and left is seen from Asterisk
(ConfbridgeJoin / ConfbridgeLeave, the tracker's ``call.conference_joined`` / ``call.conference_left``) and kept as
the call's legs (calls/legs.py), which move the interaction to the agent who joined last.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from leadcenter.agents.models import Agent
from leadcenter.calls import legs
from leadcenter.calls.legs import CallLeg, CallTransfer
from leadcenter.clock import Clock
from leadcenter.errors import ApiError
from leadcenter.events import Bus, Event
from leadcenter.interactions import notifier
from leadcenter.interactions.models import Interaction
from leadcenter.pbx import names
from leadcenter.telephony.service import carried_out

log = logging.getLogger(__name__)

Verb = TypeVar("Verb")


class ConferenceVerbs(Protocol[Verb]):
    """What consults and conferences ask of the telephony layer (telephony/service.py)."""

    def consult(
        self, lead_channel_id: str, interaction_id: int, dial: str, caller_id: str = ..., agent_channel: str = ...
    ) -> Verb: ...

    def complete_consult(self, interaction_id: int) -> Verb: ...

    def merge_consult(self, interaction_id: int) -> Verb: ...

    def cancel_consult(self, interaction_id: int) -> Verb: ...

    def add_to_conference(
        self,
        lead_channel_id: str,
        interaction_id: int,
        dial: str,
        *,
        agent: bool,
        channel_id: str,
        caller_id: str = ...,
        variables: dict | None = ...,
    ) -> Verb: ...

    def hangup(self, channel_id: str, reason: str = ...) -> Verb: ...

    def submit(self, verb: Verb) -> concurrent.futures.Future: ...


class Conferences:
    def __init__(self, bus: Bus, telephony: ConferenceVerbs[Any], clock: Clock):
        self.bus, self.telephony, self.clock = bus, telephony, clock
        self._lock = threading.Lock()
        # An external party's number, by the channel that joins (added: the channel id we chose) or by the call
        # (consulted: Dial makes the channel), until it joins: ConfbridgeJoin names neither.
        self._numbers: dict[str, str] = {}
        self._consulted_numbers: dict[int, str] = {}
        bus.subscribe("call.conference_joined", self.on_joined)
        bus.subscribe("call.conference_left", self.on_left)

    # -- what the agent on the call asks ------------------------------------------------------------------------
    def consult(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> CallTransfer:
        """The lead waits on hold music; the agent's phone calls the colleague ``to`` (their app shows the call
        and its lead) or ``number``."""
        lead = _on_the_call(interaction, agent)
        if self._open_consult(interaction) is not None:
            raise ApiError("consult-going-on", "a consult is already going on: complete, merge or cancel it first")
        dial, caller_id = self._dial(interaction, agent, to, number)
        transfer = self._transfer(interaction, "warm", agent, to, number)
        if number:
            with self._lock:
                self._consulted_numbers[interaction.id] = number
        own = [leg for leg in legs.open_legs(interaction) if leg.agent_id == agent.id]
        own_channel = own[-1].channel_id if own else ""  # else the one bridged with the lead's
        verb = self.telephony.consult(lead, interaction.id, dial, caller_id, own_channel)
        if not carried_out(self.telephony, verb, f"consult on call {interaction.id} not started"):
            self._end(interaction, transfer, "failed")
            raise ApiError("consult-not-started", "Asterisk did not start the consult; the call goes on as it was")
        return transfer

    def complete(self, interaction: Interaction, agent: Agent) -> CallTransfer:
        """The consulted colleague takes the call; the agent leaves it."""
        return self._settle(interaction, agent, "completed", self.telephony.complete_consult)

    def merge(self, interaction: Interaction, agent: Agent) -> CallTransfer:
        """The agent and the consulted party both join the lead."""
        transfer = self._settle(interaction, agent, "completed", self.telephony.merge_consult)
        transfer.kind = "conference"
        transfer.save(only=[CallTransfer.kind])
        notifier.changed(self.bus, interaction)
        return transfer

    def cancel(self, interaction: Interaction, agent: Agent) -> CallTransfer:
        """The consulted party's leg hangs up; the agent is back with the lead."""
        return self._settle(interaction, agent, "cancelled", self.telephony.cancel_consult)

    def add(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> CallTransfer:
        """A colleague's device rings (their app shows the call) or a number is dialled, straight into the call."""
        lead = _on_the_call(interaction, agent)
        dial, caller_id = self._dial(interaction, agent, to, number)
        channel_id = names.conference_channel_id(uuid.uuid4().hex)
        transfer = self._transfer(interaction, "conference", agent, to, number)
        if number:
            with self._lock:
                self._numbers[channel_id] = number
        verb = self.telephony.add_to_conference(
            lead,
            interaction.id,
            dial,
            agent=to is not None,
            channel_id=channel_id,
            caller_id=caller_id,
            # The colleague's app shows which call rings them, and its lead, before they answer.
            variables={
                "PJSIP_HEADER(add,X-LC-Call)": interaction.channel_id,
                "PJSIP_HEADER(add,X-LC-Interaction)": str(interaction.id),
            }
            if to is not None
            else {},
        )
        if not carried_out(self.telephony, verb, f"party not added to call {interaction.id}"):
            self._end(interaction, transfer, "failed")
            raise ApiError("party-not-added", "Asterisk did not bring the party into the call")
        self._end(interaction, transfer, "completed")
        return transfer

    def drop(self, interaction: Interaction, agent: Agent, leg: CallLeg) -> None:
        """The agent on the call hangs up another party's leg."""
        _on_the_call(interaction, agent)
        if leg.interaction_id != interaction.id or leg.left_at is not None:
            raise ApiError("not-found", "no such party on the call")
        if leg.agent_id == agent.id:
            raise ApiError("own-leg", "that is your own leg: hang up instead")
        self.telephony.submit(self.telephony.hangup(leg.channel_id))

    # -- what Asterisk says -------------------------------------------------------------------------------------
    def on_joined(self, event: Event) -> None:
        data = event.data
        interaction = Interaction.get_or_none(Interaction.id == data["interaction_id"])
        if interaction is None:
            return
        agent = Agent.get_or_none(Agent.id == data["agent_id"], Agent.company == interaction.company_id)
        number = ""
        if agent is None:
            with self._lock:
                number = self._numbers.pop(data["channel_id"], "") or self._consulted_numbers.pop(interaction.id, "")
        legs.joined(self.bus, interaction, data["channel_id"], data["at"], agent=agent, number=number)

    def on_left(self, event: Event) -> None:
        legs.left(self.bus, event.data["channel_id"], event.data["at"])

    # -- helpers ------------------------------------------------------------------------------------------------
    def _dial(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> tuple[str, str]:
        """What Asterisk dials, and the caller ID it sends ("": the lead's, for a colleague)."""
        if to is not None:
            if to.company_id != interaction.company_id:
                raise ApiError("not-found", "no such agent")
            if to.id == agent.id:
                raise ApiError("own-call", "the call is already yours")
            return to.queue_interface, ""
        tracking = interaction.tracking_number
        if tracking is None or not number:
            raise ApiError("not-a-call", "the call has no tracking number to dial an external number from")
        return names.external_dial(number, tracking.trunk_id), tracking.number

    def _transfer(self, interaction: Interaction, kind: str, agent: Agent, to: Agent | None, number: str):
        transfer = CallTransfer.create(
            interaction=interaction,
            kind=kind,
            from_agent=agent,
            to_agent=to,
            to_number=number,
            at=self.clock(),
            outcome="requested",
        )
        notifier.changed(self.bus, interaction)
        return transfer

    def _end(self, interaction: Interaction, transfer: CallTransfer, outcome: str) -> None:
        transfer.outcome, transfer.ended_at = outcome, self.clock()
        transfer.save(only=[CallTransfer.outcome, CallTransfer.ended_at])
        if outcome != "completed" or transfer.kind != "warm":
            with self._lock:
                self._consulted_numbers.pop(interaction.id, None)
        notifier.changed(self.bus, interaction)

    def _open_consult(self, interaction: Interaction) -> CallTransfer | None:
        return (
            CallTransfer.select()
            .where(
                CallTransfer.interaction == interaction,
                CallTransfer.kind == "warm",
                CallTransfer.outcome == "requested",
            )
            .order_by(CallTransfer.id.desc())
            .first()
        )

    def _settle(self, interaction: Interaction, agent: Agent, outcome: str, verb: Callable[[int], Any]) -> CallTransfer:
        """End the open consult with ``outcome`` once Asterisk carried out ``verb`` (of the interaction's id)."""
        _on_the_call(interaction, agent)
        transfer = self._open_consult(interaction)
        if transfer is None:
            raise ApiError("no-consult", "no consult is going on")
        failure = f"consult on call {interaction.id} not {outcome}"
        if not carried_out(self.telephony, verb(interaction.id), failure):
            raise ApiError("no-consult", "the consulted party has not answered, or has left: cancel instead")
        self._end(interaction, transfer, outcome)
        return transfer


def _on_the_call(interaction: Interaction, agent: Agent) -> str:
    """The call id of the agent's live call with a lead, inbound or outbound (the telephony layer knows which
    channel the lead is on); refused (ApiError) for any other."""
    if interaction.kind != "call":
        raise ApiError("not-a-call", "only a lead's call is consulted on or conferenced")
    if interaction.status != "active" or interaction.answered_at is None or not interaction.channel_id:
        raise ApiError("not-active", "the call is not answered and in progress")
    if interaction.agent_id != agent.id:
        raise ApiError("not-your-call", "only the agent on the call can do this")
    return interaction.channel_id
