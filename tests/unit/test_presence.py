"""What colleagues see of an agent, live: their status with what Asterisk says of the device their calls ring."""
from support import T0

from leadcenter.agents import availability
from leadcenter.agents.models import Agent
from leadcenter.agents.presence import Presence
from leadcenter.events import Event


class Bus:
    def __init__(self):
        self.published = []

    def subscribe(self, name, handler):
        pass

    def publish(self, name, **data):
        self.published.append((name, data))

    def presences(self):
        return [(data["agent_id"], data["presence"]) for name, data in self.published
                if name == "agent.presence_changed"]


def device(presence, endpoint, agent_id, state):
    presence.on_device_state(Event("telephony.device_state", {"endpoint": endpoint, "agent_id": agent_id,
                                                              "state": state}, 0, T0))


def test_an_available_agent_whose_phone_cannot_ring_is_unreachable_live(world):
    alice, bob = world["a"]["agents"]  # both ring on their browser softphones (webrtcN)
    bus = Bus()
    presence = Presence(bus)
    presence.on_synced(Event("telephony.synced", {"devices": {f"webrtc{alice.id}": "NOT_INUSE",
                                                              f"webrtc{bob.id}": "UNAVAILABLE"}}, 0, T0))
    assert (presence.of(alice), presence.of(bob)) == ("available", "unreachable")
    b_agents = [(a.id, "unreachable") for a in world["b"]["agents"]]  # no device at all
    assert bus.presences() == [(alice.id, "available"), (bob.id, "unreachable"), *b_agents]
    bus.published.clear()
    device(presence, f"webrtc{bob.id}", bob.id, "NOT_INUSE")  # Bob signs in: his softphone registers
    device(presence, f"webrtc{alice.id}", alice.id, "UNAVAILABLE")  # Alice closes her tab
    device(presence, f"desk{alice.id}", alice.id, "NOT_INUSE")  # not the device her calls ring: nothing changes
    device(presence, f"webrtc{alice.id}", alice.id, "INUSE")  # a call she placed
    assert bus.presences() == [(bob.id, "available"), (alice.id, "unreachable"), (alice.id, "on_call")]
    # Every agent at every resync, but only what changed is published.
    bus.published.clear()
    presence.on_synced(Event("telephony.synced", {"devices": {f"webrtc{alice.id}": "INUSE",
                                                              f"webrtc{bob.id}": "UNAVAILABLE"}}, 1, T0))
    assert bus.presences() == [(bob.id, "unreachable")]


def test_a_status_change_or_another_ring_device_changes_what_colleagues_see(world):
    alice = world["a"]["agents"][0]
    bus = Bus()
    presence = Presence(bus)
    device(presence, f"webrtc{alice.id}", alice.id, "NOT_INUSE")
    device(presence, f"desk{alice.id}", alice.id, "UNAVAILABLE")
    availability.apply(alice, "miss_call", bus, T0)
    presence.on_agent_changed(Event("agent.status_changed", {"agent_id": alice.id}, 1, T0))
    availability.choose(alice, "available", bus, T0)
    presence.on_agent_changed(Event("agent.status_changed", {"agent_id": alice.id}, 2, T0))
    Agent.update(ring_device="desk").where(Agent.id == alice.id).execute()
    presence.on_agent_changed(Event("agent.updated", {"agent_id": alice.id, "fields": ["ring_device"]}, 3, T0))
    assert bus.presences() == [(alice.id, "available"), (alice.id, "missed"), (alice.id, "available"),
                               (alice.id, "unreachable")]
    assert presence.reachable(Agent.get_by_id(alice.id)) is False


def test_the_app_reads_each_agent_s_presence(world, controller, make_client):
    alice, bob = world["a"]["agents"]
    device(controller.presence, f"webrtc{alice.id}", alice.id, "NOT_INUSE")
    client = make_client()
    client.sign_in("agent2@a.example")
    status, agents = client.get("/api/v1/agents")
    assert status == 200 and {a["id"]: a["presence"] for a in agents} == {alice.id: "available",
                                                                         bob.id: "unreachable"}
    assert client.get("/api/v1/me/agent")[1]["presence"] == "unreachable"  # Bob: no softphone registered
