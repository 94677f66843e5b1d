"""Warm (consult) transfer and conference on the wire: a SIPp caller (the lead), Alice's and Bob's SIPp desk phones,
each speaking a tone of its own; what Asterisk sends each of them is captured off the loopback (test_monitor's
helpers) and searched for the others' tones.

Alice consults Bob (the lead hears neither of them, Alice and Bob hear each other), cancels (back to the lead),
consults again and merges (all three hear each other), then Bob, now responsible for the call, drops Alice: the lead
and Bob stay on. And a consult completed: Alice's phone hangs up, the lead and Bob talk."""

from __future__ import annotations

import contextlib
import time

from harness import wait_for
from test_monitor import AGENT_HZ, LEAD_HZ, listen, live_call, tones  # noqa: F401  (tones: the fixture)
from test_monitor import SUPERVISOR_HZ as COLLEAGUE_HZ

from leadcenter.calls.legs import CallLeg, CallTransfer
from leadcenter.interactions.models import Interaction

ALICE, BOB = 1, 2
BOB_EMAIL = "bob@acme.example"


def _parties(call, alice, bob):
    return {"lead": call.sipp.media_port, "alice": alice.uas.media_port, "bob": bob.uas.media_port}


def _post(client, path: str, **body):
    answer = client.post(path, json=body) if body else client.post(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_consult_cancel_merge_and_drop_are_heard_on_the_wire(running, peers, tones):  # noqa: F811
    with (
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[COLLEAGUE_HZ]) as bob,
        contextlib.closing(running.sign_in("alice@acme.example")) as alice_app,
        contextlib.closing(running.sign_in(BOB_EMAIL)) as bob_app,
    ):
        # The queue rings Alice only (signing in made Bob Available); a consult rings Bob all the same.
        running.choose_status(BOB_EMAIL, "offline")
        caller, call = live_call(running, peers, tones, "+14045557601", alice)
        ports = _parties(caller, alice, bob)

        consulting = _post(alice_app, f"/api/v1/interactions/{call.id}/consult", agent_id=BOB)
        assert [(t["kind"], t["outcome"]) for t in consulting["transfers"]] == [("warm", "requested")]
        bob.wait_for("ANSWERED", timeout=10)
        time.sleep(0.5)
        assert listen(running, ports) == {"lead": set(), "alice": {COLLEAGUE_HZ}, "bob": {AGENT_HZ}}

        cancelled = _post(alice_app, f"/api/v1/interactions/{call.id}/consult/cancel")
        assert [t["outcome"] for t in cancelled["transfers"]] == ["cancelled"]
        bob.wait_for("HANGUP", timeout=5)
        time.sleep(0.5)
        assert listen(running, {"lead": ports["lead"], "alice": ports["alice"]}) == {
            "lead": {AGENT_HZ},
            "alice": {LEAD_HZ},
        }

        _post(alice_app, f"/api/v1/interactions/{call.id}/consult", agent_id=BOB)
        wait_for(lambda: bob.count("ANSWERED") == 2, 10, what="Bob to answer the second consult")
        merged = _post(alice_app, f"/api/v1/interactions/{call.id}/consult/merge")
        assert [(t["kind"], t["outcome"]) for t in merged["transfers"]] == [
            ("warm", "cancelled"),
            ("conference", "completed"),
        ]
        time.sleep(1)
        assert listen(running, ports) == {
            "lead": {AGENT_HZ, COLLEAGUE_HZ},
            "alice": {LEAD_HZ, COLLEAGUE_HZ},
            "bob": {LEAD_HZ, AGENT_HZ},
        }
        # Bob joined last: the call is his now; he drops Alice and stays with the lead.
        wait_for(lambda: Interaction.get_by_id(call.id).agent_id == BOB, 5, what="the call to move to Bob")
        alice_leg = wait_for(
            lambda: CallLeg.get_or_none(
                CallLeg.interaction == call.id, CallLeg.agent == ALICE, CallLeg.left_at.is_null()
            ),
            5,
            what="Alice's leg in the conference",
        )
        dropped = bob_app.delete(f"/api/v1/interactions/{call.id}/conference/{alice_leg.id}")
        assert dropped.status_code == 204, dropped.text
        alice.wait_for("HANGUP", timeout=5)
        time.sleep(0.5)
        assert listen(running, {"lead": ports["lead"], "bob": ports["bob"]}) == {
            "lead": {COLLEAGUE_HZ},
            "bob": {LEAD_HZ},
        }
        assert Interaction.get_by_id(call.id).status == "active"
        caller.kill()


def test_a_consult_completed_leaves_the_lead_with_the_colleague(running, peers, tones):  # noqa: F811
    with (
        peers.phone(ALICE, speak=tones[AGENT_HZ]) as alice,
        peers.phone(BOB, speak=tones[COLLEAGUE_HZ]) as bob,
        contextlib.closing(running.sign_in("alice@acme.example")) as alice_app,
    ):
        running.choose_status(BOB_EMAIL, "offline")
        caller, call = live_call(running, peers, tones, "+14045557602", alice)
        _post(alice_app, f"/api/v1/interactions/{call.id}/consult", agent_id=BOB)
        try:
            bob.wait_for("ANSWERED", timeout=10)
        except TimeoutError:
            print((running.instance.dir / "log" / "messages.log").read_text()[-8000:])
            print(running.log_tail(40))
            raise
        completed = _post(alice_app, f"/api/v1/interactions/{call.id}/consult/complete")
        assert [(t["kind"], t["outcome"]) for t in completed["transfers"]] == [("warm", "completed")]
        alice.wait_for("HANGUP", timeout=5)
        time.sleep(1)
        ports = _parties(caller, alice, bob)
        assert listen(running, {"lead": ports["lead"], "bob": ports["bob"]}) == {
            "lead": {COLLEAGUE_HZ},
            "bob": {LEAD_HZ},
        }
        moved = wait_for(lambda: (i := Interaction.get_by_id(call.id)).agent_id == BOB and i, 5, what="Bob's call")
        assert moved.status == "active"
        transfer = CallTransfer.get(CallTransfer.interaction == call.id)
        assert (transfer.from_agent_id, transfer.to_agent_id) == (ALICE, BOB)
        caller.kill()
