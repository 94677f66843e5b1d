"""Agent availability: the moves the spec describes, each stored, published, and nothing else allowed."""

import datetime as dt

import pytest
from support import T0

from leadcenter.agents import availability
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.agents.schemas import AgentOut


@pytest.fixture
def agent(world):
    return world["a"]["agents"][0]


def published_agents(controller):
    """The agent in each agent.status_changed, as the API returns it."""
    return [data["agent"] for name, data in controller.bus.published if name == "agent.status_changed"]


def test_queue_call_then_wrap_up_then_rejoin(agent, controller):
    moves = controller.availability
    moves.move(agent, "take_call", T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "on_call")
    moves.move(agent, "end_call", T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "wrap_up")
    moves.choose(agent, "available", T0)  # the app's "Rejoin the Queue"
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason) == ("available", "")
    assert [c.event for c in AgentStatusChange.select().order_by(AgentStatusChange.id)] == [
        "take_call",
        "end_call",
        "rejoin",
    ]
    assert [(a["id"], a["status"], a["status_reason"]) for a in published_agents(controller)] == [
        (agent.id, "unavailable", "on_call"),
        (agent.id, "unavailable", "wrap_up"),
        (agent.id, "available", ""),
    ]


def test_each_move_publishes_the_agent_as_the_api_returns_it(agent, controller):
    """agent.status_changed carries the resource (AgentOut) after the move, for the agent's company."""
    later = T0 + dt.timedelta(minutes=5)
    controller.availability.move(agent, "take_call", later)
    ((name, data),) = controller.bus.published
    assert name == "agent.status_changed"
    assert data["company_id"] == agent.company_id
    stored = Agent.get_by_id(agent.id)
    assert data["agent"] == AgentOut.from_row(stored, controller.presence.seen).model_dump(mode="json")
    assert (data["agent"]["status"], data["agent"]["status_reason"], data["agent"]["presence"]) == (
        "unavailable",
        "on_call",
        "on_call",
    )
    assert stored.status_changed_at == later


def test_a_call_rung_out_makes_the_agent_unavailable_until_they_choose_available(agent, controller):
    controller.availability.move(agent, "miss_call", T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "missed")
    controller.availability.choose(agent, "available", T0)  # Available, or the app's Rejoin the Queue
    assert (Agent.get_by_id(agent.id).status, Agent.get_by_id(agent.id).status_reason) == ("available", "")
    assert [c.event for c in AgentStatusChange.select().order_by(AgentStatusChange.id)] == ["miss_call", "go_available"]
    assert [(a["status"], a["status_reason"]) for a in published_agents(controller)] == [
        ("unavailable", "missed"),
        ("available", ""),
    ]


@pytest.mark.parametrize("out", [["miss_call"], ["take_call", "end_call"]])
def test_an_agent_out_of_the_queue_who_answers_from_incoming_is_on_a_call(agent, controller, out):
    """Missed a call, or in wrap-up: Answer in Incoming still takes the call, and the usual wrap-up follows."""
    for move in out:
        controller.availability.move(agent, move, T0)
    controller.availability.move(agent, "take_call", T0)
    assert (Agent.get_by_id(agent.id).status, Agent.get_by_id(agent.id).status_reason) == ("unavailable", "on_call")
    controller.availability.move(agent, "end_call", T0)
    assert (agent.status, agent.status_reason) == ("unavailable", "wrap_up")
    assert published_agents(controller)[-1]["status_reason"] == "wrap_up"


def test_offline_and_back(agent, controller):
    controller.availability.choose(agent, "offline", T0)
    assert Agent.get_by_id(agent.id).status == "offline"
    controller.availability.choose(agent, "available", T0)
    assert Agent.get_by_id(agent.id).status == "available"
    assert controller.availability.choose(agent, "available", T0) is None  # already: nothing happens
    assert AgentStatusChange.select().count() == 2
    assert [a["status"] for a in published_agents(controller)] == ["offline", "available"]


@pytest.mark.parametrize(
    "moves,event",
    [
        ([], "end_call"),
        ([], "rejoin"),
        (["go_offline"], "take_call"),
        (["take_call"], "rejoin"),
        (["take_call"], "take_call"),
        (["go_offline"], "go_offline"),
        (["go_offline"], "miss_call"),
        (["take_call"], "miss_call"),
        (["miss_call"], "miss_call"),
        (["miss_call"], "rejoin"),
    ],
)
def test_illegal_moves_change_nothing(agent, controller, moves, event):
    for move in moves:
        controller.availability.move(agent, move, T0)
    before = (agent.status, agent.status_reason, AgentStatusChange.select().count())
    published = len(controller.bus.published)
    with pytest.raises(availability.IllegalMove):
        controller.availability.move(agent, event, T0 + dt.timedelta(minutes=1))
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason, AgentStatusChange.select().count()) == before
    assert stored.status_changed_at == T0
    assert len(controller.bus.published) == published  # nothing announced


def test_two_writers_moving_one_agent_at_once_one_wins_the_other_gets_conflict(agent, controller):
    """Both read the agent Available; a call takes them, then the app's Offline arrives with its stale read: the
    call wins, the Offline is refused with Conflict, and nothing of it is stored or announced."""
    by_call, by_app = Agent.get_by_id(agent.id), Agent.get_by_id(agent.id)
    assert by_call.status == by_app.status == "available"
    taken = T0 + dt.timedelta(seconds=30)
    controller.availability.move(by_call, "take_call", taken)
    with pytest.raises(availability.Conflict):
        controller.availability.move(by_app, "go_offline", taken + dt.timedelta(seconds=1))
    stored = Agent.get_by_id(agent.id)
    assert (stored.status, stored.status_reason, stored.status_changed_at) == ("unavailable", "on_call", taken)
    assert [(c.event, c.from_status, c.to_status, c.to_reason) for c in AgentStatusChange.select()] == [
        ("take_call", "available", "unavailable", "on_call")
    ]
    assert [(a["status"], a["status_reason"]) for a in published_agents(controller)] == [("unavailable", "on_call")]
    # Read again, the loser sees the winner's move and may move from there.
    controller.availability.move(Agent.get_by_id(agent.id), "go_offline", taken + dt.timedelta(seconds=2))
    assert Agent.get_by_id(agent.id).status == "offline"


def test_the_app_cannot_make_an_agent_on_a_call_available(make_client, world, controller):
    agent = world["a"]["agents"][0]
    controller.availability.move(agent, "take_call", T0)
    client = make_client()
    client.sign_in("agent1@a.example")
    status, body = client.patch("/api/v1/me/agent", {"status": "available"})
    assert (status, body["error"]) == (409, "on-a-call")
    assert (Agent.get_by_id(agent.id).status, Agent.get_by_id(agent.id).status_reason) == ("unavailable", "on_call")
    status, body = client.patch("/api/v1/me/agent", {"status": "offline"})
    assert status == 200 and body["status"] == "offline"
    assert published_agents(controller)[-1]["status"] == "offline"
