"""Several Asterisk nodes driven by one controller (issue 18, item 2): which Asterisks [kamailio] nodes names for the
controller to drive, each node's system name in its asterisk.conf, a node's name in its events, and the router
that sends each verb to the node of its call (tests/integration/test_kamailio.py drives two real nodes)."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from types import SimpleNamespace

import pytest
from support import RecordingBus

from leadcenter import asterisk_config, config
from leadcenter.credentials import Secrets
from leadcenter.pbx import render
from leadcenter.resources import ASTERISK_TEMPLATES
from leadcenter.telephony import nodes
from leadcenter.telephony.ari import AriError
from leadcenter.telephony.service import Telephony

EDGE = {"LEADCENTER_KAMAILIO_ENABLED": "true", "LEADCENTER_KAMAILIO_PORT": "5090", "LEADCENTER_KAMAILIO_HOMES": "2=b"}
DRIVEN = {**EDGE, "LEADCENTER_KAMAILIO_NODES": "a=127.0.0.1:5060, b=127.0.0.1:15060/15038/18088"}
ONE_ASTERISK = config.AsteriskLink("", "127.0.0.1", 5038, 8088)


def test_without_driven_nodes_the_controller_drives_the_one_asterisk_as_node_nothing():
    edge_only = {**EDGE, "LEADCENTER_KAMAILIO_NODES": "a=127.0.0.1:5060, b=10.0.0.2:5060"}
    for settings in (config.load(env={}), config.load(env=edge_only)):
        assert config.asterisk_links(settings) == (ONE_ASTERISK,)
        assert config.system_name(settings) == ""


def test_nodes_with_ami_and_http_ports_are_each_driven_the_installation_s_own_through_its_asterisk_settings():
    settings = config.load(env=DRIVEN)
    assert config.kamailio_nodes(settings)[1] == config.KamailioNode("b", "127.0.0.1", 15060, 15038, 18088)
    assert config.asterisk_links(settings) == (
        config.AsteriskLink("a", "127.0.0.1", 5038, 8088),
        config.AsteriskLink("b", "127.0.0.1", 15038, 18088),
    )
    assert config.system_name(settings) == "a"
    # Node b's Asterisk, its files rendered with its own SIP port, is called b (node a's ports given: it is not its
    # own Asterisk there).
    every = "a=127.0.0.1:5060/5038/8088, b=127.0.0.1:15060/15038/18088"
    node_b = config.load(env={**DRIVEN, "LEADCENTER_KAMAILIO_NODES": every, "LEADCENTER_ASTERISK_SIP_PORT": "15060"})
    assert config.asterisk_links(node_b) == config.asterisk_links(settings)
    assert config.system_name(node_b) == "b"


@pytest.mark.parametrize(
    "nodes_setting,message",
    [
        ("a=10.0.0.1:5060/5038", "'a=10.0.0.1:5060/5038' is not name=host:port or name=host:port/ami_port/http_port"),
        ("a=10.0.0.1:5060/ami/8088", "is not name=host:port or name=host:port/ami_port/http_port"),
        ("a=10.0.0.9:5060, b=127.0.0.1:15060/15038/18088", "a names no AMI and HTTP ports"),
    ],
)
def test_bad_driven_nodes_get_clear_errors(nodes_setting, message):
    with pytest.raises(config.ConfigError, match=r"\[kamailio\] nodes: .*" + message):
        config.load(env={**EDGE, "LEADCENTER_KAMAILIO_NODES": nodes_setting})


def _asterisk_conf(settings: config.Settings) -> str:
    template = {"asterisk.conf": (ASTERISK_TEMPLATES / "asterisk.conf").read_text()}
    values = asterisk_config.static_values(settings, Secrets("ami", "ari", "key"))
    return render.render_static(template, values)["asterisk.conf"]


def test_asterisk_conf_names_the_node_only_when_the_controller_drives_several():
    assert "\nsystemname = a\n" in _asterisk_conf(config.load(env=DRIVEN))
    one = _asterisk_conf(config.load(env={}))
    assert "systemname =" not in one and "\n; systemname: none\n" in one


def test_a_node_s_call_and_link_events_name_it_and_the_one_asterisk_s_do_not():
    settings = config.load(env=DRIVEN)
    for link, expected in ((config.asterisk_links(settings)[1], {"node": "b"}), (ONE_ASTERISK, {})):
        bus = RecordingBus()
        telephony = Telephony(settings, Secrets("ami", "ari", "key"), bus, lambda: dt.datetime(2026, 12, 7), link=link)
        telephony.tracker.synced([{"channel_id": "b-1.1"}])
        telephony.tracker.handle({"Event": "QueueCallerJoin", "Uniqueid": "b-1.1", "Queue": "team1", "Position": "1"})
        telephony._link_lost("ami")
        (queued, data), (lost, link_data) = bus.published
        assert (queued, data["channel_id"], data.get("node")) == ("call.queued", "b-1.1", expected.get("node"))
        assert (lost, link_data) == ("telephony.lost", {"link": "ami", **expected})


class FakeNode:
    """A node's Telephony as the router sees it: each verb recorded; a verb on a channel it has not, refused as
    Asterisk refuses it."""

    def __init__(self, node: str, channels=(), connected: bool = True, following=()):
        self.node, self.channels, self.connected = node, set(channels), connected
        self.tracker = SimpleNamespace(follows=lambda channel_id: channel_id in following)
        self.done: list[tuple] = []

    def __getattr__(self, name: str):
        async def verb(*args, **kwargs):
            if name in ("hangup", "transfer", "complete_consult") and args[0] not in self.channels:
                raise AriError(f"{self.node} has no {args[0]}")
            self.done.append((name, *args))
            return [f"{self.node}-caller"] if name == "queue_entries" else None

        return verb


def _router(a: FakeNode, b: FakeNode, located: dict | None = None) -> nodes.Nodes:
    homes = {2: "b"}
    return nodes.Nodes(
        [a, b],  # type: ignore[list-item]
        "a",
        lambda key: (located or {}).get(key),
        lambda company: homes.get(company, "a"),
    )


def test_a_call_s_verb_goes_to_the_node_it_is_on():
    a, b = FakeNode("a", channels={"a-1.1"}), FakeNode("b", channels={"b-1.2", 7})
    router = _router(a, b, located={"b-1.2": "b", 7: "b"})
    asyncio.run(router.hangup("b-1.2", reason="busy"))
    asyncio.run(router.complete_consult(7))
    assert (a.done, b.done) == ([], [("hangup", "b-1.2"), ("complete_consult", 7)])


def test_a_verb_on_a_channel_nobody_located_is_refused_by_the_wrong_node_and_done_by_the_right_one():
    a, b = FakeNode("a"), FakeNode("b", channels={"b-9.9"})
    asyncio.run(_router(a, b).hangup("b-9.9"))
    assert (a.done, b.done) == ([], [("hangup", "b-9.9")])
    # A channel the node's tracker follows goes there first.
    following = FakeNode("b", channels={"b-9.8"}, following={"b-9.8"})
    asyncio.run(_router(FakeNode("a"), following).transfer("b-9.8", "ctx", "s", {}))
    assert following.done == [("transfer", "b-9.8", "ctx", "s", {})]
    # Nowhere: the refusal of the node it was likeliest on is the answer.
    with pytest.raises(AriError, match="b has no gone"):
        asyncio.run(_router(FakeNode("a"), FakeNode("b"), located={"gone": "b"}).hangup("gone"))


def test_pauses_flags_and_reloads_go_to_every_node_up_outbound_calls_to_the_home_and_checks_to_the_own():
    a, b = FakeNode("a"), FakeNode("b")
    router = _router(a, b)
    asyncio.run(router.pause("PJSIP/webrtc7", True, "break"))
    asyncio.run(router.set_variable("LC_X", "1"))  # a global variable
    assert asyncio.run(router.queue_entries("team1")) == ["a-caller", "b-caller"]
    asyncio.run(router.place_outbound("out-1", "PJSIP/webrtc7", "+14045551399", variables={"LC_COMPANY": "2"}))
    asyncio.run(router.reload_checked({"pbx_config.so"}, ["lc-flow-1"]))
    assert a.done == [
        ("pause", "PJSIP/webrtc7", True, "break"),
        ("set_variable", "LC_X", "1"),
        ("queue_entries", "team1"),
        ("reload_checked", {"pbx_config.so"}, ["lc-flow-1"]),
    ]
    assert b.done == [
        ("pause", "PJSIP/webrtc7", True, "break"),
        ("set_variable", "LC_X", "1"),
        ("queue_entries", "team1"),
        ("place_outbound", "out-1", "PJSIP/webrtc7", "+14045551399"),
    ]
    # A node that is down is put right by its resync when it comes back.
    down = FakeNode("b", connected=False)
    asyncio.run(_router(FakeNode("a"), down).pause("PJSIP/webrtc7", False))
    assert down.done == []


def test_every_verb_of_a_node_has_a_route():
    verbs = {
        name
        for name, member in inspect.getmembers(Telephony, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in ("start", "stop")
    }
    assert set(nodes.ROUTES) == verbs
    with pytest.raises(AttributeError):
        _router(FakeNode("a"), FakeNode("b")).no_such_verb  # noqa: B018 (the attribute is the test)


def test_the_status_names_each_node_s_links_and_is_connected_when_every_node_is():
    def status(ami: str) -> dict:
        return {"ami": ami, "ari": "connected", "synced_at": None}

    a, b = FakeNode("a"), FakeNode("b", connected=False)
    a.status = lambda: status("connected")  # type: ignore[method-assign]
    b.status = lambda: status("disconnected")  # type: ignore[method-assign]
    router = _router(a, b)
    assert router.status() == {
        "ami": "disconnected",
        "ari": "connected",
        "synced_at": None,
        "nodes": {"a": status("connected"), "b": status("disconnected")},
    }
    assert router.connected  # node a carries verbs out
