"""Texting end to end: `leadcenter run` bound over SMPP to a real third-party SMSC implementation (npm `smpp` in
server mode, tests/smsc/smsc.js) on loopback. The tests act as agents (REST, event stream) and as phones (the
SMSC's control interface), and check what each side observes: the exact text the SMSC decoded, the rows, the
events on the agents' streams."""

from __future__ import annotations

from collections import Counter

import pytest
from harness import ADS_LINE, SECOND_SMSC_NUMBER, wait_for
from peer import SmscPeer
from test_event_stream import Agent

from leadcenter.accounts.models import Company
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.texts.models import OutboxPart, TextConsent
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

ALICE = "alice@acme.example"


def smsc_health(system, name: str = "smsc") -> dict:
    """One bind's state and counters."""
    return next(s for s in system.sms_health().get("smscs", []) if s["name"] == name)


@pytest.fixture
def alice(texting):
    agent = Agent(texting, ALICE)
    yield agent
    agent.close()


def send(agent: Agent, to: str, body: str, number: str = ADS_LINE):
    number_id = TrackingNumber.get(TrackingNumber.number == number).id
    return agent.http.post("/api/v1/texts", json={"to": to, "body": body, "tracking_number_id": number_id})


def text_at_smsc(smsc: SmscPeer, to: str, timeout: float = 10) -> dict:
    return smsc.wait(lambda e: e["event"] == "text" and e["to"] == to, timeout, f"a text to {to}")


def message_status(message_id: int, status: str, timeout: float = 10) -> Message:
    return wait_for(
        lambda: (m := Message.get_by_id(message_id)).status == status and m,
        timeout,
        what=f"message {message_id} to be {status}",
    )


def test_gsm7_and_ucs2_round_trips_with_exact_text(alice, smsc):
    gsm = "Your quote: {€120} [ok] ~ ^ | 100% sure @ Müller's §3"
    answer = send(alice, "(404) 555-2001", gsm)
    assert answer.status_code == 201, answer.text
    received = text_at_smsc(smsc, "+14045552001")
    assert (received["text"], received["data_coding"], received["from"]) == (gsm, 0, ADS_LINE)
    message_id = answer.json()["id"]
    delivered_event = alice.wait_event("message.delivered", 10, message={"id": message_id})["data"]["message"]
    assert (delivered_event["status"], delivered_event["body"]) == ("delivered", gsm)
    delivered = Message.get_by_id(message_id)
    assert delivered.sent_at and delivered.delivered_at
    assert delivered.external_id == received["message_ids"][0]  # the SMSC's message_id is kept

    ucs2 = "Привет! Your plumber is on the way 🚐😀"
    answer = send(alice, "+14045552002", ucs2)
    assert answer.status_code == 201, answer.text
    received = text_at_smsc(smsc, "+14045552002")
    assert (received["text"], received["data_coding"]) == (ucs2, 8)
    message_status(answer.json()["id"], "delivered")


def test_three_part_texts_both_ways(alice, smsc, texting):
    # Outbound: the euro (a GSM escape) and the emoji (a surrogate pair) sit on the part boundaries.
    gsm = "a" * 152 + "€" + "b" * 150 + "c" * 10
    answer = send(alice, "+14045552003", gsm)
    assert answer.status_code == 201, answer.text
    received = text_at_smsc(smsc, "+14045552003")
    assert (received["text"], received["parts"]) == (gsm, 3)
    ucs2 = "x" * 66 + "😀" + "Ж" * 100
    send(alice, "+14045552004", ucs2)
    received = text_at_smsc(smsc, "+14045552004")
    assert (received["text"], received["parts"]) == (ucs2, 3)
    message_status(answer.json()["id"], "delivered")

    # Inbound: the SMSC cuts the bytes in three anywhere; the text is whole once all three are in.
    mo = "Hi! Can you come Tuesday? 😀 The sink in the kitchen leaks again. " * 2
    smsc.command(cmd="mo", to=ADS_LINE, text=mo, parts=3, **{"from": "+14045552005"})
    smsc.wait(
        lambda e: e["event"] == "mo_resp" and e["from"] == "+14045552005" and e["part"] == 3,
        10,
        "the third part acknowledged",
    )
    stored = Message.select().where(Message.direction == "inbound", Message.body == mo).first()
    assert stored is not None, "acknowledged before it was stored"
    assert stored.interaction.lead_number == "+14045552005" and stored.interaction.status == "incoming"


def test_receipts_delivered_and_undeliverable_reach_the_agent(alice, smsc):
    smsc.command(cmd="receipts", to="+14045552010", stat="UNDELIV")
    delivered = send(alice, "+14045552011", "Reaches the phone").json()
    failed = send(alice, "+14045552010", "Never reaches the phone").json()
    event = alice.wait_event("message.failed", 10, message={"id": failed["id"]})
    assert event["data"]["message"]["status"] == "failed" and "UNDELIV" in event["data"]["message"]["status_reason"]
    message_status(delivered["id"], "delivered")
    row = Message.get_by_id(failed["id"])
    assert (row.status, row.failed_at is not None) == ("failed", True)
    assert "UNDELIV" in row.status_reason
    thread = alice.http.get(f"/api/v1/interactions/{row.interaction_id}/messages").json()
    assert [(m["body"], m["status"]) for m in thread] == [("Never reaches the phone", "failed")]


def test_permanent_refusal_fails_with_the_reason(alice, smsc):
    smsc.command(cmd="reject", to="+14045552012", status=0x0B)
    failed = send(alice, "+14045552012", "To a number the SMSC refuses").json()
    event = alice.wait_event("message.failed", 10, message={"id": failed["id"]})
    assert event["data"]["message"]["status"] == "failed"
    assert "0x0000000b" in event["data"]["message"]["status_reason"]


def test_throttling_backs_off_and_sends_each_text_once(alice, smsc):
    smsc.command(cmd="throttle", count=6, status=0x58)
    bodies = [f"Throttled {n}" for n in range(5)]
    ids = [send(alice, "+14045552020", body).json()["id"] for body in bodies]
    for message_id in ids:
        message_status(message_id, "delivered", 20)
    seen = Counter(e["text"] for e in smsc.seen("text") if e["to"] == "+14045552020")
    assert seen == Counter(bodies)
    assert len([e for e in smsc.seen("throttled") if e["to"] == "+14045552020"]) == 6


def test_bad_input_is_refused_and_nothing_is_sent(alice, smsc, texting):
    before = len(smsc.seen("submit"))
    number_id = TrackingNumber.get(TrackingNumber.number == ADS_LINE).id
    other = Company.create(name="Other Co")
    other_number = TrackingNumber.create(
        company=other,
        number="+14045551199",
        name="Theirs",
        trunk=Trunk.create(company=other, name="T", host="127.0.0.9"),
    )
    cases = [
        ({"to": "+14045552030", "body": "", "tracking_number_id": number_id}, 422, "invalid-fields"),
        ({"to": "+14045552030", "body": "   ", "tracking_number_id": number_id}, 422, "empty-text"),
        ({"to": "+14045552030", "body": "€" * 800, "tracking_number_id": number_id}, 422, "text-too-long"),
        ({"to": "12", "body": "Hi", "tracking_number_id": number_id}, 422, "invalid-number"),
        ({"to": "+14045552030", "body": "Hi", "tracking_number_id": other_number.id}, 404, "not-found"),
        ({"to": "+14045552030", "body": "Hi", "tracking_number_id": number_id, "from": "x"}, 422, "invalid-fields"),
    ]
    for body, status, error in cases:
        answer = alice.http.post("/api/v1/texts", json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), body
    assert not Message.select().join(Interaction).where(Interaction.lead_number == "+14045552030").exists()
    assert len(smsc.seen("submit")) == before


def test_an_inbound_text_waits_in_incoming_until_respond_then_close_and_reopen(alice, smsc, texting):
    bob = Agent(texting, "bob@acme.example")
    try:
        smsc.command(cmd="mo", to=ADS_LINE, text="Do you fix water heaters?", **{"from": "+14045552040"})
        created = alice.wait_event(
            "interaction.created", 10, interaction={"kind": "text", "status": "incoming", "lead_number": "+14045552040"}
        )
        assert bob.wait_event("interaction.created", 5)["seq"] == created["seq"]
        interaction_id = created["data"]["interaction"]["id"]
        assert created["data"]["interaction"]["last_message"]["body"] == "Do you fix water heaters?"
        incoming = [i["id"] for i in alice.http.get("/api/v1/inbox").json()["incoming"]]
        assert interaction_id in incoming

        answer = alice.http.post(f"/api/v1/interactions/{interaction_id}/respond")
        assert answer.status_code == 200 and answer.json()["status"] == "active", answer.text
        alice_id = alice.http.get("/api/v1/me/agent").json()["id"]
        bob.wait_event(
            "interaction.updated",
            5,
            section=None,  # Alice's now: out of Bob's inbox
            interaction={"id": interaction_id, "status": "active", "agent": {"id": alice_id}},
        )
        assert bob.http.post(f"/api/v1/interactions/{interaction_id}/respond").json()["error"] == "illegal-transition"
        reply = alice.http.post(f"/api/v1/interactions/{interaction_id}/messages", json={"body": "We do! When?"})
        assert reply.status_code == 201, reply.text
        assert text_at_smsc(smsc, "+14045552040")["text"] == "We do! When?"
        closed = alice.http.post(f"/api/v1/interactions/{interaction_id}/close").json()
        assert (closed["status"], closed["outcome"]) == ("recent", "answered")

        smsc.command(cmd="mo", to=ADS_LINE, text="Tomorrow 9am?", **{"from": "+14045552040"})
        alice.wait_event(
            "interaction.updated", 10, section="incoming", interaction={"id": interaction_id, "status": "incoming"}
        )
        thread = alice.http.get(f"/api/v1/interactions/{interaction_id}/messages").json()
        assert [m["body"] for m in thread] == ["Do you fix water heaters?", "We do! When?", "Tomorrow 9am?"]
        lead_id = Interaction.get_by_id(interaction_id).lead_id
        timeline = alice.http.get(f"/api/v1/leads/{lead_id}/timeline").json()["items"]
        assert [(i["id"], i["kind"], i["message_count"]) for i in timeline] == [(interaction_id, "text", 3)]
    finally:
        bob.close()


def test_a_text_addressed_without_a_type_of_number_lands_and_one_for_no_number_is_refused(alice, smsc, texting):
    """Many SMSCs send TON 0 / NPI 0 (unknown) with the digits of the number, or national digits: the text reaches
    its tracking number. A text for a number nobody here serves is refused in the deliver_sm_resp (0x0B, invalid
    destination), so the SMSC knows; it was acknowledged and dropped."""
    digits = ADS_LINE.lstrip("+")
    for n, (to, ton) in enumerate(((digits, 0), (digits[1:], 0), (digits[1:], 2))):
        sender = f"+1404555206{n}"
        smsc.command(cmd="mo", to=to, to_ton=ton, to_npi=0, text=f"Addressed {to} ton {ton}", **{"from": sender})
        created = alice.wait_event(
            "interaction.created", 10, interaction={"kind": "text", "status": "incoming", "lead_number": sender}
        )
        interaction = Interaction.get_by_id(created["data"]["interaction"]["id"])
        assert (interaction.lead_number, interaction.tracking_number.number) == (sender, ADS_LINE)
        assert smsc.wait(lambda e, sender=sender: e["event"] == "mo_resp" and e["from"] == sender, 5)["status"] == 0
    smsc.command(
        cmd="mo", from_ton=0, to=digits[1:], to_ton=0, text="From national digits", **{"from": "4045552068"}
    )  # the sender without a type of number too
    wait_for(lambda: Interaction.get_or_none(Interaction.lead_number == "+14045552068"), 10, what="the national sender")

    before = (Message.select().count(), smsc_health(texting)["refused_deliveries"])
    smsc.command(cmd="mo", to="19995550199", to_ton=0, to_npi=0, text="Nobody's", **{"from": "+14045552067"})
    refused = smsc.wait(lambda e: e["event"] == "mo_resp" and e["from"] == "+14045552067", 5)
    assert refused["status"] == 0x0B
    assert Message.select().count() == before[0]
    assert smsc_health(texting)["refused_deliveries"] == before[1] + 1


def test_opt_out_help_and_opt_in(alice, smsc, texting):
    lead = "+14045552050"
    admin = texting.sign_in("admin@acme.example")
    assert (
        admin.patch("/api/v1/company", json={"text_help_reply": "Acme Plumbing: call 404-555-0100."}).status_code == 200
    )
    admin.close()

    smsc.command(cmd="mo", to=ADS_LINE, text="stop", **{"from": lead})
    assert "unsubscribed" in text_at_smsc(smsc, lead)["text"]
    smsc.command(cmd="mo", to=ADS_LINE, text="STOP", **{"from": lead})
    smsc.wait(
        lambda e: (
            e["event"] == "mo_resp"
            and e["from"] == lead
            and len([m for m in smsc.seen("mo_resp") if m["from"] == lead]) == 2
        ),
        10,
        "the second STOP acknowledged",
    )
    refused = send(alice, lead, "Are you still there?")
    assert (refused.status_code, refused.json()["error"]) == (409, "opted-out")

    smsc.command(cmd="mo", to=ADS_LINE, text="Help", **{"from": lead})
    wait_for(
        lambda: any(e["text"] == "Acme Plumbing: call 404-555-0100." for e in smsc.seen("text") if e["to"] == lead),
        10,
        what="the HELP reply",
    )
    smsc.command(cmd="mo", to=ADS_LINE, text="START", **{"from": lead})
    wait_for(
        lambda: any("resubscribed" in e["text"] for e in smsc.seen("text") if e["to"] == lead),
        10,
        what="the opt-in confirmation",
    )
    assert send(alice, lead, "Welcome back").status_code == 201
    texts_to_lead = [e["text"] for e in smsc.seen("text") if e["to"] == lead]
    assert len([t for t in texts_to_lead if "unsubscribed" in t]) == 1  # one confirmation for two STOPs
    consents = [
        (c.action, c.keyword) for c in TextConsent.select().where(TextConsent.number == lead).order_by(TextConsent.id)
    ]
    assert consents == [("opt_out", "STOP"), ("opt_in", "START")]


def test_smsc_killed_and_restarted_mid_batch_loses_nothing(alice, smsc, texting):
    """Zero lost. A part is submitted again only when its answer never came: when the SMSC stored it and died
    before answering, it sees the part twice (SMPP has no idempotency key), with the same user_message_reference
    (the outbox id) so it can tell; at most a window's worth, only around the kill."""
    lead = "+14045552060"
    bodies = [f"Batch text {n:03}" for n in range(80)]
    ids = [send(alice, lead, body).json()["id"] for body in bodies[:40]]
    smsc.wait(lambda e: e["event"] == "text" and e["to"] == lead, 10, "the batch to start")
    smsc.kill()
    ids += [send(alice, lead, body).json()["id"] for body in bodies[40:]]  # while the SMSC is down: queued
    assert Message.get_by_id(ids[-1]).status == "queued"
    wait_for(lambda: texting.sms_health().get("state") != "bound", 10, what="the bind to drop")
    restarted = SmscPeer(smsc.port).start()
    try:
        # Accepted by the SMSC (sent), most also delivered: a receipt the killed SMSC still owed died with it.
        wait_for(
            lambda: all(Message.get_by_id(i).status in ("sent", "delivered") for i in ids),
            30,
            what="every text accepted after the restart",
        )
        runs = (smsc, restarted)
        seen = Counter(e["text"] for run in runs for e in run.seen("text") if e["to"] == lead)
        assert set(seen) == set(bodies), f"lost: {set(bodies) - set(seen)}"
        repeated = {body for body, count in seen.items() if count > 1}
        assert len(repeated) <= texting.settings.smpp.window
        for body in repeated:
            submits = [
                e
                for run in runs
                for e in run.seen("submit")
                if e["to"] == lead and bytes.fromhex(e["hex"]).decode("latin-1") == body
            ]
            assert len({e["reference"] for e in submits}) == 1, f"{body}: a repeat must carry the same reference"
        # Sent after the restart: their receipts come from the new SMSC, a moment after its answers.
        wait_for(
            lambda: all(Message.get_by_id(i).status == "delivered" for i in ids[40:]),
            10,
            what="receipts for the texts sent after the restart",
        )
    finally:
        restarted.stop()


def test_a_controller_killed_mid_send_neither_drops_nor_doubles(alice, smsc, texting):
    lead = "+14045552090"
    smsc.command(cmd="mute", on=True)  # the SMSC takes the submits but answers none of them
    bodies = [f"Mid-send {n:02}" for n in range(10)]
    try:
        ids = [send(alice, lead, body).json()["id"] for body in bodies]
        wait_for(
            lambda: (
                OutboxPart.select().where(OutboxPart.destination == lead, OutboxPart.status == "submitting").count()
                == 10
            ),
            5,
            what="the parts being submitted",
        )
        texting.kill_controller()  # kill -9 while the ten wait for their submit_sm_resp
    finally:
        smsc.command(cmd="mute", on=False)
    texting.start_controller()
    wait_for(
        lambda: all(Message.get_by_id(i).status == "delivered" for i in ids),
        20,
        what="every text delivered after the restart",
    )
    seen = Counter(e["text"] for e in smsc.seen("text") if e["to"] == lead)
    assert seen == Counter(bodies)


def test_the_smsc_unbinding_is_answered_and_the_bind_comes_back(texting, smsc):
    binds = len([e for e in smsc.seen("bind") if e["ok"]])
    smsc.command(cmd="unbind")
    smsc.wait(lambda e: e["event"] == "unbind_resp", 5, "our unbind_resp")
    smsc.wait_count("bind", binds + 1, 10)
    wait_for(lambda: texting.sms_health().get("state") == "bound", 10, what="the bind back")


def test_a_silent_smsc_is_noticed_by_the_enquire_link_watchdog(texting, smsc):
    binds = len([e for e in smsc.seen("bind") if e["ok"]])
    smsc.command(cmd="mute", on=True)
    try:
        # enquire_link after 2 idle seconds, unanswered for 3: the link drops and binds again.
        wait_for(
            lambda: "no answer" in smsc_health(texting)["last_error"],
            15,
            what="the watchdog to drop the silent connection",
        )
    finally:
        smsc.command(cmd="mute", on=False)
    smsc.wait_count("bind", binds + 1, 10)
    wait_for(lambda: texting.sms_health().get("state") == "bound", 10, what="the bind back")
    assert smsc_health(texting)["binds"] >= 2


def fired_once_across_restarts(system, interaction_id: int, hours: int, event: str) -> Interaction:
    """The thread's timer is stored with it: controllers started ``hours`` and a minute later (their texts clock
    shifted) find it due and move the conversation to Recent by ``event``, once, however many start."""
    system.stop_controller()
    later = str(hours * 3600 + 60)
    for _ in range(2):
        system.start_controller(LEADCENTER_TEXTS_CLOCK_OFFSET_SECONDS=later)
        wait_for(lambda: Interaction.get_by_id(interaction_id).status == "recent", 10, what=f"the {event} timer")
        system.stop_controller()
    assert (
        InteractionTransition.select()
        .where(InteractionTransition.interaction == interaction_id, InteractionTransition.event == event)
        .count()
        == 1
    )
    system.start_controller()
    return Interaction.get_by_id(interaction_id)


def test_incoming_text_times_out_after_12_hours_once_across_restarts(texting, smsc):
    smsc.command(cmd="mo", to=ADS_LINE, text="Anyone there?", **{"from": "+14045552070"})
    interaction = wait_for(
        lambda: texting.interaction(lead_number="+14045552070", kind="text"), 10, what="the text's interaction"
    )
    assert interaction.status == "incoming"
    assert fired_once_across_restarts(texting, interaction.id, 12, "time_out").outcome == "timed_out"


def test_an_active_conversation_nobody_writes_in_goes_to_recent_after_24_hours(alice, texting, smsc):
    assert send(alice, "+14045552075", "Your estimate is attached").status_code == 201
    text_at_smsc(smsc, "+14045552075")
    conversation = texting.interaction(lead_number="+14045552075", kind="text")
    assert conversation.status == "active"
    assert fired_once_across_restarts(texting, conversation.id, 24, "go_idle").outcome == "answered"


def test_health_and_the_cli_show_the_bind_and_its_counters(alice, texting):
    send(alice, "+14045552080", "Counted")
    wait_for(lambda: smsc_health(texting)["receipts"] >= 1, 10, what="a receipt counted")
    health = texting.sms_health()
    assert health["state"] == "bound" and set(health["outbox"]) <= {"queued", "submitting"}
    first = smsc_health(texting)
    assert first["state"] == "bound" and first["submitted"] >= 1 and first["accepted"] >= 1
    shown = texting.cli("sms", "status")
    assert "state: bound" in shown and "[smsc]" in shown and "[second]" in shown and "submitted:" in shown


def test_each_smsc_sends_for_its_own_tracking_numbers(alice, smsc, second_smsc):
    answer = send(alice, "+14045552100", "From the Website line", number=SECOND_SMSC_NUMBER)
    assert answer.status_code == 201, answer.text
    received = text_at_smsc(second_smsc, "+14045552100")
    assert (received["text"], received["from"]) == ("From the Website line", SECOND_SMSC_NUMBER)
    message_status(answer.json()["id"], "delivered")  # its receipt, from the second SMSC, found its part
    assert not [e for e in smsc.seen("text") if e["to"] == "+14045552100"]
    second_smsc.command(cmd="mo", to=SECOND_SMSC_NUMBER, text="Saw your website", **{"from": "+14045552101"})
    created = alice.wait_event(
        "interaction.created", 10, interaction={"kind": "text", "status": "incoming", "lead_number": "+14045552101"}
    )
    assert created["data"]["interaction"]["tracking_number"]["number"] == SECOND_SMSC_NUMBER
    assert Interaction.get_by_id(created["data"]["interaction"]["id"]).tracking_number.number == SECOND_SMSC_NUMBER
