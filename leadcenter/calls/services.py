"""The call recorder: ``call.*`` and ``telephony.synced`` events in, interactions out.

Runs on the event dispatcher thread. Each call event moves the call's interaction through its lifecycle and
publishes ``interaction.created`` / ``interaction.updated``. Resynchronisation reconciles both ways: a call up
in Asterisk without an interaction (it began while the controller was down) gets one; an interaction still
open whose channel is gone (it ended while the controller was down) is concluded.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
import threading
from collections.abc import Callable, Collection
from functools import reduce
from pathlib import Path

from peewee import fn

from leadcenter.agents import availability
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent
from leadcenter.calls import legs
from leadcenter.clock import Clock
from leadcenter.db import Prepared, database
from leadcenter.events import Bus, Event
from leadcenter.flows.services import audience
from leadcenter.interactions import lifecycle, notifier
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction, InteractionDecline
from leadcenter.leads.services import find_or_create_by_number, lead_number
from leadcenter.pbx import names
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.services import announce, attribute
from leadcenter.voicemail import services as voicemail

log = logging.getLogger(__name__)

OPEN = ("incoming", "active")


class OfferBook:
    """Which agents' phones ring for which call right now (the queue offers a call to one agent at a time;
    a ring_agents step to several), so that an agent's Decline can hang up their ringing leg; and which queue a
    call waits in, so that the call can go on to the next step when every agent has declined it. Written on the
    dispatcher thread, read from web threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ringing: dict[str, dict[int, str]] = {}  # lead channel id -> {agent id: agent channel id}
        self._queued: set[str] = set()  # lead channel ids waiting in a queue

    def queued(self, channel_id: str) -> None:
        with self._lock:
            self._queued.add(channel_id)

    def left_queue(self, channel_id: str) -> None:
        with self._lock:
            self._queued.discard(channel_id)

    def in_queue(self, channel_id: str) -> bool:
        with self._lock:
            return channel_id in self._queued

    def offered(self, channel_id: str, agent_id: int, agent_channel_id: str) -> None:
        with self._lock:
            self._ringing.setdefault(channel_id, {})[agent_id] = agent_channel_id

    def withdrawn(self, channel_id: str, agent_id: int | None = None) -> None:
        with self._lock:
            if agent_id is None:
                self._ringing.pop(channel_id, None)
            else:
                self._ringing.get(channel_id, {}).pop(agent_id, None)

    def ringing(self, channel_id: str, agent_id: int) -> str | None:
        """The agent's ringing leg for this call, if it rings now."""
        with self._lock:
            return self._ringing.get(channel_id, {}).get(agent_id)


class HoldBook:
    """Which calls are on hold now and since when (either side may hold; the call is on hold while any side holds
    it). Used on the dispatcher thread only."""

    def __init__(self):
        self._holders: dict[str, set[str]] = {}  # lead channel id -> the channels holding it
        self._since: dict[str, dt.datetime] = {}

    def held(self, channel_id: str, holder: str, at: dt.datetime) -> None:
        self._since.setdefault(channel_id, at)
        self._holders.setdefault(channel_id, set()).add(holder)

    def unheld(self, channel_id: str, holder: str | None, at: dt.datetime) -> int | None:
        """The seconds the hold lasted when the call's last holder lets go (``holder`` None: the call ended);
        None while someone still holds it, or if it was not on hold."""
        holders = self._holders.get(channel_id, set())
        if holder is None:
            holders.clear()
        else:
            holders.discard(holder)
        if holders or channel_id not in self._since:
            return None
        self._holders.pop(channel_id, None)
        return max(0, round((at - self._since.pop(channel_id)).total_seconds()))


def everyone_declined(interaction: Interaction, reachable: Callable[[Agent], bool]) -> bool:
    """Every agent the call's flow offers it to, except those Offline or whose phone nothing can ring (``reachable``),
    has declined it (Incoming is theirs only)."""
    number = interaction.tracking_number
    if number is None or number.flow is None:
        return False
    offered = {
        a.id
        for a in Agent.select().where(Agent.id.in_(list(audience(number.flow)) or [0]), Agent.status != "offline")
        if reachable(a)
    }
    declined = {
        d.agent_id
        for d in InteractionDecline.select(InteractionDecline.agent).where(
            InteractionDecline.interaction == interaction
        )
    }
    return bool(offered) and offered <= declined


# The call a lead's channel is: its SQL built once (the recorder looks the call up on each of its events).
_CALL_OF_CHANNEL = Prepared(lambda channel_id: Interaction.select().where(Interaction.channel_id == channel_id), "?ch")


class CallRecorder:
    def __init__(
        self, bus: Bus, recording_path, asterisk_dir: Path, data_dir: Path, clock: Clock, availability: Availability
    ):
        """``recording_path(file inside the Asterisk root) -> path relative to the data directory``."""
        self.bus = bus
        self.clock = clock
        self.availability = availability
        self.recording_path = recording_path
        self.asterisk_dir, self.data_dir = asterisk_dir, data_dir
        self.offers = OfferBook()
        self.holds = HoldBook()
        bus.subscribe(
            "call.agent_offered",
            lambda e: self.offers.offered(e.data["channel_id"], e.data["agent_id"], e.data["agent_channel_id"]),
        )
        bus.subscribe("call.agent_missed", lambda e: self.offers.withdrawn(e.data["channel_id"], e.data["agent_id"]))
        bus.subscribe("call.queued", lambda e: self.offers.queued(e.data["channel_id"]))
        for name in ("call.left_queue", "call.answered", "call.ended"):
            bus.subscribe(name, lambda e: self.offers.left_queue(e.data["channel_id"]))
        for name, handler in (
            ("call.inbound", self.on_inbound),
            ("call.answered", self.on_answered),
            ("call.lead_answered", self.on_lead_answered),
            ("call.recording_started", self.on_recording),
            ("call.flow_ended", self.on_flow_ended),
            ("call.voicemail_left", self.on_voicemail),
            ("call.ended", self.on_ended),
            ("call.queued", self.on_queued),
            ("call.held", lambda e: self.holds.held(e.data["channel_id"], e.data["holder"], e.data["at"])),
            ("call.unheld", lambda e: self._add_hold(e.data["channel_id"], e.data["holder"], e.data["at"])),
            ("call.party_answered", self.on_party_answered),
            ("call.referred", self.on_referred),
            ("call.party_left", self.on_party_left),
            ("call.leg_joined", self.on_leg_joined),
            ("call.leg_left", self.on_leg_left),
            ("telephony.synced", self.on_synced),
        ):
            bus.subscribe(name, handler)

    def _interaction(self, channel_id: str) -> Interaction | None:
        return _CALL_OF_CHANNEL.first(channel_id)

    def _create(self, data: dict, started_at) -> Interaction | None:
        number = TrackingNumber.get_or_none(TrackingNumber.id == data["number_id"])
        if number is None or number.company_id != data["company_id"]:
            log.warning(
                "call %s names tracking number %s, which is not in the database", data["channel_id"], data["number_id"]
            )
            return None
        company = number.company
        caller = lead_number(data["caller_number"], company)
        name = data.get("caller_name") or ""
        with database.atomic():
            lead = find_or_create_by_number(
                company, caller, started_at, "" if name in ("", caller, "<unknown>") else name
            )
            interaction = Interaction.create(
                company=company,
                lead=lead,
                kind="call",
                direction="inbound",
                tracking_number=number,
                lead_number=caller,
                channel_id=data["channel_id"],
                node=data.get("node", ""),
                started_at=started_at,
                status_changed_at=started_at,
                source=number.source,
            )
            attribution = attribute(interaction, started_at, number=number)  # shown while it rings
        # A new call shows in the Incoming of the agents its flow offers calls to.
        notifier.changed(self.bus, interaction, created=True)
        announce(self.bus, attribution)
        return interaction

    def on_inbound(self, event: Event) -> None:
        if self._interaction(event.data["channel_id"]) is None:
            self._create(event.data, event.data["at"])

    def on_recording(self, event: Event) -> None:
        interaction = self._interaction(event.data["channel_id"])
        if interaction is not None:
            interaction.recording = str(self.recording_path(event.data["file"]))
            interaction.save(only=[Interaction.recording])

    def on_answered(self, event: Event) -> None:
        self.offers.withdrawn(event.data["channel_id"])
        interaction = self._interaction(event.data["channel_id"])
        if interaction is None:
            return
        at = event.data["at"]
        if lifecycle.can(interaction, "answer"):
            self._answer(interaction, event.data["agent_id"], event.data.get("queue"), at)
        agent = Agent.get_or_none(Agent.id == event.data["agent_id"], Agent.company == interaction.company_id)
        if agent is None or not event.data.get("agent_channel_id") or interaction.status != "active":
            return
        # The first agent's leg, or a colleague's the call was transferred to: the call is theirs from now on.
        legs.joined(self.bus, interaction, event.data["agent_channel_id"], at, agent=agent)
        self._transferred(interaction, at, CallTransfer.to_agent == agent, *_to_team(event.data.get("queue")))

    def on_party_answered(self, event: Event) -> None:
        """An external number a blind transfer dialled answered: on the call, with the lead."""
        interaction = self._interaction(event.data["channel_id"])
        if interaction is not None and interaction.status == "active" and event.data.get("party_channel_id"):
            at, number = event.data["at"], event.data["number"]
            legs.joined(self.bus, interaction, event.data["party_channel_id"], at, number=number)
            self._transferred(interaction, at, CallTransfer.to_number == number)

    def on_referred(self, event: Event) -> None:
        """A desk phone's transfer key sent the call to a colleague's extension (their agent id): the transfer is
        on the timeline, and its agent, handing the call on, goes to wrap-up when their leg ends."""
        interaction = self._interaction(event.data["channel_id"])
        if interaction is None or interaction.status != "active":
            return
        extension = event.data["extension"]
        to_agent = (
            Agent.get_or_none(Agent.id == int(extension), Agent.company == interaction.company_id)
            if extension.isdigit() and len(extension) < 10
            else None
        )
        from_agent = Agent.get_or_none(Agent.id == event.data["agent_id"], Agent.company == interaction.company_id)
        CallTransfer.create(
            interaction=interaction,
            kind="refer",
            from_agent=from_agent,
            to_agent=to_agent,
            at=event.data["at"],
            **({} if event.data["succeeded"] else {"outcome": "failed", "ended_at": event.data["at"]}),
        )
        notifier.changed(self.bus, interaction)

    def on_party_left(self, event: Event) -> None:
        legs.left(self.bus, event.data["party_channel_id"], event.data["at"])

    def _transferred(self, interaction: Interaction, at, *reached) -> None:
        """A transfer of the call under way reached whom it was for: completed."""
        moves = CallTransfer.update(outcome="completed", ended_at=at).where(
            CallTransfer.interaction == interaction,
            CallTransfer.outcome == "requested",
            reduce(operator.or_, reached),
        )
        if moves.execute():
            notifier.changed(self.bus, Interaction.get_by_id(interaction.id))

    def on_leg_joined(self, event: Event) -> None:
        """An agent joined a call: on a call. Not when their leg is over already: a leg_joined is delivered after the
        handler that published it, and a short call (a callback to a busy lead) may have ended meanwhile, its
        conclusion sending the agent to wrap-up, where a late take_call would keep them "on a call" for good."""
        agent = Agent.by_id(event.data["agent_id"])
        if agent is None or not availability.can(agent, "take_call"):  # on a call already (its answer moved them)
            return
        if CallLeg.select().where(CallLeg.channel_id == event.data["channel_id"], CallLeg.left_at.is_null()).exists():
            self.availability.move(agent, "take_call", event.data["at"])

    def on_leg_left(self, event: Event) -> None:
        """An agent left a call that goes on (a transfer, a conference): wrap-up for them, unless they are on another
        call. The end of the call itself (and an agent's leg lost with a reloaded tab, which lc-agent-left rings
        again) is _conclude's."""
        agent = Agent.by_id(event.data["agent_id"])
        interaction = Interaction.by_id(event.data["interaction_id"])
        if agent is None or interaction is None or interaction.status != "active":
            return
        moved_on = interaction.agent_id != agent.id or legs.handed_on(interaction, agent.id)
        if moved_on and availability.can(agent, "end_call") and not _on_another_call(agent, interaction):
            self.availability.move(agent, "end_call", event.data["at"])

    def _answer(self, interaction: Interaction, agent_id: int | None, queue: str | None, at) -> None:
        agent = Agent.get_or_none(Agent.id == agent_id, Agent.company == interaction.company_id)
        team_id = names.parse_queue(queue)
        team = Team.get_or_none(Team.id == team_id, Team.company == interaction.company_id) if team_id else None
        lifecycle.move(interaction, "answer", at, agent=agent, **({"team": team} if team else {}))
        notifier.changed(self.bus, interaction)
        # Every inbound call an agent answers takes them out of every queue and ring-agents step until they rejoin
        # after wrap-up, however it reached them: a queue, a ring-agents step, or Answer on a call ringing someone
        # else (lc-answer).
        if agent is not None and availability.can(agent, "take_call"):
            self.availability.move(agent, "take_call", at)

    def on_queued(self, event: Event) -> None:
        """The call entered a team's queue: the first such team is whose service level it counts in."""
        team_id = names.parse_queue(event.data.get("queue"))
        if team_id is not None:
            Interaction.update(queue_team=team_id).where(
                Interaction.channel_id == event.data["channel_id"],
                Interaction.queue_team.is_null(),
                Interaction.company == Team.select(Team.company).where(Team.id == team_id),
            ).execute()

    def _add_hold(self, channel_id: str, holder: str | None, at) -> None:
        seconds = self.holds.unheld(channel_id, holder, at)
        interaction = self._interaction(channel_id)
        if seconds is not None and interaction is not None:
            Interaction.update(hold_seconds=fn.COALESCE(Interaction.hold_seconds, 0) + seconds).where(
                Interaction.id == interaction.id
            ).execute()
            for leg in legs.open_legs(interaction):  # the parties on the call while it was held
                legs.add_hold(leg.channel_id, seconds)

    def on_lead_answered(self, event: Event) -> None:
        """The lead picked up an agent's outbound call (active since it was placed): the talk starts now, and the
        agent's leg on ``agent_channel_id`` if the tracker names one (the channel lc-outbound dialled the lead from; a
        queue callback's agent joined with the queue's answer, on their own channel, not the place's)."""
        interaction = self._interaction(event.data["channel_id"])
        if interaction is not None and interaction.status == "active" and interaction.answered_at is None:
            interaction.answered_at = event.data["at"]
            interaction.save(only=[Interaction.answered_at])
            agent_channel_id = event.data.get("agent_channel_id")
            if interaction.agent_id is None or not agent_channel_id:
                notifier.changed(self.bus, interaction)
            else:
                legs.joined(self.bus, interaction, agent_channel_id, event.data["at"], agent=interaction.agent)

    def on_flow_ended(self, event: Event) -> None:
        """Every step of the flow went by and nobody answered: missed."""
        self._miss(self._interaction(event.data["channel_id"]), event.data["at"])

    def _miss(self, interaction: Interaction | None, at) -> None:
        if interaction is not None and lifecycle.can(interaction, "miss"):
            lifecycle.move(interaction, "miss", at)
            notifier.changed(self.bus, interaction)

    def on_voicemail(self, event: Event) -> None:
        """The caller reached a mailbox: with a message left, the call concludes as voicemail, with its audio. A
        message in an agent's own mailbox is that agent's (their Incoming); a call answered before it reached one
        (transferred to a colleague who did not answer) stays the call it was, with the message."""
        interaction = self._interaction(event.data["channel_id"])
        if interaction is None:
            return
        owner = voicemail.mailbox_owner(event.data["mailbox"], interaction.company_id)
        waiting = lifecycle.can(interaction, "take_voicemail")
        if not waiting and owner is None:
            return
        message = voicemail.find_message(self.asterisk_dir, event.data["mailbox"], event.data["channel"])
        if message is None:  # the caller reached the last step, the mailbox, and left no message
            if waiting:
                self._miss(interaction, event.data["at"])
            return
        left = {
            "voicemail": str(message.audio.relative_to(self.data_dir)),
            "duration_seconds": message.seconds,
            "mailbox_agent": owner,
        }
        if waiting:
            lifecycle.move(interaction, "take_voicemail", event.data["at"], **left)
        else:
            Interaction.update(**left).where(Interaction.id == interaction.id).execute()
            interaction = Interaction.get_by_id(interaction.id)
        notifier.changed(self.bus, interaction)

    def on_ended(self, event: Event) -> None:
        self.offers.withdrawn(event.data["channel_id"])
        self._add_hold(event.data["channel_id"], None, event.data["at"])  # a call that ends on hold
        interaction = self._interaction(event.data["channel_id"])
        if interaction is not None:
            parties = self._end_legs(interaction, event.data["at"])
            # Still waiting when the line went down: the caller hung up before anyone answered.
            self._conclude(interaction, event.data["at"], waiting="abandon", parties=parties)

    def _end_legs(self, interaction: Interaction, at) -> set[int]:
        """The lead is gone: a transfer still ringing failed, and every party's leg ends with the call; the agents
        who were still on it. In that order: an agent still on when a transfer of theirs failed with the call did
        not hand it on, and is its agent."""
        CallTransfer.update(outcome="failed", ended_at=at).where(
            CallTransfer.interaction == interaction, CallTransfer.outcome == "requested"
        ).execute()
        parties = set()
        for leg in legs.open_legs(interaction):
            legs.left(self.bus, leg.channel_id, at)
            if leg.agent_id is not None:
                parties.add(leg.agent_id)
        interaction.agent_id = Interaction.get_by_id(interaction.id).agent_id  # legs may have moved it
        return parties

    def _conclude(self, interaction: Interaction, at, waiting: str, parties: Collection[int] = ()) -> None:
        """End an interaction that is still open; ``waiting`` is the event for one nobody had answered. Its agent,
        and the other agents still on it (``parties``: a conference's), go to wrap-up: their legs' own ends come
        after the call's (call.leg_left finds it over)."""
        if interaction.status == "active":
            # An outbound call the lead never picked up is missed; every other active call was answered.
            lifecycle.move(interaction, "end" if interaction.answered_at else "go_unanswered", at)
        elif interaction.status == "incoming":
            lifecycle.move(interaction, waiting, at)
        else:
            return
        notifier.changed(self.bus, interaction)
        for agent in Agent.select().where(Agent.id.in_({interaction.agent_id, *parties} - {None})):
            if availability.can(agent, "end_call") and not _on_another_call(agent, interaction):
                self.availability.move(agent, "end_call", at)  # wrap-up: out until "Rejoin the Queue"

    def on_synced(self, event: Event) -> None:
        """What one Asterisk node (``node``; none: the one Asterisk) has now: its calls without an interaction get
        one, and its open calls it no longer has are concluded; another node's calls are not its to conclude."""
        node = event.data.get("node", "")
        up = {call["channel_id"]: call for call in event.data["calls"]}
        for call in up.values():
            interaction = self._interaction(call["channel_id"])
            if interaction is None and call.get("outbound"):
                continue  # placed from elsewhere (another controller's database): not ours to record
            if interaction is None:
                interaction = self._create({**call, "node": node}, call["started_at"])
                if interaction is None:
                    continue
                log.info(
                    "call %s was up while the controller was away: interaction %s", call["channel_id"], interaction.id
                )
            if call.get("recording") and not interaction.recording:
                interaction.recording = str(self.recording_path(call["recording"]))
                interaction.save(only=[Interaction.recording])
            if call.get("agent_id") and lifecycle.can(interaction, "answer"):
                self._answer(interaction, call["agent_id"], call.get("queue"), self.clock())
        # Only calls that began before Asterisk was read can be missing from what it said.
        stale = Interaction.select().where(
            Interaction.kind == "call",
            Interaction.status.in_(OPEN),
            Interaction.node == node,
            Interaction.channel_id.is_null(False),
            Interaction.channel_id.not_in(list(up) or [""]),
            Interaction.started_at < event.data["read_at"],
        )
        for interaction in stale:
            log.info("call %s ended while the controller was away", interaction.channel_id)
            parties = self._end_legs(interaction, self.clock())
            self._conclude(interaction, self.clock(), waiting="miss", parties=parties)  # how it ended is unknown


def _to_team(queue: str | None) -> list:
    """A transfer to this queue's team is reached when the queue connects the call (none outside a queue)."""
    team_id = names.parse_queue(queue)
    return [CallTransfer.to_team == team_id] if team_id is not None else []


def _on_another_call(agent: Agent, interaction: Interaction) -> bool:
    return (
        Interaction.select()
        .where(
            Interaction.agent == agent,
            Interaction.kind == "call",
            Interaction.status == "active",
            Interaction.id != interaction.id,
        )
        .exists()
    )


def start_outbound(
    agent: Agent, number: TrackingNumber, lead_number: str, channel_id: str, now: dt.datetime, node: str = ""
) -> Interaction:
    """The interaction of an outbound call, Active from the moment it is placed (lifecycle: go_unanswered if the
    lead never picks up), on ``node`` (the company's home node)."""
    with database.atomic():
        lead = find_or_create_by_number(number.company, lead_number, now)
        return Interaction.create(
            company=number.company_id,
            lead=lead,
            kind="call",
            direction="outbound",
            status="active",
            tracking_number=number,
            agent=agent,
            lead_number=lead_number,
            channel_id=channel_id,
            node=node,
            started_at=now,
            status_changed_at=now,
            source=number.source,
        )


def call_node(key: str | int) -> str | None:
    """The node a call is on, by its interaction's id (int) or a channel of it (str: the call's own, or a party's
    leg's); None when unknown or the one Asterisk's ("")."""
    if isinstance(key, int):
        interaction = Interaction.get_or_none(Interaction.id == key)
    else:
        interaction = Interaction.get_or_none(Interaction.channel_id == key)
        if interaction is None and (leg := CallLeg.get_or_none(CallLeg.channel_id == key)) is not None:
            interaction = leg.interaction
    return (interaction.node or None) if interaction is not None else None
