"""Call control: what an agent does to a call from the app (Answer, Decline, Hang up, Place Call), carried out by
Asterisk through the telephony layer.

Web threads call it. Each verb is handed to the telephony loop (``telephony.submit``); the verbs a request must
know the outcome of (moving a call to the agent, placing a call) are waited for, at most VERB_WAIT seconds. The
calls domain's recorder (services.py) then sees what Asterisk did and moves the interactions.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from leadcenter.agents.models import Agent
from leadcenter.calls.services import OfferBook, everyone_declined, start_outbound
from leadcenter.clock import Clock
from leadcenter.events import Publisher
from leadcenter.interactions import lifecycle, notifier
from leadcenter.interactions.models import CallTransfer, Interaction, InteractionDecline
from leadcenter.pbx import names
from leadcenter.teams.models import Team
from leadcenter.telephony.service import VERB_WAIT, TelephonyError, carried_out
from leadcenter.tracking_numbers.models import TrackingNumber

log = logging.getLogger(__name__)

AGENT_RING_SECONDS = 30  # an outbound call rings the agent's own device this long before it is given up

Verb = TypeVar("Verb")


class CallVerbs(Protocol[Verb]):
    """What call control asks of the telephony layer (telephony/service.py; its verbs are coroutines): each method
    makes a verb, which ``submit`` hands to the telephony loop."""

    def redirect(self, channel: str, context: str, extension: str) -> Verb: ...

    def hangup(self, channel_id: str, reason: str = ...) -> Verb: ...

    def hang_up_call(self, call_id: str) -> Verb: ...

    def next_step(self, channel_id: str) -> Verb: ...

    def place_outbound(
        self,
        channel_id: str,
        endpoint: str,
        lead_number: str,
        *,
        variables: dict[str, str],
        caller_id: str,
        ring_seconds: int,
    ) -> Verb: ...

    def transfer(self, channel_id: str, context: str, extension: str, variables: dict[str, str]) -> Verb: ...

    def queue_entries(self, queue: str) -> Verb: ...

    def submit(self, verb: Verb) -> concurrent.futures.Future: ...


class CallControl:
    def __init__(
        self,
        telephony: CallVerbs[Any],
        offers: OfferBook,
        reachable: Callable[[Agent], bool],
        bus: Publisher,
        clock: Clock,
        home: Callable[[int], str] = lambda company_id: "",
    ):
        """``offers``: the recorder's book of who rings for which call; ``reachable(agent)``: whether a call can
        ring the agent's device at all (presence); ``home(company_id)``: the Asterisk node its outbound calls are
        placed on ("": the one Asterisk)."""
        self.telephony, self.offers, self.reachable, self.bus, self.clock = telephony, offers, reachable, bus, clock
        self.home = home

    def answer(self, interaction: Interaction, agent: Agent) -> str:
        """The agent presses Answer on an incoming call. If their phone rings for it they pick it up there
        ("ringing"). Otherwise the call leaves the queue or step it is in and rings their phone at once, asking it
        to pick up by itself (dialplan lc-answer), so that the queue stops offering it elsewhere ("called");
        "gone" when Asterisk could not move it (it ended or was answered meanwhile)."""
        channel_id = interaction.channel_id
        assert channel_id, "only a call is answered"
        if self.offers.ringing(channel_id, agent.id) is not None:
            return "ringing"
        moved = carried_out(
            self.telephony,
            self.telephony.redirect(channel_id, names.ANSWER_CONTEXT, agent.endpoint_name(agent.ring_device)),
            f"call {channel_id} not moved to agent {agent.id}",
        )
        return "called" if moved else "gone"

    def hang_up(self, interaction: Interaction) -> None:
        """End the call: the lead's channel is hung up, the agent's leg with it; the recorder concludes it."""
        assert interaction.channel_id, "only a call is hung up"
        asked = self.telephony.submit(self.telephony.hang_up_call(interaction.channel_id))
        if asked.done() and isinstance(asked.exception(), TimeoutError):  # nobody to ask (cluster.py): say so
            raise cast(TimeoutError, asked.exception())

    def decline(self, interaction: Interaction, agent: Agent) -> tuple[bool, bool]:
        """The agent declines an incoming interaction: it leaves their Incoming. For a call, their ringing leg, if it
        rings, is hung up so the flow moves on at once (next agent, or the next step) instead of after the ring
        time; and once every agent it is offered to has declined, a call waiting in a queue goes on to the flow's
        next step (a ring-agents step ends by itself when its last leg is hung up). Returns (a leg was hung up, the
        call went on)."""
        InteractionDecline.get_or_create(interaction=interaction, agent=agent, defaults={"at": self.clock()})
        notifier.declined(self.bus, interaction, agent)
        if not interaction.channel_id:
            return False, False
        passed_on = self.offers.in_queue(interaction.channel_id) and everyone_declined(interaction, self.reachable)
        if passed_on:  # leaving the queue cancels the ringing leg too (and app_queue rings nobody else)
            self.telephony.submit(self.telephony.next_step(interaction.channel_id))
        leg = self.offers.ringing(interaction.channel_id, agent.id)
        if leg is not None and not passed_on:
            self.telephony.submit(self.telephony.hangup(leg, reason="busy"))
        return leg is not None, passed_on

    def place(self, agent: Agent, number: TrackingNumber, lead_number: str, record: bool) -> Interaction | None:
        """An agent's outbound call: the interaction (Active at once), then their device rings and (lc-outbound) the
        lead is dialled on the tracking number's trunk with that number as caller ID, recorded when asked. None
        when Asterisk did not take the call (the interaction is then concluded unanswered)."""
        now = self.clock()
        channel_id = names.outbound_channel_id(uuid.uuid4().hex)
        interaction = start_outbound(agent, number, lead_number, channel_id, now, self.home(number.company_id))
        variables = {
            "LC_OUTBOUND": "1",
            "LC_COMPANY": str(number.company_id),
            "__SPYGROUP": names.spy_group(number.company_id),  # the agent's channel: its supervisors may monitor it
            "LC_NUMBER": str(number.id),
            "LC_TRUNK": number.trunk.endpoint_name,
            "LC_CALLER_ID": number.number,
            "LC_RECORD": "1" if record else "0",
            "TRANSFER_CONTEXT": names.NO_TRANSFER_CONTEXT,  # a desk phone's transfer key: refused on this call
            # The agent's device learns which interaction rings, and (as lc-auto-answer says it) to
            # pick up at once: the agent asked for this call.
            "PJSIP_HEADER(add,X-LC-Call)": channel_id,
            "PJSIP_HEADER(add,Call-Info)": "<sip:leadcenter>;answer-after=0",
        }
        placed = carried_out(
            self.telephony,
            self.telephony.place_outbound(
                channel_id,
                agent.queue_interface,
                lead_number,
                variables=variables,
                caller_id=f'"" <{lead_number}>',
                ring_seconds=AGENT_RING_SECONDS,
            ),
            f"outbound call {channel_id} of agent {agent.id} not placed",
        )
        if not placed:
            lifecycle.move(interaction, "go_unanswered", self.clock())
        notifier.changed(self.bus, interaction, created=True)
        return interaction if placed else None

    def transfer(
        self,
        interaction: Interaction,
        agent: Agent | None,
        *,
        to_agent: Agent | None = None,
        to_team: Team | None = None,
        to_number: str = "",
    ) -> CallTransfer:
        """A blind transfer of a live call (exactly one of to_agent, to_team, to_number): the lead leaves the
        bridge with ``agent`` (whose leg ends: wrap-up) for the colleague's ring device, the team's queue, or the
        external number on the tracking number's trunk. An agent's outbound call moves the same way once the lead
        answered: the telephony layer knows the lead's channel of the call. The recorder completes the CallTransfer
        when the call is answered there; it is "failed" at once if Asterisk did not move the call."""
        channel_id = interaction.channel_id
        assert channel_id and interaction.answered_at, "only an answered call is transferred"
        now = self.clock()
        move = CallTransfer.create(
            interaction=interaction,
            kind="blind",
            from_agent=agent,
            to_agent=to_agent,
            to_team=to_team,
            to_number=to_number,
            at=now,
        )
        variables: dict[str, str] = {}
        if to_agent is not None:
            context, extension = names.TRANSFER_AGENT_CONTEXT, to_agent.endpoint_name(to_agent.ring_device)
            variables["LC_INTERACTION"] = str(interaction.id)  # their app shows the lead before they answer
        elif to_team is not None:
            context, extension = names.TRANSFER_TEAM_CONTEXT, str(to_team.id)
            variables["LC_TRANSFER_WAIT"] = str(to_team.max_wait_seconds)
            variables["LC_TRANSFER_POSITION"] = self._place_by_arrival(interaction, to_team) or ""
        else:
            number = interaction.tracking_number
            assert number is not None and to_number, "a transfer to a number goes out on the tracking number's trunk"
            context, extension = names.TRANSFER_NUMBER_CONTEXT, to_number
            variables["LC_TRUNK"] = number.trunk.endpoint_name
            variables["LC_TRACKING"] = number.number  # the caller ID the number sees (lc-forward-leg)
        moved = carried_out(
            self.telephony,
            self.telephony.transfer(channel_id, context, extension, variables),
            f"call {channel_id} not transferred ({context} {extension})",
        )
        if not moved:
            move.outcome, move.ended_at = "failed", self.clock()
            move.save(only=[CallTransfer.outcome, CallTransfer.ended_at])
        notifier.changed(self.bus, interaction)
        return move

    def _place_by_arrival(self, interaction: Interaction, team: Team) -> str | None:
        """The queue position the call's original arrival earns it among the callers waiting in the team's queue,
        when the team keeps transferred calls' places (1: the front); None: the end of the queue."""
        if not team.transfer_keeps_place:
            return None
        try:
            entries = self.telephony.submit(self.telephony.queue_entries(team.queue_name)).result(VERB_WAIT)
        except (*TelephonyError, TimeoutError) as exc:
            log.warning("queue %s not read for a transfer: %s", team.queue_name, exc)
            return None
        return place_by_arrival(interaction, entries, self.clock())


def place_by_arrival(interaction: Interaction, entries: list[tuple[str, int]], now: dt.datetime) -> str | None:
    """Of the callers waiting (unique id, seconds in the queue), those who called before this call stay ahead of
    it; a caller the database does not know arrived when it entered the queue."""
    started = {
        i.channel_id: i.started_at
        for i in Interaction.select(Interaction.channel_id, Interaction.started_at).where(
            Interaction.channel_id.in_([channel for channel, _ in entries] or [""])
        )
    }
    ahead = sum(
        1
        for channel, waited in entries
        if started.get(channel, now - dt.timedelta(seconds=waited)) <= interaction.started_at
    )
    return str(ahead + 1) if ahead < len(entries) else None
