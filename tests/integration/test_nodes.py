"""Two nodes, one PostgreSQL, one Asterisk (docs/architecture.md, "Several nodes"): node 1 is `leadcenter run` (the
controller: AMI/ARI, the recorder, and its web app), node 2 `leadcenter run --web-only` on other ports over the same
database and data directory (the same secrets). Alice works in Chromium on node 2: her softphone goes through node
2's SIP relay, the call node 1's controller recorded rings in her tab, she answers it there; her hang-up asked on
node 2 is carried out by node 1's controller (the SIPp caller gets the BYE); what she types on node 2 reaches the
supervisor's event stream on node 1.

Its own installation (SECOND_PORTS, its own Asterisk and PostgreSQL server), beside the suite's."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time

import httpx
import postgresql
import pytest
from browser import CHROMIUM, Browser
from cluster_nodes import leads_after, standing_by, two_nodes
from harness import ADS_LINE, System, add_ice_interface, set_ring_device, wait_for
from peer import SmscPeer
from playwright.sync_api import expect
from sipp import Peers, SippCaller
from test_event_stream import Agent as StreamClient
from test_event_stream import has
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from leadcenter import clock, db
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.texts.models import OutboxPart, TextThread
from leadcenter.tracking_numbers.models import TrackingNumber

ALICE, BOB = 1, 2
AFTERWARDS = 3.0  # seconds watched after a text was sent or a timer fired, for a second one (pump and sweep rounds)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Node 1 (the controller) and node 2 (a web node) running over one PostgreSQL; Alice rings in her browser."""
    if not postgresql.available():
        pytest.skip(f"PostgreSQL is not installed ({postgresql.BIN}): make setup installs it")
    if not add_ice_interface():
        pytest.skip("browser calls need the private network namespace `make test` runs in")

    def webrtc_for_alice(system: System) -> None:
        system.cli("agent", "ring", str(ALICE), "webrtc")

    with two_nodes(tmp_path_factory.mktemp("nodes"), webrtc_for_alice) as (system, node_2):
        system.choose_status("alice@acme.example", "available")
        system.choose_status("bob@acme.example", "offline")  # the call is Alice's to take
        yield system, node_2


def test_an_agent_on_the_web_node_takes_a_call_the_controller_node_recorded(nodes, tmp_path):
    system, node_2 = nodes
    assert node_2.health()[1]["asterisk"]["controller"] is True
    supervisor = StreamClient(system, "admin@acme.example")  # on node 1
    # A session signed in on node 1 is one on node 2 (the same secret, sessions in the one database).
    on_node_2 = httpx.get(f"{node_2.url}/api/v1/session", cookies={"session": supervisor.http.cookies["session"]})
    assert on_node_2.json()["authenticated"] and on_node_2.json()["user"]["email"] == "admin@acme.example"
    try:
        with Browser() as browser:
            alice = browser.agent(system, "alice@acme.example", url=node_2.url)  # her SIP through node 2's relay
            caller = SippCaller(workdir=tmp_path / "caller").start_call(
                ADS_LINE,
                "4045559101",
                asterisk_port=system.sip_port,
                local_port=system.trunk_port,
                duration=60,
                caller_name="Nod Twoson",
                expect_remote_bye=True,
            )
            # Recorded by node 1's controller, shown live in node 2's tab, ringing her softphone there.
            created = supervisor.wait_event("interaction.created", 15, interaction={"lead_number": "+14045559101"})
            interaction_id = created["data"]["interaction"]["id"]
            incoming = alice.row("incoming", "Nod Twoson")
            expect(incoming).to_be_visible()
            expect(alice.ringing_row().filter(has_text="Nod Twoson")).to_have_count(1)
            incoming.get_by_role("button", name="Answer").click()
            caller.wait_for("ANSWERED", 10)
            expect(alice.row("active", "Nod Twoson")).to_be_visible()
            supervisor.wait_event("interaction.updated", 10, interaction={"id": interaction_id, "status": "active"})
            wait_for(lambda: alice.audio_stats().get("packetsReceived", 0) > 50, 10, what="audio in node 2's tab")

            # Hang up asked on node 2: node 1's controller carries it out, the caller gets the BYE.
            with contextlib.closing(node_2.sign_in("alice@acme.example")) as on_node_2:
                answer = on_node_2.post(f"/api/v1/interactions/{interaction_id}/hangup")
            assert answer.status_code == 200, answer.text
            result = caller.wait(15)
            result.check()
            assert result.hangup == "remote"
            supervisor.wait_event("interaction.updated", 10, interaction={"id": interaction_id, "status": "recent"})
            verbs = db.database.execute_sql("SELECT method, state, error FROM cluster_verb").fetchall()
            assert ("hang_up_call", "done", None) in verbs

            # Typed on node 2, seen on node 1's stream.
            recent = alice.row("recent", "Nod Twoson")
            expect(recent).to_be_visible()
            recent.get_by_role("button", name="Nod Twoson", exact=True).click()
            notes = alice.page.locator("#classification").get_by_label("Notes")
            notes.press_sequentially("Typed on node 2", delay=5)
            expect(alice.page.locator("#classification .saved-marker")).to_have_text("Saved")
            supervisor.wait_event(
                "interaction.updated", 10, interaction={"id": interaction_id, "notes": "Typed on node 2"}
            )
            assert alice.errors == []
    finally:
        supervisor.close()


def guess(url: str) -> httpx.Response:
    """A sign-in with a wrong password at ``url`` (an account nobody else in the file signs in to)."""
    with httpx.Client(base_url=url, timeout=5) as client:
        csrf = client.get("/api/v1/session").json()["csrf_token"]
        return client.post(
            "/api/v1/session",
            json={"email": "guessed@acme.example", "password": "wrong"},
            headers={"X-CSRF-Token": csrf},
        )


def test_wrong_passwords_on_one_node_count_on_the_other(nodes):
    """The sign-in throttle counts every node's failures (web/auth.py: SharedAttemptLimiter): five guesses for one
    account from one address, spread over both nodes, and the next on either is 429 with Retry-After."""
    system, node_2 = nodes
    for url in (system.url, node_2.url, system.url, node_2.url, system.url):
        assert guess(url).status_code == 401
    answer = guess(node_2.url)
    assert (answer.status_code, answer.json()["error"]) == (429, "too-many-attempts"), answer.text
    assert int(answer.headers["Retry-After"]) > 0


def event_stream(url: str, key: str):
    """An integration's event stream on the node at ``url``, with API key ``key``."""
    return connect(
        url.replace("http://", "ws://") + "/api/v1/events",
        additional_headers={"Authorization": f"Bearer {key}"},
        proxy=None,
        open_timeout=5,
        ping_interval=None,
    )


def test_an_api_keys_websockets_over_both_nodes_are_refused_at_its_cap_on_the_second(nodes):
    """The websocket caps hold for the installation (web/capacity.py: SharedCapacity): an API key (8 websockets at
    most, the default) holding four event streams on each node is refused a ninth on node 2, which closes it with
    1013 and the limit as its reason; once one closes on node 1, node 2 lets it in."""
    system, node_2 = nodes
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        answer = admin.post("/api/v1/api-keys", json={"name": "wallboard"})
    assert answer.status_code == 201, answer.text
    key = answer.json()["key"]
    with contextlib.ExitStack() as held:
        streams = [held.enter_context(event_stream(url, key)) for url in [system.url, node_2.url] * 4]
        assert [json.loads(ws.recv(timeout=5))["event"] for ws in streams] == ["stream.hello"] * 8
        with event_stream(node_2.url, key) as one_too_many, pytest.raises(ConnectionClosed) as closed:
            one_too_many.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1013,
            "this user or API key already holds 8 websockets",
        )
        streams[0].close()  # on node 1: its row is deleted as it closes

        def admitted() -> bool:
            try:
                with event_stream(node_2.url, key) as again:
                    return json.loads(again.recv(timeout=5))["event"] == "stream.hello"
            except ConnectionClosed:
                return False

        wait_for(admitted, 10, what="node 2 to let the key in once one of its streams closed on node 1")


def test_while_no_controller_node_runs_the_web_node_says_so_and_nothing_asked_is_lost(nodes):
    """Node 1 stopped: node 2's /healthz is 503 (no controller); Alice going Offline on node 2 is saved (its pause
    cannot be asked), and node 1, back, pauses her in Asterisk from the database; Available again on node 2, node 1
    unpauses her (the verb forwarded)."""
    system, node_2 = nodes
    system.choose_status("alice@acme.example", "available")  # after her call: out of wrap-up
    wait_for(lambda: "agent1" not in system.paused_members(), 10, what="Alice unpaused")
    with contextlib.closing(node_2.sign_in("alice@acme.example")) as alice:
        system.stop_controller()
        try:
            wait_for(lambda: node_2.health()[0] == 503, 10, what="the web node to see no controller")
            assert node_2.health()[1]["asterisk"]["controller"] is False
            changed = alice.patch("/api/v1/me/agent", json={"status": "offline"})
            assert changed.status_code == 200, changed.text
        finally:
            system.start_controller()
        wait_for(lambda: "agent1" in system.paused_members(), 15, what="Alice paused by node 1's resync")
        assert node_2.health()[0] == 200
        assert alice.patch("/api/v1/me/agent", json={"status": "available"}).status_code == 200
        wait_for(lambda: "agent1" not in system.paused_members(), 10, what="Alice unpaused, asked on node 2")


def test_kill_9_of_the_active_controller_mid_call_the_standby_takes_over_and_the_call_is_recorded_once(nodes, tmp_path):
    """Node 3 stands by while node 1 leads. Bob answers a SIPp call on his desk phone; node 1 is killed with SIGKILL
    mid-call: node 3 takes the leadership lock, connects to Asterisk, resynchronises, and concludes the call when the
    caller hangs up, once; node 2's verbs go to it."""
    system, node_2 = nodes
    system.choose_status("alice@acme.example", "offline")
    set_ring_device(system, "desk", agents=(BOB,))
    system.choose_status("bob@acme.example", "available")
    peers = Peers(system, tmp_path)
    try:
        with standing_by(system) as standby:
            with peers.phone(BOB):
                caller = SippCaller(workdir=tmp_path / "caller").start_call(
                    ADS_LINE, "4045559102", asterisk_port=system.sip_port, local_port=system.trunk_port, duration=20
                )
                caller.wait_for("ANSWERED", 15)
                system.wait_interaction(lead_number="+14045559102", status="active")
                killed_at = time.monotonic()
                system.kill_controller()
                took_over = leads_after(standby, killed_at)
                result = caller.wait(40)
            result.check()
            call = wait_for(
                lambda: (row := system.interaction(lead_number="+14045559102")) and row.status == "recent" and row,
                15,
                what="the call to conclude",
            )
            assert (call.outcome, call.agent_id) == ("answered", BOB)
            assert 15 <= call.talk_seconds <= 25
            assert Interaction.select().where(Interaction.lead_number == "+14045559102").count() == 1
            wait_for(lambda: node_2.health()[0] == 200, 10, what="node 2 to see the new controller")
            print(f"\nfigures: the standby led, connected and resynchronised {took_over:.2f} s after the kill")
    finally:
        peers.close()


def smsc_state(system: System) -> str:
    """The state of the bind to the SMSC below (the Website line's second SMSC does not run here)."""
    return next((s["state"] for s in system.sms_health().get("smscs", []) if s["name"] == "smsc"), "")


@pytest.fixture(scope="module")
def smsc(nodes):
    """The test SMSC (tests/smsc) on the installation's [smpp] port: whichever node leads binds to it."""
    system, _ = nodes
    peer = SmscPeer(system.settings.smpp.port).start()
    try:
        wait_for(lambda: smsc_state(system) == "bound", 15, what="node 1's SMPP bind")
        yield peer
    finally:
        peer.stop()


def events_until(client: StreamClient, deadline: float) -> list[dict]:
    """What ``client``'s stream received until ``deadline`` (monotonic)."""
    events = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            events.append(client.next_event(left))
        except TimeoutError:
            break
    return events


def test_a_text_sent_on_the_web_node_while_the_leader_is_dead_reaches_the_smsc_once_after_the_takeover(nodes, smsc):
    """Node 1 is killed with SIGKILL; before node 3 leads, Alice sends a text on node 2 (stored in the outbox, nobody
    to send it). Node 3, leading, submits it: the SMSC gets one submit_sm for it (counted over a while after it came),
    its one outbox part was taken once and the SMSC's receipt marks it delivered. (A part node 1 had handed to the
    SMSC at the moment of the kill, its answer unrecorded, is sent again by node 3: at least once, by design.)"""
    system, node_2 = nodes
    lead, body = "+14045559201", "Sent while the controller failed over"
    number_id = TrackingNumber.get(TrackingNumber.number == ADS_LINE).id
    with standing_by(system) as standby, contextlib.closing(node_2.sign_in("alice@acme.example")) as alice:
        killed_at = time.monotonic()
        system.kill_controller()
        answer = alice.post("/api/v1/texts", json={"to": lead, "body": body, "tracking_number_id": number_id})
        queued_after = time.monotonic() - killed_at
        assert answer.status_code == 201, answer.text
        message_id = answer.json()["id"]
        took_over = leads_after(standby, killed_at)
        smsc.wait(lambda e: e["event"] == "submit" and e["to"] == lead, 15, "the text at the SMSC")
        threading.Event().wait(AFTERWARDS)  # a second submit_sm for it would come within this
        submits = [e for e in smsc.seen("submit") if e["to"] == lead]
        assert [bytes.fromhex(e["hex"]).decode("latin-1") for e in submits] == [body]
        wait_for(lambda: Message.get_by_id(message_id).status == "delivered", 10, what="the SMSC's receipt")
        parts = [(p.status, p.attempts) for p in OutboxPart.select().where(OutboxPart.message == message_id)]
        assert parts == [("delivered", 1)]
        print(
            f"\nfigures: the text was queued on node 2 {queued_after:.2f} s after the kill; "
            f"the standby led {took_over:.2f} s after the kill"
        )


def test_an_incoming_texts_12_hour_timer_due_while_the_leader_is_dead_fires_once_after_the_takeover(nodes, smsc):
    """A lead's text lands in Incoming on node 1 with its 12-hour timer. Node 1 is killed with SIGKILL and the timer's
    due time is moved to now, so that the 12 hours end while no controller runs; node 3, leading, finds it due and
    times the thread out of Incoming once: one `time_out` transition, one update to Recent on node 2's stream."""
    system, node_2 = nodes
    lead = "+14045559202"
    smsc.command(cmd="mo", to=ADS_LINE, text="Is anyone there?", **{"from": lead})
    interaction = wait_for(lambda: system.interaction(lead_number=lead, kind="text"), 10, what="the text's thread")
    thread = TextThread.get(TextThread.interaction == interaction.id)
    assert interaction.status == "incoming"
    received = Message.get(Message.interaction == interaction.id, Message.direction == "inbound")
    assert thread.waiting_until == received.created_at + dt.timedelta(hours=12)  # the timer, set by node 1
    supervisor = StreamClient(node_2, "admin@acme.example")  # node 2's stream outlives node 1
    try:
        with standing_by(system) as standby:
            killed_at = time.monotonic()
            system.kill_controller()
            # The 12 hours end in the gap: node 1 is dead, and until now the timer was 12 hours away for any node.
            TextThread.update(waiting_until=clock.system()).where(TextThread.id == thread.id).execute()
            took_over = leads_after(standby, killed_at)
            wait_for(lambda: Interaction.get_by_id(interaction.id).status == "recent", 10, what="the timer to fire")
            fired_at = time.monotonic()
            events = events_until(supervisor, fired_at + AFTERWARDS)
            moved = Interaction.get_by_id(interaction.id)
            assert (moved.status, moved.outcome) == ("recent", "timed_out")
            transitions = InteractionTransition.select().where(InteractionTransition.interaction == interaction.id)
            assert [t.event for t in transitions.where(InteractionTransition.event == "time_out")] == ["time_out"]
            to_recent = [
                e
                for e in events
                if e["event"] == "interaction.updated"
                and has(e["data"], {"interaction": {"id": interaction.id, "status": "recent"}})
            ]
            assert len(to_recent) == 1, to_recent
            print(f"\nfigures: the standby led {took_over:.2f} s after the kill; the timer fired once")
    finally:
        supervisor.close()
