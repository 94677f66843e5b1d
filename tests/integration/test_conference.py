"""Warm (consult) transfer and conference on the wire: a SIPp caller (the lead), Alice's and Bob's SIPp desk phones,
each speaking a tone of its own; what Asterisk sends each of them is captured off the loopback (test_monitor's
helpers) and searched for the others' tones.

Alice consults Bob (the lead hears neither of them, Alice and Bob hear each other), cancels (back to the lead),
consults again and merges (all three hear each other), then Bob, now responsible for the call, drops Alice: the lead
and Bob stay on; Bob adds Alice back (three again), his leg ends (the lead stays with Alice), then hers, the last
agent's: the lead is hung up. In the app (Alice and Bob in Chromium), a consult completed: Bob sees who calls about
which lead before he answers, then has the call."""

from __future__ import annotations

import contextlib
import re

import pytest
from browser import Browser
from harness import channel_variable, set_ring_device, wait_for
from playwright.sync_api import expect
from test_monitor import AGENT_HZ, LEAD_HZ, assert_heard, live_call, tones  # noqa: F401  (tones: the fixture)
from test_monitor import SUPERVISOR_HZ as COLLEAGUE_HZ

from leadcenter.agents.models import Agent
from leadcenter.calls.legs import CallLeg, CallTransfer
from leadcenter.interactions.models import Interaction

ALICE, BOB = 1, 2
BOB_EMAIL = "bob@acme.example"


def _parties(call, alice, bob):
    return {"lead": call.sipp.media_port, "alice": alice.uas.media_port, "bob": bob.uas.media_port}


def hang_up_phone(running, phone) -> None:
    """The phone's leg ends, as when its user hangs up (the SIPp phone answers and stays until told)."""
    channels = (running.instance.rx("core show channels concise") or "").splitlines()
    leg = next(line.split("!")[0] for line in channels if line.startswith(f"PJSIP/{phone.username}-"))
    ended = phone.count("HANGUP")
    running.instance.rx(f"channel request hangup {leg}")
    phone.wait_for("HANGUP", n=ended + 1, timeout=5)


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
        # The queue rings Alice only (signing in made Bob Available); Bob is back once she has the call: a consult
        # rings an Available colleague only.
        running.choose_status(BOB_EMAIL, "offline")
        caller, call = live_call(running, peers, tones, "+14045557601", alice)
        running.choose_status(BOB_EMAIL, "available")
        ports = _parties(caller, alice, bob)

        consulting = _post(alice_app, f"/api/v1/interactions/{call.id}/consult", agent_id=BOB)
        assert [(t["kind"], t["outcome"]) for t in consulting["transfers"]] == [("warm", "requested")]
        bob.wait_for("ANSWERED", timeout=10)
        assert_heard(running, ports, {"lead": set(), "alice": {COLLEAGUE_HZ}, "bob": {AGENT_HZ}})

        cancelled = _post(alice_app, f"/api/v1/interactions/{call.id}/consult/cancel")
        assert [t["outcome"] for t in cancelled["transfers"]] == ["cancelled"]
        bob.wait_for("HANGUP", timeout=5)
        assert_heard(
            running, {"lead": ports["lead"], "alice": ports["alice"]}, {"lead": {AGENT_HZ}, "alice": {LEAD_HZ}}
        )

        _post(alice_app, f"/api/v1/interactions/{call.id}/consult", agent_id=BOB)
        wait_for(lambda: bob.count("ANSWERED") == 2, 10, what="Bob to answer the second consult")
        merged = _post(alice_app, f"/api/v1/interactions/{call.id}/consult/merge")
        assert [(t["kind"], t["outcome"]) for t in merged["transfers"]] == [
            ("warm", "cancelled"),
            ("conference", "completed"),
        ]
        assert_heard(
            running,
            ports,
            {"lead": {AGENT_HZ, COLLEAGUE_HZ}, "alice": {LEAD_HZ, COLLEAGUE_HZ}, "bob": {LEAD_HZ, AGENT_HZ}},
        )
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
        assert_heard(running, {"lead": ports["lead"], "bob": ports["bob"]}, {"lead": {COLLEAGUE_HZ}, "bob": {LEAD_HZ}})
        assert Interaction.get_by_id(call.id).status == "active"
        # Dropped, Alice is in wrap-up: she cannot be added to a call until she rejoins the queue.
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 5, what="Alice's wrap-up")
        refused = bob_app.post(f"/api/v1/interactions/{call.id}/conference", json={"agent_id": ALICE})
        assert (refused.status_code, refused.json()["error"]) == (409, "colleague-unavailable")
        assert alice.count("ANSWERED") == 1
        running.choose_status("alice@acme.example", "available")
        # Bob adds Alice back to the call: her phone rings into the conference, the three hear each other.
        _post(bob_app, f"/api/v1/interactions/{call.id}/conference", agent_id=ALICE)
        wait_for(lambda: alice.count("ANSWERED") == 2, 10, what="Alice to answer Bob's conference call")
        assert_heard(
            running,
            ports,
            {"lead": {AGENT_HZ, COLLEAGUE_HZ}, "alice": {LEAD_HZ, COLLEAGUE_HZ}, "bob": {LEAD_HZ, AGENT_HZ}},
        )
        # Bob's leg ends: the lead stays with Alice, whose call it is again; then hers, the last agent's: the lead is
        # hung up and the call is over.
        hang_up_phone(running, bob)
        assert_heard(
            running, {"lead": ports["lead"], "alice": ports["alice"]}, {"lead": {AGENT_HZ}, "alice": {LEAD_HZ}}
        )
        assert Interaction.get_by_id(call.id).agent_id == ALICE
        hang_up_phone(running, alice)
        caller.wait_for("HANGUP", timeout=5)
        assert [e[1] for e in caller.events() if e[0] == "HANGUP"] == ["remote"]
        wait_for(lambda: Interaction.get_by_id(call.id).status == "recent", 5, what="the call to end")


def test_in_the_app_alice_consults_bob_who_sees_the_lead_before_answering_then_takes_the_call(
    running,
    peers,
    tones,  # noqa: F811
    tmp_path,
):
    """Alice and Bob in the browser: Alice answers a lead's call, consults Bob from the call view; Bob's app says
    Alice calls about that lead before he answers; Alice completes the transfer: her call is over, Bob has the call in
    his Active, the lead's audio reaching his softphone."""
    if not running.browser_media:
        pytest.skip("browser calls need the private network namespace `make test` runs in")
    set_ring_device(running, "webrtc")
    try:
        with Browser() as browser:
            alice = browser.agent(running, "alice@acme.example")
            bob = browser.agent(running, BOB_EMAIL)
            bob.choose_status("Offline")  # the queue offers the call to Alice only
            caller = peers.call(
                "+14045557602", duration=40, caller_name="Lee Consult", audio=tones[LEAD_HZ], expect_remote_bye=True
            )
            alice.row("incoming", "Lee Consult").get_by_role("button", name="Answer").click()
            caller.wait_for("ANSWERED", 10)
            bob.choose_status("Available")  # a consult rings an Available colleague only
            call_view = alice.page.locator("#panel .call")
            # Her softphone takes the call up (the caller was answered by the flow before): seen taking over 5 s on
            # a loaded machine, the call still ringing in her Incoming.
            expect(call_view.get_by_label("Colleague")).to_be_visible(timeout=20_000)
            expect(call_view.get_by_label("Colleague").locator(f"option[value='{BOB}']")).to_contain_text("Available")
            call_view.get_by_label("Colleague").select_option(value=str(BOB))
            call_view.get_by_role("button", name="Consult").click()

            ringing = bob.page.locator(".call.transferred")
            expect(ringing.locator(".kind")).to_have_text(re.compile("^Consult by Alice"))
            expect(ringing.locator(".caller-id")).to_have_text("Lee Consult")
            expect(ringing.locator(".facts")).to_contain_text("+14045557602")
            bob.screenshot("consult-ringing", tmp_path)
            ringing.get_by_role("button", name="Answer").click()
            expect(call_view.locator(".consulting")).to_contain_text(re.compile("Consulting Bob"))
            alice.screenshot("consulting", tmp_path)
            wait_for(lambda: bob.audio_stats()["packetsReceived"] > 0, 10, what="Bob to hear Alice")
            call_view.get_by_role("button", name="Complete transfer").click()

            # Asterisk, the controller and both tabs each take a turn: under load (make test's 2 cores) more than
            # expect()'s default 5 s.
            expect(alice.page.locator("#panel .call")).to_have_count(0, timeout=15_000)  # her leg hung up
            expect(bob.row("active", "Lee Consult")).to_be_visible(timeout=15_000)
            expect(bob.page.locator("#panel .call .caller-id")).to_have_text("Lee Consult")
            heard = bob.audio_stats()["receivedEnergy"]
            wait_for(lambda: bob.audio_stats()["receivedEnergy"] > heard, 10, what="Bob to hear the lead")
            call = Interaction.get(Interaction.lead_number == "+14045557602")
            assert call.agent_id == BOB and call.status == "active"
            # The lead's channel names Bob's softphone now (his tab reloading would ring it again, not Alice's).
            wait_for(
                lambda: channel_variable(running, call.channel_id, "LC_ANSWERED_BY") == f"webrtc{BOB}",
                5,
                what="the lead's channel to name Bob's softphone",
            )
            transfer = CallTransfer.get(CallTransfer.interaction == call)
            assert (transfer.kind, transfer.outcome, transfer.from_agent_id, transfer.to_agent_id) == (
                "warm",
                "completed",
                ALICE,
                BOB,
            )
            running.instance.rx("channel request hangup all")
            caller.wait(10)
    finally:
        set_ring_device(running, "desk")


def test_a_conference_goes_on_across_a_controller_restart(running, peers):
    """Alice adds Bob to a lead's call, then the controller restarts: it still follows who is on the call. Bob, whose
    call it is now, drops Alice (her leg ends, she goes to wrap-up), then hangs up, the last agent: the lead is hung
    up and the call concluded as Bob's, every leg ended."""
    with (
        peers.phone(ALICE) as alice,
        peers.phone(BOB) as bob,
        contextlib.closing(running.sign_in("alice@acme.example")) as alice_app,
    ):
        running.choose_status(BOB_EMAIL, "offline")  # the queue rings Alice only
        caller = peers.call("+14045559421", duration=55)
        alice.wait_for("ANSWERED", timeout=15)
        call = wait_for(
            lambda: (i := running.interaction(lead_number="+14045559421")) and i.status == "active" and i,
            10,
            what="the call to be answered",
        )
        running.choose_status(BOB_EMAIL, "available")
        _post(alice_app, f"/api/v1/interactions/{call.id}/conference", agent_id=BOB)
        bob.wait_for("ANSWERED", timeout=10)
        wait_for(lambda: Interaction.get_by_id(call.id).agent_id == BOB, 10, what="the call to be Bob's")
        assert [(t.kind, t.outcome) for t in CallTransfer.select().where(CallTransfer.interaction == call)] == [
            ("conference", "completed")  # Bob answered
        ]
        alice_leg = CallLeg.get(CallLeg.interaction == call, CallLeg.agent == ALICE, CallLeg.left_at.is_null())

        running.stop_controller()
        running.start_controller()

        with contextlib.closing(running.sign_in(BOB_EMAIL)) as bob_app:
            dropped = bob_app.delete(f"/api/v1/interactions/{call.id}/conference/{alice_leg.id}")
        assert dropped.status_code == 204, dropped.text
        alice.wait_for("HANGUP", timeout=5)
        wait_for(lambda: CallLeg.get_by_id(alice_leg.id).left_at, 10, what="Alice's leg to end")
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
        assert Interaction.get_by_id(call.id).status == "active"
        hang_up_phone(running, bob)
        caller.wait_for("HANGUP", timeout=5)
        over = wait_for(
            lambda: (i := Interaction.get_by_id(call.id)).status == "recent" and i, 10, what="the call to end"
        )
        assert (over.outcome, over.agent_id) == ("answered", BOB)
        legs = list(CallLeg.select().where(CallLeg.interaction == call).order_by(CallLeg.joined_at))
        assert [leg.agent_id for leg in legs] == [ALICE, BOB] and all(leg.left_at for leg in legs)
        wait_for(lambda: Agent.get_by_id(BOB).status_reason == "wrap_up", 10, what="Bob's wrap-up")
