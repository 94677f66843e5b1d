"""The live event stream: tenant scope, order, catch-up, Origin and session checks, lagging clients.

The hub's rules are tested on the hub itself; the websocket's against the production web server (Hypercorn and the
gateway, support.Serving) with a real event bus, since the stand-in controller's bus only records and a test
client cannot upgrade.
"""
from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import pytest
from websockets.exceptions import InvalidStatus

from support import T0, WAIT, ApiClient, Serving, StandInController, close_code, frames, open_socket
from leadcenter import config
from leadcenter.events import Event, EventBus
from leadcenter.web import auth, stream

ALLOWED_ORIGIN = "https://app.example.com"


# -- the hub ---------------------------------------------------------------------------------------------------

def event(seq: int, name: str = "interaction.updated", **data) -> Event:
    return Event(name, data, seq, T0)


def seqs(texts) -> list[int]:
    return [json.loads(text)["seq"] for text in texts]


def drain(subscription: stream.Subscription) -> list[str]:
    texts = list(subscription.frames)
    subscription.frames.clear()
    return texts


def test_hub_sends_a_companys_events_to_that_company_only():
    hub = stream.Hub()
    a, _ = hub.attach(company_id=1, role="agent", agent_id=10)
    b, _ = hub.attach(company_id=2, role="admin", agent_id=None)
    hub.fan_out(event(1, company_id=1, interaction_id=5))
    hub.fan_out(event(2, "telephony.synced", calls=[]))
    hub.fan_out(event(3, company_id=2, interaction_id=6))
    hub.fan_out(event(4, company_id=1, interaction_id=7))
    assert seqs(drain(a)) == [1, 4] and seqs(drain(b)) == [3]


def test_telephony_events_stay_inside_the_controller_even_with_a_company():
    hub = stream.Hub()
    a, _ = hub.attach(company_id=1, role="admin", agent_id=None)
    hub.fan_out(event(1, "call.inbound", company_id=1, channel="PJSIP/trunk1-00000001", caller_number="4045551234"))
    hub.fan_out(event(2, "queue_member.paused", company_id=1, agent_id=3))
    hub.fan_out(event(3, "interaction.created", company_id=1, interaction_id=9))
    assert seqs(drain(a)) == [3]


def test_agents_do_not_see_events_private_to_another_agent():
    hub = stream.Hub()
    agent, _ = hub.attach(company_id=1, role="agent", agent_id=10)
    supervisor, _ = hub.attach(company_id=1, role="supervisor", agent_id=11)
    hub.fan_out(event(1, "agent.notified", company_id=1, for_agents=[11]))
    hub.fan_out(event(2, "agent.notified", company_id=1, for_agents=[10]))
    hub.fan_out(event(3, company_id=1))
    assert seqs(drain(agent)) == [2, 3] and seqs(drain(supervisor)) == [1, 2, 3]


def test_the_wire_format_and_iso_datetimes():
    hub = stream.Hub()
    client, opening = hub.attach(company_id=1, role="admin", agent_id=None)
    hello = json.loads(opening[0])
    assert hello["event"] == "stream.hello" and hello["data"] == {
        "seq": 0, "company_id": 1, "role": "admin", "stream": hub.stream_id}
    hub.fan_out(Event("lead.updated", {"company_id": 1, "at": dt.datetime(2025, 3, 1, 9, 30, 5)}, 7, T0))
    assert json.loads(drain(client)[0]) == {"seq": 7, "event": "lead.updated",
                                            "data": {"company_id": 1, "at": "2025-03-01T09:30:05+00:00"},
                                            "at": "2026-11-27T09:00:00+00:00"}


def test_replay_after_since_then_live_ones():
    hub = stream.Hub()
    for seq in range(1, 11):
        hub.fan_out(event(seq, company_id=1 if seq % 3 else 2))
    client, opening = hub.attach(company_id=1, role="agent", agent_id=None, since=4, stream_id=hub.stream_id)
    hello = json.loads(opening[0])
    assert hello["event"] == "stream.hello" and hello["seq"] == 4 and hello["data"]["seq"] == 10
    assert seqs(opening[1:]) == [5, 7, 8, 10]
    hub.fan_out(event(11, company_id=1))
    assert seqs(drain(client)) == [11]


def test_replay_and_live_delivery_race_without_gap_or_duplicate():
    total = 5000
    hub = stream.Hub(queue_size=total, buffer_size=total)
    delivered = [0]
    # Halfway, the publisher waits for one stream to attach, so at least one attaches mid-flow even when a busy
    # machine would let the publisher run from first to last event without a switch.
    halfway, resume = threading.Event(), threading.Event()

    def publish():
        for seq in range(1, total + 1):
            hub.fan_out(event(seq, company_id=1))
            delivered[0] = seq
            if seq == total // 2:
                halfway.set()
                resume.wait(10)

    publisher = threading.Thread(target=publish)
    publisher.start()
    assert halfway.wait(10)
    attached = []
    while (publisher.is_alive() or not attached) and len(attached) < 100:
        since = delivered[0] // 2
        client, opening = hub.attach(company_id=1, role="admin", agent_id=None, since=since)
        attached.append((since, client, opening))
        resume.set()
    publisher.join(10)
    overlapped = 0
    for since, client, opening in attached:
        replayed, live = seqs(opening[1:]), seqs(drain(client))
        assert replayed + live == list(range(since + 1, total + 1))
        overlapped += bool(replayed and live)
    assert overlapped  # some attached while events were flowing


def test_reset_when_the_buffer_no_longer_reaches_back_or_the_controller_restarted():
    hub = stream.Hub(buffer_size=5)
    for seq in range(1, 11):
        hub.fan_out(event(seq, company_id=1 if seq <= 8 else 2))

    def opening_events(**kwargs):
        _, opening = hub.attach(company_id=1, role="admin", agent_id=None, **kwargs)
        return [json.loads(t)["event"] for t in opening]

    assert opening_events(since=3) == ["stream.hello", "stream.reset"]  # 4 and 5 were dropped
    assert opening_events(since=5) == ["stream.hello"] + ["interaction.updated"] * 3  # 6, 7, 8
    assert opening_events(since=5, stream_id="from-before") == ["stream.hello", "stream.reset"]
    assert opening_events(since=11) == ["stream.hello", "stream.reset"]  # a seq this run never reached
    # Company 2 lost nothing: its events are all still there.
    _, opening = hub.attach(company_id=2, role="admin", agent_id=None, since=0)
    assert seqs(opening[1:]) == [9, 10]


def test_a_full_queue_makes_a_stream_lagging_and_the_others_still_get_everything():
    hub = stream.Hub(queue_size=10)
    slow, _ = hub.attach(company_id=1, role="admin", agent_id=None)
    fast, _ = hub.attach(company_id=1, role="admin", agent_id=None)
    received = []
    for seq in range(1, 101):
        hub.fan_out(event(seq, company_id=1))
        received.extend(drain(fast))
    assert seqs(received) == list(range(1, 101))
    assert slow.lagging and seqs(drain(slow)) == list(range(1, 11))
    assert hub.streams() == 1


# -- the websocket, over a real server -------------------------------------------------------------------------

@pytest.fixture
def database(file_database):
    return file_database


@pytest.fixture
def controller(tmp_path):
    controller = StandInController(tmp_path / "asterisk")
    controller.settings = config.load(env={"LEADCENTER_HTTP_ALLOWED_ORIGINS": f"{ALLOWED_ORIGIN}, http://other:1"})
    controller.bus = EventBus()
    controller.bus.start()
    yield controller
    controller.bus.stop()


@pytest.fixture
def hub(app) -> stream.Hub:
    return app.extensions["event_stream"]


@pytest.fixture
def server(app, controller):
    with Serving(controller.settings, app) as serving:
        yield serving.http


def open_stream(server: str, query: str = "", **options):
    return open_socket(server, f"/api/v1/events{query}", **options)


def publish(controller, company, count: int = 1, **data) -> list[int]:
    """Publish on the real bus; the seqs, once the dispatcher has delivered them to the hub."""
    published = [controller.bus.publish("interaction.updated", company_id=company.id, n=n, **data).seq
                 for n in range(count)]
    assert controller.bus.wait_idle(WAIT)
    return published


def test_events_of_my_company_arrive_in_order(server, controller, world, cookie_of):
    with open_stream(server, cookie=cookie_of("agent1@a.example")) as ws:
        hello = frames(ws, 1)[0]
        assert hello["event"] == "stream.hello"
        assert hello["data"]["company_id"] == world["a"]["company"].id and hello["data"]["role"] == "agent"
        published = publish(controller, world["a"]["company"], 20, status="active")
        received = frames(ws, 20)
    assert [f["seq"] for f in received] == published and published == sorted(published)
    assert received[0]["event"] == "interaction.updated" and received[0]["data"]["status"] == "active"
    assert dt.datetime.fromisoformat(received[0]["at"]).tzinfo is not None


def test_another_companys_events_never_arrive(server, controller, world, cookie_of):
    a, b = world["a"]["company"], world["b"]["company"]
    with open_stream(server, cookie=cookie_of("supervisor@a.example")) as on_a, \
            open_stream(server, cookie=cookie_of("supervisor@b.example")) as on_b:
        frames(on_a, 1)
        frames(on_b, 1)
        expected = {a.id: [], b.id: []}
        for n in range(30):
            company = (a, b)[n % 2]
            expected[company.id] += publish(controller, company)
            controller.bus.publish("telephony.synced", calls=[], members=[])
        # Delivery is in order, so a last event of A's (and of B's) arriving next proves nothing else came between.
        expected[a.id] += publish(controller, a)
        expected[b.id] += publish(controller, b)
        assert [f["seq"] for f in frames(on_a, len(expected[a.id]))] == expected[a.id]
        assert [f["seq"] for f in frames(on_b, len(expected[b.id]))] == expected[b.id]


def test_an_agent_does_not_see_what_is_private_to_another(server, controller, world, cookie_of):
    a = world["a"]["company"]
    agent1, agent2 = world["a"]["agents"]
    with open_stream(server, cookie=cookie_of("agent1@a.example")) as agent, \
            open_stream(server, cookie=cookie_of("supervisor@a.example")) as supervisor:
        frames(agent, 1)
        frames(supervisor, 1)
        to_agent2 = publish(controller, a, for_agents=[agent2.id])
        to_agent1 = publish(controller, a, for_agents=[agent1.id])
        everyone = publish(controller, a)
        assert [f["seq"] for f in frames(agent, 2)] == to_agent1 + everyone
        assert [f["seq"] for f in frames(supervisor, 3)] == to_agent2 + to_agent1 + everyone


# http://127.0.0.1 lacks the server's port: another origin.
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1", None])
def test_a_foreign_or_missing_origin_is_refused_before_the_upgrade(server, world, cookie_of, origin):
    with pytest.raises(InvalidStatus) as refused:
        open_stream(server, cookie=cookie_of("admin@a.example"), origin=origin)
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"] in ("origin-not-allowed", "origin-required")


def test_a_configured_origin_is_allowed(server, world, cookie_of):
    with open_stream(server, cookie=cookie_of("admin@a.example"), origin=ALLOWED_ORIGIN) as ws:
        assert frames(ws, 1)[0]["data"]["role"] == "admin"


@pytest.mark.parametrize("email, error", [(None, "not-signed-in"), ("both@example.com", "company-not-selected")])
def test_without_a_signed_in_company_the_stream_closes_with_4401(server, world, cookie_of, email, error):
    with open_stream(server, cookie=cookie_of(email) if email else None) as ws:
        assert close_code(ws) == (4401, error)


def test_an_integration_connects_with_an_api_key_and_no_origin(server, world):
    _, key = auth.new_api_key(world["b"]["company"], "dashboard", None)
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}"}) as ws:
        hello = frames(ws, 1)[0]
    assert hello["data"]["company_id"] == world["b"]["company"].id and hello["data"]["role"] == "admin"
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}x"}) as ws:
        assert close_code(ws) == (4401, "invalid-api-key")


def test_a_malformed_since_is_refused(server, world, cookie_of):
    with pytest.raises(InvalidStatus) as refused:
        open_stream(server, cookie=cookie_of("admin@a.example"), query="?since=-1")
    assert refused.value.response.status_code == 422


def test_the_stream_takes_no_messages(server, world, cookie_of):
    with open_stream(server, cookie=cookie_of("admin@a.example")) as ws:
        frames(ws, 1)
        ws.send("hello?")
        assert close_code(ws)[0] == 1008


def test_catching_up_with_since_gets_exactly_the_missed_events_then_live_ones(server, controller, world,
                                                                              cookie_of):
    a, b = world["a"]["company"], world["b"]["company"]
    cookie = cookie_of("agent1@a.example")
    with open_stream(server, cookie=cookie) as ws:
        stream_id = frames(ws, 1)[0]["data"]["stream"]
        seen = publish(controller, a, 5)
        publish(controller, b, 3)
        assert [f["seq"] for f in frames(ws, 5)] == seen
    missed = publish(controller, a, 4)
    publish(controller, b, 2)

    live = []  # published while the client reconnects: each lands in the replay or the queue, never both

    def publish_slowly():
        for _ in range(300):
            live.extend(publish(controller, a))
            time.sleep(0.001)

    publisher = threading.Thread(target=publish_slowly)
    publisher.start()
    with open_stream(server, cookie=cookie, query=f"?since={seen[-1]}&stream={stream_id}") as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        publisher.join(60)  # slow under libfaketime (make test's shifted clock): the last one must come after it
        assert not publisher.is_alive()
        last = publish(controller, a)
        assert [f["seq"] for f in frames(ws, len(missed) + len(live) + 1)] == missed + live + last


def test_since_older_than_the_buffer_gets_a_reset_then_live_events(server, controller, hub, world, cookie_of):
    a = world["a"]["company"]
    hub.buffer_size = 10
    cookie = cookie_of("admin@a.example")
    with open_stream(server, cookie=cookie) as ws:
        hello = frames(ws, 1)[0]["data"]
    publish(controller, a, 30)
    with open_stream(server, cookie=cookie, query=f"?since={hello['seq']}&stream={hello['stream']}") as ws:
        opening = frames(ws, 2)
        assert [f["event"] for f in opening] == ["stream.hello", "stream.reset"]
        assert opening[1]["data"]["seq"] == opening[1]["seq"] == hello["seq"] + 30
        live = publish(controller, a)
        assert [f["seq"] for f in frames(ws, 1)] == live


def test_a_client_that_stops_reading_is_closed_as_lagging_and_the_others_get_everything(server, controller, hub,
                                                                                         world, cookie_of):
    a = world["a"]["company"]
    hub.queue_size = 50
    cookie = cookie_of("admin@a.example")
    # The slow client stops reading its socket once 2 messages wait unread, and advertises a tiny window, so the
    # server's sends soon block and its queue fills.
    small_window = socket.socket()
    small_window.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    small_window.connect(("127.0.0.1", int(server.rsplit(":", 1)[1])))
    with open_stream(server, cookie=cookie) as fast, \
            open_stream(server, cookie=cookie, sock=small_window, max_queue=2) as slow:
        frames(fast, 1)
        deadline = time.monotonic() + WAIT
        while hub.streams() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hub.streams() == 2
        published, received = [], []
        padding = "x" * 2000  # the kernel's socket buffers (some MB) hold a few thousand of these
        while hub.streams() == 2 and len(published) < 20_000:
            published += publish(controller, a, 25, padding=padding)
            received += frames(fast, 25)
        assert hub.streams() == 1  # the slow one was dropped from delivery
        published += publish(controller, a, 25)
        received += frames(fast, 25)
        assert [f["seq"] for f in received] == published

        # Once it reads again, the slow client gets what was already on its way, then the 4008 close.
        code, reason = close_code(slow, timeout=30)
        assert code == 4008 and "since" in reason


def test_signing_out_elsewhere_ends_an_open_stream(server, app, world, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    browser = ApiClient(app.test_client())
    browser.sign_in("agent1@a.example")
    cookie = f"session={browser.http.get_cookie('session').value}"
    with open_stream(server, cookie=cookie) as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        assert browser.delete("/api/v1/session")[0] == 204
        assert close_code(ws) == (4401, "session-ended")


def test_revoking_an_api_key_ends_its_stream(server, world, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    row, key = auth.new_api_key(world["a"]["company"], "dashboard", None)
    with open_stream(server, origin=None, headers={"Authorization": f"Bearer {key}"}) as ws:
        assert frames(ws, 1)[0]["event"] == "stream.hello"
        row.revoked_at = row.created_at
        row.save()
        assert close_code(ws) == (4401, "session-ended")
