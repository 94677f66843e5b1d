"""Creating agents and the SIP credentials of their devices."""
from __future__ import annotations

import datetime as dt
import logging

from leadcenter.agents.models import RING_DEVICES, Agent, SipCredential
from leadcenter.companies.models import Company, Membership, User
from leadcenter.companies.services import add_member
from leadcenter.credentials import generate_password
from leadcenter.db import database

log = logging.getLogger(__name__)


def create_agent(company: Company, user: User, display_name: str | None = None,
                 devices: tuple[str, ...] = ("webrtc",), ring_device: str = "webrtc", *, now: dt.datetime) -> Agent:
    """Make ``user`` an agent of ``company`` with a generated SIP password for each device."""
    unknown = set(devices) - set(RING_DEVICES)
    if unknown or ring_device not in devices:
        raise ValueError(f"devices must be among {RING_DEVICES} and include the ring device {ring_device!r}")
    with database.atomic():
        if not Membership.select().where(Membership.user == user, Membership.company == company).exists():
            add_member(user, company, "agent")
        agent = Agent.create(company=company, user=user, display_name=display_name or user.name,
                             chat_display_name=display_name or user.name, ring_device=ring_device,
                             status_changed_at=now)
        for device in devices:
            SipCredential.create(agent=agent, device=device, password=generate_password())
    return agent


def agent_profile(company: Company, user: User, devices: tuple[str, ...] = ("webrtc",), ring_device: str = "webrtc",
                  display_name: str | None = None, *, now: dt.datetime) -> Agent:
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
    """

    def __init__(self, bus, telephony):
        self.telephony = telephony
        bus.subscribe("telephony.synced", self.on_synced)
        bus.subscribe("agent.status_changed", self.on_status_changed)

    def on_status_changed(self, event) -> None:
        """An agent chose Available or Offline (or the queue made them Unavailable): apply it at once."""
        agent = Agent.get_or_none(Agent.id == event.data["agent_id"])
        if agent is not None and self.telephony.connected:
            available = agent.status == "available"
            self.telephony.submit(self.telephony.pause(agent.queue_interface, not available, agent.status))
            self.telephony.submit(self.telephony.set_available(agent.id, available))

    def on_synced(self, event) -> None:
        agents = {a.id: a for a in current_agents()}
        for member in event.data["members"]:
            agent = agents.get(member["agent_id"])
            if agent is None:
                continue
            paused = agent.status != "available"
            if member["paused"] != paused:
                log.info("queue %s: %s %s to match status %s", member["queue"],
                         "pausing" if paused else "unpausing", member["interface"], agent.status)
                self.telephony.submit(self.telephony.pause(member["interface"], paused, agent.status))
        flags = event.data.get("available", {})
        for agent in agents.values():
            available = agent.status == "available"
            if flags.get(agent.id) != available:
                self.telephony.submit(self.telephony.set_available(agent.id, available))


def current_agents(company: Company | None = None):
    """Agents whose users still belong to their company. A removed user's agent profile is kept so that past
    interactions still name who handled them, but nothing new may name it, and Asterisk no longer knows its
    devices. (A deactivated user stays current: they cannot sign in, and configure leaves out their devices.)"""
    query = (Agent.select(Agent).join(Membership, on=(Membership.user == Agent.user)
                                      & (Membership.company == Agent.company)))
    return query if company is None else query.where(Agent.company == company)
