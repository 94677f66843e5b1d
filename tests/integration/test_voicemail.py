"""Call flows edited live and voicemail: an admin shortens the queue step through the API (Asterisk reloads, no
restart); with no agent to answer, the caller reaches the company's voicemail and the message becomes the call's
outcome, with its audio, on the lead's timeline."""
from __future__ import annotations

import contextlib

import pytest
from harness import wait_for
from test_calls import Peers

from leadcenter.flows.models import CallFlow


@pytest.fixture
def peers(running, tmp_path):
    peers = Peers(running, tmp_path)
    yield peers
    peers.close()


@pytest.fixture
def admin(running):
    with contextlib.closing(running.sign_in("admin@acme.example")) as client:
        yield client


@pytest.fixture
def short_queue(running, admin):
    """The demo flow with a 5 s queue step, saved through the API like an admin would."""
    flow = CallFlow.get(CallFlow.name == "Main line")
    before = flow.steps
    team = before[0]["team"]
    answer = admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": [
        {"type": "queue", "team": team, "timeout": 5}, {"type": "voicemail"}]})
    assert answer.status_code == 200, answer.text
    yield flow
    assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200


def test_flow_edit_applies_live_and_a_message_becomes_a_voicemail_interaction(running, peers, admin,
                                                                              short_queue):
    wait_for(lambda: "(lc-step-queue,s,1(team1,5))" in (running.instance.rx("dialplan show lc-flow-1") or ""),
             5, what="the edited flow in Asterisk's dialplan")
    # The caller waits 5 s in the queue, hears the greeting, and speaks after the beep.
    result = peers.call("+14045550301", duration=24, speak_at=14).wait(40)
    assert result.answered  # by Asterisk: hold music, then the mailbox
    call = wait_for(lambda: (i := running.interaction(lead_number="+14045550301")) and i.status == "recent" and i,
                    10, what="the call to conclude")
    assert call.outcome == "voicemail" and call.agent_id is None
    assert call.duration_seconds and call.duration_seconds >= 3
    audio = running.settings.data_dir / call.voicemail
    assert audio.exists() and "INBOX" in call.voicemail
    served = admin.get(f"/api/v1/interactions/{call.id}/voicemail")
    assert served.status_code == 200 and served.content[:4] == b"RIFF"
    timeline = admin.get(f"/api/v1/leads/{call.lead_id}/timeline").json()
    assert [item["id"] for item in timeline["items"]] == [call.id]
