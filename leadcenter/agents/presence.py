"""What an agent is right now, as colleagues see it, as the queue figures count it and as ringing treats it: the
status in the database (the agent's choice, or what their calls made it) combined with what Asterisk knows of the
device their calls ring (its device state: registered and answering qualify OPTIONS, free, ringing or on a call).

    offline      they chose Offline
    ringing      Available, and a call is offered to them (AgentCalled, until it is answered, rings out or ends),
                 or their ring device rings (RINGING, RINGINUSE): whichever Asterisk says first
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

Since when (``presence_since``, the supervisors' Team View): a presence the status decides (offline, on an inbound
call, wrap-up, missed) began when the status did (``status_changed_at``: the agent's status transition rows, so a
restarted controller says the same). One the device decides (available, ringing, on a call they placed,
unreachable) began at the later of that and the moment Asterisk said the device moved into that kind of state (the
AMI event's timestamp; ringing: the offer's, when it came first). Before such a move is seen (a controller just
started), a call they placed began when that call did (``call_began``, from the database), anything else when the
status did.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable

from leadcenter.agents import notifier
from leadcenter.agents.models import Agent, current_agents
from leadcenter.events import Bus, Event

PRESENCES = ("available", "ringing", "on_call", "wrap_up", "missed", "unreachable", "offline")
# Asterisk device states (AMI names) in which nothing can ring the device ...
UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID"})


def most_present(states: Iterable[str]) -> str:
    """Of an endpoint's device states on several Asterisk nodes, the one that says most: on a call (or ringing) on
    some node, else reachable on some node, else unreachable."""
    return max(states, key=lambda state: (state not in UNREACHABLE, state not in UNREACHABLE | {"NOT_INUSE"}))


# ... in which it is on a call already ...
IN_USE = frozenset({"INUSE", "BUSY", "ONHOLD"})
# ... and in which it rings.
RINGING = frozenset({"RINGING", "RINGINUSE"})

Seen = tuple[str, dt.datetime]  # a presence, and since when
CallBegan = Callable[[Agent], "dt.datetime | None"]  # when the agent's call in progress began (None: none)


def device_presence(device_state: str | None) -> str:
    """What an Available agent is with their ring device in this state (None: Asterisk has not said)."""
    if device_state in IN_USE:
        return "on_call"
    if device_state in RINGING:
        return "ringing"
    if device_state is None or device_state in UNREACHABLE:
        return "unreachable"
    return "available"


def presence(agent: Agent, device_state: str | None, offered: bool = False) -> str:
    """One word for an agent now; ``device_state`` of their ring device, None when Asterisk has not said;
    ``offered``: a call rings them (Asterisk said so before their device did)."""
    if agent.status == "offline":
        return "offline"
    if agent.status != "available":
        return agent.status_reason  # on_call, wrap_up or missed
    shown = device_presence(device_state)
    return "ringing" if offered and shown in ("available", "unreachable") else shown


class Presence:
    """Every agent's presence, live. Keeps Asterisk's device state of each agent endpoint (``telephony.device_state``
    as it changes, all of them at each ``telephony.synced``) and publishes ``agent.presence_changed`` for the agent's
    company whenever an agent's presence changes (their phone, their status or their ring device). Written on the
    dispatcher thread, read from web threads.

    On several nodes (cluster.py) the controller node keeps it, for every node's agent changes (``everywhere``), and
    publishes its changes to all; a web node's (``keeps_view`` False) follows nothing and publishes nothing, so
    that no node publishes a presence worked out from a view it does not have."""

    def __init__(self, bus: Bus, call_began: CallBegan = lambda agent: None, keeps_view: bool = True):
        self.bus = bus
        self.call_began = call_began
        self._lock = threading.Lock()
        self._devices: dict[str, str] = {}  # endpoint (webrtc7, desk7) -> device state, of every node
        self._by_node: dict[str, dict[str, str]] = {}  # Asterisk node ("": the one) -> endpoint -> device state
        self._moved: dict[str, dt.datetime] = {}  # endpoint -> when its device_presence last changed, as seen live
        self._shown: dict[int, str] = {}  # agent id -> presence last published
        self._offers: dict[int, dict[str, dt.datetime]] = {}  # agent id -> {lead channel id: when offered}
        self._offered_on: dict[str, str] = {}  # lead channel id offered -> its Asterisk node ("": the one)
        if not keeps_view:
            return
        bus.subscribe("telephony.device_state", self.on_device_state)
        bus.subscribe("telephony.synced", self.on_synced)
        bus.subscribe("agent.status_changed", self.on_agent_changed, everywhere=True)
        bus.subscribe("agent.updated", self.on_agent_changed, everywhere=True)  # e.g. another ring device
        bus.subscribe("call.agent_offered", self.on_offered)
        for name in ("call.agent_missed", "call.answered", "call.left_queue", "call.ended"):
            bus.subscribe(name, self.on_offer_over)

    def of(self, agent: Agent) -> str:
        return self.seen(agent)[0]

    def seen(self, agent: Agent) -> Seen:
        """The agent's presence and since when."""
        endpoint = agent.endpoint_name(agent.ring_device)
        with self._lock:
            state, moved = self._devices.get(endpoint), self._moved.get(endpoint)
            offers = self._offers.get(agent.id)
            offered = min(offers.values()) if offers else None
        now = presence(agent, state, offered is not None)
        since = agent.status_changed_at
        if agent.status == "available":
            if now == "ringing":  # from the first Asterisk said of it: the offer, or the device ringing
                rang = moved if device_presence(state) == "ringing" else None
                moments = [moment for moment in (offered, rang) if moment is not None]
                since = max(since, min(moments)) if moments else since
            elif moved is not None:
                since = max(since, moved)
            elif now == "on_call":
                since = self.call_began(agent) or since
        return now, since

    def reachable(self, agent: Agent) -> bool:
        """Whether a call can ring the agent's device at all (whatever their status)."""
        with self._lock:
            state = self._devices.get(agent.endpoint_name(agent.ring_device))
        return state is not None and state not in UNREACHABLE

    def on_device_state(self, event: Event) -> None:
        endpoint = event.data["endpoint"]
        with self._lock:
            self._by_node.setdefault(event.data.get("node", ""), {})[endpoint] = event.data["state"]
            before = self._devices.get(endpoint)
            state = self._devices[endpoint] = self._merged(endpoint)
            if device_presence(before) != device_presence(state):
                self._moved[endpoint] = event.data.get("at") or event.at
        self._refresh(Agent.select().where(Agent.id == event.data["agent_id"]))

    def _merged(self, endpoint: str) -> str:
        """The endpoint's state that says most of every node's (a phone registered at one node is unavailable at the
        others); called with the lock held."""
        return most_present(states[endpoint] for states in self._by_node.values() if endpoint in states)

    def on_synced(self, event: Event) -> None:
        """What one Asterisk node says of the devices now, merged with the other nodes'."""
        with self._lock:
            self._by_node[event.data.get("node", "")] = dict(event.data.get("devices", {}))
            endpoints = {endpoint for states in self._by_node.values() for endpoint in states}
            devices = {endpoint: self._merged(endpoint) for endpoint in endpoints}
            if self._devices:  # a resync (Asterisk came back): what moved meanwhile moved when it was read
                read_at = event.data.get("read_at") or event.at
                for endpoint, state in devices.items():
                    if device_presence(self._devices.get(endpoint)) != device_presence(state):
                        self._moved[endpoint] = read_at
            self._devices = devices
            # What rings on this node now is in its device states (an offer's end may have been missed); the other
            # nodes' calls still ring.
            node = event.data.get("node", "")
            self._offers = {
                agent_id: kept
                for agent_id, offers in self._offers.items()
                if (kept := {c: at for c, at in offers.items() if self._offered_on.get(c, "") != node})
            }
            self._offered_on = {c: n for c, n in self._offered_on.items() if n != node}
        self._refresh(current_agents())

    def on_agent_changed(self, event: Event) -> None:
        self._refresh(Agent.select().where(Agent.id == event.data["agent"]["id"]))

    def on_offered(self, event: Event) -> None:
        agent_id = event.data["agent_id"]
        if agent_id is None:
            return
        with self._lock:
            self._offers.setdefault(agent_id, {})[event.data["channel_id"]] = event.data.get("at") or event.at
            self._offered_on[event.data["channel_id"]] = event.data.get("node", "")
        self._refresh(Agent.select().where(Agent.id == agent_id))

    def on_offer_over(self, event: Event) -> None:
        """The call stopped ringing the agent (rang out, answered by anyone, left the queue, hung up): for every
        agent it rang, unless the event names one (a ring-out)."""
        channel_id, named = event.data["channel_id"], event.name == "call.agent_missed"
        with self._lock:
            rung = [
                agent_id
                for agent_id, offers in self._offers.items()
                if channel_id in offers and (not named or agent_id == event.data["agent_id"])
            ]
            for agent_id in rung:
                del self._offers[agent_id][channel_id]
                if not self._offers[agent_id]:
                    del self._offers[agent_id]
            if not any(channel_id in offers for offers in self._offers.values()):
                self._offered_on.pop(channel_id, None)
        if rung:
            self._refresh(Agent.select().where(Agent.id.in_(rung)))

    def _refresh(self, agents) -> None:
        for agent in agents:
            now = self.of(agent)
            with self._lock:
                before, self._shown[agent.id] = self._shown.get(agent.id), now
            if now != before:
                notifier.presence_changed(self.bus, agent, self.seen)
