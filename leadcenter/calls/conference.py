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
the call's legs (calls/legs.py), which move the interaction to the agent who joined last. A colleague is consulted
or added only while Available. An added party's transfer is completed when they answer (join the conference); one
that does not answer (busy, no answer, refused: ``call.party_unanswered``), added or consulted, is failed with why,
and the lead and the agent are still together. The transfer row names the party's channel, so all of this holds
across a controller restart.
"""

from __future__ import annotations

import concurrent.futures
import logging
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

    def set_variable(self, name: str, value: str, channel_id: str = ...) -> Verb: ...

    def follow_parties(self, parties: dict[str, str]) -> Verb: ...

    def submit(self, verb: Verb) -> concurrent.futures.Future: ...


class Conferences:
    def __init__(self, bus: Bus, telephony: ConferenceVerbs[Any], clock: Clock, presence: Callable[[Agent], str]):
        """``presence(agent)``: what colleagues see of an agent now (agents/presence.py); only an Available one is
        consulted or brought into a call."""
        self.bus, self.telephony, self.clock, self.presence = bus, telephony, clock, presence
        bus.subscribe("call.conference_joined", self.on_joined)
        bus.subscribe("call.conference_left", self.on_left)
        bus.subscribe("call.consult_dialled", self.on_consult_dialled)
        bus.subscribe("call.party_unanswered", self.on_unanswered)
        bus.subscribe("call.leg_joined", self.on_leg_moved)
        bus.subscribe("call.leg_left", self.on_leg_moved)
        bus.subscribe("telephony.synced", self.on_synced)

    # -- what the agent on the call asks ------------------------------------------------------------------------
    def consult(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> CallTransfer:
        """The lead waits on hold music; the agent's phone calls the colleague ``to`` (their app shows the call
        and its lead) or ``number``."""
        lead = _on_the_call(interaction, agent)
        if self._open_consult(interaction) is not None:
            raise ApiError("consult-going-on", "a consult is already going on: complete, merge or cancel it first")
        dial, caller_id = self._dial(interaction, agent, to, number)
        transfer = self._transfer(interaction, "warm", agent, to, number)
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
        # Cancelled before Asterisk hangs the party up: their Dial then ends unanswered, which is no failure.
        return self._settle(interaction, agent, "cancelled", self.telephony.cancel_consult, claim_first=True)

    def add(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> CallTransfer:
        """A colleague's device rings (their app shows the call) or a number is dialled, straight into the call:
        completed when they answer (they join the conference), failed when they do not."""
        lead = _on_the_call(interaction, agent)
        dial, caller_id = self._dial(interaction, agent, to, number)
        channel_id = names.conference_channel_id(uuid.uuid4().hex)
        transfer = self._transfer(interaction, "conference", agent, to, number, channel_id=channel_id)
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
        """A party joined the call's conference: their leg; an added party answered (their transfer completed). A
        party that is no agent is the number their transfer dialled (the transfer names its channel)."""
        data = event.data
        interaction = Interaction.by_id(data["interaction_id"])
        if interaction is None:
            return
        agent = Agent.get_or_none(Agent.id == data["agent_id"], Agent.company == interaction.company_id)
        transfer = CallTransfer.get_or_none(
            CallTransfer.interaction == interaction, CallTransfer.channel_id == data["channel_id"]
        )
        if transfer is not None and transfer.kind == "conference":
            CallTransfer.update(outcome="completed", ended_at=data["at"]).where(
                CallTransfer.id == transfer.id, CallTransfer.outcome == "requested"
            ).execute()  # told with the leg, next
        number = transfer.to_number if transfer is not None and agent is None else ""
        legs.joined(self.bus, interaction, data["channel_id"], data["at"], agent=agent, number=number)

    def on_left(self, event: Event) -> None:
        legs.left(self.bus, event.data["channel_id"], event.data["at"])

    def on_consult_dialled(self, event: Event) -> None:
        """lc-consult dialled the consulted party: their channel is the open consult's."""
        CallTransfer.update(channel_id=event.data["party_channel_id"]).where(
            CallTransfer.interaction == event.data["interaction_id"],
            CallTransfer.kind == "warm",
            CallTransfer.outcome == "requested",
            CallTransfer.channel_id == "",
        ).execute()

    def on_unanswered(self, event: Event) -> None:
        """A consulted or added party did not answer (busy, no answer, refused): the transfer failed, and why; the
        lead and the agent are still together (lc-consult goes back to the conference; an added party never joined
        it)."""
        party = event.data["party_channel_id"]
        transfer = CallTransfer.get_or_none(CallTransfer.channel_id == party, CallTransfer.outcome == "requested")
        if not party or transfer is None:
            return
        failed = CallTransfer.update(outcome="failed", ended_at=event.data["at"], failure=event.data["failure"]).where(
            CallTransfer.id == transfer.id, CallTransfer.outcome == "requested"
        )
        if failed.execute():
            notifier.changed(self.bus, Interaction.get_by_id(transfer.interaction_id))

    def on_synced(self, event: Event) -> None:
        """What Asterisk has now (at start-up, after it came back, every resync): the parties on the calls that are
        up are followed again from the database (a restarted controller lost whom it followed: their hangups would
        end no leg); a party whose channel went meanwhile left then, and a consulted or added party's transfer still
        waiting for a channel that is gone failed. Only what was there before Asterisk was read: newer legs and
        transfers may be missing from what it said."""
        read_at, now = event.data["read_at"], self.clock()
        up = set(event.data.get("channels", ()))
        lead_channels = [call["channel_id"] for call in event.data["calls"]]
        follow: dict[str, str] = {}
        for leg in (
            CallLeg.select(CallLeg, Interaction)
            .join(Interaction)
            .where(
                Interaction.channel_id.in_(lead_channels or [""]),
                CallLeg.left_at.is_null(),
                CallLeg.joined_at < read_at,
                CallLeg.channel_id != Interaction.channel_id,  # an outbound call's agent: the call's own channel
            )
        ):
            if leg.channel_id in up:
                follow[leg.channel_id] = leg.interaction.channel_id or ""  # (one of the calls up: never empty)
            else:
                legs.left(self.bus, leg.channel_id, now)
        if follow:
            self.telephony.submit(self.telephony.follow_parties(follow))
        gone = CallTransfer.select().where(
            CallTransfer.outcome == "requested",
            CallTransfer.channel_id != "",
            CallTransfer.channel_id.not_in(list(up) or [""]),
            CallTransfer.at < read_at,
        )
        for transfer in gone:
            if (
                CallTransfer.update(outcome="failed", ended_at=now)
                .where(CallTransfer.id == transfer.id, CallTransfer.outcome == "requested")
                .execute()
            ):
                notifier.changed(self.bus, Interaction.get_by_id(transfer.interaction_id))

    # -- what Asterisk is told of who is on a call ----------------------------------------------------------------
    def on_leg_moved(self, event: Event) -> None:
        """An agent joined or left a call. Asterisk learns the device each agent's call is on (a global that
        lc-colleague reads: a desk phone's consult call names the call and its interaction, so the colleague's app
        shows the lead before they answer) and, once the call has moved to another agent (an attended or warm
        transfer, a conference), the lead's channel names theirs (LC_ANSWERED_BY: lc-agent-left rings that agent's
        browser again when their tab reloads; a resync after a restart reads who has the call). The first agent's
        answer names them itself (lc-agent-answered)."""
        data = event.data
        interaction = Interaction.by_id(data["interaction_id"])
        agent = Agent.by_id(data["agent_id"])
        if interaction is None or agent is None or not interaction.channel_id:
            return
        on = event.name == "call.leg_joined" and interaction.status == "active"
        call = f"{interaction.channel_id},{interaction.id}" if on else ""
        self.telephony.submit(self.telephony.set_variable(names.device_call_variable(_device(agent)), call))
        if interaction.status != "active" or interaction.direction != "inbound" or interaction.agent_id is None:
            return
        moved = CallLeg.select().where(CallLeg.interaction == interaction, CallLeg.agent.is_null(False)).count() > 1
        current = Agent.by_id(interaction.agent_id) if moved else None
        if current is not None:
            verb = self.telephony.set_variable(names.ANSWERED_BY, _device(current), interaction.channel_id)
            self.telephony.submit(verb)

    # -- helpers ------------------------------------------------------------------------------------------------
    def _dial(self, interaction: Interaction, agent: Agent, to: Agent | None, number: str) -> tuple[str, str]:
        """What Asterisk dials, and the caller ID it sends ("": the lead's, for a colleague)."""
        if to is not None:
            if to.company_id != interaction.company_id:
                raise ApiError("not-found", "no such agent")
            if to.id == agent.id:
                raise ApiError("own-call", "the call is already yours")
            presence = self.presence(to)
            if presence != "available":  # as the Transfer dialog shows them: on a call, wrap-up, away, offline...
                raise ApiError(
                    "colleague-unavailable",
                    f"{to.display_name} is not Available ({presence.replace('_', ' ')}): choose a colleague who is",
                )
            return to.queue_interface, ""
        tracking = interaction.tracking_number
        if tracking is None or not number:
            raise ApiError("not-a-call", "the call has no tracking number to dial an external number from")
        return names.external_dial(number, tracking.trunk_id), tracking.number

    def _transfer(
        self, interaction: Interaction, kind: str, agent: Agent, to: Agent | None, number: str, channel_id: str = ""
    ):
        transfer = CallTransfer.create(
            interaction=interaction,
            kind=kind,
            from_agent=agent,
            to_agent=to,
            to_number=number,
            at=self.clock(),
            outcome="requested",
            channel_id=channel_id,
        )
        notifier.changed(self.bus, interaction)
        return transfer

    def _end(self, interaction: Interaction, transfer: CallTransfer, outcome: str) -> None:
        transfer.outcome, transfer.ended_at = outcome, self.clock()
        transfer.save(only=[CallTransfer.outcome, CallTransfer.ended_at])
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

    def _settle(
        self,
        interaction: Interaction,
        agent: Agent,
        outcome: str,
        verb: Callable[[int], Any],
        *,
        claim_first: bool = False,
    ) -> CallTransfer:
        """End the open consult with ``outcome`` once Asterisk carried out ``verb`` (of the interaction's id);
        ``claim_first``: the outcome is written before (and undone when Asterisk refuses)."""
        _on_the_call(interaction, agent)
        transfer = self._open_consult(interaction)
        if transfer is None:
            raise ApiError("no-consult", "no consult is going on")
        if claim_first:
            CallTransfer.update(outcome=outcome).where(CallTransfer.id == transfer.id).execute()
        failure = f"consult on call {interaction.id} not {outcome}"
        if not carried_out(self.telephony, verb(interaction.id), failure):
            if claim_first:
                CallTransfer.update(outcome="requested").where(
                    CallTransfer.id == transfer.id, CallTransfer.outcome == outcome
                ).execute()
            raise ApiError("no-consult", "the consulted party has not answered, or has left: cancel instead")
        self._end(interaction, transfer, outcome)
        return transfer


def _device(agent: Agent) -> str:
    """The endpoint the agent's calls ring (webrtc7, desk7)."""
    return agent.endpoint_name(agent.ring_device)


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
