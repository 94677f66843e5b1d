"""The browser softphone's account and its SIP websocket relay: only the signed-in agent's own webrtc account,
and only the app's own pages may open the relay."""

from leadcenter.agents.models import SipCredential


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
