"""Kamailio in front of two Asterisk nodes (issue 18): `leadcenter run` with [kamailio] enabled starts it with the
dispatcher list and tables rendered from the database, and reloads them live after an admin's change; SIPp carriers'
calls to two companies' tracking numbers land on each company's home node; with company A's home node dead, A's
next call is answered on the standby node, in A's flow, and recorded by the controller, which drives both nodes.

The two nodes and the edge as tests/integration/edge_nodes.py sets them up (bench/edge.py measures the same): node a
is the installation's own Asterisk, node b a second one rendered from the same database; the controller drives
both."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import ssl
import time
import uuid

import pjsua2 as pj
import pytest
from edge_nodes import (
    B_TRUNK_PORT,
    EDGE_PORT,
    EDGE_TLS_PORT,
    NODE_A,
    NODE_B,
    NODE_B_HOST,
    NODE_B_SIP_PORT,
    STRANGER,
    WORLD,
    Edge,
    edge_system,
    start_node_b,
)
from harness import System, api_created, forwarding_number, run_installation, set_ring_device, wait_for
from pjphone import AnsweringAccount, PjPhone
from pjphone import endpoint as pj_endpoint
from sipp import SippCaller, SippPhone, free_udp_port
from tls_client import handshake

from leadcenter import asterisk_config, kamailio
from leadcenter.agents.models import Agent
from leadcenter.interactions.models import Interaction
from leadcenter.pbx.process import Instance

A_LINE, B_LINE, NEW_LINE = "+14045551301", "+14045551302", "+14045551303"
A_CALLER, B_CALLER, FAILOVER_CALLER = "+14045551311", "+14045551312", "+14045551313"
EARLIER_CALLER, RESYNC_LINE, EDGE_PHONE_CALLER = "+14045551314", "+14045551304", "+14045551315"
ALICE, BOB = 1, 2  # the demo agents of company A, in its Sales queue


LINKED = ("connected", "connected")


def _links(system: System) -> dict[str, tuple[str, str]]:
    """Each node's AMI and ARI link as /healthz reports them."""
    nodes = system.health()[1].get("asterisk", {}).get("nodes", {})
    return {name: (node["ami"], node["ari"]) for name, node in nodes.items()}


def _synced_at(system: System, node: str) -> dt.datetime | None:
    """When the controller last read ``node``'s calls (/healthz)."""
    stamp = system.health()[1].get("asterisk", {}).get("nodes", {}).get(node, {}).get("synced_at")
    return dt.datetime.fromisoformat(stamp.removesuffix("Z")) if stamp else None


def _paused_on(instance: Instance, member: str, queue: str = "team1") -> bool | None:
    """Whether ``member`` is paused in ``queue`` on that node (None: not a member there)."""
    line = next((x for x in (instance.rx(f"queue show {queue}") or "").splitlines() if f" {member} " in x), None)
    return None if line is None else "(paused" in line


def _request(method: str, target: str, source: str, port: int, user: str = "probe", headers: str = "") -> bytes:
    """A SIP request to ``target`` (user@host:port or host:port) from ``user`` at ``source``:``port``."""
    tag = uuid.uuid4().hex
    return (
        f"{method} sip:{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{tag};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{user}@{source}>;tag={tag}\r\n"
        f"To: <sip:{target}>\r\n"
        f"Call-ID: {tag}@{source}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:{user}@{source}:{port}>\r\n"
        f"{headers}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _final_answer(source: str, target: str, method: str = "OPTIONS", count: int = 1, timeout: float = 1.0, **request):
    """``count`` requests to ``target`` (host:port, or user@host:port) from ``source`` (a loopback address) at
    once; the status line of the first final answer, or None when none comes within ``timeout``."""
    host, port = target.rsplit("@", 1)[-1].rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for _ in range(count):
            sock.sendto(_request(method, target, source, sock.getsockname()[1], **request), (host, int(port)))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                status = sock.recv(65535).decode(errors="replace").split("\r\n")[0]
            except TimeoutError:
                return None
            if not status.startswith("SIP/2.0 1"):
                return status
        return None


def _options(source: str, count: int = 1, timeout: float = 1.0) -> str | None:
    """``count`` OPTIONS to Kamailio from ``source`` at once: the status line of the first answer, or None."""
    return _final_answer(source, f"{WORLD}:{EDGE_PORT}", count=count, timeout=timeout)


def _channels(instance: Instance) -> list[str]:
    return [
        line.split("!")[0] for line in (instance.rx("core show channels concise") or "").splitlines() if "!" in line
    ]


def _rtp_received(instance: Instance, channel: str) -> int:
    """RTP packets that node's channel (trunk1-...) has received (`pjsip show channelstats`: the count after the
    codec); 0 when it has none or is not up."""
    for line in (instance.rx("pjsip show channelstats") or "").splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[0].startswith(channel) and fields[3].isdigit():
            return int(fields[3])
    return 0


def _variable(instance: Instance, prefix: str, name: str) -> str | None:
    channel = next((c for c in _channels(instance) if c.startswith(prefix)), None)
    if channel is None:
        return None
    for line in (instance.rx(f"core show channel {channel}") or "").splitlines():
        if line.strip().startswith(f"{name}="):
            return line.strip().split("=", 1)[1]
    return None


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    # Node a is a second installation beside the suite's (which keeps its PORTS and its database bound for the files
    # after this one), node b a third Asterisk (tests/integration/edge_nodes.py).
    folder = tmp_path_factory.mktemp("edge")
    with contextlib.ExitStack() as stack:
        system = edge_system(folder, stack)
        system.cli("number", "add", "--company", "1", A_LINE, "Edge line A", "--trunk", "1", "--flow", "1")
        system.cli("number", "add", "--company", "2", B_LINE, "Edge line B", "--trunk", "2")
        run_installation(system, stack)  # the test process reads node a's database until the module ends
        set_ring_device(system, "desk", agents=(ALICE,))  # before node b's files are rendered: it has no renderer
        yield Edge(system, start_node_b(system, folder, stack))


def test_leadcenter_run_starts_kamailio_with_the_database_s_tables_and_reloads_them(edge):
    assert edge.kamailio.pid() is not None
    assert "Kamailio" in edge.system.log_tail(80)
    # Company 1's number goes to set 1 (node a first), company 2's to set 2 (node b first); carriers by address.
    assert edge.table("numbers", A_LINE.lstrip("+")) == "1"
    assert edge.table("numbers", B_LINE.lstrip("+")) == "2"
    assert edge.table("carriers", f"{WORLD}:{B_TRUNK_PORT}") == "trunk2"
    # Both nodes answer the probes.
    wait_for(
        lambda: edge.destinations() == {f"sip:{NODE_A}": "AP", f"sip:{NODE_B}": "AP"},
        10,
        what=f"both nodes active: {edge.destinations()}",
    )
    # /healthz says so, and that the controller's AMI and ARI links to each node are up.
    wait_for(lambda: _links(edge.system) == {"a": LINKED, "b": LINKED}, 15, what="the controller linked to both nodes")
    status, health = edge.system.health()
    assert status == 200 and health["edge"] == {
        "state": "running",
        "nodes": [{"uri": f"sip:{NODE_A}", "active": True}, {"uri": f"sip:{NODE_B}", "active": True}],
    }
    # An admin's new number reaches Kamailio's table without a restart.
    with contextlib.closing(edge.system.sign_in("admin@acme.example")) as admin:
        created = admin.post("/api/v1/tracking-numbers", json={"number": NEW_LINE, "name": "Edge line new", "trunk": 1})
        assert created.status_code == 201, created.text
    wait_for(lambda: edge.table("numbers", NEW_LINE.lstrip("+")) == "1", 5, what="the new number in Kamailio")


def test_a_desk_phone_registers_at_the_edge_with_its_password_only(edge, tmp_path):
    username, password = edge.system.sip_account(1)
    SippPhone(username, password, EDGE_PORT, workdir=tmp_path / "right", host=WORLD, server=WORLD).register(expires=120)
    assert f"AoR: {username}" in (edge.kamailio.rpc("ul.dump") or "")
    for who, secret in ((username, f"not-{password}"), ("desk999", password)):  # a wrong password, nobody's name
        with pytest.raises(RuntimeError):
            wrong = SippPhone(who, secret, EDGE_PORT, workdir=tmp_path / f"{who}-wrong", host=WORLD, server=WORLD)
            wrong.register(expires=120, timeout=5)
    assert "AoR: desk999" not in (edge.kamailio.rpc("ul.dump") or "")


def test_a_flooding_address_and_one_fail2ban_names_get_no_answer(edge):
    assert _options("127.0.0.3") == "SIP/2.0 200 OK"  # a well-behaved peer
    flooder = "127.0.0.2"
    _options(flooder, count=100)  # over 30 requests in 2 s
    wait_for(lambda: edge.table("ban", flooder) == "1", 5, what="the flooding address banned")
    assert _options(flooder) is None
    edge.kamailio.ban("127.0.0.4")  # what fail2ban's action does
    assert _options("127.0.0.4") is None
    assert _options("127.0.0.3") == "SIP/2.0 200 OK"
    # Kamailio restarted (as `leadcenter run` stops and starts it): both bans hold, with the ends they had.
    ends = edge.kamailio.banned()
    assert ends is not None and {flooder, "127.0.0.4"} <= set(ends)
    edge.kamailio.stop()
    edge.kamailio.start(kamailio.edge_snapshot(asterisk_config.snapshot(edge.system.settings)))
    assert {address: ends[address] for address in (flooder, "127.0.0.4")}.items() <= (
        edge.kamailio.banned() or {}
    ).items()
    assert _options(flooder) is None and _options("127.0.0.4") is None
    assert _options("127.0.0.3") == "SIP/2.0 200 OK"
    wait_for(lambda: set(edge.destinations().values()) == {"AP"}, 10, what="both nodes active at the edge again")


def test_each_company_s_carrier_calls_land_on_its_home_node(edge, tmp_path):
    caller = SippCaller(tmp_path, host=WORLD, server=WORLD)
    a_call = caller.start_call(
        A_LINE, A_CALLER, asterisk_port=EDGE_PORT, local_port=edge.system.trunk_port, duration=20
    )
    b_call = caller.start_call(B_LINE, B_CALLER, asterisk_port=EDGE_PORT, local_port=B_TRUNK_PORT, duration=20)
    try:
        a_call.wait_for("ANSWERED", 10)
        b_call.wait_for("ANSWERED", 10)
        a_node, b_node = edge.system.instance, edge.node_b
        wait_for(lambda: _variable(a_node, "PJSIP/trunk1-", "LC_COMPANY") == "1", 5, what="A's call on node a")
        wait_for(lambda: _variable(b_node, "PJSIP/trunk2-", "LC_COMPANY") == "2", 5, what="B's call on node b")
        assert not [c for c in _channels(a_node) if c.startswith("PJSIP/trunk2-")]
        assert not [c for c in _channels(b_node) if c.startswith("PJSIP/trunk1-")]
        # Each carrier's audio reaches its node at the address the node's SDP names (its own host's).
        wait_for(
            lambda: _rtp_received(a_node, "trunk1-") > 0,
            5,
            what="A's carrier's RTP at node a",
        )
        wait_for(
            lambda: _rtp_received(b_node, "trunk2-") > 0,
            5,
            what="B's carrier's RTP at node b",
        )
        # The controller drives both nodes: each call is an interaction of its company, on its node.
        interaction = edge.system.wait_interaction(company=1)
        assert interaction.tracking_number.number == A_LINE and interaction.node == "a"
        assert [phone.number for phone in interaction.lead.phones] == [A_CALLER]
        b_interaction = edge.system.wait_interaction(company=2)
        assert (b_interaction.tracking_number.number, b_interaction.node) == (B_LINE, "b")
        # Each node prefixes its channels' unique ids with its name: they never collide.
        assert interaction.channel_id.startswith("a-") and b_interaction.channel_id.startswith("b-")
    finally:
        a_call.kill()
        b_call.kill()


def test_with_a_s_home_node_dead_its_next_call_is_answered_on_the_standby_and_recorded_there(edge, tmp_path):
    system, node_b = edge.system, edge.node_b
    username, password = system.sip_account(ALICE)
    caller = SippCaller(tmp_path, host=WORLD, server=WORLD)
    # Alice's desk phone registered at node b (one registered at the edge is not rung by a node yet: stage 5).
    with SippPhone(
        username, password, NODE_B_SIP_PORT, workdir=tmp_path / "alice", host=WORLD, server=NODE_B_HOST
    ) as _alice:
        system.choose_status("alice@acme.example", "available")
        # Her pause follows her status on every node.
        wait_for(lambda: _paused_on(node_b, "agent1") is False, 10, what="Alice unpaused on node b")
        # A call up on node a when it dies: waiting in A's queue there (Alice's phone is not registered at node a).
        earlier = caller.start_call(
            A_LINE, EARLIER_CALLER, asterisk_port=EDGE_PORT, local_port=system.trunk_port, duration=60
        )
        try:
            earlier.wait_for("ANSWERED", 10)
            lost = system.wait_interaction(lead_number=EARLIER_CALLER, status="incoming")
            assert lost.node == "a"
            # Node a dies without a word (a stopped Asterisk would hang its calls up first, and say so).
            os.kill(system.instance.pid() or 0, signal.SIGKILL)
            wait_for(lambda: system.instance.pid() is None, 5, what="node a gone")
        finally:
            earlier.kill()
        died = time.monotonic()
        call = caller.start_call(
            A_LINE, FAILOVER_CALLER, asterisk_port=EDGE_PORT, local_port=system.trunk_port, duration=20
        )
        try:
            call.wait_for("ANSWERED", 10)
            answered_after = time.monotonic() - died
            wait_for(lambda: _variable(node_b, "PJSIP/trunk1-", "LC_FLOW") == "1", 5, what="A's flow on node b")
            assert _variable(node_b, "PJSIP/trunk1-", "LC_COMPANY") == "1"
            print(f"failover: answered on the standby {answered_after:.2f} s after the home node died")
            # The controller follows node b: the call is A's interaction there, answered by Alice's phone on node b.
            live = system.wait_interaction(lead_number=FAILOVER_CALLER, status="active", timeout=15)
            assert (live.node, live.agent_id, live.company_id) == ("b", ALICE, 1)
            assert live.channel_id.startswith("b-")
            with contextlib.closing(system.sign_in("alice@acme.example")) as alice_app:
                shown = alice_app.get(f"/api/v1/interactions/{live.id}")
            assert shown.status_code == 200, shown.text
            assert (shown.json()["status"], shown.json()["agent"]["id"]) == ("active", ALICE)
            assert shown.json()["answered_at"] is not None
            # An admin's change reloads every node that is up, and each resyncs: node b's resync does not list node
            # a's call, which is not node b's to conclude.
            synced_before = _synced_at(system, "b") or dt.datetime.min
            with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
                created = admin.post(
                    "/api/v1/tracking-numbers", json={"number": RESYNC_LINE, "name": "Edge line resync", "trunk": 1}
                )
                assert created.status_code == 201, created.text
            wait_for(
                lambda: (_synced_at(system, "b") or dt.datetime.min) > synced_before,
                10,
                what="node b resynchronised",
            )
            assert Interaction.get_by_id(lost.id).status == "incoming"
            assert Interaction.get_by_id(live.id).status == "active"
            # /healthz: node a inactive at the edge, the controller's links to it down and to node b up; still 200:
            # every company's calls have a node the controller follows.
            assert edge.destinations()[f"sip:{NODE_A}"].startswith("I")
            status, health = system.health()
            assert {"uri": f"sip:{NODE_A}", "active": False} in health["edge"]["nodes"]
            assert _links(system) == {"a": ("disconnected", "disconnected"), "b": LINKED}
            assert status == 200 and health["asterisk"]["ami"] == "disconnected"
            # Call control goes to the call's node: Alice hangs up in the app, node b ends the call.
            with contextlib.closing(system.sign_in("alice@acme.example")) as alice_app:
                hung = alice_app.post(f"/api/v1/interactions/{live.id}/hangup")
            assert hung.status_code == 200, hung.text
            wait_for(lambda: not _channels(node_b), 10, what="the call's channels gone from node b")
            wait_for(lambda: Interaction.get_by_id(live.id).status == "recent", 10, what="the call concluded")
        finally:
            call.kill()
    # Node a back: its own resync concludes the call it lost.
    system.start_asterisk()
    wait_for(lambda: Interaction.get_by_id(lost.id).status == "recent", 20, what="node a's lost call concluded")


def test_a_desk_phone_registered_at_the_edge_is_rung_by_a_node_s_queue(edge, tmp_path):
    """Behind the edge a desk endpoint's contact is Kamailio: a node's queue rings the phone registered there."""
    system = edge.system
    wait_for(lambda: _links(system).get("a") == LINKED, 15, what="the controller linked to node a again")
    username, password = system.sip_account(ALICE)
    with SippPhone(username, password, EDGE_PORT, workdir=tmp_path / "alice", host=WORLD, server=WORLD) as alice:
        # Node a asks the phone OPTIONS through Kamailio: reachable.
        wait_for(
            lambda: any(
                f"{username}/sip:{username}@{WORLD}:{EDGE_PORT}" in line and "Avail" in line
                for line in (system.instance.rx("pjsip show contacts") or "").splitlines()
            ),
            15,
            what="Alice's phone reachable through the edge from node a",
        )
        system.choose_status("alice@acme.example", "available")
        wait_for(lambda: _paused_on(system.instance, "agent1") is False, 10, what="Alice unpaused on node a")
        call = SippCaller(tmp_path, host=WORLD, server=WORLD).start_call(
            A_LINE, EDGE_PHONE_CALLER, asterisk_port=EDGE_PORT, local_port=system.trunk_port, duration=10
        )
        try:
            call.wait_for("ANSWERED", 10)
            live = system.wait_interaction(lead_number=EDGE_PHONE_CALLER, status="active", timeout=15)
            assert (live.node, live.agent_id) == ("a", ALICE)
            assert [invite["from_user"] for invite in alice.invites()] == [EDGE_PHONE_CALLER]
        finally:
            call.kill()


TLS_PHONE_CALLER = "+14045551801"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_a_desk_phone_over_tls_at_the_edge_is_rung_by_a_node_s_queue_and_offered_srtp(edge, tmp_path):
    """Alice's phone registers at Kamailio's TLS port, trusting only the installation's SIP certificate (the
    generated one, Asterisk's too); node a reaches it through Kamailio, which relays over the phone's own TLS
    connection; node a's offer carries SDES keys (end to end: Kamailio does not touch SDP) and the phone keys SRTP."""
    system = edge.system
    wait_for(lambda: _links(system).get("a") == LINKED, 15, what="the controller linked to node a")
    # An earlier test's call whose SIPp was killed would last until its RTP timeout.
    system.instance.rx("channel request hangup all")
    wait_for(
        lambda: not _channels(system.instance) and Agent.get_by_id(ALICE).status_reason != "on_call",
        15,
        what="Alice's earlier call over",
    )
    certificate = str(system.settings.data_dir / "tls" / "sip-self-signed.crt")
    # TLS 1.2 and 1.3, never 1.1, with that certificate.
    assert handshake(EDGE_TLS_PORT, ssl.TLSVersion.TLSv1_2, certificate, WORLD) == "TLSv1.2"
    assert handshake(EDGE_TLS_PORT, ssl.TLSVersion.TLSv1_3, certificate, WORLD) == "TLSv1.3"
    assert handshake(EDGE_TLS_PORT, ssl.TLSVersion.TLSv1_1, certificate, WORLD) is None
    username, password = system.sip_account(ALICE)
    phone = PjPhone(
        username,
        password,
        EDGE_TLS_PORT,
        trusted_certificate=certificate,
        srtp=pj.PJMEDIA_SRTP_OPTIONAL,
        host=WORLD,
        server=WORLD,
    )
    with phone as alice:
        registered = edge.kamailio.rpc("ul.dump") or ""
        assert f"AoR: {username}" in registered and f"tls:{WORLD}:{EDGE_TLS_PORT}" in registered, registered
        # (The phone answers only while it is polled: its waits poll it.)
        alice.wait_until(
            lambda: any(
                f"{username}/sip:{username}@{WORLD}:{EDGE_PORT}" in line and "Avail" in line
                for line in (system.instance.rx("pjsip show contacts") or "").splitlines()
            ),
            15,
            "reachable through the edge from node a",
        )
        system.choose_status("alice@acme.example", "available")
        alice.wait_until(lambda: _paused_on(system.instance, "agent1") is False, 10, "unpaused on node a")
        call = SippCaller(tmp_path, host=WORLD, server=WORLD).start_call(
            A_LINE, TLS_PHONE_CALLER, asterisk_port=EDGE_PORT, local_port=system.trunk_port, duration=10
        )
        try:
            rung = alice.wait_for_call()
            assert "a=crypto:" in rung.sdp_received and "a=crypto:" in rung.sdp_sent, rung.sdp_received
            call.wait_for("ANSWERED", 10)
            live = system.wait_interaction(lead_number=TLS_PHONE_CALLER, status="active", timeout=15)
            assert (live.node, live.agent_id) == ("a", ALICE)
            # The phone has one transport, TLS, and Kamailio one TLS connection: the phone's, which it rang over.
            assert (edge.kamailio.rpc("tls.list") or "").count("state: established") == 1
        finally:
            call.kill()


def test_a_desk_phone_s_own_call_is_authenticated_at_the_edge_only(edge, tmp_path):
    """Behind the edge Kamailio authenticates a desk phone's own calls and names the phone to the node (X-LC-Phone),
    which takes the call as that phone's without challenging it again: Alice's phone, registered at Kamailio, dials
    Bob's extension and talks with him after one challenge, Kamailio's. What a phone writes in the edge's headers is
    dropped (Alice's call naming Bob's phone and a carrier's trunk is still Alice's), and a request in a phone's (or a
    carrier's) name sent straight to a node from elsewhere than Kamailio is refused (403), never taken without a
    password."""
    system = edge.system
    set_ring_device(system, "desk", agents=(BOB,))
    (alice_user, alice_password), (bob_user, bob_password) = system.sip_account(ALICE), system.sip_account(BOB)
    with (
        PjPhone(alice_user, alice_password, EDGE_PORT, host=WORLD, server=WORLD) as alice,
        SippPhone(bob_user, bob_password, EDGE_PORT, workdir=tmp_path / "bob", host=WORLD, server=WORLD) as bob,
    ):
        system.wait_reachable(BOB)
        consult = alice.dial(str(BOB), headers={"X-LC-Phone": bob_user, "X-LC-Trunk": "trunk1"})
        alice.wait_until(lambda: consult.confirmed or consult.ended, 15, "answered by Bob")
        assert consult.confirmed, consult.status
        assert consult.invites_sent == 2  # once more after Kamailio's challenge; the node asked for nothing
        assert bob.invites()[-1]["from_display"] == Agent.get_by_id(ALICE).display_name
    # Asterisk 22 answers a request that fails the endpoint's ACL with a challenge of its "artificial" endpoint,
    # which no password answers (as for an unknown name: nothing says the phone exists).
    log = system.settings.asterisk_dir / "log" / "security.log"
    for headers in ("", f"X-LC-Phone: {alice_user}\r\n"):
        answer = _final_answer(STRANGER, f"{BOB}@{NODE_A}", "INVITE", user=alice_user, headers=headers, timeout=5)
        assert answer in ("SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden"), (headers, answer)
    refused = f'SecurityEvent="FailedACL",.*AccountID="{alice_user}",.*RemoteAddress="IPV4/UDP/{re.escape(STRANGER)}/'
    wait_for(lambda: len(re.findall(refused, log.read_text())) == 2, 5, what="both refused for the endpoint's ACL")
    # Nor is a call that names a carrier's trunk in Kamailio's header taken from a host that is neither.
    answer = _final_answer(STRANGER, f"{A_LINE}@{NODE_A}", "INVITE", headers="X-LC-Trunk: trunk1\r\n", timeout=5)
    assert answer in ("SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden"), answer
    as_carrier = f'SecurityEvent="FailedACL",.*AccountID="trunk1",.*RemoteAddress="IPV4/UDP/{re.escape(STRANGER)}/'
    wait_for(lambda: re.search(as_carrier, log.read_text()), 5, what="refused for the trunk's ACL")


FORWARD_LINE, FORWARD_CALLER, FORWARDED_TO = "+14045551901", "+14045551902", "+14045551903"


def test_a_call_a_node_places_to_a_carrier_leaves_through_the_edge(edge, tmp_path):
    """A flow forwards a lead's call through a carrier known by its address (a pjsua2 peer on the world's side): the
    node sends the call to Kamailio, which relays it, record-routed, so the carrier sees the edge's address (the one
    it lets in) whichever node places it; the call is answered and talks."""
    system = edge.system
    library = pj_endpoint()
    config = pj.TransportConfig()
    config.port, config.boundAddress = free_udp_port(), WORLD
    transport = library.transportCreate(pj.PJSIP_TRANSPORT_UDP, config)
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:carrier@{WORLD}:{config.port}"
    account_config.sipConfig.transportId = transport
    account_config.mediaConfig.transportConfig.port = free_udp_port(4)
    account_config.mediaConfig.transportConfig.boundAddress = WORLD
    account_config.natConfig.iceEnabled = False
    carrier = AnsweringAccount()
    carrier.create(account_config)
    admin = system.sign_in("admin@acme.example")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(library.transportClose, transport)
        cleanup.callback(carrier.shutdown)
        cleanup.callback(library.hangupAllCalls)
        cleanup.callback(admin.close)
        far = {"name": "Far carrier", "host": WORLD, "port": config.port}
        trunk = api_created(admin, cleanup, "/api/v1/trunks", far)
        forwarding_number(admin, cleanup, FORWARD_LINE, FORWARDED_TO, trunk["id"], "Forward out")
        endpoint = f"trunk{trunk['id']}"
        wait_for(lambda: edge.table("numbers", FORWARD_LINE.lstrip("+")), 10, what="the number at the edge")
        wait_for(
            lambda: f"sip:{WORLD}:{EDGE_PORT}" in (system.instance.rx(f"pjsip show endpoint {endpoint}") or ""),
            10,
            what="node a's trunk sending through the edge",
        )
        caller = SippCaller(tmp_path, host=WORLD, server=WORLD).start_call(
            FORWARD_LINE, FORWARD_CALLER, asterisk_port=EDGE_PORT, local_port=system.trunk_port, duration=6
        )
        deadline = time.monotonic() + 15
        while not (carrier.incoming and carrier.incoming[0].confirmed) and time.monotonic() < deadline:
            library.libHandleEvents(100)
        assert carrier.invites, "the forwarded call never reached the carrier"
        invite = carrier.invites[0]
        assert invite.startswith(f"INVITE sip:{FORWARDED_TO}@{WORLD}:{config.port}"), invite
        top_via = next(line for line in invite.splitlines() if line.lower().startswith(("via:", "v:")))
        assert f"{WORLD}:{EDGE_PORT}" in top_via, invite  # relayed by the edge, not sent by the node
        assert re.search(rf"^Record-Route: <sip:{re.escape(WORLD)}:{EDGE_PORT};lr", invite, re.M), invite
        assert carrier.incoming[0].confirmed
        deadline = time.monotonic() + 20
        while caller.sipp.proc.poll() is None and time.monotonic() < deadline:
            library.libHandleEvents(100)  # the carrier's side while the lead talks, and the BYE through the edge
        assert caller.wait(5).check().answered
