"""An agent's own voicemail end to end: a flow's voicemail step names Alice; she chose voicemail emails in her
profile (Chromium); a caller leaves a message. It reaches Alice's Incoming only, with the count in her app and the
audio served (Bob's inbox does not show it), lights her SIPp desk phone's message-waiting indicator (Asterisk's
unsolicited NOTIFY, Messages-Waiting: yes), and reaches the test's SMTP server as an email with the recording
attached. Bob cannot mark it handled; Alice's Mark handled moves it to her Recent and puts her phone's light out."""

from __future__ import annotations

import contextlib

import pytest
from browser import Browser
from harness import wait_for
from playwright.sync_api import expect

from leadcenter.agents.models import Agent
from leadcenter.flows.models import CallFlow

ALICE, BOB = 1, 2
CALLER = "+14045550391"


@pytest.fixture
def alices_mailbox_flow(emailing):
    """The demo flow straight to Alice's mailbox, saved through the API like an admin would; put back after, as
    Alice's email choice is."""
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
    Agent.update(email_voicemail=False).where(Agent.id == ALICE).execute()


def test_a_message_in_alices_mailbox_is_hers_alone_lights_her_phone_and_reaches_her_email(
    emailing, peers, alices_mailbox_flow, tmp_path
):
    system, smtp = emailing
    with (
        Browser() as browser,
        contextlib.closing(system.sign_in("bob@acme.example")) as bob,
        peers.phone(ALICE, mwi=True) as desk,
    ):
        app = browser.agent(system, "alice@acme.example", wait_registered=False)
        page = app.page
        page.get_by_role("button", name="Profile").click()
        page.locator("#profile fieldset", has_text="Email me").get_by_label("when a caller leaves a message").check()
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#profile .saved-marker")).to_have_text("Saved")

        # The greeting, the beep, then the caller speaks and hangs up.
        assert peers.call(CALLER, duration=20, speak_at=12).wait(40).answered
        row = app.row("incoming", CALLER)
        expect(row.get_by_role("button", name="Mark handled")).to_be_visible()
        expect(page.locator(".me-voicemail")).to_have_text("1 new voicemail")
        call = system.interaction(lead_number=CALLER)
        assert call.outcome == "voicemail" and call.mailbox_agent_id == ALICE and call.duration_seconds >= 3
        audio = page.request.get(system.url + row.get_by_role("link", name="Listen").get_attribute("href"))
        assert audio.status == 200 and audio.body()[:4] == b"RIFF"
        row.get_by_role("button", name=CALLER).click()  # the panel: the message's length and its player
        expect(page.locator("#panel audio").first).to_be_attached()
        app.screenshot("agent-voicemail", tmp_path)
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
        assert attached[0].get_content() == audio.body()

        refused = bob.post(f"/api/v1/interactions/{call.id}/handled")
        assert refused.status_code == 403 and refused.json()["error"] == "not-your-voicemail"
        in_recent = app.same_row("recent", row)  # (taken while the row is in Incoming)
        row.get_by_role("button", name="Mark handled").click()
        expect(in_recent).to_be_visible()
        expect(app.row("incoming", CALLER)).to_have_count(0)
        expect(page.locator(".me-voicemail")).to_have_count(0)
        # Her last new message handled: the phone's light goes out; the message is still hers to play.
        wait_for(
            lambda: desk.messages_waiting[-1][1] == "no",
            10,
            what="Alice's desk phone to get a NOTIFY with Messages-Waiting: no",
        )
        moved = system.interaction(id=call.id)
        assert "/Old/" in moved.voicemail and (system.settings.data_dir / moved.voicemail).read_bytes() == audio.body()
        assert app.errors == []
