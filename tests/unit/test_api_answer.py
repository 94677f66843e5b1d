"""Answering from the inbox a call that rings someone else: only agents the call's flow offers it to, while not
Offline, and only while it waits."""
import pytest

from leadcenter.agents.models import Agent
from leadcenter.interactions.models import Interaction


@pytest.fixture
def waiting_call(world):
    call = world["a"]["interactions"][0]
    Interaction.update(channel_id="1795737826.0").where(Interaction.id == call.id).execute()
    return call


def signed_in(make_client, email):
    client = make_client()
    client.sign_in(email)
    return client


def test_an_agent_of_the_flow_takes_a_waiting_call(make_client, world, controller, waiting_call):
    status, body = signed_in(make_client, "agent2@a.example").post(f"/api/v1/interactions/{waiting_call.id}/answer")
    assert status == 200, body
    assert controller.taken == [(waiting_call.id, world["a"]["agents"][1].id)]


def test_an_offline_agent_cannot_take_a_call(make_client, world, controller, waiting_call):
    Agent.update(status="offline").where(Agent.id == world["a"]["agents"][0].id).execute()
    status, body = signed_in(make_client, "agent1@a.example").post(f"/api/v1/interactions/{waiting_call.id}/answer")
    assert (status, body["error"]) == (403, "not-offered")
    assert controller.taken == []


def test_a_call_no_longer_waiting_cannot_be_taken(make_client, world, controller, waiting_call):
    Interaction.update(status="recent", outcome="abandoned").where(Interaction.id == waiting_call.id).execute()
    status, body = signed_in(make_client, "agent1@a.example").post(f"/api/v1/interactions/{waiting_call.id}/answer")
    assert (status, body["error"]) == (409, "not-incoming")
    assert controller.taken == []
