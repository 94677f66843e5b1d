"""An agent's own voicemail end to end: a flow's voicemail step names Alice; a caller leaves a message. It reaches
Alice's Incoming only (Bob's inbox does not show it), lights her SIPp desk phone's message-waiting indicator
(Asterisk's unsolicited NOTIFY, Messages-Waiting: yes), and, as she chose, reaches the test's SMTP server as an
email with the recording attached. Marking it handled moves it to her Recent and puts her phone's light out; Bob
cannot mark it."""

from __future__ import annotations

import contextlib

import pytest
from harness import wait_for

from leadcenter.flows.models import CallFlow

ALICE, BOB = 1, 2
CALLER = "+14045550311"


@pytest.fixture
def alices_mailbox_flow(emailing):
    """The demo flow straight to Alice's mailbox, saved through the API like an admin would; put back after."""
    system, _ = emailing
    flow = CallFlow.get(CallFlow.name == "Main line")
    before = flow.steps
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        answer = admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": [{"type": "voicemail", "agent": ALICE}]})
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: f"(lc-step-voicemail,s,1(agent{ALICE}))" in (system.instance.rx("dialplan show lc-flow-1") or ""),
            5,
            what="the edited flow in Asterisk's dialplan",
        )
        yield flow
        assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200


def test_a_message_in_alices_mailbox_is_hers_alone_lights_her_phone_and_reaches_her_email(
    emailing, peers, alices_mailbox_flow
):
    system, smtp = emailing
    with (
        contextlib.closing(system.sign_in("alice@acme.example")) as alice,
        contextlib.closing(system.sign_in("bob@acme.example")) as bob,
        peers.phone(ALICE, mwi=True) as desk,
    ):
        assert alice.patch("/api/v1/me/agent", json={"email_voicemail": True}).json()["email_voicemail"] is True
        # The greeting, the beep, then the caller speaks and hangs up.
        assert peers.call(CALLER, duration=20, speak_at=12).wait(40).answered
        call = wait_for(
            lambda: (i := system.interaction(lead_number=CALLER)) and i.status == "recent" and i,
            10,
            what="the call to conclude",
        )
        assert call.outcome == "voicemail" and call.duration_seconds and call.duration_seconds >= 3

        inbox = alice.get("/api/v1/inbox").json()
        mine = [i for i in inbox["incoming"] if i["id"] == call.id]
        assert mine and mine[0]["mailbox_agent_id"] == ALICE and mine[0]["handled_at"] is None
        audio = alice.get(mine[0]["voicemail_url"])
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        bobs = bob.get("/api/v1/inbox").json()
        assert call.id not in {i["id"] for part in ("incoming", "active", "recent") for i in bobs[part]}

        wait_for(
            lambda: ("message-summary", "yes") in {(event, waiting) for event, waiting, _ in desk.messages_waiting},
            10,
            what="Alice's desk phone to get a NOTIFY with Messages-Waiting: yes",
        )

        email = wait_for(
            lambda: next((m for m in smtp.received if "alice@acme.example" in m.rcpt_tos), None),
            15,
            what="the voicemail email at the SMTP server",
        )
        assert email.message["Subject"] == f"Voicemail from {CALLER}"
        attached = list(email.message.iter_attachments())
        assert [part.get_filename() for part in attached] == [f"voicemail-{call.id}.wav"]
        assert attached[0].get_content() == (system.settings.data_dir / call.voicemail).read_bytes()

        refused = bob.post(f"/api/v1/interactions/{call.id}/handled")
        assert refused.status_code == 403 and refused.json()["error"] == "not-your-voicemail"
        handled = alice.post(f"/api/v1/interactions/{call.id}/handled")
        assert handled.status_code == 200 and handled.json()["handled_at"]
        inbox = alice.get("/api/v1/inbox").json()
        assert call.id not in {i["id"] for i in inbox["incoming"]} and call.id in {i["id"] for i in inbox["recent"]}
        # Her last new message handled: the phone's light goes off; the message is still hers to play.
        wait_for(
            lambda: desk.messages_waiting[-1][1] == "no",
            10,
            what="Alice's desk phone to get a NOTIFY with Messages-Waiting: no",
        )
        assert alice.get(handled.json()["voicemail_url"]).content == audio.content
        alice.patch("/api/v1/me/agent", json={"email_voicemail": False})
