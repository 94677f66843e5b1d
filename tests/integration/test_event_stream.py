"""From Asterisk to the browser: a real call reaches a signed-in agent's event stream as interaction events,
through `leadcenter run` (the web server, the controller, the call recorder, the websocket hub), and the agent then
reads and classifies it over the REST API."""

from __future__ import annotations

import contextlib
import json
import time

from test_calls import ALICE
from websockets.sync.client import connect


def has(actual, expected) -> bool:
    """``actual`` is ``expected``, or, for a dict, holds each of its keys with a value that has the one expected."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and has(actual[k], v) for k, v in expected.items())
    return actual == expected


class Agent:
    """An agent's browser: a signed-in session, its CSRF token and its event stream."""

    def __init__(self, system, email: str):
        self.http = system.sign_in(email)
        self._resources = contextlib.ExitStack()
        self.stream = self._resources.enter_context(
            connect(
                system.url.replace("http", "ws") + "/api/v1/events",
                origin=system.url,
                open_timeout=5,
                additional_headers={"Cookie": f"session={self.http.cookies['session']}"},
                ping_interval=None,  # no keepalive thread: its join and close()'s race (support.open_socket)
            )
        )
        hello = self.next_event(5)
        assert hello["event"] == "stream.hello"

    def next_event(self, timeout: float) -> dict:
        return json.loads(self.stream.recv(timeout=timeout))

    def wait_event(self, name: str, timeout: float, **data) -> dict:
        """The next event called ``name`` whose data has these values; a dict matches the fields it names of the
        resource an event carries, e.g. ``interaction={"id": 7, "status": "active"}``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.next_event(left)
            if event["event"] == name and has(event["data"], data):
                return event
        raise AssertionError(f"no {name} {data} within {timeout} s")

    def close(self):
        self._resources.close()
        self.http.close()


def test_a_call_reaches_the_agents_event_stream_and_is_classified(running, peers):
    alice = Agent(running, "alice@acme.example")
    bob = Agent(running, "bob@acme.example")
    try:
        with peers.phone(ALICE):
            handle = peers.call("4045557777", duration=5, caller_name="Stream Caller")
            created = alice.wait_event("interaction.created", 10, interaction={"status": "incoming"})
            assert bob.wait_event("interaction.created", 5)["seq"] == created["seq"]
            interaction_id = created["data"]["interaction"]["id"]
            assert created["data"]["interaction"]["lead_number"] == "+14045557777"
            assert created["data"]["section"] == "incoming"  # Alice's Incoming: the flow rings her
            alice.wait_event(
                "interaction.updated",
                10,
                section="active",
                interaction={"id": interaction_id, "status": "active", "agent": {"id": ALICE}},
            )
            handle.wait(30).check()
        alice.wait_event(
            "interaction.updated",
            10,
            section="recent",
            interaction={"id": interaction_id, "status": "recent", "outcome": "answered"},
        )

        details = alice.http.get(f"/api/v1/interactions/{interaction_id}").json()
        assert details["lead"]["numbers"] == ["+14045557777"] and details["outcome"] == "answered"
        assert details["agent"]["id"] == ALICE and details["recording_url"]
        inbox = alice.http.get("/api/v1/inbox").json()
        assert interaction_id in [row["id"] for row in inbox["recent"]]
        recording = alice.http.get(details["recording_url"], headers={"Range": "bytes=0-43"})
        assert recording.status_code == 206 and recording.content[:4] == b"RIFF"

        classified = alice.http.patch(
            f"/api/v1/interactions/{interaction_id}/classification",
            json={"qualified": True, "tags": ["stream test"], "notes": "called back"},
        )
        assert classified.status_code == 200, classified.text
        # Bob's screen hears of Alice's classification.
        bob.wait_event(
            "interaction.updated",
            5,
            interaction={"id": interaction_id, "qualified": True, "tags": ["stream test"], "notes": "called back"},
        )
    finally:
        alice.close()
        bob.close()


def test_live_queue_figures_follow_a_waiting_caller(running, peers):
    admin = Agent(running, "admin@acme.example")
    try:
        with peers.phone(ALICE):
            running.choose_status("alice@acme.example", "offline")
            handle = peers.call("+14045550501", duration=6)
            waiting = admin.wait_event("queue.updated", 10, callers_waiting=1)
            assert waiting["data"]["team_name"] == "Sales"
            assert waiting["data"]["agents"]["offline"] == 1  # Alice; Bob has no phone registered
            assert waiting["data"]["agents"]["unreachable"] == 1
            handle.wait(30)
            after = admin.wait_event("queue.updated", 10, callers_waiting=0)
            assert after["data"]["longest_wait_seconds"] == 0
    finally:
        admin.close()
