"""Agent availability: the moves the spec describes, each stored, published, and nothing else allowed."""
import pytest

from support import T0

from leadcenter.agents import availability
from leadcenter.agents.models import Agent, AgentStatusChange


@pytest.fixture
def agent(world):
    return world["a"]["agents"][0]


def test_queue_call_then_wrap_up_then_rejoin(agent, controller):
    bus = controller.bus
    availability.apply(agent, "take_call", bus, T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "on_call")
    availability.apply(agent, "end_call", bus, T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "wrap_up")
    availability.choose(agent, "available", bus, T0)  # the app's "Rejoin the Queue"
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason) == ("available", "")
    assert [c.event for c in AgentStatusChange.select().order_by(AgentStatusChange.id)] == [
        "take_call", "end_call", "rejoin"]
    assert [data["reason"] for _, data in bus.published] == ["on_call", "wrap_up", ""]


def test_a_call_rung_out_makes_the_agent_unavailable_until_they_choose_available(agent, controller):
    bus = controller.bus
    availability.apply(agent, "miss_call", bus, T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "missed")
    availability.choose(agent, "available", bus, T0)  # Available, or the app's Rejoin the Queue
    assert (Agent.get_by_id(agent.id).status, Agent.get_by_id(agent.id).status_reason) == ("available", "")
    assert [c.event for c in AgentStatusChange.select().order_by(AgentStatusChange.id)] == [
        "miss_call", "go_available"]


@pytest.mark.parametrize("out", [["miss_call"], ["take_call", "end_call"]])
def test_an_agent_out_of_the_queue_who_answers_from_incoming_is_on_a_call(agent, controller, out):
    """Missed a call, or in wrap-up: Answer in Incoming still takes the call, and the usual wrap-up follows."""
    for move in out:
        availability.apply(agent, move, controller.bus, T0)
    availability.apply(agent, "take_call", controller.bus, T0)
    availability.apply(agent, "end_call", controller.bus, T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "wrap_up")


def test_offline_and_back(agent, controller):
    availability.choose(agent, "offline", controller.bus, T0)
    assert Agent.get_by_id(agent.id).status == "offline"
    availability.choose(agent, "available", controller.bus, T0)
    assert Agent.get_by_id(agent.id).status == "available"
    availability.choose(agent, "available", controller.bus, T0)  # already: nothing happens
    assert AgentStatusChange.select().count() == 2


@pytest.mark.parametrize("moves,event", [
    ([], "end_call"), ([], "rejoin"), (["go_offline"], "take_call"),
    (["take_call"], "rejoin"), (["take_call"], "take_call"), (["go_offline"], "go_offline"),
    (["go_offline"], "miss_call"), (["take_call"], "miss_call"), (["miss_call"], "miss_call"),
    (["miss_call"], "rejoin"),
])
def test_illegal_moves_change_nothing(agent, controller, moves, event):
    for move in moves:
        availability.apply(agent, move, controller.bus, T0)
    before = (agent.status, agent.status_reason, AgentStatusChange.select().count())
    with pytest.raises(availability.IllegalMove):
        availability.apply(agent, event, controller.bus, T0)
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason, AgentStatusChange.select().count()) == before


def test_the_app_cannot_make_an_agent_on_a_call_available(make_client, world):
    agent = world["a"]["agents"][0]
    availability.apply(agent, "take_call", _Silent(), T0)
    client = make_client()
    client.sign_in("agent1@a.example")
    status, body = client.patch("/api/v1/me/agent", {"status": "available"})
    assert (status, body["error"]) == (409, "on-a-call")
    status, body = client.patch("/api/v1/me/agent", {"status": "offline"})
    assert status == 200 and body["status"] == "offline"


class _Silent:
    def publish(self, name, **data):
        pass
