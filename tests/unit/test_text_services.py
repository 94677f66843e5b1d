"""The texts domain with fakes: a settable clock, a recording bus, and the outbox's listener called as the SMPP
link would call it (no SMSC here; the integration tests use a real one)."""

import datetime as dt

import pytest
import smpplib.consts
from support import T0, Clock, RecordingBus

from leadcenter.config import SmppSettings
from leadcenter.interactions.lifecycle import IllegalTransition
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.sms import encoding
from leadcenter.sms.smpp import Delivery, DeliveryRefused, LockedSequence, e164, parse_receipt_text
from leadcenter.texts import delivery
from leadcenter.texts.models import InboundPart, MessageTransition, OutboxPart, TextConsent, TextThread
from leadcenter.texts.outbox import Outbox, retry_delay
from leadcenter.texts.services import TextRefused, Texts, keyword
from leadcenter.tracking_numbers.models import TrackingNumber

LEAD = "+14045557000"


@pytest.fixture
def setup(world):
    clock, bus = Clock(), RecordingBus()
    outbox = Outbox(bus, on_text=lambda d: texts.receive(d), clock=clock)
    texts = Texts(bus, outbox, served_numbers=None, clock=clock)
    return dict(
        texts=texts,
        outbox=outbox,
        bus=bus,
        clock=clock,
        number=world["a"]["number"],
        company=world["a"]["company"],
        agents=world["a"]["agents"],
    )


def mo(setup, body, sender=LEAD):
    return (
        setup["outbox"]
        .listener("smsc")
        .text(
            Delivery(
                source=sender,
                destination=setup["number"].number,
                data_coding=0,
                udhi=False,
                short_message=encoding.encode(body).parts[0],
            )
        )
    )


def thread(setup, sender=LEAD) -> Interaction:
    return Interaction.get(Interaction.lead_number == sender, Interaction.kind == "text")


def test_an_inbound_text_waits_in_incoming_for_the_numbers_agents_with_a_durable_timer(setup):
    mo(setup, "Hello?")
    interaction = thread(setup)
    assert (interaction.status, interaction.direction) == ("incoming", "inbound")
    assert TextThread.get(TextThread.interaction == interaction).waiting_until == T0 + dt.timedelta(hours=12)
    created = dict(setup["bus"].published)["interaction.created"]
    assert (created["interaction"]["id"], created["interaction"]["status"]) == (interaction.id, "incoming")
    assert created["incoming_for"] == sorted(a.id for a in setup["agents"])  # the flow's team, none Offline
    received = dict(setup["bus"].published)["message.received"]
    assert (received["message"]["body"], received["for_agents"]) == ("Hello?", created["incoming_for"])


def test_the_timer_fires_once_at_12_hours(setup):
    mo(setup, "Hello?")
    setup["clock"].advance(hours=11, minutes=59)
    assert setup["texts"].sweep() == 0
    setup["clock"].advance(minutes=1)
    assert setup["texts"].sweep() == 1 and setup["texts"].sweep() == 0
    interaction = thread(setup)
    assert (interaction.status, interaction.outcome) == ("recent", "timed_out")
    assert InteractionTransition.select().where(InteractionTransition.event == "time_out").count() == 1


def test_respond_stops_the_timer_close_concludes_and_a_new_text_reopens(setup):
    mo(setup, "Hello?")
    agent = setup["agents"][0]
    setup["texts"].respond(thread(setup), agent)
    assert TextThread.get().waiting_until is None
    with pytest.raises(IllegalTransition):
        setup["texts"].respond(thread(setup), setup["agents"][1])
    setup["clock"].advance(hours=13)
    assert setup["texts"].sweep() == 0
    setup["texts"].close(thread(setup))
    assert (thread(setup).status, thread(setup).outcome) == ("recent", "answered")
    mo(setup, "One more thing")
    reopened = thread(setup)
    assert (reopened.status, reopened.outcome, reopened.agent_id) == ("incoming", None, None)
    assert Interaction.select().where(Interaction.kind == "text").count() == 1  # one thread


def test_an_active_conversation_nobody_writes_in_goes_to_recent_after_24_hours(setup):
    mo(setup, "Hello?")
    agent = setup["agents"][0]
    setup["texts"].respond(thread(setup), agent)
    setup["clock"].advance(hours=20)
    setup["texts"].send(setup["company"], agent, setup["number"], LEAD, "Still there?")  # writing keeps it open
    setup["clock"].advance(hours=20)
    mo(setup, "Yes, sorry")  # so does the lead's answer
    setup["clock"].advance(hours=23, minutes=59)
    assert setup["texts"].sweep() == 0 and thread(setup).status == "active"
    setup["clock"].advance(minutes=1)
    assert setup["texts"].sweep() == 1 and setup["texts"].sweep() == 0
    idle = thread(setup)
    assert (idle.status, idle.outcome, idle.agent_id) == ("recent", "answered", agent.id)
    assert InteractionTransition.select().where(InteractionTransition.event == "go_idle").count() == 1
    updated = dict(setup["bus"].published)["interaction.updated"]["interaction"]
    assert (updated["id"], updated["status"], updated["outcome"]) == (idle.id, "recent", "answered")
    # The lead's next text is everyone's again: it waits in Incoming, not in the agent's Active list.
    mo(setup, "One more question")
    assert (thread(setup).status, thread(setup).agent_id) == ("incoming", None)


def test_close_text_stops_the_idle_timer_and_none_keeps_conversations_open(setup, world):
    mo(setup, "Hello?")
    setup["texts"].respond(thread(setup), setup["agents"][0])
    setup["texts"].close(thread(setup))
    assert TextThread.get().idle_until is None
    forever = Texts(setup["bus"], setup["outbox"], None, idle_timeout=None, clock=setup["clock"])
    forever.send(setup["company"], setup["agents"][0], setup["number"], "+14045557001", "Hi")
    setup["clock"].advance(hours=1000)
    assert forever.sweep() == 0 and thread(setup, "+14045557001").status == "active"


def test_a_call_cannot_be_closed_like_a_text(world):
    call = world["a"]["interactions"][0]
    call.status = "active"
    with pytest.raises(IllegalTransition):
        Texts(RecordingBus(), Outbox(RecordingBus(), None, Clock()), None, Clock()).close(call)


def test_sending_stores_first_and_an_agent_writing_takes_the_thread(setup):
    mo(setup, "Hello?")
    agent = setup["agents"][0]
    message = setup["texts"].send(setup["company"], agent, setup["number"], "(404) 555-7000", "Hi! " * 50)
    parts = list(OutboxPart.select().where(OutboxPart.message == message).order_by(OutboxPart.number))
    assert [(p.number, p.total, p.status, p.destination) for p in parts] == [
        (1, 2, "queued", LEAD),
        (2, 2, "queued", LEAD),
    ]
    interaction = thread(setup)
    assert (interaction.status, interaction.agent_id) == ("active", agent.id)
    assert "message.queued" in setup["bus"].names()


@pytest.mark.parametrize(
    "to, body, error",
    [
        (LEAD, "  ", "empty-text"),
        (LEAD, "😀" * 700, "text-too-long"),
        ("123", "Hi", "invalid-number"),
    ],
)
def test_bad_sends_store_nothing(setup, to, body, error):
    with pytest.raises(TextRefused) as refused:
        setup["texts"].send(setup["company"], None, setup["number"], to, body)
    assert refused.value.error == error
    assert not Message.select().exists() and not OutboxPart.select().exists()


def test_a_number_no_smsc_serves_cannot_text(setup):
    texts = Texts(setup["bus"], setup["outbox"], served_numbers={"+14045559999"}, clock=setup["clock"])
    with pytest.raises(TextRefused) as refused:
        texts.send(setup["company"], None, setup["number"], LEAD, "Hi")
    assert refused.value.error == "texting-unavailable"


def test_a_number_with_texting_off_neither_sends_nor_takes_texts(setup):
    setup["number"].texting = False
    setup["number"].save()
    with pytest.raises(TextRefused) as refused:
        setup["texts"].send(setup["company"], None, setup["number"], LEAD, "Hi")
    assert refused.value.error == "texting-unavailable" and "texting is off" in refused.value.message
    with pytest.raises(DeliveryRefused) as refused_in:
        mo(setup, "Hello?")
    assert refused_in.value.status == smpplib.consts.SMPP_ESME_RINVDSTADR
    assert not Message.select().exists() and not OutboxPart.select().exists()


@pytest.mark.parametrize(
    "word",
    ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "opt out", "OPT  OUT"],
)
def test_opt_out_keywords_alone_in_the_message(setup, word):
    mo(setup, word)
    assert TextConsent.get().action == "opt_out"
    with pytest.raises(TextRefused) as refused:
        setup["texts"].send(setup["company"], None, setup["number"], LEAD, "Still there?")
    assert refused.value.error == "opted-out"


def test_a_keyword_inside_a_sentence_is_just_a_text(setup):
    mo(setup, "Please don't stop texting me")
    assert not TextConsent.select().exists()
    assert keyword("  opt   out ") == "OPT OUT"


def test_one_confirmation_per_opt_out_and_opt_in_with_audit(setup):
    for word in ("STOP", "STOP", "START", "UNSTOP", "HELP"):
        setup["clock"].advance(minutes=1)
        mo(setup, word)
    replies = [m.body for m in Message.select().where(Message.direction == "outbound").order_by(Message.id)]
    assert len(replies) == 3
    assert "unsubscribed" in replies[0] and "resubscribed" in replies[1] and "STOP" in replies[2]
    assert [(c.action, c.keyword, c.at) for c in TextConsent.select().order_by(TextConsent.id)] == [
        ("opt_out", "STOP", T0 + dt.timedelta(minutes=1)),
        ("opt_in", "START", T0 + dt.timedelta(minutes=3)),
    ]


def test_help_gets_the_companys_reply(setup):
    setup["company"].text_help_reply = "Acme: call us at 404-555-0100"
    setup["company"].save()
    mo(setup, "help")
    assert Message.get(Message.direction == "outbound").body == "Acme: call us at 404-555-0100"


def test_multipart_reassembled_from_bytes_in_any_order_and_repeats_stored_once(setup):
    text = "Grüße 😀 " * 20
    data = text.encode("utf-16-be")
    cuts = [data[:99], data[99:201], data[201:]]  # inside surrogate pairs
    order = [(3, cuts[2]), (1, cuts[0]), (1, cuts[0]), (2, cuts[1])]
    for number, chunk in order:
        setup["outbox"].listener("smsc").text(
            Delivery(
                source=LEAD,
                destination=setup["number"].number,
                data_coding=encoding.UCS2,
                udhi=True,
                short_message=encoding.udh(42, 3, number) + chunk,
            )
        )
    assert [m.body for m in Message.select()] == [text]
    assert not InboundPart.select().exists()


def delivered(setup, destination, destination_ton, source=LEAD, source_ton=1, body="Hello", **fields):
    return (
        setup["outbox"]
        .listener("smsc")
        .text(
            Delivery(
                source=source,
                destination=destination,
                data_coding=0,
                udhi=False,
                short_message=encoding.encode(body).parts[0],
                source_ton=source_ton,
                destination_ton=destination_ton,
                **fields,
            )
        )
    )


@pytest.mark.parametrize(
    "company, destination, ton",
    [
        ("a", "14045550100", 0),  # no type of number, as many SMSCs send: the digits of an E.164 number
        ("a", "4045550100", 0),  # no type of number, national in the numbers' region (US)
        ("a", "4045550100", 2),  # national
        ("a", "14045550100", 1),
        ("a", "+14045550100", 0),
        ("b", "44207940100", 0),
        ("b", "0207940100", 0),  # national in the other company's region (GB)
        ("b", "0207940100", 2),
    ],
)
def test_a_text_addressed_without_a_type_of_number_reaches_its_tracking_number(setup, world, company, destination, ton):
    number = world[company]["number"]
    delivered(setup, destination, ton, source="+14045557001")
    interaction = Interaction.get(Interaction.lead_number == "+14045557001", Interaction.kind == "text")
    assert interaction.tracking_number_id == number.id and interaction.company_id == number.company_id
    assert [m.body for m in Message.select().where(Message.interaction == interaction)] == ["Hello"]


@pytest.mark.parametrize(
    "source, ton, lead",
    [
        ("4045557002", 0, "+14045557002"),  # national, read in the company's region
        ("14045557002", 0, "+14045557002"),
        ("442079460000", 0, "+442079460000"),  # international without the '+'
        ("4045557002", 2, "+14045557002"),
        ("ACME", 5, "ACME"),  # alphanumeric: as it came
    ],
)
def test_the_sender_is_read_the_same_way(setup, source, ton, lead):
    delivered(setup, "+14045550100", 1, source=source, source_ton=ton)
    assert Interaction.get(Interaction.kind == "text").lead_number == lead


@pytest.mark.parametrize(
    "destination, ton", [("19995550199", 0), ("+19995550199", 1), ("9995550199", 2), ("SHORTCODE", 5), ("", 0)]
)
def test_a_text_for_no_number_we_serve_is_refused_for_good_and_nothing_is_stored(setup, destination, ton):
    with pytest.raises(DeliveryRefused) as refused:
        delivered(setup, destination, ton)
    assert refused.value.status == smpplib.consts.SMPP_ESME_RINVDSTADR
    with pytest.raises(DeliveryRefused):  # a part of a longer one: not kept waiting for the others
        setup["outbox"].listener("smsc").text(
            Delivery(
                source=LEAD,
                destination=destination,
                data_coding=0,
                udhi=True,
                short_message=encoding.udh(7, 2, 1) + b"Hi",
                destination_ton=ton,
            )
        )
    assert not Message.select().exists() and not InboundPart.select().exists()
    assert not Interaction.select().where(Interaction.kind == "text").exists()


def queued_part(setup, body="Hi"):
    message = setup["texts"].send(setup["company"], None, setup["number"], LEAD, body)
    part = OutboxPart.get(OutboxPart.message == message)
    taken = setup["outbox"]._take(10)
    assert [p.id for p in taken] == [part.id]
    return message, part


def test_accepted_then_receipts_move_the_message(setup):
    message, part = queued_part(setup)
    setup["outbox"].accepted([(part.id, "smsc-1")], "smsc")
    assert (Message.get_by_id(message.id).status, Message.get_by_id(message.id).external_id) == ("sent", "smsc-1")
    setup["outbox"].receipts(
        [Delivery(LEAD, setup["number"].number, 0, False, b"", receipt_for="smsc-1", receipt_state="DELIVRD")], "smsc"
    )
    row = Message.get_by_id(message.id)
    assert (row.status, row.sent_at, row.delivered_at) == ("delivered", T0, T0)
    assert [
        (n, data["message"]["id"], data["message"]["status"])
        for n, data in setup["bus"].published
        if n.startswith("message.")
    ] == [
        ("message.queued", message.id, "queued"),
        ("message.sent", message.id, "sent"),
        ("message.delivered", message.id, "delivered"),
    ]  # each carries the message as it was then
    assert [
        (t.event, t.from_status, t.to_status) for t in MessageTransition.select().order_by(MessageTransition.id)
    ] == [("accept", "queued", "sent"), ("deliver", "sent", "delivered")]


def test_a_negative_receipt_fails_with_the_reason(setup):
    message, part = queued_part(setup)
    setup["outbox"].accepted([(part.id, "smsc-2")], "smsc")
    setup["outbox"].receipts(
        [
            Delivery(
                LEAD,
                setup["number"].number,
                0,
                False,
                b"",
                receipt_for="smsc-2",
                receipt_state="UNDELIV",
                receipt_error="001",
            )
        ],
        "smsc",
    )
    row = Message.get_by_id(message.id)
    assert (row.status, row.status_reason) == ("failed", "not delivered: UNDELIV (error 001)")


def test_a_receipt_on_its_way_waits_and_an_unknown_state_fails_the_text(setup):
    message, part = queued_part(setup)
    setup["outbox"].accepted([(part.id, "smsc-3")], "smsc")
    setup["outbox"].receipts(
        [Delivery(LEAD, setup["number"].number, 0, False, b"", receipt_for="smsc-3", receipt_state="ENROUTE")], "smsc"
    )
    assert Message.get_by_id(message.id).status == "sent"  # not an outcome yet
    setup["outbox"].receipts(
        [Delivery(LEAD, setup["number"].number, 0, False, b"", receipt_for="smsc-3", receipt_state="UNKNOWN")], "smsc"
    )
    row = Message.get_by_id(message.id)
    assert (row.status, row.status_reason) == ("failed", "not delivered: UNKNOWN")


def test_throttling_requeues_with_backoff_and_permanent_errors_fail(setup):
    _, part = queued_part(setup)
    setup["outbox"].refused(part.id, smpplib.consts.SMPP_ESME_RTHROTTLED)
    part = OutboxPart.get_by_id(part.id)
    assert (part.status, part.next_attempt_at) == ("queued", T0 + dt.timedelta(seconds=retry_delay(1)))
    assert setup["outbox"]._take(10) == []  # not before its backoff ends
    setup["clock"].advance(seconds=1)
    assert len(setup["outbox"]._take(10)) == 1
    setup["outbox"].refused(part.id, smpplib.consts.SMPP_ESME_RINVDSTADR)
    message = Message.get_by_id(part.message_id)
    assert message.status == "failed" and "0x0000000b" in message.status_reason
    assert [retry_delay(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]


def test_unanswered_and_interrupted_parts_are_queued_again(setup):
    _, part = queued_part(setup)
    setup["outbox"].unanswered([part.id])
    assert OutboxPart.get_by_id(part.id).status == "queued"
    setup["outbox"]._take(10)
    assert setup["outbox"].recover() == 1  # the controller stopped with the part being submitted
    assert OutboxPart.get_by_id(part.id).status == "queued"
    setup["outbox"]._take(10)
    setup["clock"].advance(seconds=60)
    assert setup["outbox"].recover(taken_before=setup["clock"]() - dt.timedelta(seconds=120)) == 0
    setup["clock"].advance(seconds=61)
    assert setup["outbox"].recover(taken_before=setup["clock"]() - dt.timedelta(seconds=120)) == 1


def test_delivery_states_refuse_illegal_moves(setup):
    message, _ = queued_part(setup)
    with pytest.raises(delivery.IllegalMove):
        delivery.MACHINE.move(message, "deliver", T0)
    assert (Message.get_by_id(message.id).status, MessageTransition.select().count()) == ("queued", 0)
    assert delivery.settle(message, ["sent", "queued"], T0) == []
    assert delivery.settle(message, ["delivered", "delivered"], T0) == ["sent", "delivered"]


def test_smpp_helpers():
    sequence = LockedSequence()
    sequence._sequence = LockedSequence.MAX
    assert sequence.next_sequence() == 1
    assert e164("14045550100", 1) == "+14045550100" and e164("ACME", 5) == "ACME"
    assert parse_receipt_text(
        "id:ab-1 sub:001 dlvrd:000 submit date:2611270900 done date:2611270900 stat:UNDELIV err:001 text:"
    ) == {"id": "ab-1", "stat": "UNDELIV", "err": "001"}


def test_the_api_sends_previews_and_refuses(client, world):
    client.sign_in("agent1@a.example")
    number_id = world["a"]["number"].id
    status, data = client.post("/api/v1/texts/draft", {"body": "ok 👍"})
    assert (status, data) == (
        200,
        {"encoding": "ucs2", "parts": 1, "characters": 5, "characters_left": 65, "max_parts": 10},
    )
    status, data = client.post("/api/v1/texts", {"to": LEAD, "body": "Hello", "tracking_number_id": number_id})
    assert status == 201 and data["status"] == "queued"
    interaction_id = data["interaction_id"]
    status, thread_messages = client.get(f"/api/v1/interactions/{interaction_id}/messages")
    assert [m["body"] for m in thread_messages] == ["Hello"]
    status, data = client.post(f"/api/v1/interactions/{interaction_id}/respond")
    assert (status, data["error"]) == (409, "illegal-transition")
    status, data = client.post(f"/api/v1/interactions/{world['a']['interactions'][0].id}/messages", {"body": "x"})
    assert (status, data["error"]) == (409, "not-a-conversation")
    status, data = client.post("/api/v1/texts", {"to": "nope", "body": "Hello", "tracking_number_id": number_id})
    assert (status, data["error"], list(data["fields"])) == (422, "invalid-number", ["to"])


class FakeLink:
    """A bound SMPP link that records what it was given."""

    def __init__(self):
        self.bound = True
        self.settings = SmppSettings(host="127.0.0.1", response_timeout_seconds=1)
        self.submitted = []

    def submit(self, submission, wait):
        self.submitted.append(submission.source)


def test_each_smsc_sends_for_its_numbers_and_a_catch_all_for_the_rest(setup, world):
    other = TrackingNumber.create(
        company=setup["company"], number="+14045550111", name="Other line", trunk=world["a"]["trunk"]
    )
    named, catch_all = FakeLink(), FakeLink()
    setup["outbox"].attach(named, frozenset({"+14045550111"}))
    setup["outbox"].attach(catch_all, None)
    for number in (setup["number"], other, setup["number"]):
        setup["texts"].send(setup["company"], None, number, LEAD, "Hi")
    for link, numbers in setup["outbox"].routes:
        setup["outbox"]._submit_all(link, setup["outbox"]._take(10, numbers))
    assert named.submitted == ["+14045550111"]
    assert catch_all.submitted == [setup["number"].number] * 2


def test_receipts_are_matched_within_the_smsc_that_accepted_the_part(setup):
    message, part = queued_part(setup)
    setup["outbox"].accepted([(part.id, "same-id")], "first")
    setup["outbox"].receipts(
        [Delivery(LEAD, setup["number"].number, 0, False, b"", receipt_for="same-id", receipt_state="UNDELIV")],
        "second",
    )  # another SMSC's message
    assert Message.get_by_id(message.id).status == "sent"
    setup["outbox"].receipts(
        [Delivery(LEAD, setup["number"].number, 0, False, b"", receipt_for="same-id", receipt_state="DELIVRD")], "first"
    )
    assert Message.get_by_id(message.id).status == "delivered"
