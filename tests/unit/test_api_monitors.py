"""Listen, whisper, barge over the API: who may (the company's setting), on which calls (a live answered call of
their own company), on which device (their own agent profile's), what Asterisk is asked, what the audit log and the
event stream get, and how a monitor ends (stopped, the supervisor's phone hung up, gone after a restart)."""

from __future__ import annotations

import datetime as dt

import pytest
from support import CALL, PASSWORD, T0, ApiClient

from leadcenter import catalogue
from leadcenter.accounts.models import Membership
from leadcenter.agents.services import create_agent
from leadcenter.audit.models import AuditEntry
from leadcenter.catalogue import Viewer
from leadcenter.events import Event
from leadcenter.interactions.models import Interaction
from leadcenter.monitors.models import Monitor
from leadcenter.pbx import names
from leadcenter.wire import utc_iso


@pytest.fixture
def desk(world):
    """Company A's supervisor's own agent profile: the desk phone they listen on."""
    a = world["a"]
    return create_agent(a["company"], a["users"]["supervisor"], devices=("webrtc", "desk"), ring_device="desk", now=T0)


def signed_in(make_client, email: str) -> ApiClient:
    client = make_client()
    client.sign_in(email, PASSWORD)
    return client


def start(client, interaction, **body):
    return client.post(f"/api/v1/interactions/{interaction.id}/monitor", {"mode": "listen", **body})


def audit(monitor_id: int) -> list[tuple[str, str]]:
    entries = AuditEntry.select().where(AuditEntry.resource == "monitor", AuditEntry.resource_id == monitor_id)
    return [(e.action, e.actor) for e in entries.order_by(AuditEntry.id)]


def test_a_supervisor_listens_on_their_own_desk_phone(supervisor, world, controller, call, desk):
    status, body = start(supervisor, call)
    assert status == 201, body
    assert body["interaction_id"] == call.id and body["supervisor"] == world["a"]["users"]["supervisor"].id
    assert (body["mode"], body["device"], body["state"], body["agent_id"]) == (
        "listen",
        "desk",
        "active",
        world["a"]["agents"][0].id,
    )
    assert (body["started_at"], body["ended_at"]) == (utc_iso(T0), None)
    # Asterisk rings the supervisor's desk phone into the call, spying only within company A's group.
    monitor = Monitor.get_by_id(body["id"])
    assert controller.telephony.named("spy") == [
        (
            monitor.channel_id,
            names.interface("desk", desk.id),
            CALL,
            "listen",
            names.spy_group(world["a"]["company"].id),
        )
    ]
    assert names.parse_monitor_channel_id(monitor.channel_id)
    assert audit(monitor.id) == [("started", "supervisor@a.example")]
    assert supervisor.get("/api/v1/monitors") == (200, [body])


def test_the_device_asked_for_rings_and_one_they_lack_is_refused(supervisor, world, controller, call, desk):
    status, body = start(supervisor, call, device="webrtc")
    assert (status, body["device"]) == (201, "webrtc")
    assert controller.telephony.named("spy")[0][1] == names.interface("webrtc", desk.id)
    desk.sip_credentials.where(desk.sip_credentials.model.device == "desk").get().delete_instance()
    status, body = start(supervisor, call, device="desk")
    assert (status, body["error"]) == (409, "no-phone")


def test_a_supervisor_with_no_phone_is_told_so(supervisor, call):
    status, body = start(supervisor, call)
    assert (status, body["error"]) == (409, "no-phone")
    assert not Monitor.select().exists()


def test_the_mode_changes_mid_call_and_stop_hangs_up(supervisor, world, controller, call, desk):
    monitor_id = start(supervisor, call)[1]["id"]
    channel = Monitor.get_by_id(monitor_id).channel_id
    for mode in ("whisper", "barge", "barge"):
        status, body = supervisor.patch(f"/api/v1/monitors/{monitor_id}", {"mode": mode})
        assert (status, body["mode"]) == (200, mode), body
    # The spy channel goes back into lc-monitor with the new mode (the same mode twice asks nothing).
    assert controller.telephony.named("redirect") == [
        (channel, names.MONITOR_CONTEXT, "whisper"),
        (channel, names.MONITOR_CONTEXT, "barge"),
    ]
    assert supervisor.delete(f"/api/v1/monitors/{monitor_id}")[0] == 204
    assert controller.telephony.named("hangup") == [(channel,)]
    ended = Monitor.get_by_id(monitor_id)
    assert (ended.state, ended.ended_at) == ("ended", T0)
    assert supervisor.get("/api/v1/monitors") == (200, [])
    assert supervisor.patch(f"/api/v1/monitors/{monitor_id}", {"mode": "listen"})[1]["error"] == "monitor-ended"
    assert supervisor.delete(f"/api/v1/monitors/{monitor_id}")[0] == 204  # already ended: nothing more
    assert audit(monitor_id) == [
        ("started", "supervisor@a.example"),
        ("updated", "supervisor@a.example"),
        ("updated", "supervisor@a.example"),
        ("ended", "supervisor@a.example"),
    ]


@pytest.mark.parametrize(
    "setting, role, allowed",
    [
        ("supervisor", "supervisor", True),
        ("supervisor", "admin", True),
        ("admin", "supervisor", False),
        ("admin", "admin", True),
        ("none", "admin", False),
        ("none", "supervisor", False),
    ],
)
def test_the_company_setting_says_which_roles_may_monitor(make_client, world, call, setting, role, allowed):
    a = world["a"]
    a["company"].monitor_roles = setting
    a["company"].save()
    create_agent(a["company"], a["users"][role], devices=("desk",), ring_device="desk", now=T0)
    status, body = start(signed_in(make_client, f"{role}@a.example"), call)
    assert (status, body.get("error")) == ((201, None) if allowed else (403, "monitoring-not-allowed"))


def test_agents_cannot_monitor(agent, call):
    assert start(agent, call)[1]["error"] == "forbidden"
    assert agent.get("/api/v1/monitors")[1]["error"] == "forbidden"


@pytest.mark.parametrize(
    "change, error",
    [
        ({"status": "incoming", "answered_at": None}, "not-active"),
        ({"status": "recent"}, "not-active"),
        ({"channel_id": None}, "not-active"),
        ({"kind": "text"}, "not-a-call"),
    ],
)
def test_only_a_live_answered_call_is_monitored(supervisor, controller, call, desk, change, error):
    for field, value in change.items():
        setattr(call, field, value)
    call.save()
    status, body = start(supervisor, call)
    assert (status, body["error"]) == (409, error)
    assert controller.telephony.named("spy") == []


def test_nobody_monitors_their_own_call(make_client, world, call):
    agent = world["a"]["agents"][0]
    Membership.update(role="supervisor").where(Membership.user == agent.user_id).execute()
    status, body = start(signed_in(make_client, "agent1@a.example"), call)
    assert (status, body["error"]) == (409, "own-call")


def test_when_asterisk_cannot_ring_the_phone_no_monitor_is_left(supervisor, controller, call, desk):
    controller.telephony.fails = True
    status, body = start(supervisor, call)
    assert (status, body["error"]) == (502, "monitor-not-started")
    assert not Monitor.select().exists() and audit(1) == []


def test_another_company_s_call_and_monitors_are_not_found(make_client, world, call, desk):
    b = world["b"]
    create_agent(b["company"], b["users"]["supervisor"], devices=("desk",), ring_device="desk", now=T0)
    spy = signed_in(make_client, "supervisor@b.example")
    status, body = start(spy, call)
    assert (status, body["error"]) == (404, "not-found")
    monitor_id = start(signed_in(make_client, "supervisor@a.example"), call)[1]["id"]
    assert spy.get("/api/v1/monitors") == (200, [])
    assert spy.patch(f"/api/v1/monitors/{monitor_id}", {"mode": "barge"})[0] == 404
    assert spy.delete(f"/api/v1/monitors/{monitor_id}")[0] == 404
    assert Monitor.get_by_id(monitor_id).state == "active"


def test_a_colleague_s_monitor_is_theirs_to_change(make_client, world, call, desk):
    monitor_id = start(signed_in(make_client, "supervisor@a.example"), call)[1]["id"]
    admin = signed_in(make_client, "admin@a.example")
    assert [m["id"] for m in admin.get("/api/v1/monitors")[1]] == [monitor_id]  # seen by the company's supervisors
    assert admin.patch(f"/api/v1/monitors/{monitor_id}", {"mode": "barge"})[0] == 404
    assert admin.delete(f"/api/v1/monitors/{monitor_id}")[0] == 404


def test_the_events_reach_supervisors_and_the_agent_only_when_told(supervisor, world, controller, call, desk):
    a = world["a"]
    agent_on_call, other_agent = (agent.id for agent in a["agents"])
    company = a["company"].id
    start(supervisor, call)
    name, data = controller.bus.published[-1]
    assert name == "monitor.started" and data["for_agents"] == [agent_on_call]
    audience = catalogue.BY_NAME["monitor.started"].audience
    assert audience.variant(data, Viewer(company, "supervisor", None)) is not None
    assert audience.variant(data, Viewer(company, "agent", agent_on_call)) is not None
    assert audience.variant(data, Viewer(company, "agent", other_agent)) is None
    assert audience.variant(data, Viewer(world["b"]["company"].id, "admin", None)) is None
    a["company"].monitor_notice = False
    a["company"].save()
    monitor_id = data["monitor"]["id"]
    supervisor.patch(f"/api/v1/monitors/{monitor_id}", {"mode": "whisper"})
    name, data = controller.bus.published[-1]
    assert (name, data["for_agents"], data["monitor"]["mode"]) == ("monitor.updated", [], "whisper")
    assert audience.variant(data, Viewer(company, "agent", agent_on_call)) is None


def test_the_monitor_ends_when_its_channel_hangs_up(supervisor, controller, call, desk):
    monitor_id = start(supervisor, call)[1]["id"]
    channel = Monitor.get_by_id(monitor_id).channel_id
    controller.clock.advance(seconds=30)
    controller.monitors.on_channel_ended(Event("call.monitor_ended", {"channel_id": channel, "at": T0}, 1, T0))
    ended = Monitor.get_by_id(monitor_id)
    assert (ended.state, ended.ended_at) == ("ended", T0 + dt.timedelta(seconds=30))
    assert controller.bus.names()[-1] == "monitor.ended"
    assert audit(monitor_id)[-1] == ("ended", "supervisor@a.example")  # the supervisor's monitor, ended by the phone
    controller.monitors.on_channel_ended(Event("call.monitor_ended", {"channel_id": channel, "at": T0}, 2, T0))
    assert len(audit(monitor_id)) == 2  # once


def test_after_a_resync_monitors_asterisk_no_longer_has_are_ended(supervisor, controller, call, desk):
    old = start(supervisor, call)[1]["id"]
    Monitor.update(state="ended").where(Monitor.id == old).execute()
    kept, gone, young = (start(supervisor, call)[1]["id"] for _ in range(3))
    Monitor.update(started_at=T0 - dt.timedelta(minutes=5)).where(Monitor.id.in_([kept, gone])).execute()
    up = [Monitor.get_by_id(kept).channel_id]
    read_at = T0 + dt.timedelta(seconds=1)
    controller.monitors.on_synced(Event("telephony.synced", {"monitors": up, "read_at": read_at}, 1, T0))
    states = {m.id: m.state for m in Monitor.select()}
    # Its channel still up: kept; gone: ended; started just before the read (its channel maybe not made yet): kept.
    assert (states[kept], states[gone], states[young]) == ("active", "ended", "active")


def test_with_several_asterisk_nodes_only_the_node_of_a_monitor_s_call_ends_it_at_its_resync(
    supervisor, controller, call, desk
):
    monitor_id = start(supervisor, call)[1]["id"]
    Monitor.update(started_at=T0 - dt.timedelta(minutes=5)).where(Monitor.id == monitor_id).execute()
    Interaction.update(node="a").where(Interaction.id == Monitor.get_by_id(monitor_id).interaction_id).execute()
    read_at = T0 + dt.timedelta(seconds=1)
    synced = {"monitors": [], "read_at": read_at, "node": "b"}
    controller.monitors.on_synced(Event("telephony.synced", synced, 1, T0))
    assert Monitor.get_by_id(monitor_id).state == "active"
    controller.monitors.on_synced(Event("telephony.synced", {**synced, "node": "a"}, 2, T0))
    assert Monitor.get_by_id(monitor_id).state == "ended"


def test_admins_set_who_may_monitor_and_whether_agents_are_told(admin, supervisor):
    status, body = admin.get("/api/v1/company")
    assert (body["monitor_roles"], body["monitor_notice"]) == ("supervisor", True)
    status, body = admin.patch("/api/v1/company", {"monitor_roles": "admin", "monitor_notice": False})
    assert (status, body["monitor_roles"], body["monitor_notice"]) == (200, "admin", False)
    status, body = admin.patch("/api/v1/company", {"monitor_roles": "everyone"})
    assert (status, list(body["fields"])) == (422, ["monitor_roles"])
    assert supervisor.patch("/api/v1/company", {"monitor_roles": "supervisor"})[1]["error"] == "forbidden"
