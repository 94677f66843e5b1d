"""An agent's own voicemail (leadcenter/voicemail): a message in agentN is that agent's alone: their Incoming (no
one else's inbox, not a supervisor's), the event stream placing it there for them only, Mark handled (theirs only,
once) moving it to their Recent; the email with the recording attached, over the real mail outbox and a real SMTP
server on loopback, when they chose it."""

from __future__ import annotations

import datetime as dt

import pytest
from support import T0, Clock, SyncBus

from leadcenter import catalogue
from leadcenter.agents.models import Agent
from leadcenter.catalogue import Viewer
from leadcenter.config import SmtpSettings
from leadcenter.interactions import notifier
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.services import inbox, incoming_for
from leadcenter.mail import Mailer, OutboundEmail
from leadcenter.voicemail.services import VoicemailEmails, mailbox_owner

AUDIO = b"RIFF" + bytes(range(256)) * 8
VOICEMAIL = "asterisk/spool/voicemail/leadcenter/agent1/INBOX/msg0000.wav"


def message(world, agent, **fields):
    """A call that ended in ``agent``'s own mailbox, as the recorder leaves it."""
    side = world["a"]
    lead = side["leads"][1]
    return Interaction.create(
        company=side["company"],
        lead=lead,
        kind="call",
        direction="inbound",
        tracking_number=side["number"],
        lead_number=lead.phones[0].number,
        status="recent",
        outcome="voicemail",
        started_at=T0,
        status_changed_at=T0 + dt.timedelta(seconds=30),
        ended_at=T0 + dt.timedelta(seconds=30),
        voicemail=VOICEMAIL,
        duration_seconds=75,
        mailbox_agent=agent,
        **fields,
    )


def ids(interactions) -> set[int]:
    return {i.id for i in interactions}


def test_a_message_in_an_agents_mailbox_is_in_their_incoming_alone_until_handled(world):
    alice, bob = world["a"]["agents"]
    left = message(world, alice)
    company_message = message(world, None)  # the company's mailbox: everyone's Recent, as before
    mine, bobs = inbox(world["a"]["company"], alice), inbox(world["a"]["company"], bob)
    supervisors = inbox(world["a"]["company"], None)
    assert left.id in ids(mine.incoming) and left.id not in ids(mine.recent)
    assert left.id not in ids(bobs.incoming) | ids(bobs.active) | ids(bobs.recent)
    assert left.id not in ids(supervisors.incoming)
    assert company_message.id in ids(mine.recent) & ids(bobs.recent)
    assert incoming_for(left) == [alice.id]
    # Offline, Alice still has her messages waiting (the calls of her flows are not offered to her).
    Agent.update(status="offline").where(Agent.id == alice.id).execute()
    assert ids(inbox(world["a"]["company"], Agent.get_by_id(alice.id)).incoming) == {left.id}

    Interaction.update(handled_at=T0 + dt.timedelta(minutes=5)).where(Interaction.id == left.id).execute()
    handled = Interaction.get_by_id(left.id)
    mine, bobs = inbox(world["a"]["company"], Agent.get_by_id(alice.id)), inbox(world["a"]["company"], bob)
    assert left.id in ids(mine.recent) and left.id not in ids(mine.incoming)
    assert left.id not in ids(bobs.recent)
    assert incoming_for(handled) == []


def test_the_stream_places_a_message_in_its_agents_inbox_only():
    def placed(viewer: Viewer, handled_at=None, status="recent", agent=None) -> str:
        interaction = {"status": status, "agent": agent, "mailbox_agent_id": 10, "handled_at": handled_at}
        return catalogue.inbox_section({"interaction": interaction, "incoming_for": [10]}, viewer)

    alice, bob = Viewer(1, "agent", 10), Viewer(1, "agent", 11)
    supervisor = Viewer(1, "supervisor", None)
    assert [placed(v) for v in (alice, bob, supervisor)] == ["incoming", "none", "none"]
    assert [placed(v, "2026-11-26T12:05:00") for v in (alice, bob, supervisor)] == ["recent", "none", "none"]
    # A call Bob answered, then sent to Alice's mailbox (a transfer she did not answer): still Bob's call in his
    # Active and Recent, and the message in Alice's Incoming.
    assert [placed(v, status="active", agent={"id": 11}) for v in (alice, bob)] == ["incoming", "active"]
    assert [placed(v, status="recent", agent={"id": 11}) for v in (alice, bob)] == ["incoming", "recent"]


def test_only_the_mailbox_s_agent_marks_a_message_handled_once(make_client, controller, world):
    alice, bob = world["a"]["agents"]
    left = message(world, alice)
    clients = {}
    for email in ("agent1@a.example", "agent2@a.example", "supervisor@a.example", "agent1@b.example"):
        clients[email] = make_client()
        clients[email].sign_in(email)
    path = f"/api/v1/interactions/{left.id}/handled"
    status, body = clients["agent2@a.example"].post(path)
    assert (status, body["error"]) == (403, "not-your-voicemail")
    status, body = clients["supervisor@a.example"].post(path)
    assert (status, body["error"]) == (409, "not-an-agent")
    status, body = clients["agent1@b.example"].post(path)
    assert (status, body["error"]) == (404, "not-found")
    assert Interaction.get_by_id(left.id).handled_at is None and controller.bus.names() == []

    status, body = clients["agent1@a.example"].post(path)
    assert status == 200 and body["handled_at"] is not None and body["mailbox_agent_id"] == alice.id
    status, again = clients["agent1@a.example"].post(path)
    assert status == 200 and again["handled_at"] == body["handled_at"]
    assert controller.bus.names() == ["interaction.updated"]  # once: the second press changed nothing
    status, box = clients["agent1@a.example"].get("/api/v1/inbox")
    assert left.id in {i["id"] for i in box["recent"]} and left.id not in {i["id"] for i in box["incoming"]}


def test_a_company_message_is_marked_by_nobody(make_client, world):
    left = message(world, None)
    client = make_client()
    client.sign_in("agent1@a.example")
    status, body = client.post(f"/api/v1/interactions/{left.id}/handled")
    assert (status, body["error"]) == (403, "not-your-voicemail")


def test_the_mailbox_owner_is_an_agent_of_the_call_s_company(world):
    alice = world["a"]["agents"][0]
    other = world["b"]["agents"][0]
    company = world["a"]["company"].id
    assert mailbox_owner(f"agent{alice.id}", company) == alice.id
    assert mailbox_owner(f"agent{other.id}", company) is None  # another company's agent: not theirs
    assert mailbox_owner(f"company{company}", company) is None
    assert mailbox_owner("agent999", company) is None


def test_my_email_voicemail_choice(make_client, world):
    client = make_client()
    client.sign_in("agent1@a.example")
    assert client.get("/api/v1/me/agent")[1]["email_voicemail"] is False
    status, body = client.patch("/api/v1/me/agent", {"email_voicemail": True})
    assert status == 200 and body["email_voicemail"] is True
    assert Agent.get_by_id(world["a"]["agents"][0].id).email_voicemail is True


# -- the email --------------------------------------------------------------------------------------------------


@pytest.fixture
def emailing(database, smtp, tmp_path):
    clock = Clock()
    bus = SyncBus(clock)
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", from_address="leads@center.test")
    mailer = Mailer(settings, clock)
    VoicemailEmails(bus, mailer, tmp_path, "https://leads.example/")
    audio = tmp_path / VOICEMAIL
    audio.parent.mkdir(parents=True)
    audio.write_bytes(AUDIO)
    return bus, mailer, audio


def test_a_message_reaches_the_agents_email_with_the_recording_when_they_chose_it(world, smtp, emailing):
    bus, mailer, _ = emailing
    alice, bob = world["a"]["agents"]
    Agent.update(email_voicemail=True).where(Agent.id == alice.id).execute()
    for_alice, for_bob = message(world, alice), message(world, bob)  # Bob did not choose it
    for left in (for_alice, for_bob, for_alice):  # the same message announced twice: one email
        notifier.changed(bus, left)
    assert mailer.send_due() == 1 and OutboundEmail.select().count() == 1
    (received,) = smtp.received
    assert received.rcpt_tos == ["agent1@a.example"]
    assert received.message["Subject"] == "Voicemail from Lead1 A"
    text = received.part("plain")
    assert "Caller: Lead1 A +14045551001" in text and "Called: Line A +14045550100" in text
    assert "Length: 1:15" in text and "https://leads.example/" in text
    (attached,) = received.message.iter_attachments()
    assert attached.get_filename() == f"voicemail-{for_alice.id}.wav" and attached.get_content_type() == "audio/x-wav"
    assert attached.get_content() == AUDIO


def test_a_recording_gone_before_the_email_is_written_fails_that_email(world, smtp, emailing):
    bus, mailer, audio = emailing
    alice = world["a"]["agents"][0]
    Agent.update(email_voicemail=True).where(Agent.id == alice.id).execute()
    notifier.changed(bus, message(world, alice))
    audio.unlink()
    assert mailer.send_due() == 0 and smtp.received == []
    row = OutboundEmail.get()
    assert row.status == "failed" and "unreadable" in row.error


# -- filing a handled message -----------------------------------------------------------------------------------


class Asterisk:
    """AMI VoicemailMove as app_voicemail carries it out (the message renumbered in the folder it goes to), or
    refused (``refuses``)."""

    def __init__(self, data_dir, refuses=False):
        self.data_dir, self.refuses, self.moved = data_dir, refuses, []

    def move_voicemail(self, mailbox, message_id, folder, to_folder):
        return (mailbox, message_id, folder, to_folder)

    def submit(self, verb):
        import concurrent.futures

        from leadcenter.telephony.ami import AmiError

        done = concurrent.futures.Future()
        if self.refuses:
            done.set_exception(AmiError("AMI action VoicemailMove failed: Permission denied"))
            return done
        mailbox, message_id, folder, to_folder = verb
        box = self.data_dir / "asterisk/spool/voicemail/leadcenter" / mailbox
        (box / to_folder).mkdir(exist_ok=True)
        for source in (box / folder).glob("msg0000.*"):
            source.rename(box / to_folder / source.name.replace("msg0000", "msg0003"))
        self.moved.append(verb)
        done.set_result(None)
        return done


def test_a_handled_message_is_filed_in_old_and_its_audio_follows(world, tmp_path):
    from leadcenter.voicemail.services import HandledMessages

    alice = world["a"]["agents"][0]
    inbox_dir = tmp_path / "asterisk/spool/voicemail/leadcenter" / f"agent{alice.id}" / "INBOX"
    inbox_dir.mkdir(parents=True)
    (inbox_dir / "msg0000.txt").write_text(";\n[message]\nmsg_id=1796606584-00000002\nduration=9\n")
    (inbox_dir / "msg0000.wav").write_bytes(AUDIO)
    left = message(world, alice, handled_at=T0)
    Interaction.update(voicemail=f"asterisk/spool/voicemail/leadcenter/agent{alice.id}/INBOX/msg0000.wav").where(
        Interaction.id == left.id
    ).execute()
    left = Interaction.get_by_id(left.id)

    refused = Asterisk(tmp_path, refuses=True)
    assert HandledMessages(refused, tmp_path).file(left) is False  # the light stays on; the audio where it is
    assert Interaction.get_by_id(left.id).voicemail.endswith("/INBOX/msg0000.wav")

    asterisk = Asterisk(tmp_path)
    assert HandledMessages(asterisk, tmp_path).file(left) is True
    assert asterisk.moved == [(f"agent{alice.id}", "1796606584-00000002", "INBOX", "Old")]
    stored = Interaction.get_by_id(left.id).voicemail
    assert stored == f"asterisk/spool/voicemail/leadcenter/agent{alice.id}/Old/msg0003.wav"
    assert (tmp_path / stored).read_bytes() == AUDIO
    # Filed already: nothing more to move.
    assert HandledMessages(asterisk, tmp_path).file(Interaction.get_by_id(left.id)) is False
    assert len(asterisk.moved) == 1
