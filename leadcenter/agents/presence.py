"""What an agent is right now, as colleagues see it, as the queue figures count it and as ringing treats it: the
status in the database (the agent's choice, or what their calls made it) combined with what Asterisk knows of the
device their calls ring (its device state: registered and answering qualify OPTIONS, free or on a call).

    offline      they chose Offline
    on_call      on an inbound call (status), or their ring device is in use (a call they placed, or any other)
    wrap_up      after an inbound call, until they press Rejoin the Queue
    missed       they let a call offered to them ring out, until they choose Available again
    unreachable  Available, but nothing can ring their device: not registered (no app open for the browser
                 softphone, a desk phone switched off) or not answering qualify OPTIONS (a dead desk phone)
    available    Available, and their device can ring: the only presence counted as available

Asterisk rings by the same rules (docs/architecture.md, "Availability"): a queue rings a member that is not paused
(the pause keeper pauses everyone not Available) and whose device state is free (ringinuse = no: UNKNOWN counts as
free there, so it does here); a ring-agents step checks the AstDB flag and DEVICE_STATE. So what the screens say
is what ringing does.
"""

from __future__ import annotations

import threading

from leadcenter.agents import notifier
from leadcenter.agents.models import Agent, current_agents
from leadcenter.events import Bus, Event

PRESENCES = ("available", "on_call", "wrap_up", "missed", "unreachable", "offline")
# Asterisk device states (AMI names) in which nothing can ring the device ...
UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID"})
# ... and in which it is on a call already.
IN_USE = frozenset({"INUSE", "BUSY", "ONHOLD", "RINGINUSE"})


def presence(agent: Agent, device_state: str | None) -> str:
    """One word for an agent now; ``device_state`` of their ring device, None when Asterisk has not said."""
    if agent.status == "offline":
        return "offline"
    if agent.status != "available":
        return agent.status_reason  # on_call, wrap_up or missed
    if device_state in IN_USE:
        return "on_call"
    if device_state is None or device_state in UNREACHABLE:
        return "unreachable"
    return "available"


class Presence:
    """Every agent's presence, live. Keeps Asterisk's device state of each agent endpoint (``telephony.device_state``
    as it changes, all of them at each ``telephony.synced``) and publishes ``agent.presence_changed`` for the agent's
    company whenever an agent's presence changes (their phone, their status or their ring device). Written on the
    dispatcher thread, read from web threads."""

    def __init__(self, bus: Bus):
        self.bus = bus
        self._lock = threading.Lock()
        self._devices: dict[str, str] = {}  # endpoint (webrtc7, desk7) -> device state
        self._shown: dict[int, str] = {}  # agent id -> presence last published
        bus.subscribe("telephony.device_state", self.on_device_state)
        bus.subscribe("telephony.synced", self.on_synced)
        bus.subscribe("agent.status_changed", self.on_agent_changed)
        bus.subscribe("agent.updated", self.on_agent_changed)  # e.g. another ring device

    def of(self, agent: Agent) -> str:
        with self._lock:
            state = self._devices.get(agent.endpoint_name(agent.ring_device))
        return presence(agent, state)

    def reachable(self, agent: Agent) -> bool:
        """Whether a call can ring the agent's device at all (whatever their status)."""
        with self._lock:
            state = self._devices.get(agent.endpoint_name(agent.ring_device))
        return state is not None and state not in UNREACHABLE

    def on_device_state(self, event: Event) -> None:
        with self._lock:
            self._devices[event.data["endpoint"]] = event.data["state"]
        self._refresh(Agent.select().where(Agent.id == event.data["agent_id"]))

    def on_synced(self, event: Event) -> None:
        with self._lock:
            self._devices = dict(event.data.get("devices", {}))
        self._refresh(current_agents())

    def on_agent_changed(self, event: Event) -> None:
        self._refresh(Agent.select().where(Agent.id == event.data["agent"]["id"]))

    def _refresh(self, agents) -> None:
        for agent in agents:
            now = self.of(agent)
            with self._lock:
                before, self._shown[agent.id] = self._shown.get(agent.id), now
            if now != before:
                notifier.presence_changed(self.bus, agent, self.of)
