"""Queue callback with real calls: a caller waiting in the Sales queue presses 1 and hangs up; their place is kept
through a controller killed and started again; when an agent frees, the agent's desk phone is connected to a call
the carrier receives, with the tracking number as caller ID, and the callback's interaction names the call the lead
asked in."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from harness import ADS_LINE, wait_for
from sipp import Call, SippCaller
from test_availability import EMAIL
from test_calls import ALICE, BOB
from test_verbs import carrier

from leadcenter.callbacks.models import Callback
from leadcenter.interactions.models import Interaction
from leadcenter.teams.models import Team

LEAD = "+14045550917"  # a number no other test calls from: the lead's interaction is the newest with it
AHEAD, BEHIND = "+14045550916", "+14045550918"  # callers who join the queue before and after the lead


@pytest.fixture
def callbacks(running):
    """The demo team Sales offers callbacks (through the admin API, as the console does), until the test ends."""
    team = Team.get(Team.name == "Sales")
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        answer = admin.patch(f"/api/v1/teams/{team.id}", json={"callback_enabled": True})
        assert answer.status_code == 200, answer.text
        wait_for(lambda: "context = lc-callback-offer" in _queue_config(running), 5, what="the queue's exit context")
        # A caller takes the queue's parameters as they are when they join it: Asterisk reads them now, rather than
        # when the controller's reload gets its turn on a busy machine (parameters only: members and pauses stay).
        running.instance.rx(f"queue reload parameters {team.queue_name}")
        yield team
        assert admin.patch(f"/api/v1/teams/{team.id}", json={"callback_enabled": False}).status_code == 200


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
