"""Warm (consult) transfer and conference: the API by the agent on the call (what Asterisk is asked, the transfer
rows, who may, on which calls), the tracker's reading of ConfBridge events, and who is on the call as legs."""

from __future__ import annotations

import datetime as dt

import pytest
from support import CALL, PASSWORD, T0, ApiClient, reachable

from leadcenter.calls import legs
from leadcenter.calls.legs import CallLeg, CallTransfer
from leadcenter.events import Event
from leadcenter.interactions.models import Interaction
from leadcenter.pbx import names
from leadcenter.telephony.tracker import CallTracker


@pytest.fixture(autouse=True)
def _colleagues_available(request):
    """Company A's agents are Available with their phones free: a consult or a conference may ring them."""
    if "call" in request.fixturenames:
        world, controller = request.getfixturevalue("world"), request.getfixturevalue("controller")
        reachable(controller, *world["a"]["agents"])


def _as(make_client, email: str) -> ApiClient:
    client = make_client()
    client.sign_in(email, PASSWORD)
    return client


def _outcomes(body) -> list[tuple[str, str]]:
    return [(t["kind"], t["outcome"]) for t in body["transfers"]]


def test_a_consult_rings_the_colleague_s_device_then_completes(agent, world, controller, call):
    colleague = world["a"]["agents"][1]
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": colleague.id})
    assert status == 200, body
    assert _outcomes(body) == [("warm", "requested")]
    # The lead waits in the call's conference while the agent's leg dials the colleague's ring device; the agent's
    # leg is the one bridged with the lead (no leg known yet: "").
    assert controller.telephony.named("consult") == [(CALL, call.id, colleague.queue_interface, "", "")]
    assert body["transfers"][0]["to_agent_id"] == colleague.id

    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult/complete")
    assert status == 200, body
    assert _outcomes(body) == [("warm", "completed")]
    assert controller.telephony.named("complete_consult") == [(call.id,)]
    assert CallTransfer.get().ended_at == T0


def test_a_completed_consult_is_published_as_the_colleague_s_call_though_he_joined_before_the_answer(
    agent, world, controller, call
):
    """Asterisk hangs the agent up and the colleague joins the conference before it answers the verb: the tracker
    has published the call as the colleague's meanwhile. What the completion publishes after must say so too (it
    once carried the call as the agent's, as the request had read it, and the tabs kept that: the colleague's Active
    without the call, the agent's panel with it)."""
    first, colleague = world["a"]["agents"][0], world["a"]["agents"][1]
    agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": colleague.id})
    bus = controller.bus

    def colleague_joins():
        legs.joined(bus, Interaction.get_by_id(call.id), "colleague-channel", T0, agent=colleague)
        legs.left(bus, "agent-channel", T0)

    legs.joined(bus, Interaction.get_by_id(call.id), "agent-channel", T0, agent=first)
    controller.telephony.meanwhile["complete_consult"] = colleague_joins
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult/complete")
    assert status == 200, body
    published = [data["interaction"] for name, data in bus.published if name == "interaction.updated"]
    assert published[-1]["agent"]["id"] == colleague.id
    assert published[-1]["transfers"][0]["outcome"] == "completed"


@pytest.mark.parametrize("verb, outcome", [("merge", ("conference", "completed")), ("cancel", ("warm", "cancelled"))])
def test_a_consult_merges_or_is_cancelled(agent, world, controller, call, verb, outcome):
    agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": world["a"]["agents"][1].id})
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult/{verb}")
    assert status == 200, body
    assert _outcomes(body) == [outcome]
    assert controller.telephony.named(f"{verb}_consult") == [(call.id,)]


def test_a_number_is_consulted_on_the_call_s_trunk_with_the_tracking_number_as_caller_id(
    agent, world, controller, call
):
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"number": "(404) 555-7777"})
    assert status == 200, body
    trunk = call.tracking_number.trunk.endpoint_name
    assert controller.telephony.named("consult") == [
        (CALL, call.id, f"PJSIP/+14045557777@{trunk}", call.tracking_number.number, "")
    ]
    assert body["transfers"][0]["to_number"] == "+14045557777"


def test_one_consult_at_a_time_and_none_to_settle_without_one(agent, world, call):
    colleague = world["a"]["agents"][1].id
    assert agent.post(f"/api/v1/interactions/{call.id}/consult/complete")[1]["error"] == "no-consult"
    assert agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": colleague})[0] == 200
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": colleague})
    assert (status, body["error"]) == (409, "consult-going-on")


def test_when_asterisk_cannot_start_the_consult_it_is_failed(agent, world, controller, call):
    controller.telephony.fails = True
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": world["a"]["agents"][1].id})
    assert (status, body["error"]) == (502, "consult-not-started")
    assert (CallTransfer.get().outcome, CallTransfer.get().kind) == ("failed", "warm")


def test_a_settle_asterisk_refuses_leaves_the_consult_open(agent, world, controller, call):
    """The colleague has not answered yet (Asterisk refuses complete and merge): the consult is still there to
    cancel."""
    agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": world["a"]["agents"][1].id})
    controller.telephony.fails = True
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult/merge")
    assert (status, body["error"]) == (409, "no-consult")
    assert CallTransfer.get().outcome == "requested"


@pytest.mark.parametrize(
    "body, field",
    [({}, "body"), ({"agent_id": 1, "number": "+14045550000"}, "body"), ({"number": "not a number"}, "number")],
)
def test_a_party_is_an_agent_or_a_number(agent, call, body, field):
    status, answer = agent.post(f"/api/v1/interactions/{call.id}/conference", body)
    assert (status, answer["error"]) == (422, "invalid-fields"), answer
    assert any(key.endswith(field) or key == field for key in answer["fields"]), answer["fields"]


def test_only_the_agent_on_the_call_consults_or_conferences(make_client, world, call):
    other = _as(make_client, "agent2@a.example")
    for path, body in (
        ("consult", {"agent_id": world["a"]["agents"][0].id}),
        ("conference", {"number": "+14045550000"}),
    ):
        status, answer = other.post(f"/api/v1/interactions/{call.id}/{path}", body)
        assert (status, answer["error"]) == (403, "not-your-call")


def test_only_a_live_answered_call_inbound_or_outbound(agent, world, controller, call):
    colleague = {"agent_id": world["a"]["agents"][1].id}
    Interaction.update(status="recent").where(Interaction.id == call.id).execute()
    assert agent.post(f"/api/v1/interactions/{call.id}/consult", colleague)[1]["error"] == "not-active"
    # An agent's outbound call: not before the lead picks up; then as an inbound one (the telephony layer moves the
    # lead's channel, which the call's id names).
    Interaction.update(status="active", direction="outbound", answered_at=None).where(
        Interaction.id == call.id
    ).execute()
    for path, body in (("consult", colleague), ("conference", {"number": "+14045559301"})):
        assert agent.post(f"/api/v1/interactions/{call.id}/{path}", body)[1]["error"] == "not-active"
    Interaction.update(answered_at=T0).where(Interaction.id == call.id).execute()
    assert agent.post(f"/api/v1/interactions/{call.id}/consult", colleague)[0] == 200
    assert agent.post(f"/api/v1/interactions/{call.id}/consult/merge")[0] == 200
    status, body = agent.post(f"/api/v1/interactions/{call.id}/conference", {"number": "+14045559301"})
    assert status == 200, body
    assert [args[0] for args in controller.telephony.named("consult")] == [CALL]
    assert [args[0] for args in controller.telephony.named("add_to_conference")] == [CALL]
    Interaction.update(kind="text").where(Interaction.id == call.id).execute()
    assert agent.post(f"/api/v1/interactions/{call.id}/consult", colleague)[1]["error"] == "not-a-call"


def test_another_company_s_call_or_agent_is_not_found(agent, world, call):
    stranger = world["b"]["agents"][0].id
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": stranger})
    assert (status, body["error"]) == (404, "not-found")
    theirs = world["b"]["interactions"][0].id
    status, body = agent.post(f"/api/v1/interactions/{theirs}/conference", {"number": "+14045550000"})
    assert (status, body["error"]) == (404, "not-found")


def test_nobody_consults_themselves(agent, world, call):
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": world["a"]["agents"][0].id})
    assert (status, body["error"]) == (409, "own-call")


def test_a_colleague_added_rings_into_the_conference_showing_the_call(agent, world, controller, call):
    colleague = world["a"]["agents"][1]
    status, body = agent.post(f"/api/v1/interactions/{call.id}/conference", {"agent_id": colleague.id})
    assert status == 200, body
    assert _outcomes(body) == [("conference", "requested")]  # completed when they answer (below)
    ((verb, args, kwargs),) = [v for v in controller.telephony.made if v[0] == "add_to_conference"]
    assert args == (CALL, call.id, colleague.queue_interface)
    assert kwargs["agent"] is True and kwargs["caller_id"] == ""
    assert kwargs["channel_id"].startswith("lc-conf-")  # chosen by the controller, before the channel exists
    assert kwargs["variables"] == {
        "PJSIP_HEADER(add,X-LC-Call)": CALL,
        "PJSIP_HEADER(add,X-LC-Interaction)": str(call.id),
    }
    joined(controller, call.id, kwargs["channel_id"], agent_id=colleague.id, at=T0 + dt.timedelta(seconds=6))
    transfer = CallTransfer.get()
    assert (transfer.outcome, transfer.ended_at, transfer.channel_id) == (
        "completed",
        T0 + dt.timedelta(seconds=6),
        kwargs["channel_id"],
    )


def test_a_number_added_is_an_unmarked_party_whose_leg_names_it(agent, world, controller, call):
    status, body = agent.post(f"/api/v1/interactions/{call.id}/conference", {"number": "+1 404 555 8888"})
    assert status == 200, body
    ((_, args, kwargs),) = [v for v in controller.telephony.made if v[0] == "add_to_conference"]
    assert args[2].startswith("PJSIP/+14045558888@") and kwargs["agent"] is False
    joined(controller, call.id, kwargs["channel_id"], agent_id=None)
    leg = CallLeg.get()
    assert (leg.number, leg.agent_id, leg.channel_id) == ("+14045558888", None, kwargs["channel_id"])


def unanswered(controller, channel_id: str, failure: str, at=T0 + dt.timedelta(seconds=30)):
    data = {"party_channel_id": channel_id, "failure": failure, "at": at}
    controller.conferences.on_unanswered(Event("call.party_unanswered", data, 3, at))


def dialled(controller, interaction_id: int, channel_id: str):
    data = {"interaction_id": interaction_id, "party_channel_id": channel_id, "at": T0}
    controller.conferences.on_consult_dialled(Event("call.consult_dialled", data, 4, T0))


@pytest.mark.parametrize("party", [{"agent": 1}, {"number": "+14045559401"}], ids=["colleague", "number"])
@pytest.mark.parametrize("failure", ["busy", "no_answer", "refused"])
def test_an_added_party_who_does_not_answer_fails_the_transfer_and_the_call_goes_on(
    agent, world, controller, call, party, failure
):
    body = {"agent_id": world["a"]["agents"][1].id} if "agent" in party else party
    assert agent.post(f"/api/v1/interactions/{call.id}/conference", body)[0] == 200
    ((_, _, kwargs),) = [v for v in controller.telephony.made if v[0] == "add_to_conference"]
    controller.bus.published.clear()
    unanswered(controller, kwargs["channel_id"], failure)
    transfer = CallTransfer.get()
    assert (transfer.outcome, transfer.failure, transfer.ended_at) == ("failed", failure, T0 + dt.timedelta(seconds=30))
    # The agent's app is told (the call with its failed transfer, and why); the call is theirs, going on.
    ((name, data),) = controller.bus.published
    assert name == "interaction.updated"
    assert [(t["outcome"], t["failure"]) for t in data["interaction"]["transfers"]] == [("failed", failure)]
    assert (Interaction.get_by_id(call.id).status, Interaction.get_by_id(call.id).agent_id) == (
        "active",
        world["a"]["agents"][0].id,
    )
    assert CallLeg.select().count() == 0 and controller.telephony.named("hangup") == []
    unanswered(controller, kwargs["channel_id"], "no_answer")  # told again (or after it joined): nothing changes
    assert CallTransfer.get().failure == failure and len(controller.bus.published) == 1


def test_a_consulted_party_who_does_not_answer_fails_the_consult_which_a_cancel_does_not(
    agent, world, controller, call
):
    colleague = {"agent_id": world["a"]["agents"][1].id}
    agent.post(f"/api/v1/interactions/{call.id}/consult", colleague)
    dialled(controller, call.id, "1700000000.50")
    assert CallTransfer.get().channel_id == "1700000000.50"
    unanswered(controller, "1700000000.50", "busy")
    assert (CallTransfer.get().outcome, CallTransfer.get().failure) == ("failed", "busy")
    # Another consult, cancelled: Asterisk hanging the ringing party up ends their Dial unanswered, no failure.
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult", colleague)
    assert status == 200, body
    dialled(controller, call.id, "1700000000.51")
    assert agent.post(f"/api/v1/interactions/{call.id}/consult/cancel")[0] == 200
    unanswered(controller, "1700000000.51", "no_answer")
    assert [(t.outcome, t.failure) for t in CallTransfer.select().order_by(CallTransfer.id)] == [
        ("failed", "busy"),
        ("cancelled", ""),
    ]


def test_a_cancel_asterisk_refuses_leaves_the_consult_open(agent, world, controller, call):
    agent.post(f"/api/v1/interactions/{call.id}/consult", {"agent_id": world["a"]["agents"][1].id})
    controller.telephony.fails = True
    status, body = agent.post(f"/api/v1/interactions/{call.id}/consult/cancel")
    assert (status, body["error"]) == (409, "no-consult")
    assert CallTransfer.get().outcome == "requested"


def test_a_consulted_number_who_answers_and_is_handed_the_call_is_its_leg(agent, world, controller, call):
    agent.post(f"/api/v1/interactions/{call.id}/consult", {"number": "+14045559402"})
    dialled(controller, call.id, "1700000000.52")
    assert agent.post(f"/api/v1/interactions/{call.id}/consult/complete")[0] == 200
    joined(controller, call.id, "1700000000.52", agent_id=None)
    leg = CallLeg.get()
    assert (leg.number, leg.agent_id) == ("+14045559402", None)


@pytest.mark.parametrize(
    "status, device, presence",
    [
        ("available", "INUSE", "on call"),
        ("available", "UNAVAILABLE", "unreachable"),
        ("available", "RINGING", "ringing"),
        ("wrap_up", "NOT_INUSE", "wrap up"),
        ("on_call", "NOT_INUSE", "on call"),
        ("missed", "NOT_INUSE", "missed"),
        ("offline", "NOT_INUSE", "offline"),
    ],
)
@pytest.mark.parametrize("verb", ["consult", "conference"])
def test_a_colleague_who_is_not_available_is_neither_consulted_nor_added(
    agent, world, controller, call, verb, status, device, presence
):
    colleague = world["a"]["agents"][1]
    if status in ("wrap_up", "on_call", "missed"):
        colleague.status, colleague.status_reason = "unavailable", status
    else:
        colleague.status = status
    colleague.save()
    reachable(controller, colleague, state=device)
    answer_status, body = agent.post(f"/api/v1/interactions/{call.id}/{verb}", {"agent_id": colleague.id})
    assert (answer_status, body["error"]) == (409, "colleague-unavailable")
    assert f"({presence})" in body["message"]
    assert controller.telephony.verbs == [] and CallTransfer.select().count() == 0


def joined(controller, interaction_id: int, channel_id: str, agent_id: int | None, at=T0):
    data = {"interaction_id": interaction_id, "channel_id": channel_id, "agent_id": agent_id, "at": at}
    controller.conferences.on_joined(Event("call.conference_joined", data, 1, at))


def left(controller, interaction_id: int, channel_id: str, at):
    data = {"interaction_id": interaction_id, "channel_id": channel_id, "at": at}
    controller.conferences.on_left(Event("call.conference_left", data, 2, at))


def test_who_joins_and_leaves_the_conference_are_the_call_s_legs(agent, world, controller, call):
    first, colleague = world["a"]["agents"]
    joined(controller, call.id, "1700000000.42", first.id)
    joined(controller, call.id, "1700000000.43", colleague.id, at=T0 + dt.timedelta(seconds=5))
    assert Interaction.get_by_id(call.id).agent_id == colleague.id  # the agent who joined last has the call
    joined(controller, call.id, "1700000000.42", first.id, at=T0 + dt.timedelta(seconds=9))  # back from a consult
    assert CallLeg.select().count() == 2
    left(controller, call.id, "1700000000.43", T0 + dt.timedelta(seconds=30))
    assert Interaction.get_by_id(call.id).agent_id == first.id  # still on: the call is theirs again
    legs = {leg.channel_id: leg for leg in CallLeg.select()}
    assert legs["1700000000.43"].left_at == T0 + dt.timedelta(seconds=30)
    assert legs["1700000000.42"].left_at is None
    # Another company's agent named by a channel is nobody of this call's company.
    joined(controller, call.id, "1700000000.44", world["b"]["agents"][0].id)
    assert CallLeg.get(CallLeg.channel_id == "1700000000.44").agent_id is None


def test_the_agent_on_the_call_drops_another_party_but_not_themselves(agent, world, controller, call):
    first, colleague = world["a"]["agents"]
    joined(controller, call.id, "1700000000.42", first.id)
    joined(controller, call.id, "1700000000.43", colleague.id)
    Interaction.update(agent=first).where(Interaction.id == call.id).execute()
    theirs = CallLeg.get(CallLeg.channel_id == "1700000000.43")
    mine = CallLeg.get(CallLeg.channel_id == "1700000000.42")
    assert agent.delete(f"/api/v1/interactions/{call.id}/conference/{mine.id}")[1]["error"] == "own-leg"
    assert agent.delete(f"/api/v1/interactions/{call.id}/conference/{theirs.id}")[0] == 204
    assert controller.telephony.named("hangup") == [("1700000000.43",)]
    other_call = world["a"]["interactions"][1].id
    assert agent.delete(f"/api/v1/interactions/{other_call}/conference/{theirs.id}")[0] == 404


# -- the tracker ------------------------------------------------------------------------------------------------------
def _ami(event: str, **headers) -> dict:
    return {"Event": event, "Timestamp": "1795737826.5", **headers}


def test_the_tracker_follows_a_call_s_conference_parties_until_their_channel_hangs_up():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.lead_channels.add(CALL)
    conference = names.conference_name(7)
    for message in (
        _ami("ConfbridgeJoin", Conference=conference, Channel="PJSIP/trunk1-00000001", Uniqueid=CALL),  # the lead
        _ami("ConfbridgeJoin", Conference=conference, Channel="PJSIP/webrtc3-00000002", Uniqueid="1.2"),
        _ami("ConfbridgeLeave", Conference=conference, Channel="PJSIP/webrtc3-00000002", Uniqueid="1.2"),  # consult
        _ami("ConfbridgeJoin", Conference=conference, Channel="PJSIP/webrtc3-00000002", Uniqueid="1.2"),  # back
        _ami("ConfbridgeJoin", Conference=conference, Channel="PJSIP/trunk1-00000003", Uniqueid="lc-conf-x"),
        _ami("ConfbridgeJoin", Conference="someone-else", Channel="PJSIP/desk4-00000004", Uniqueid="1.4"),
        _ami("Hangup", Channel="PJSIP/webrtc3-00000002", Uniqueid="1.2", Cause="16"),
        _ami("Hangup", Channel="PJSIP/webrtc3-00000002", Uniqueid="1.2", Cause="16"),  # told twice: once
    ):
        tracker.handle(message)
    at = dt.datetime.fromtimestamp(1795737826.5, dt.UTC).replace(tzinfo=None)
    assert published == [
        ("call.conference_joined", {"interaction_id": 7, "channel_id": "1.2", "agent_id": 3, "at": at}),
        ("call.conference_joined", {"interaction_id": 7, "channel_id": "1.2", "agent_id": 3, "at": at}),
        ("call.conference_joined", {"interaction_id": 7, "channel_id": "lc-conf-x", "agent_id": None, "at": at}),
        ("call.conference_left", {"interaction_id": 7, "channel_id": "1.2", "at": at}),
    ]
    assert tracker.conference_parties == {"lc-conf-x": 7}


def test_the_tracker_tells_a_consulted_or_added_party_who_does_not_answer():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.lead_channels.add(CALL)
    consult = {"Channel": "PJSIP/desk3-00000002", "Uniqueid": "1.2", "Context": names.CONSULT_CONTEXT, "Exten": "7"}
    for message in (
        _ami("DialBegin", **consult, DestChannel="PJSIP/webrtc4-00000003", DestUniqueid="1.3"),
        _ami("DialEnd", **consult, DestChannel="PJSIP/webrtc4-00000003", DestUniqueid="1.3", DialStatus="BUSY"),
        _ami("DialEnd", **consult, DestUniqueid="1.4", DialStatus="NOANSWER"),
        _ami("DialEnd", **consult, DestUniqueid="1.5", DialStatus="ANSWER"),  # answered: settled by the agent
        _ami("DialEnd", **consult, DestUniqueid="1.6", DialStatus="CANCEL"),  # the agent hung up: the call's end
        _ami("Hangup", Channel="PJSIP/trunk1-00000007", Uniqueid="lc-conf-a", Cause="17"),  # originated: busy
        _ami("Hangup", Channel="PJSIP/webrtc4-00000008", Uniqueid="lc-conf-b", Cause="21"),  # declined
        _ami("Hangup", Channel="PJSIP/trunk1-00000009", Uniqueid="lc-conf-c", Cause="19"),  # rang out
        _ami("Hangup", Channel="PJSIP/trunk1-00000010", Uniqueid="lc-conf-d", Cause="34"),
        _ami("ConfbridgeJoin", Conference=names.conference_name(7), Channel="PJSIP/desk4-0011", Uniqueid="lc-conf-e"),
        _ami("Hangup", Channel="PJSIP/desk4-00000011", Uniqueid="lc-conf-e", Cause="16"),  # answered, then left
    ):
        tracker.handle(message)
    told = [
        (name, data.get("party_channel_id") or data.get("channel_id"), data.get("failure")) for name, data in published
    ]
    assert told == [
        ("call.consult_dialled", "1.3", None),
        ("call.party_unanswered", "1.3", "busy"),
        ("call.party_unanswered", "1.4", "no_answer"),
        ("call.party_unanswered", "lc-conf-a", "busy"),
        ("call.party_unanswered", "lc-conf-b", "refused"),
        ("call.party_unanswered", "lc-conf-c", "no_answer"),
        ("call.party_unanswered", "lc-conf-d", "unreachable"),
        ("call.conference_joined", "lc-conf-e", None),
        ("call.conference_left", "lc-conf-e", None),
    ]
    assert published[0][1]["interaction_id"] == 7


# -- Asterisk's configuration ---------------------------------------------------------------------------------------
def test_the_conference_contexts_are_reached_only_from_the_controller():
    """No endpoint's context includes the conference contexts; each joins the conference named after the
    interaction with its profile (agents marked, the lead and external parties not), and the lead's hangup ends it."""
    from leadcenter.resources import ASTERISK_TEMPLATES, DIALPLANS

    text = (DIALPLANS / "conference.conf").read_text()
    assert "include" not in text.split("\n[", 1)[1]
    for context, profile in (
        (names.CONF_AGENT_CONTEXT, "lc-agent"),
        (names.CONF_LEAD_CONTEXT, "lc-party"),
        (names.CONF_PARTY_CONTEXT, "lc-party"),
    ):
        assert f"[{context}]\n" in text
        assert f"ConfBridge({names.conference_name(0)[:-1]}${{EXTEN}},lc-call,{profile},lc-no-menu)" in text
    assert f"[{names.CONSULT_CONTEXT}]\n" in text
    confbridge = (ASTERISK_TEMPLATES / "confbridge.conf").read_text()
    agent_profile = confbridge.split("[lc-agent]", 1)[1].split("\n[", 1)[0]
    party_profile = confbridge.split("[lc-party]", 1)[1].split("\n[", 1)[0]
    assert "marked = yes" in agent_profile and "marked" not in party_profile
    assert "music_on_hold_when_empty = yes" in party_profile
    modules = (ASTERISK_TEMPLATES / "modules.conf").read_text()
    assert "load = app_confbridge.so" in modules and "load = bridge_softmix.so" in modules
    assert "#include dialplans/conference.conf" in (ASTERISK_TEMPLATES / "extensions.conf").read_text()


# -- what Asterisk is told of who is on a call ------------------------------------------------------------------------
def _told_legs(controller) -> None:
    """Hand the conference service the leg events published so far (the recording bus delivers nothing)."""
    for seq, (name, data) in enumerate(controller.bus.published):
        if name in ("call.leg_joined", "call.leg_left"):
            controller.conferences.on_leg_moved(Event(name, data, seq, data["at"]))
    controller.bus.published.clear()


def test_the_lead_s_channel_names_the_agent_the_call_moved_to_and_each_device_its_call(world, controller, call):
    """The first agent's answer is named by the dialplan (lc-agent-answered); once a colleague has the call (an
    attended or a warm transfer, a conference), the lead's LC_ANSWERED_BY names their device, and each agent's device
    names the call it is on (a desk phone's consult call then tells the colleague's app which call and lead)."""
    from leadcenter.calls import legs

    first, colleague = world["a"]["agents"]
    first_device, colleague_device = (a.endpoint_name(a.ring_device) for a in (first, colleague))
    legs.joined(controller.bus, call, "1700000000.42", T0, agent=first)
    _told_legs(controller)
    assert controller.telephony.named("set_variable") == [(f"LC_CALL_{first_device}", f"{CALL},{call.id}")]
    controller.telephony.verbs.clear()

    legs.joined(controller.bus, Interaction.get_by_id(call.id), "1700000000.43", T0, agent=colleague)
    legs.left(controller.bus, "1700000000.42", T0 + dt.timedelta(seconds=1))
    _told_legs(controller)
    assert controller.telephony.named("set_variable") == [
        (f"LC_CALL_{colleague_device}", f"{CALL},{call.id}"),
        ("LC_ANSWERED_BY", colleague_device, CALL),
        (f"LC_CALL_{first_device}", ""),  # the first agent's device is on no call now
        ("LC_ANSWERED_BY", colleague_device, CALL),
    ]
    controller.telephony.verbs.clear()

    Interaction.update(status="recent").where(Interaction.id == call.id).execute()  # the call ended
    legs.left(controller.bus, "1700000000.43", T0 + dt.timedelta(seconds=9))
    _told_legs(controller)
    assert controller.telephony.named("set_variable") == [(f"LC_CALL_{colleague_device}", "")]


# -- a restarted controller ------------------------------------------------------------------------------------------
def _synced(controller, channels: list[str], calls: list[str], read_at=T0 + dt.timedelta(minutes=1)):
    data = {"calls": [{"channel_id": c} for c in calls], "channels": channels, "read_at": read_at}
    controller.conferences.on_synced(Event("telephony.synced", data, 9, read_at))


def test_a_restarted_controller_follows_the_parties_still_on_a_call_and_ends_the_rest(agent, world, controller, call):
    """Whom the controller followed is rebuilt from the database and what Asterisk has: the parties still up are
    followed again (their hangups end their legs), one gone meanwhile left, a party added or consulted whose channel
    is gone before answering failed."""
    first, colleague = world["a"]["agents"]
    assert agent.post(f"/api/v1/interactions/{call.id}/conference", {"number": "+14045559404"})[0] == 200
    ringing = CallTransfer.get(CallTransfer.to_number == "+14045559404").channel_id  # when the controller stopped
    joined(controller, call.id, "1700000000.42", first.id)
    joined(controller, call.id, "lc-conf-colleague", colleague.id)
    joined(controller, call.id, "lc-conf-number", None)
    controller.telephony.verbs.clear()

    _synced(controller, [CALL, "1700000000.42", "lc-conf-colleague"], [CALL])
    assert controller.telephony.named("follow_parties") == [({"1700000000.42": CALL, "lc-conf-colleague": CALL},)]
    assert CallLeg.get(CallLeg.channel_id == "lc-conf-number").left_at == T0  # the stand-in clock: now
    assert CallLeg.get(CallLeg.channel_id == "1700000000.42").left_at is None
    assert CallTransfer.get(CallTransfer.channel_id == ringing).outcome == "failed"
    # A leg, or a transfer, newer than Asterisk's answer is not judged by it.
    controller.telephony.verbs.clear()
    _synced(controller, [CALL], [CALL], read_at=T0 - dt.timedelta(seconds=1))
    assert controller.telephony.named("follow_parties") == []
    assert CallLeg.get(CallLeg.channel_id == "1700000000.42").left_at is None


def test_the_tracker_follows_the_parties_it_is_told_of_on_calls_still_up():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.lead_channels.add(CALL)
    tracker.follow({"1.2": CALL, "1.3": "1700000000.99"})  # the second call is over
    tracker.handle(_ami("Hangup", Channel="PJSIP/desk3-00000002", Uniqueid="1.2", Cause="16"))
    tracker.handle(_ami("Hangup", Channel="PJSIP/desk4-00000003", Uniqueid="1.3", Cause="16"))
    assert [(name, data["party_channel_id"]) for name, data in published] == [("call.party_left", "1.2")]
