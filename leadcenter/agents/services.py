"""Creating agents and the SIP credentials of their devices."""

from __future__ import annotations

import datetime as dt
import logging

from leadcenter.accounts.models import Company, Membership, User
from leadcenter.accounts.services import add_member
from leadcenter.agents import availability
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import RING_DEVICES, Agent, SipCredential, current_agents
from leadcenter.credentials import generate_password
from leadcenter.db import database
from leadcenter.events import Bus
from leadcenter.interactions.models import Interaction, InteractionDecline
from leadcenter.pbx import names
from leadcenter.teams.models import Team

log = logging.getLogger(__name__)


def create_agent(
    company: Company,
    user: User,
    display_name: str | None = None,
    devices: tuple[str, ...] = ("webrtc",),
    ring_device: str = "webrtc",
    *,
    now: dt.datetime,
) -> Agent:
    """Make ``user`` an agent of ``company`` with a generated SIP password for each device."""
    unknown = set(devices) - set(RING_DEVICES)
    if unknown or ring_device not in devices:
        raise ValueError(f"devices must be among {RING_DEVICES} and include the ring device {ring_device!r}")
    with database.atomic():
        if not Membership.select().where(Membership.user == user, Membership.company == company).exists():
            add_member(user, company, "agent")
        agent = Agent.create(
            company=company,
            user=user,
            display_name=display_name or user.name,
            chat_display_name=display_name or user.name,
            ring_device=ring_device,
            status_changed_at=now,
        )
        for device in devices:
            SipCredential.create(agent=agent, device=device, password=generate_password())
    return agent


def agent_profile(
    company: Company,
    user: User,
    devices: tuple[str, ...] = ("webrtc",),
    ring_device: str = "webrtc",
    display_name: str | None = None,
    *,
    now: dt.datetime,
) -> Agent:
    """``user``'s agent profile in ``company`` as asked: a new one; or, for a user removed earlier, their old
    profile brought back (so old and new interactions name the same agent) with new SIP accounts."""
    previous = Agent.get_or_none(Agent.company == company, Agent.user == user)
    if previous is None:
        return create_agent(company, user, display_name, tuple(devices), ring_device, now=now)
    with database.atomic():
        SipCredential.delete().where(SipCredential.agent == previous).execute()
        for device in devices:
            SipCredential.create(agent=previous, device=device, password=generate_password())
        if display_name:
            previous.display_name = previous.chat_display_name = display_name
        previous.ring_device, previous.status, previous.status_changed_at = ring_device, "available", now
        previous.save()
    return previous


def sip_credential(agent: Agent, device: str) -> SipCredential:
    return SipCredential.get(SipCredential.agent == agent, SipCredential.device == device)


class PauseKeeper:
    """Keeps Asterisk's view of who may be rung equal to the agents' status in the database: queue members are
    paused unless their agent is Available, and ring-agents steps read an AstDB flag per agent.

    The database is the truth: after every (re)connect, reload or periodic resync, any queue member whose
    pause state differs, and any flag that differs or is missing, is corrected.

    An agent who lets a call offered to them ring out is set Unavailable (missed) until they choose Available
    again. Asterisk pauses them itself at that moment, in every queue (autopause = all, and lc-rang-out after a
    step's Dial), because a queue offers the call again within a second; the keeper then decides from the database:
    a leg hung up by the agent's Decline in the app looks like a ring-out to Asterisk, so an agent who declined
    the call did not miss it and is unpaused at once.
    """

    def __init__(self, bus: Bus, telephony, availability: Availability):
        self.bus = bus
        self.telephony = telephony
        self.availability = availability
        bus.subscribe("telephony.synced", self.on_synced)
        bus.subscribe("agent.status_changed", self.on_status_changed)
        bus.subscribe("call.agent_rang_out", self.on_rang_out)
        bus.subscribe("queue_member.paused", self.on_member_paused)
        # Agents who let a queue's call ring out but whose team keeps them Available: Asterisk's pause (autopause)
        # stays until that call has left the queue, or the queue would offer it straight back to them.
        self._held: dict[str, set[int]] = {}  # lead channel -> agent ids
        for name in ("call.answered", "call.left_queue", "call.ended"):
            bus.subscribe(name, self.on_call_moved_on)

    def on_status_changed(self, event) -> None:
        """An agent chose Available or Offline (or their calls made them Unavailable): apply it at once."""
        agent = Agent.by_id(event.data["agent"]["id"])
        if agent is not None:
            self._apply(agent)

    def on_rang_out(self, event) -> None:
        """An agent's leg for a call ended unanswered after its ring time (or because they declined it). Whether
        they missed it depends on the queue's team: some teams keep an agent who let a call ring out Available."""
        agent = Agent.by_id(event.data["agent_id"])
        if agent is None:
            return
        declined = _declined(agent, event.data["channel_id"])
        if not declined and _stays_available(event.data.get("queue")):
            self._held.setdefault(event.data["channel_id"], set()).add(agent.id)
        elif not declined and availability.can(agent, "miss_call"):
            self.availability.move(agent, "miss_call", event.data["at"])  # on_status_changed applies it
        else:
            self._apply(agent)  # Asterisk paused them when the leg ended: the database says otherwise

    def on_call_moved_on(self, event) -> None:
        """A call someone let ring out was answered, left its queue or ended: those kept paused for it are back."""
        for agent in Agent.select().where(Agent.id.in_(list(self._held.pop(event.data["channel_id"], ())))):
            self._apply(agent)

    def on_member_paused(self, event) -> None:
        """lc-rang-out paused every agent a step's Dial rang when nobody answered, a decliner too: by now the
        database has decided about each (their legs' DialEnd came first)."""
        if event.data["paused"] and event.data["reason"] == names.RANG_OUT_PAUSE:
            agent = Agent.by_id(event.data["agent_id"])
            if agent is not None and agent.status == "available":
                self._apply(agent)

    def _held_agents(self) -> set[int]:
        return set().union(*self._held.values())

    def _apply(self, agent: Agent) -> None:
        if self.telephony.connected:
            available = agent.status == "available"
            paused = not available or agent.id in self._held_agents()
            self.telephony.submit(self.telephony.pause(agent.queue_interface, paused, agent.status))
            self.telephony.submit(self.telephony.set_available(agent.id, available))

    def on_synced(self, event) -> None:
        agents = {a.id: a for a in current_agents()}
        held = self._held_agents()
        for member in event.data["members"]:
            agent = agents.get(member["agent_id"])
            if agent is None:
                continue
            paused = agent.status != "available" or agent.id in held
            if member["paused"] != paused:
                log.info(
                    "queue %s: %s %s to match status %s",
                    member["queue"],
                    "pausing" if paused else "unpausing",
                    member["interface"],
                    agent.status,
                )
                self.telephony.submit(self.telephony.pause(member["interface"], paused, agent.status))
        flags = event.data.get("available", {})
        for agent in agents.values():
            available = agent.status == "available"
            if flags.get(agent.id) != available:
                self.telephony.submit(self.telephony.set_available(agent.id, available))


def _stays_available(queue: str | None) -> bool:
    """Whether the team of this queue keeps an agent who let its call ring out Available."""
    team_id = names.parse_queue(queue)
    return team_id is not None and Team.select().where(Team.id == team_id, Team.ring_out == "available").exists()


def _declined(agent: Agent, channel_id: str) -> bool:
    """Whether the agent declined, in the app, the call of this lead channel."""
    return (
        InteractionDecline.select()
        .join(Interaction)
        .where(InteractionDecline.agent == agent, Interaction.channel_id == channel_id)
        .exists()
    )
