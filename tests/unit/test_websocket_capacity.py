"""Websocket capacity (issue 10, 4.3): event streams and softphone relays count together against limits per
principal (a user, all their sessions, or an API key), per company and for the server; one key or one company can
never take another company's capacity. The rules on Capacity itself, then what clients see over the real server
(support.Serving) with a stand-in for Asterisk's SIP websocket; and how open websockets' sessions are re-checked."""

from __future__ import annotations

import threading
import time

import pytest
from support import WAIT, ApiClient, close_code, frames, live_controller, open_socket
from websockets.sync.server import serve as serve_websockets

from leadcenter.web import auth, stream
from leadcenter.web.capacity import Capacity, Refused

PER_PRINCIPAL, PER_COMPANY, CEILING = 3, 8, 8


# -- the rules ---------------------------------------------------------------------------------------------------


def test_a_principal_holds_at_most_its_limit_and_gets_room_back_when_one_closes():
    capacity = Capacity(per_principal=2, per_company=10, ceiling=10)
    first = capacity.take(1, "key-1")
    capacity.take(1, "key-1")
    with pytest.raises(Refused, match="user or API key"):
        capacity.take(1, "key-1")
    capacity.take(1, "key-2")  # another principal of the same company
    capacity.release(first)
    capacity.take(1, "key-1")


def test_a_company_holds_at_most_its_limit_however_many_principals_it_has():
    capacity = Capacity(per_principal=2, per_company=3, ceiling=10)
    for principal in ("a", "a", "b"):
        capacity.take(1, principal)
    with pytest.raises(Refused, match="company"):
        capacity.take(1, "c")
    capacity.take(2, "d")  # another company is not concerned
    assert capacity.held(1) == 3 and capacity.held() == 4


def test_a_full_server_makes_room_for_a_company_below_its_fair_share():
    capacity = Capacity(per_principal=10, per_company=10, ceiling=6)
    reclaimed = []
    holds = [capacity.take(1, f"user-{n}", on_reclaim=lambda n=n: reclaimed.append(n)) for n in range(6)]
    capacity.take(2, "agent")  # company 1 held the whole server: its newest gives way
    assert reclaimed == [5] and capacity.held(1) == 5 and capacity.held() == 6
    capacity.take(2, "agent")
    capacity.take(2, "agent")  # company 2 now holds its share, 6 // 2
    assert reclaimed == [5, 4, 3]
    with pytest.raises(Refused, match="capacity"):
        capacity.take(2, "agent")  # at its share: no further
    with pytest.raises(Refused, match="capacity"):
        capacity.take(1, "user-9")  # company 1 too
    capacity.release(holds[5])  # a reclaimed hold's socket closing changes nothing
    assert capacity.held() == 6
    capacity.release(holds[0])
    capacity.take(1, "user-9")


def test_at_the_ceiling_shares_are_counted_among_the_companies_holding_websockets():
    capacity = Capacity(per_principal=10, per_company=10, ceiling=6)
    for company, count in ((1, 4), (2, 2)):
        for n in range(count):
            capacity.take(company, f"{company}-{n}")
    capacity.take(3, "newcomer")  # share 6 // 3 = 2: company 1, over it, gives way
    assert (capacity.held(1), capacity.held(2), capacity.held(3)) == (3, 2, 1)
    with pytest.raises(Refused):
        capacity.take(2, "2-9")  # company 2 is at its share


# -- over the real server ----------------------------------------------------------------------------------------


@pytest.fixture
def database(file_database):
    return file_database


@pytest.fixture
def asterisk():
    """Asterisk's SIP websocket (/ws, subprotocol sip), answering every message with the same message."""

    def echo(connection):
        for message in connection:
            connection.send(message)

    with serve_websockets(echo, "127.0.0.1", 0, subprotocols=["sip"]) as fake:
        thread = threading.Thread(target=fake.serve_forever, name="fake-asterisk", daemon=True)
        thread.start()
        yield fake.socket.getsockname()[1]
        fake.shutdown()
    thread.join(5)


@pytest.fixture
def controller(tmp_path, asterisk):
    env = {
        "LEADCENTER_HTTP_WEBSOCKETS_PER_PRINCIPAL": str(PER_PRINCIPAL),
        "LEADCENTER_HTTP_WEBSOCKETS_PER_COMPANY": str(PER_COMPANY),
        "LEADCENTER_HTTP_WEBSOCKETS_MAX": str(CEILING),
        "LEADCENTER_ASTERISK_HTTP_PORT": str(asterisk),
    }
    with live_controller(tmp_path / "asterisk", env) as controller:
        yield controller


def key_stream(server: str, key: str):
    return open_socket(server, "/api/v1/events", origin=None, headers={"Authorization": f"Bearer {key}"})


def opened(ws):
    """The socket, once the server has admitted it (its hello arrived)."""
    assert frames(ws, 1)[0]["event"] == "stream.hello"
    return ws


def assert_relays(ws) -> None:
    """The relay is open through to Asterisk: a message comes back."""
    ws.send("OPTIONS sip:probe SIP/2.0\r\n\r\n")
    assert ws.recv(timeout=5) == "OPTIONS sip:probe SIP/2.0\r\n\r\n"


def test_a_key_holding_its_maximum_does_not_stop_another_companys_agent(server, world, cookie_of, sockets):
    _, key = auth.new_api_key(world["b"]["company"], "dashboard", None)
    for _ in range(PER_PRINCIPAL):
        opened(sockets.enter_context(key_stream(server, key)))
    with key_stream(server, key) as one_too_many:
        code, reason = close_code(one_too_many)
    assert code == 1013 and "user or API key" in reason

    agent = cookie_of("agent1@a.example")
    with (
        open_socket(server, "/api/v1/events", cookie=agent) as stream,
        open_socket(server, "/sip", cookie=agent, subprotocols=["sip"]) as relay,
    ):
        assert opened(stream) and relay.subprotocol == "sip"
        assert_relays(relay)


def test_a_company_filling_the_server_gives_way_to_another_companys_agent(server, world, cookie_of, sockets):
    b = world["b"]["company"]
    keys = [auth.new_api_key(b, f"key {n}", None)[1] for n in range(3)]
    b_sockets = [opened(sockets.enter_context(key_stream(server, keys[n // PER_PRINCIPAL]))) for n in range(CEILING)]

    agent = cookie_of("agent1@a.example")
    with open_socket(server, "/api/v1/events", cookie=agent) as stream:
        assert opened(stream)
        code, reason = close_code(b_sockets[-1])  # B's newest gave way
        assert code == 1013 and reason.startswith("capacity-reclaimed")
        with open_socket(server, "/sip", cookie=agent, subprotocols=["sip"]) as relay:
            assert_relays(relay)
            assert close_code(b_sockets[-2])[0] == 1013
            with key_stream(server, keys[2]) as more_for_b:  # B holds its share now: no more
                code, reason = close_code(more_for_b)
            assert code == 1013 and "capacity" in reason


def test_relays_count_with_event_streams(server, app, world, cookie_of, sockets):
    agent = cookie_of("agent1@a.example")
    streams = [
        opened(sockets.enter_context(open_socket(server, "/api/v1/events", cookie=agent))) for _ in range(PER_PRINCIPAL)
    ]
    with open_socket(server, "/sip", cookie=agent, subprotocols=["sip"]) as relay:
        assert close_code(relay)[0] == 1013
    streams.pop().close()
    capacity = app.extensions["websockets"]
    deadline = time.monotonic() + WAIT
    while capacity.held() == PER_PRINCIPAL and time.monotonic() < deadline:  # the server sees the close
        time.sleep(0.01)
    with open_socket(server, "/sip", cookie=agent, subprotocols=["sip"]) as relay:
        assert_relays(relay)


def test_signing_out_elsewhere_ends_the_softphone_relay(server, app, world, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    browser = ApiClient(app.test_client())
    browser.sign_in("agent1@a.example")
    cookie = f"session={browser.http.get_cookie('session').value}"
    with open_socket(server, "/sip", cookie=cookie, subprotocols=["sip"]) as relay:
        assert_relays(relay)
        assert browser.delete("/api/v1/session")[0] == 204
        assert close_code(relay) == (4401, "session-ended")


def test_sockets_sharing_a_credential_are_checked_once_a_round(server, world, monkeypatch, sockets):
    """An agent's tab holds two websockets and an integration may hold several: one check each round, not one per
    socket (each check is a thread handoff; hundreds of them a second delayed everything else)."""
    checks = []
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.1)
    monkeypatch.setattr(stream, "still_allowed", lambda principal: checks.append(principal.company.id) or True)
    _, key = auth.new_api_key(world["b"]["company"], "dashboard", None)
    for _ in range(PER_PRINCIPAL):
        opened(sockets.enter_context(key_stream(server, key)))
    began = time.monotonic()
    while len(checks) < 5 and time.monotonic() - began < WAIT:
        time.sleep(0.05)
    rounds = (time.monotonic() - began) / 0.1
    assert 5 <= len(checks) <= rounds + 2  # one a round, not PER_PRINCIPAL a round
