"""What colleagues see of an agent, live: their status with what Asterisk says of the device their calls ring."""

from support import T0

from leadcenter.agents import notifier
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent
from leadcenter.agents.presence import Presence
from leadcenter.events import Event


class Bus:
    def __init__(self):
        self.published = []

    def subscribe(self, name, handler, everywhere=False):
        pass

    def publish(self, name, **data):
        self.published.append((name, data))

    def presences(self):
        return [
            (data["agent"]["id"], data["agent"]["presence"])
            for name, data in self.published
            if name == "agent.presence_changed"
        ]

    def last(self, name):
        """The newest event of that name, as the bus would deliver it to subscribers."""
        data = next(data for published, data in reversed(self.published) if published == name)
        return Event(name, data, len(self.published), T0)


def device(presence, endpoint, agent_id, state):
    presence.on_device_state(
        Event("telephony.device_state", {"endpoint": endpoint, "agent_id": agent_id, "state": state}, 0, T0)
    )


def test_an_available_agent_whose_phone_cannot_ring_is_unreachable_live(world):
    alice, bob = world["a"]["agents"]  # both ring on their browser softphones (webrtcN)
    bus = Bus()
    presence = Presence(bus)
    presence.on_synced(
        Event(
            "telephony.synced", {"devices": {f"webrtc{alice.id}": "NOT_INUSE", f"webrtc{bob.id}": "UNAVAILABLE"}}, 0, T0
        )
    )
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
    presence.on_synced(
        Event("telephony.synced", {"devices": {f"webrtc{alice.id}": "INUSE", f"webrtc{bob.id}": "UNAVAILABLE"}}, 1, T0)
    )
    assert bus.presences() == [(bob.id, "unreachable")]


def test_with_several_asterisk_nodes_a_phone_is_as_present_as_the_node_that_says_most(world):
    """A phone registered at node b is unavailable at node a: neither node's resync nor its device events hide what
    the other says."""
    alice, bob = world["a"]["agents"]
    bus = Bus()
    presence = Presence(bus)

    def synced(node, **devices):
        presence.on_synced(Event("telephony.synced", {"devices": devices, "node": node}, 0, T0))

    alice_phone, bob_phone = f"webrtc{alice.id}", f"webrtc{bob.id}"
    synced("b", **{alice_phone: "NOT_INUSE", bob_phone: "UNAVAILABLE"})
    synced("a", **{alice_phone: "UNAVAILABLE", bob_phone: "UNAVAILABLE"})
    assert (presence.of(alice), presence.of(bob)) == ("available", "unreachable")
    assert presence.reachable(alice)
    presence.on_device_state(
        Event(
            "telephony.device_state",
            {"endpoint": alice_phone, "agent_id": alice.id, "state": "INUSE", "node": "b"},
            0,
            T0,
        )
    )
    presence.on_device_state(
        Event(
            "telephony.device_state",
            {"endpoint": alice_phone, "agent_id": alice.id, "state": "UNAVAILABLE", "node": "a"},
            0,
            T0,
        )
    )
    assert presence.of(alice) == "on_call"
    synced("b", **{alice_phone: "UNAVAILABLE", bob_phone: "UNAVAILABLE"})  # her phone is gone from node b too
    assert presence.of(alice) == "unreachable"


def test_a_nodes_resync_ends_the_offers_of_its_own_calls_only(world):
    """A call ringing Alice on node b still rings her when node a resyncs; node b's resync ends its offer (what rings
    there now is in its device states)."""
    alice, bob = world["a"]["agents"]
    presence = Presence(Bus())
    devices = {f"webrtc{alice.id}": "NOT_INUSE", f"webrtc{bob.id}": "NOT_INUSE"}
    for node in ("a", "b"):
        presence.on_synced(Event("telephony.synced", {"devices": devices, "node": node}, 0, T0))
    for agent, channel, node in ((alice, "b-1.1", "b"), (bob, "a-1.2", "a")):
        offered = {"channel_id": channel, "agent_id": agent.id, "at": T0, "node": node}
        presence.on_offered(Event("call.agent_offered", offered, 0, T0))
    assert (presence.of(alice), presence.of(bob)) == ("ringing", "ringing")
    presence.on_synced(Event("telephony.synced", {"devices": devices, "node": "a"}, 0, T0))
    assert (presence.of(alice), presence.of(bob)) == ("ringing", "available")
    presence.on_synced(Event("telephony.synced", {"devices": devices, "node": "b"}, 0, T0))
    assert presence.of(alice) == "available"


def test_a_status_change_or_another_ring_device_changes_what_colleagues_see(world):
    alice = world["a"]["agents"][0]
    bus = Bus()
    presence = Presence(bus)
    device(presence, f"webrtc{alice.id}", alice.id, "NOT_INUSE")
    device(presence, f"desk{alice.id}", alice.id, "UNAVAILABLE")
    availability = Availability(bus, presence.seen)
    availability.move(alice, "miss_call", T0)
    presence.on_agent_changed(bus.last("agent.status_changed"))
    availability.choose(alice, "available", T0)
    presence.on_agent_changed(bus.last("agent.status_changed"))
    Agent.update(ring_device="desk").where(Agent.id == alice.id).execute()
    notifier.updated(bus, Agent.get_by_id(alice.id), presence.seen)  # as PATCH /agents/<id> tells it
    presence.on_agent_changed(bus.last("agent.updated"))
    assert bus.presences() == [
        (alice.id, "available"),
        (alice.id, "missed"),
        (alice.id, "available"),
        (alice.id, "unreachable"),
    ]
    assert presence.reachable(Agent.get_by_id(alice.id)) is False


def test_the_app_reads_each_agent_s_presence(world, controller, make_client):
    alice, bob = world["a"]["agents"]
    device(controller.presence, f"webrtc{alice.id}", alice.id, "NOT_INUSE")
    client = make_client()
    client.sign_in("agent2@a.example")
    status, agents = client.get("/api/v1/agents")
    assert status == 200 and {a["id"]: a["presence"] for a in agents} == {alice.id: "available", bob.id: "unreachable"}
    assert client.get("/api/v1/me/agent")[1]["presence"] == "unreachable"  # Bob: no softphone registered


def test_on_a_web_node_presence_follows_nothing_and_the_controller_nodes_follows_every_nodes_agent_changes():
    subscribed: list[tuple[str, bool]] = []

    class Recording(Bus):
        def subscribe(self, name, handler, everywhere=False):
            subscribed.append((name, everywhere))

    Presence(Recording(), keeps_view=False)  # a web node (cluster.py): it would publish from a view it lacks
    assert subscribed == []
    Presence(Recording())
    assert {("agent.status_changed", True), ("agent.updated", True), ("telephony.device_state", False)} <= set(
        subscribed
    )
