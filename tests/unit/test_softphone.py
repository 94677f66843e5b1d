"""The browser softphone's account and its SIP websocket relay: only the signed-in agent's own webrtc account,
and only the app's own pages may open the relay."""

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import socket
import threading

import pytest
from support import T0, ApiClient, StandInController
from websockets.sync.server import serve as serve_websockets

from leadcenter import config
from leadcenter.agents.models import SipCredential
from leadcenter.web import sip_relay


def test_an_agent_gets_their_own_webrtc_account_and_the_relay_path(make_client, world):
    agent = world["a"]["agents"][0]
    client = make_client()
    client.sign_in("agent1@a.example")
    status, body = client.get("/api/v1/me/softphone")
    credential = SipCredential.get(SipCredential.agent == agent, SipCredential.device == "webrtc")
    assert status == 200
    assert body == {
        "username": f"webrtc{agent.id}",
        "password": credential.password,
        "sip_uri": f"sip:webrtc{agent.id}@127.0.0.1",
        "display_name": "Agent1 A",
        "websocket_path": "/sip",
        # no TURN configured: Asterisk's host candidates only (a LAN), nothing to refresh
        "ice_servers": [],
        "ice_transport_policy": "all",
        "ice_refresh_seconds": 0,
    }


def test_no_softphone_without_an_agent_profile_or_a_webrtc_device(make_client, world):
    admin = make_client()
    admin.sign_in("admin@a.example")
    assert admin.get("/api/v1/me/softphone")[1]["error"] == "not-an-agent"
    SipCredential.update(enabled=False).where(
        SipCredential.agent == world["a"]["agents"][1], SipCredential.device == "webrtc"
    ).execute()
    agent = make_client()
    agent.sign_in("agent2@a.example")
    status, body = agent.get("/api/v1/me/softphone")
    assert (status, body["error"]) == (404, "no-softphone")


def test_pages_of_other_origins_cannot_open_the_sip_relay(client, world):
    client.sign_in("agent1@a.example")
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": "sip",
    }
    for origin, error in (("https://evil.example", "origin-not-allowed"), (None, "origin-required")):
        headers = {**upgrade, **({"Origin": origin} if origin else {})}
        status, body = client.get("/sip", headers=headers)
        assert (status, body["error"]) == (403, error)


TURN = {
    "LEADCENTER_TURN_URLS": "turn:turn.example:3478?transport=udp, turn:turn.example:443?transport=tcp",
    "LEADCENTER_TURN_SECRET": "shared-with-coturn",
}


def softphone_with_turn(tmp_path, **env):
    """Agent1 of company A signed in to an app whose settings name TURN relays; with the controller (its clock)."""
    controller = StandInController(tmp_path / "asterisk", env={**TURN, **env})
    client = ApiClient(controller.app().test_client())
    client.sign_in("agent1@a.example")
    return controller, client


def test_with_turn_an_agent_gets_a_credential_of_their_own_that_expires(tmp_path, world):
    agent = world["a"]["agents"][0]
    controller, client = softphone_with_turn(tmp_path)
    status, body = client.get("/api/v1/me/softphone")
    assert status == 200
    expiry = int((T0 + dt.timedelta(hours=1) - dt.datetime(1970, 1, 1)).total_seconds())
    username = f"{expiry}:webrtc{agent.id}"
    signed = base64.b64encode(hmac.new(b"shared-with-coturn", username.encode(), hashlib.sha1).digest()).decode()
    assert body["ice_servers"] == [
        {
            "urls": ["turn:turn.example:3478?transport=udp", "turn:turn.example:443?transport=tcp"],
            "username": username,
            "credential": signed,
        }
    ]
    # the app asks again halfway through, for a credential that lasts from then on
    assert (body["ice_transport_policy"], body["ice_refresh_seconds"]) == ("all", 1800)
    controller.clock.advance(seconds=1800)
    later = client.get("/api/v1/me/softphone")[1]["ice_servers"][0]
    assert later["username"] == f"{expiry + 1800}:webrtc{agent.id}" and later["credential"] != signed


def test_a_site_can_relay_every_call_and_choose_the_lifetime(tmp_path, world):
    _, client = softphone_with_turn(
        tmp_path, LEADCENTER_TURN_RELAY_ONLY="true", LEADCENTER_TURN_CREDENTIAL_SECONDS="600"
    )
    body = client.get("/api/v1/me/softphone")[1]
    assert (body["ice_transport_policy"], body["ice_refresh_seconds"]) == ("relay", 300)
    expiry = int(body["ice_servers"][0]["username"].split(":")[0])
    assert expiry == int((T0 + dt.timedelta(minutes=10) - dt.datetime(1970, 1, 1)).total_seconds())


# -- which Asterisk the relay reaches, with Kamailio in front of several nodes -----------------------------------

NODES = {
    "LEADCENTER_KAMAILIO_ENABLED": "true",
    "LEADCENTER_KAMAILIO_PORT": "5090",
    "LEADCENTER_KAMAILIO_NODES": "a=127.0.0.1:5060, b=127.0.0.1:15060/15038/18088, c=127.0.0.1:25060/25038/28088",
    "LEADCENTER_KAMAILIO_HOMES": "2=b, 3=c",
}


def test_a_company_s_asterisks_are_its_home_node_then_the_others_from_its_standby_on():
    settings = config.load(env=NODES)
    assert [link.node for link in config.company_asterisks(settings, 2)] == ["b", "c", "a"]
    assert [link.node for link in config.company_asterisks(settings, 3)] == ["c", "a", "b"]
    assert [link.node for link in config.company_asterisks(settings, 9)] == ["a", "b", "c"]  # no home: the first
    one = config.load(env={})
    assert config.company_asterisks(one, 2) == (config.one_asterisk(one),)


@contextlib.contextmanager
def fake_asterisk(name: str):
    """An Asterisk's SIP websocket that answers every message with its name; yields its link."""

    def answer(connection):
        for _ in connection:
            connection.send(name)

    with serve_websockets(answer, "127.0.0.1", 0, subprotocols=["sip"]) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield config.AsteriskLink(name, "127.0.0.1", 1, server.socket.getsockname()[1])
        server.shutdown()
    thread.join(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_relay_reaches_the_first_asterisk_that_takes_it_and_waits_for_the_home_node_to_be_back(monkeypatch):
    async def relayed_to(asterisks):
        upstream, link = await sip_relay._connect(asterisks, 1)
        async with upstream:
            await upstream.send("REGISTER")
            return link.node, await upstream.recv()

    with fake_asterisk("b") as home, fake_asterisk("c") as standby:
        assert asyncio.run(relayed_to((home, standby))) == ("b", "b")
        gone = dataclasses.replace(home, http_port=free_port())  # the home node down: its standby
        assert asyncio.run(relayed_to((gone, standby))) == ("c", "c")
        assert asyncio.run(sip_relay._connect((gone,), 1)) is None

        monkeypatch.setattr(sip_relay, "HOME_CHECK_SECONDS", 0.05)
        on_call = [True, False]  # back, but the agent is on a call; then free
        monkeypatch.setattr(sip_relay, "_on_a_call", lambda agent_id: on_call.pop(0))
        back = asyncio.run(asyncio.wait_for(sip_relay._home_again(home, 1), 5))
        assert back is None and on_call == []
        with pytest.raises(TimeoutError):  # still down: the relay stays on the standby
            asyncio.run(asyncio.wait_for(sip_relay._home_again(gone, 1), 0.3))
