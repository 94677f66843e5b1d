"""Call flows edited live and voicemail: an admin shortens the queue step through the API (Asterisk reloads, no
restart); with no agent to answer, the caller reaches the company's voicemail and the message becomes the call's
outcome, with its audio, on the lead's timeline."""

from __future__ import annotations

import contextlib
import io
import math
import struct
import wave

import pytest
from harness import wait_for
from rtp_capture import RtpCapture

from leadcenter.flows.models import CallFlow


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
    answer = admin.patch(
        f"/api/v1/flows/{flow.id}",
        json={"steps": [{"type": "queue", "team": team, "timeout": 5}, {"type": "voicemail"}]},
    )
    assert answer.status_code == 200, answer.text
    yield flow
    assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200


def test_flow_edit_applies_live_and_a_message_becomes_a_voicemail_interaction(running, peers, admin, short_queue):
    wait_for(
        lambda: "(lc-step-queue,s,1(team1,5))" in (running.instance.rx("dialplan show lc-flow-1") or ""),
        5,
        what="the edited flow in Asterisk's dialplan",
    )
    # The caller waits 5 s in the queue, hears the greeting, and speaks after the beep.
    result = peers.call("+14045550301", duration=24, speak_at=14).wait(40)
    assert result.answered  # by Asterisk: hold music, then the mailbox
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550301")) and i.status == "recent" and i,
        10,
        what="the call to conclude",
    )
    assert call.outcome == "voicemail" and call.agent_id is None
    assert call.duration_seconds and call.duration_seconds >= 3
    audio = running.settings.data_dir / call.voicemail
    assert audio.exists() and "INBOX" in call.voicemail
    served = admin.get(f"/api/v1/interactions/{call.id}/voicemail")
    assert served.status_code == 200 and served.content[:4] == b"RIFF"
    timeline = admin.get(f"/api/v1/leads/{call.lead_id}/timeline").json()
    assert [item["id"] for item in timeline["items"]] == [call.id]


def tone(frequency: float, seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(
            b"".join(
                struct.pack("<h", int(9000 * math.sin(2 * math.pi * frequency * n / 16000)))
                for n in range(int(seconds * 16000))
            )
        )
    return out.getvalue()


NOTICE_HZ, GREETING_HZ = 700, 450  # far from the hold music's notes and the voicemail beep


@pytest.fixture
def recorded_prompts(running, admin):
    """The company's own recording notice and mailbox greeting, uploaded like an admin would, and a flow that
    records with the notice, queues 5 s and goes to the company's voicemail."""
    flow = CallFlow.get(CallFlow.name == "Main line")
    before = {"steps": flow.steps, "record": flow.record, "announce_recording": flow.announce_recording}
    for path, hz in (
        ("/api/v1/company/recording-notice", NOTICE_HZ),
        ("/api/v1/company/voicemail-greeting", GREETING_HZ),
    ):
        answer = admin.put(path, content=tone(hz, 1.5), headers={"Content-Type": "audio/wav"})
        assert answer.status_code == 200, answer.text
    answer = admin.patch(
        f"/api/v1/flows/{flow.id}",
        json={
            "record": True,
            "announce_recording": True,
            "steps": [{"type": "queue", "team": before["steps"][0]["team"], "timeout": 5}, {"type": "voicemail"}],
        },
    )
    assert answer.status_code == 200, answer.text
    wait_for(
        lambda: "(lc-step-queue,s,1(team1,5))" in (running.instance.rx("dialplan show lc-flow-1") or ""),
        5,
        what="the edited flow in Asterisk's dialplan",
    )
    yield flow
    assert admin.patch(f"/api/v1/flows/{flow.id}", json=before).status_code == 200
    for path in ("/api/v1/company/recording-notice", "/api/v1/company/voicemail-greeting"):
        assert admin.delete(path).status_code == 204


def test_the_caller_hears_the_company_s_own_recording_notice_then_its_greeting(running, peers, recorded_prompts):
    asterisk = running.settings.asterisk
    with RtpCapture(asterisk.rtp_start, asterisk.rtp_end) as heard:
        result = peers.call("+14045550302", duration=12).wait(30)
    assert result.answered
    notice, greeting = heard.tone_at(NOTICE_HZ), heard.tone_at(GREETING_HZ)
    assert notice, f"no {NOTICE_HZ} Hz notice in {len(heard.samples) / 8000:.1f} s of audio to the caller"
    assert greeting, f"no {GREETING_HZ} Hz greeting in {len(heard.samples) / 8000:.1f} s of audio to the caller"
    # The notice first, then 5 s in the queue (hold music), then the mailbox's greeting.
    assert max(notice) < min(greeting) and min(greeting) - min(notice) >= 5


def test_when_everyone_declines_the_call_goes_to_voicemail_and_the_message_is_kept(running, peers):
    from test_calls import ALICE, BOB

    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB, answer=False) as bob:
        handle = peers.call("+14045550303", duration=22, speak_at=10)
        row = running.wait_interaction(lead_number="+14045550303", status="incoming")
        wait_for(lambda: alice.invite_count + bob.invite_count >= 1, 10, what="the queue ringing an agent")
        answers = []
        for email in ("alice@acme.example", "bob@acme.example"):
            with contextlib.closing(running.sign_in(email)) as app:
                answers.append(app.post(f"/api/v1/interactions/{row.id}/decline").json())
        assert [a["passed_to_next_step"] for a in answers] == [False, True]
        handle.wait(40).check()
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550303")) and i.status == "recent" and i,
        10,
        what="the call to conclude",
    )
    assert call.outcome == "voicemail" and call.agent_id is None
    assert (running.settings.data_dir / call.voicemail).is_file() and call.duration_seconds >= 3


def test_a_caller_who_hangs_up_while_waiting_is_abandoned(running, peers):
    peers.call("+14045550304", duration=3).wait(20).check()  # nobody's phone is registered: the caller waits
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550304")) and i.status == "recent" and i,
        10,
        what="the call to conclude",
    )
    assert call.outcome == "abandoned" and call.agent_id is None and call.answered_at is None
