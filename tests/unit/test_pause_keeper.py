"""The pause keeper makes Asterisk's view of who may be rung match the agents' status in the database, and sets an
agent who lets a call ring out Unavailable (missed)."""

import pytest
from support import T0

from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.agents.presence import Presence
from leadcenter.agents.services import PauseKeeper
from leadcenter.events import Event
from leadcenter.interactions.models import InteractionDecline


class Telephony:
    """Records the verbs the keeper asks for, as the coroutine arguments (nothing runs)."""

    connected = True

    def __init__(self):
        self.asked = []

    def pause(self, interface, paused, reason=""):
        return ("pause", interface, paused)

    def set_available(self, agent_id, available):
        return ("set_available", agent_id, available)

    def submit(self, verb):
        self.asked.append(verb)


class Bus:
    def __init__(self):
        self.published = []

    def subscribe(self, name, handler, everywhere=False):
        pass

    def publish(self, name, **data):
        self.published.append((name, data))


def keeper_over(bus, telephony):
    """The keeper as the controller wires it: it moves agents through the real Availability on the same bus."""
    return PauseKeeper(bus, telephony, Availability(bus, Presence(bus).seen))


def test_after_a_sync_only_what_differs_is_corrected(world):
    alice, bob = world["a"]["agents"]
    Agent.update(status="offline").where(Agent.id == bob.id).execute()
    telephony = Telephony()
    keeper = keeper_over(Bus(), telephony)
    members = [
        {"queue": "team1", "interface": alice.queue_interface, "agent_id": alice.id, "paused": False},
        {"queue": "team1", "interface": bob.queue_interface, "agent_id": bob.id, "paused": False},
    ]
    others = {a.id: True for a in world["b"]["agents"]}
    keeper.on_synced(
        Event("telephony.synced", {"members": members, "available": {alice.id: True, bob.id: True, **others}}, 0, T0)
    )
    assert telephony.asked == [("pause", bob.queue_interface, True), ("set_available", bob.id, False)]


def test_a_status_change_applies_to_queues_and_ring_agents_steps_at_once(world):
    alice = world["a"]["agents"][0]
    telephony, bus = Telephony(), Bus()
    keeper = keeper_over(bus, telephony)
    keeper.availability.choose(alice, "offline", T0)  # the app's Offline
    ((name, data),) = bus.published
    keeper.on_status_changed(Event(name, data, 0, T0))
    assert telephony.asked == [("pause", alice.queue_interface, True), ("set_available", alice.id, False)]


@pytest.fixture
def call(world):
    """Agent one's leg of a lead's call rang out (the queue's ring time, a step's, or an Answer from Incoming)."""
    interaction = world["a"]["interactions"][0]
    interaction.channel_id = "1795737826.0"
    interaction.save()
    return interaction, world["a"]["agents"][0]


def rang_out(keeper, interaction, agent, queue=None):
    keeper.on_rang_out(
        Event(
            "call.agent_rang_out",
            {
                "channel_id": interaction.channel_id,
                "queue": queue,
                "agent_id": agent.id,
                "agent_channel_id": "1795737826.3",
                "at": T0,
            },
            0,
            T0,
        )
    )


@pytest.mark.parametrize("ring_out", ["unavailable", "available"])
def test_the_queue_s_team_decides_whether_an_agent_who_lets_its_call_ring_out_stays_available(call, world, ring_out):
    """A team may keep agents who let its calls ring out Available: Asterisk's autopause (which moved the call on to
    the next agent) is undone once that call has left the queue (answered by someone else, gone on to the flow's
    next step, or hung up), not before, or the queue would offer it straight back to them. The team of another
    queue, or a ring-agents step (no queue), does not decide for it."""
    interaction, agent = call
    team = world["a"]["team"]
    team.ring_out = ring_out
    team.save()
    telephony, bus = Telephony(), Bus()
    keeper = keeper_over(bus, telephony)
    rang_out(keeper, interaction, agent, queue=team.queue_name)
    if ring_out == "available":
        assert Agent.get_by_id(agent.id).status == "available" and bus.published == []
        assert telephony.asked == []  # Asterisk keeps them paused for now
        keeper.on_synced(  # a resync meanwhile agrees
            Event(
                "telephony.synced",
                {
                    "members": [
                        {"queue": "team1", "interface": agent.queue_interface, "agent_id": agent.id, "paused": True}
                    ],
                    "available": {agent.id: True},
                },
                0,
                T0,
            )
        )
        assert [verb for verb in telephony.asked if verb[0] == "pause"] == []
        telephony.asked.clear()
        keeper.on_call_moved_on(Event("call.answered", {"channel_id": "another call"}, 0, T0))
        assert telephony.asked == []
        keeper.on_call_moved_on(Event("call.answered", {"channel_id": interaction.channel_id}, 0, T0))
        assert telephony.asked == [("pause", agent.queue_interface, False), ("set_available", agent.id, True)]
        rang_out(keeper, interaction, agent, queue=None)  # a ring-agents step's ring-out: missed
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason) == ("unavailable", "missed")


def test_an_available_agent_who_lets_a_call_ring_out_is_unavailable_until_they_choose_available(call):
    interaction, agent = call
    telephony, bus = Telephony(), Bus()
    keeper = keeper_over(bus, telephony)
    rang_out(keeper, interaction, agent)
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason) == ("unavailable", "missed")
    assert [c.event for c in AgentStatusChange.select()] == ["miss_call"]
    assert [name for name, _ in bus.published] == ["agent.status_changed"]
    data = bus.published[0][1]
    assert data["company_id"] == agent.company_id
    assert (
        data["agent"]["id"],
        data["agent"]["status"],
        data["agent"]["status_reason"],
        data["agent"]["presence"],
    ) == (agent.id, "unavailable", "missed", "missed")
    assert telephony.asked == []  # the keeper applies it when the status change reaches it
    keeper.on_status_changed(Event("agent.status_changed", bus.published[0][1], 1, T0))
    assert telephony.asked == [("pause", agent.queue_interface, True), ("set_available", agent.id, False)]


def test_a_leg_hung_up_by_the_agent_s_decline_is_not_a_missed_call_and_asterisk_s_pause_is_undone(call):
    """Asterisk reports an app Decline's hang-up as a ring-out (and autopause pauses the agent): the database knows."""
    interaction, agent = call
    InteractionDecline.create(interaction=interaction, agent=agent, at=T0)
    telephony, bus = Telephony(), Bus()
    rang_out(keeper_over(bus, telephony), interaction, agent)
    assert Agent.get_by_id(agent.id).status == "available" and bus.published == []
    assert telephony.asked == [("pause", agent.queue_interface, False), ("set_available", agent.id, True)]


@pytest.mark.parametrize("moves", [["take_call"], ["take_call", "end_call"], ["go_offline"]])
def test_an_agent_not_available_who_lets_a_call_ring_out_stays_as_they_are(call, moves):
    """On a call, in wrap-up (pressed Answer from Incoming, then let it ring) or Offline: nothing to take away."""
    interaction, agent = call
    telephony, bus = Telephony(), Bus()
    keeper = keeper_over(bus, telephony)
    for move in moves:
        keeper.availability.move(agent, move, T0)
    before = (agent.status, agent.status_reason, AgentStatusChange.select().count(), len(bus.published))
    rang_out(keeper, interaction, agent)
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason, AgentStatusChange.select().count(), len(bus.published)) == before
    assert telephony.asked == [("pause", agent.queue_interface, True), ("set_available", agent.id, False)]


@pytest.mark.parametrize(
    "status, reason, corrected",
    [
        ("available", "lc-rang-out", True),  # lc-rang-out paused a decliner with the others: undone
        ("unavailable", "lc-rang-out", False),  # missed (decided from the leg's DialEnd, which came first)
        ("available", "Auto-Pause", False),  # app_queue's: the leg's DialEnd comes after it and decides
        ("available", "unavailable", False),  # the keeper's own
    ],
)
def test_a_ring_out_pause_by_the_dialplan_is_corrected_to_the_database(world, status, reason, corrected):
    agent = world["a"]["agents"][0]
    Agent.update(status=status).where(Agent.id == agent.id).execute()
    telephony = Telephony()
    keeper_over(Bus(), telephony).on_member_paused(
        Event(
            "queue_member.paused",
            {"queue": "team1", "agent_id": agent.id, "paused": True, "reason": reason, "at": T0},
            0,
            T0,
        )
    )
    assert telephony.asked == (
        [("pause", agent.queue_interface, False), ("set_available", agent.id, True)] if corrected else []
    )
