"""The SMPP link's handling of each PDU, with a fake smpplib client (no socket): error responses are refusals,
the SMSC's unbind is answered, a deliver_sm is answered only after the listener stored it (a temporary error when
it could not), receipts are answered after their batch, and accepted submits are handed over before any deliver_sm."""

import time

import pytest
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from leadcenter.config import SmppSettings
from leadcenter.sms.smpp import DeliveryRefused, NotBound, SmppLink, Submission


class FakeClient:
    """What SmppLink uses of smpplib's Client: a sequence source and send_pdu (recorded)."""

    def __init__(self, link):
        self.link = link
        self.sent = []

    @property
    def sequence(self):
        return self.link.sequence.sequence

    def next_sequence(self):
        return self.link.sequence.next_sequence()

    def send_pdu(self, pdu):
        self.sent.append(pdu)


class Listener:
    def __init__(self):
        self.calls = []
        self.deliveries = []
        self.fail_texts = False

    def accepted(self, results):
        self.calls.append(("accepted", results))

    def refused(self, key, status):
        self.calls.append(("refused", key, status))

    def unanswered(self, keys):
        self.calls.append(("unanswered", keys))

    def text(self, delivery):
        if self.fail_texts:
            raise RuntimeError("database is locked")
        if delivery.destination == "19995550199":
            raise DeliveryRefused(smpplib.consts.SMPP_ESME_RINVDSTADR, "not a tracking number")
        self.calls.append(("text", delivery.source, delivery.short_message))
        self.deliveries.append(delivery)

    def receipts(self, deliveries):
        self.calls.append(("receipts", [(d.receipt_for, d.receipt_state) for d in deliveries]))


@pytest.fixture
def link():
    listener = Listener()
    link = SmppLink(SmppSettings(host="127.0.0.1", window=2), listener)
    link._client = FakeClient(link)
    link.state = "bound"
    return link


def incoming(link, command, sequence=None, **fields):
    """A PDU as the link reads it: generated, then parsed back."""
    pdu = smpplib.smpp.make_pdu(command, client=link._client, **fields)
    if sequence is not None:
        pdu.sequence = sequence
    return smpplib.smpp.parse_pdu(pdu.generate(), client=link._client, allow_unknown_opt_params=True)


def submit(link, key):
    link.submit(
        Submission(
            key=key, source="+14045550100", destination="+14045551234", data_coding=0, short_message=b"Hi", udhi=False
        ),
        wait=0.01,
    )
    return link._client.sent[-1]


def test_submits_are_windowed_and_matched_by_sequence(link):
    first, second = submit(link, 11), submit(link, 12)
    assert (first.command, first.user_message_reference, first.source_addr) == ("submit_sm", 11, "14045550100")
    with pytest.raises(NotBound):
        submit(link, 13)  # the window of 2 is full
    link._dispatch(incoming(link, "submit_sm_resp", sequence=second.sequence, message_id="m-12"))
    link._dispatch(
        incoming(link, "submit_sm_resp", sequence=first.sequence, status=smpplib.consts.SMPP_ESME_RTHROTTLED)
    )
    link._hand_over()
    assert link.listener.calls == [("refused", 11, 0x58), ("accepted", [(12, "m-12")])]
    assert link.counters.throttled == 1 and link.status()["outstanding"] == 0


def test_a_generic_nack_refuses_its_request(link):
    request = submit(link, 21)
    link._dispatch(
        incoming(link, "generic_nack", sequence=request.sequence, status=smpplib.consts.SMPP_ESME_RINVCMDLEN)
    )
    assert link.listener.calls == [("refused", 21, smpplib.consts.SMPP_ESME_RINVCMDLEN)]


def test_the_smscs_unbind_is_answered_and_ends_the_session(link):
    submit(link, 31)
    assert link._dispatch(incoming(link, "unbind", sequence=77)) is False
    answer = link._client.sent[-1]
    assert (answer.command, answer.sequence) == ("unbind_resp", 77)
    assert link.state == "disconnected" and ("unanswered", [31]) in link.listener.calls


def test_a_text_is_answered_after_it_is_stored_and_accepted_submits_go_first(link):
    request = submit(link, 41)
    link._dispatch(incoming(link, "submit_sm_resp", sequence=request.sequence, message_id="m-41"))
    link._dispatch(
        incoming(
            link,
            "deliver_sm",
            sequence=90,
            source_addr="14045551234",
            source_addr_ton=1,
            destination_addr="14045550100",
            dest_addr_ton=1,
            short_message=b"Hello",
        )
    )
    assert link.listener.calls == [("accepted", [(41, "m-41")]), ("text", "+14045551234", b"Hello")]
    answer = link._client.sent[-1]
    assert (answer.command, answer.sequence, answer.status) == ("deliver_sm_resp", 90, 0)


def test_a_text_that_could_not_be_stored_gets_a_temporary_error(link):
    link.listener.fail_texts = True
    link._dispatch(
        incoming(
            link,
            "deliver_sm",
            sequence=91,
            source_addr="14045551234",
            source_addr_ton=1,
            destination_addr="14045550100",
            dest_addr_ton=1,
            short_message=b"Hello",
        )
    )
    answer = link._client.sent[-1]
    assert (answer.status, link.counters.refused_deliveries) == (smpplib.consts.SMPP_ESME_RX_T_APPN, 1)


def test_a_text_for_no_number_we_serve_is_answered_with_the_listeners_error_not_acknowledged(link):
    link._dispatch(
        incoming(
            link,
            "deliver_sm",
            sequence=92,
            source_addr="14045551234",
            source_addr_ton=0,
            destination_addr="19995550199",
            dest_addr_ton=0,
            short_message=b"Hello",
        )
    )
    answer = link._client.sent[-1]
    assert (answer.command, answer.sequence, answer.status) == (
        "deliver_sm_resp",
        92,
        smpplib.consts.SMPP_ESME_RINVDSTADR,
    )
    assert (link.counters.received, link.counters.refused_deliveries) == (0, 1)


def test_the_type_of_number_comes_with_each_address(link):
    link._dispatch(
        incoming(
            link,
            "deliver_sm",
            sequence=93,
            source_addr="4045551234",
            source_addr_ton=2,
            destination_addr="14045550100",
            dest_addr_ton=0,
            short_message=b"Hello",
        )
    )
    delivery = link.listener.deliveries[-1]
    assert (delivery.source, delivery.source_ton, delivery.destination, delivery.destination_ton) == (
        "4045551234",
        2,
        "14045550100",
        0,
    )


def receipt(link, sequence: int, message_id: str, state: int):
    """An SMSC's delivery receipt for ``message_id`` with this message_state."""
    return incoming(
        link,
        "deliver_sm",
        sequence=sequence,
        source_addr="14045551234",
        destination_addr="14045550100",
        esm_class=0x04,
        receipted_message_id=message_id,
        message_state=state,
        short_message=b"id:x stat:X",
    )


def test_receipts_are_answered_after_their_batch_is_stored(link):
    for sequence, message_id, state in ((95, "m-1", 2), (96, "m-2", 5)):
        link._dispatch(receipt(link, sequence, message_id, state))
    assert link._client.sent == []  # nothing answered before the batch is stored
    link._hand_over()
    assert link.listener.calls == [("receipts", [("m-1", "DELIVRD"), ("m-2", "UNDELIV")])]
    assert [(p.command, p.sequence) for p in link._client.sent] == [("deliver_sm_resp", 95), ("deliver_sm_resp", 96)]


def test_every_message_state_reads_as_a_receipt_state_and_an_unknown_one_as_unknown(link):
    for sequence, state in enumerate((1, 6, 9, 42), start=100):
        link._dispatch(receipt(link, sequence, f"m-{state}", state))
    link._hand_over()
    assert link.listener.calls == [
        ("receipts", [("m-1", "ENROUTE"), ("m-6", "ACCEPTD"), ("m-9", "SKIPPED"), ("m-42", "UNKNOWN")])
    ]
    assert len(link._client.sent) == 4  # all answered: none is refused for ever


def test_an_enquire_link_is_answered_and_sent_when_idle(link):
    link._dispatch(incoming(link, "enquire_link", sequence=5))
    assert (link._client.sent[-1].command, link._client.sent[-1].sequence) == ("enquire_link_resp", 5)
    link._last_heard = link._last_sent = 0.0  # long idle
    link._watch()
    assert link._client.sent[-1].command == "enquire_link" and link._enquiry is not None


def test_the_watchdog_drops_a_connection_that_stopped_answering(link):
    link._last_heard = link._enquiry = time.monotonic() - link.settings.response_timeout_seconds - 1
    with pytest.raises(smpplib.exceptions.ConnectionError, match="no answer"):
        link._watch()
