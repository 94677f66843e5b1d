"""The pause keeper makes Asterisk's view of who may be rung match the agents' status in the database."""
from support import T0

from leadcenter.agents.models import Agent
from leadcenter.agents.services import PauseKeeper
from leadcenter.events import Event


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
    def subscribe(self, name, handler):
        pass


def test_after_a_sync_only_what_differs_is_corrected(world):
    alice, bob = world["a"]["agents"]
    Agent.update(status="offline").where(Agent.id == bob.id).execute()
    telephony = Telephony()
    keeper = PauseKeeper(Bus(), telephony)
    members = [{"queue": "team1", "interface": alice.queue_interface, "agent_id": alice.id, "paused": False},
               {"queue": "team1", "interface": bob.queue_interface, "agent_id": bob.id, "paused": False}]
    others = {a.id: True for a in world["b"]["agents"]}
    keeper.on_synced(Event("telephony.synced", {"members": members, "available": {alice.id: True, bob.id: True,
                                                                                   **others}}, 0, T0))
    assert telephony.asked == [("pause", bob.queue_interface, True), ("set_available", bob.id, False)]


def test_a_status_change_applies_to_queues_and_ring_agents_steps_at_once(world):
    alice = world["a"]["agents"][0]
    Agent.update(status="offline").where(Agent.id == alice.id).execute()
    telephony = Telephony()
    PauseKeeper(Bus(), telephony).on_status_changed(Event("agent.status_changed", {"agent_id": alice.id}, 0, T0))
    assert telephony.asked == [("pause", alice.queue_interface, True), ("set_available", alice.id, False)]
