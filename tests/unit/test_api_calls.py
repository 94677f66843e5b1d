"""Placing outbound calls: the server decides the caller ID (the company's own tracking numbers only), the call is
an Active interaction of the agent at once, and a call Asterisk refuses ends as missed."""

import pytest

from leadcenter.interactions.models import Interaction


@pytest.fixture
def asked(controller, monkeypatch):
    """Every verb the calls ask of Asterisk, with its keyword arguments (the stand-in keeps the positional ones)."""
    verbs = []
    submit = controller.telephony.submit

    def recording(call):
        verbs.append(call)
        return submit(call)

    monkeypatch.setattr(controller.telephony, "submit", recording)
    return verbs


@pytest.fixture
def agent_a(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    return client


def test_an_agent_places_a_call_with_a_company_tracking_number(agent_a, world, controller, asked):
    status, body = agent_a.post(
        "/api/v1/calls", {"to": "(404) 555-0199", "tracking_number_id": world["a"]["number"].id, "record": True}
    )
    assert status == 201, body
    assert (body["direction"], body["status"], body["lead_number"]) == ("outbound", "active", "+14045550199")
    assert body["agent"]["id"] == world["a"]["agents"][0].id
    assert body["tracking_number"]["number"] == "+14045550100"
    assert body["call_id"].startswith("lc-out-")
    # Asterisk is asked to ring the agent's device as the call's channel, then dial the lead on the number's trunk
    # with the tracking number as caller ID, recorded as asked.
    agent, number = world["a"]["agents"][0], world["a"]["number"]
    [(verb, args, options)] = asked
    assert (verb, args) == ("place_outbound", (body["call_id"], agent.queue_interface, "+14045550199"))
    assert {name: options["variables"][name] for name in ("LC_TRUNK", "LC_CALLER_ID", "LC_RECORD")} == {
        "LC_TRUNK": number.trunk.endpoint_name,
        "LC_CALLER_ID": "+14045550100",
        "LC_RECORD": "1",
    }
    created = [data for name, data in controller.bus.published if name == "interaction.created"]
    assert created == [{"company_id": world["a"]["company"].id, "interaction": body, "incoming_for": []}]
    status, inbox = agent_a.get("/api/v1/inbox")
    assert [i["id"] for i in inbox["active"]] == [body["id"]]


def test_another_companys_tracking_number_is_no_such_number(agent_a, world, controller):
    before = Interaction.select().count()
    status, body = agent_a.post("/api/v1/calls", {"to": "+14045550199", "tracking_number_id": world["b"]["number"].id})
    assert (status, body["error"]) == (404, "not-found")
    assert controller.telephony.verbs == [] and Interaction.select().count() == before


def test_a_number_that_is_not_a_phone_number_is_refused(agent_a, world, controller):
    status, body = agent_a.post("/api/v1/calls", {"to": "call me", "tracking_number_id": world["a"]["number"].id})
    assert status == 422 and "to" in body["fields"]
    assert controller.telephony.verbs == []


def test_only_agents_place_calls(make_client, world, controller):
    admin = make_client()
    admin.sign_in("admin@a.example")
    status, body = admin.post("/api/v1/calls", {"to": "+14045550199", "tracking_number_id": world["a"]["number"].id})
    assert (status, body["error"]) == (409, "not-an-agent")
    assert controller.telephony.verbs == []


def test_a_call_asterisk_does_not_take_is_missed(agent_a, world, controller):
    controller.telephony.fails = True
    status, body = agent_a.post("/api/v1/calls", {"to": "+14045550199", "tracking_number_id": world["a"]["number"].id})
    assert (status, body["error"]) == (502, "call-not-placed")
    call = Interaction.get(Interaction.lead_number == "+14045550199")
    assert (call.status, call.outcome) == ("recent", "missed")
    assert [args[0] for args in controller.telephony.named("place_outbound")] == [call.channel_id]
    [(name, data)] = controller.bus.published
    assert (name, data["interaction"]["id"], data["interaction"]["status"], data["interaction"]["outcome"]) == (
        "interaction.created",
        call.id,
        "recent",
        "missed",
    )


def test_my_outbound_call_is_transferred_once_the_lead_answered(agent_a, world, controller, asked):
    """Asterisk is asked to move the call named by its id (the telephony layer knows which channel the lead is on);
    to a number, the tracking number the lead sees is the caller ID there too."""
    status, call = agent_a.post("/api/v1/calls", {"to": "+14045559301", "tracking_number_id": world["a"]["number"].id})
    assert status == 201, call
    colleague = world["a"]["agents"][1]
    transfer = f"/api/v1/interactions/{call['id']}/transfer"
    status, body = agent_a.post(transfer, {"to": {"agent_id": colleague.id}})
    assert (status, body["error"]) == (409, "not-active")  # the lead has not picked up
    Interaction.update(answered_at=Interaction.started_at).where(Interaction.id == call["id"]).execute()
    status, body = agent_a.post(transfer, {"to": {"agent_id": colleague.id}})
    assert (status, body["outcome"]) == (202, "requested"), body
    status, body = agent_a.post(transfer, {"to": {"number": "(404) 555-9302"}})
    assert status == 202, body
    moves = [(args, options) for verb, args, options in asked if verb == "transfer"]
    assert [args[:3] for args, _ in moves] == [
        (call["call_id"], "lc-transfer", colleague.endpoint_name(colleague.ring_device)),
        (call["call_id"], "lc-transfer-number", "+14045559302"),
    ]
    assert moves[1][0][3]["LC_TRACKING"] == world["a"]["number"].number
