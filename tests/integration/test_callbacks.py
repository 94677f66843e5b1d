"""Queue callback with real calls: a caller waiting in the Sales queue presses 1 and hangs up; their place is kept
through a controller killed and started again; when an agent frees, the agent's desk phone is connected to a call
the carrier receives, with the tracking number as caller ID, and the callback's interaction names the call the lead
asked in."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from audio import seconds
from harness import ADS_LINE, bridged, wait_for
from sipp import Call, SippCaller
from test_availability import EMAIL
from test_calls import ALICE, BOB
from test_verbs import carrier, spoken

from leadcenter.agents.models import Agent
from leadcenter.callbacks.models import Callback
from leadcenter.calls.legs import CallLeg
from leadcenter.interactions.models import Interaction
from leadcenter.teams.models import Team

LEAD = "+14045550917"  # a number no other test calls from: the lead's interaction is the newest with it
AHEAD, BEHIND = "+14045550916", "+14045550918"  # callers who join the queue before and after the lead
BUSY_LEAD = "+14045550927"
TRANSFERRED_LEAD = "+14045559702"
RETRY_SECONDS = 30  # the least a team takes


@pytest.fixture
def callbacks(running):
    """The demo team Sales offers callbacks (through the admin API, as the console does), until the test ends."""
    team = Team.get(Team.name == "Sales")
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        answer = admin.patch(
            f"/api/v1/teams/{team.id}",
            json={"callback_enabled": True, "callback_attempts": 2, "callback_retry_seconds": RETRY_SECONDS},
        )
        assert answer.status_code == 200, answer.text
        wait_for(lambda: "context = lc-callback-offer" in _queue_config(running), 5, what="the queue's exit context")
        # A caller takes the queue's parameters as they are when they join it: Asterisk reads them now, rather than
        # when the controller's reload gets its turn on a busy machine (parameters only: members and pauses stay).
        running.instance.rx(f"queue reload parameters {team.queue_name}")
        yield team
        back = {"callback_enabled": False, "callback_attempts": 3, "callback_retry_seconds": 300}
        assert admin.patch(f"/api/v1/teams/{team.id}", json=back).status_code == 200


def _queue_config(running) -> str:
    return (running.instance.etc / "generated" / "queues.conf").read_text()


def test_a_caller_who_presses_1_is_called_back_when_an_agent_frees(running, peers, callbacks, tmp_path):
    for agent in (ALICE, BOB):  # nobody takes calls: the caller waits in the queue
        running.choose_status(EMAIL[agent], "offline")
    with peers.phone(ALICE, speak=True) as alice:
        # Three callers a second apart; the second, the lead, presses 1 (the others wait, then give up).
        callers = SippCaller(workdir=tmp_path / "callers").start_calls(
            [
                Call(ADS_LINE, AHEAD, duration=15),
                # Pressed 6 s in, after the 4 s recording notice, and again every 2 s, as a caller does when nothing
                # happened: on a busy machine the caller may still hear the notice at 6 s, and a key pressed then is
                # lost. Once they left the queue, the thank-you Playback ignores the keys.
                Call(ADS_LINE, LEAD, duration=40, delay=1, key="1", press_at=6, press_every=2, expect_remote_bye=True),
                Call(ADS_LINE, BEHIND, duration=15, delay=2),
            ],
            asterisk_port=running.sip_port,
            local_port=running.trunk_port,
        )
        peers.handles.append(callers)
        original = running.wait_interaction(lead_number=LEAD, direction="inbound")
        original = wait_for(
            lambda: (i := Interaction.get_by_id(original.id)).status == "recent" and i, 15, what="the original call"
        )
        assert original.outcome == "callback"
        callback = wait_for(
            lambda: Interaction.get_or_none(Interaction.callback_of == original.id), 10, what="the callback's call"
        )
        # Waiting for an agent, in the team's Incoming, at the lead's place in the queue: second.
        assert (callback.status, callback.direction, callback.lead_number) == ("incoming", "outbound", LEAD)
        assert callback.source == original.source and callback.queue_team_id == callbacks.id
        wait_for(
            lambda: re.search(
                r"1\. PJSIP/trunk.*\n\s+2\. Local/s@lc-callback-place-\S+;2 .*\n\s+3\. PJSIP/trunk",
                running.instance.rx(f"queue show {callbacks.queue_name}") or "",
            ),
            10,
            what="the callback's place in the queue, between the callers before and after the lead",
        )
        ahead, lead_call, behind = callers.wait_all(timeout=30)
        lead_call.check()  # Asterisk said goodbye and hung up on the lead after their 1
        assert [c.hangup for c in (ahead, behind)] == ["local", "local"]  # the others waited, then gave up
        running.kill_controller()  # the place is Asterisk's; the rest is in the database
        running.start_controller()
        with carrier(running, tmp_path, answer_after=0.5) as lead:
            running.choose_status(EMAIL[ALICE], "available")  # an agent frees: the queue offers her the place
            alice.wait_for("ANSWERED", timeout=15)
            invite = lead.wait_for_invites(timeout=15)[0]
            assert invite["from_user"] == ADS_LINE  # the lead sees the tracking number they called
            lead.wait_for("ANSWERED", timeout=10)
            wait_for(lambda: Interaction.get_by_id(callback.id).answered_at, 5, what="the lead's answer recorded")
            time.sleep(2.5)  # some talk
            with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:  # Alice hangs up in the app
                assert app.post(f"/api/v1/interactions/{callback.id}/hangup").status_code == 200
            lead.wait_for("HANGUP", timeout=10)
            alice.wait_for("HANGUP", timeout=10)
            assert lead.hangups_of(invite["call_id"]) == ["remote"]  # Asterisk hung up on the lead
            assert len(lead.invites()) == 1  # called back once
    done = wait_for(
        lambda: (i := Interaction.get_by_id(callback.id)).status == "recent" and i, 15, what="the callback's call"
    )
    assert (done.outcome, done.agent_id, done.callback_of_id) == ("answered", ALICE, original.id)
    assert done.talk_seconds is not None and done.talk_seconds >= 2 and done.recording
    assert Callback.get(Callback.original == original.id).state == "done"


def test_a_callback_the_lead_is_busy_for_is_dialled_again_after_the_retry_delay(running, peers, callbacks, tmp_path):
    for agent in (ALICE, BOB):
        running.choose_status(EMAIL[agent], "offline")
    with peers.phone(ALICE) as alice:
        callers = SippCaller(workdir=tmp_path / "caller").start_calls(
            [Call(ADS_LINE, BUSY_LEAD, duration=40, key="1", press_at=6, press_every=2, expect_remote_bye=True)],
            asterisk_port=running.sip_port,
            local_port=running.trunk_port,
        )
        peers.handles.append(callers)
        callers.wait_all(timeout=45)[0].check()  # pressed 1, told goodbye
        original = running.wait_interaction(lead_number=BUSY_LEAD, direction="inbound")
        callback = wait_for(lambda: Callback.get_or_none(Callback.original == original.id), 10, what="the callback")
        with carrier(running, tmp_path / "busy", busy=True) as lead:
            running.choose_status(EMAIL[ALICE], "available")  # Alice takes the place: the lead is dialled, busy
            first = lead.wait_for_invites(timeout=15)[0]
            assert first["from_user"] == ADS_LINE
            waiting = wait_for(
                lambda: (c := Callback.get_by_id(callback.id)).state == "waiting" and c, 15, what="the retry to be due"
            )
        assert waiting.attempts == 1
        tried = time.monotonic()
        # Alice's leg ended with the lead's busy: off the call (in wrap-up if the recorder counts it as a call).
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason != "on_call", 10, what="Alice off the call")
        with carrier(running, tmp_path / "answering", answer_after=0.5) as lead:
            running.choose_status(EMAIL[ALICE], "available")  # out of wrap-up: the queue offers her the place again
            second = lead.wait_for_invites(timeout=RETRY_SECONDS + 20)[0]
            assert time.monotonic() - tried >= RETRY_SECONDS - 5  # not before the team's delay
            assert second["from_user"] == ADS_LINE
            lead.wait_for("ANSWERED", timeout=10)
            alice.wait_for("ANSWERED", n=2, timeout=10)
            running.instance.rx("channel request hangup all")
        done = wait_for(lambda: (c := Callback.get_by_id(callback.id)).state == "done" and c, 15, what="done")
    assert (done.attempts, done.placements) == (1, 2)
    calls = list(Interaction.select().where(Interaction.callback_of == original.id).order_by(Interaction.id))
    assert [c.outcome for c in calls] == ["missed", "answered"], [c.outcome for c in calls]


def test_a_callback_transferred_to_a_colleague_is_recorded_to_its_end(running, peers, callbacks, tmp_path):
    """A callback's call is recorded on its dialling half, which stays bridged with the lead whoever its place channel
    (the call's lead channel, which a transfer moves) is then bridged with: only Bob speaks, once he answered Alice's
    transfer, and the callback's recording holds his voice. The call is then Bob's, as an inbound call transferred
    is: Alice's leg ends when she leaves (wrap-up for her), Bob's when he hangs up (wrap-up for him); the place
    channel is the lead's side of the call, no agent's leg."""
    for agent in (ALICE, BOB):
        running.choose_status(EMAIL[agent], "offline")
    with peers.phone(ALICE) as alice, peers.phone(BOB, speak=True, hangup_after=8) as bob:
        callers = SippCaller(workdir=tmp_path / "caller").start_calls(
            [Call(ADS_LINE, TRANSFERRED_LEAD, duration=40, key="1", press_at=6, press_every=2, expect_remote_bye=True)],
            asterisk_port=running.sip_port,
            local_port=running.trunk_port,
        )
        peers.handles.append(callers)
        callers.wait_all(timeout=45)[0].check()  # pressed 1, told goodbye
        original = running.wait_interaction(lead_number=TRANSFERRED_LEAD, direction="inbound")
        with carrier(running, tmp_path / "lead", answer_after=0.5) as lead:
            running.choose_status(EMAIL[ALICE], "available")  # Alice takes the place: the lead is dialled
            lead.wait_for("ANSWERED", timeout=15)
            alice.wait_for("ANSWERED", timeout=10)
            call = wait_for(
                lambda: (i := Interaction.get_or_none(Interaction.callback_of == original.id)) and i.answered_at and i,
                10,
                what="the callback's call answered",
            )
            running.choose_status(EMAIL[BOB], "available")
            with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:
                answer = app.post(f"/api/v1/interactions/{call.id}/transfer", json={"to": {"agent_id": BOB}})
                assert answer.status_code == 202, answer.text
            bob.wait_for("ANSWERED", timeout=15)
            wait_for(lambda: not bridged(running, "PJSIP/desk1-"), 10, what="Alice off the call")
            wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
            done = wait_for(
                lambda: (i := Interaction.get_by_id(call.id)).status == "recent" and i, 20, what="the callback's end"
            )
    assert done.outcome == "answered" and done.recording, "the callback's recording"
    assert done.agent_id == BOB
    legs = list(CallLeg.select().where(CallLeg.interaction == done).order_by(CallLeg.joined_at, CallLeg.id))
    assert [(leg.agent_id, leg.left_at is not None) for leg in legs] == [(ALICE, True), (BOB, True)]
    assert legs[0].left_at <= legs[1].joined_at  # a blind transfer: Alice left before Bob answered
    wait_for(lambda: Agent.get_by_id(BOB).status_reason == "wrap_up", 10, what="Bob's wrap-up")
    assert Agent.get_by_id(ALICE).status_reason == "wrap_up"
    recording = running.settings.data_dir / done.recording
    wait_for(lambda: spoken(recording, longest=60), 10, what=f"Bob's voice in {recording}")
    assert seconds(recording) >= 5
