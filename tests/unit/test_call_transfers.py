"""Blind transfers: the tracker's events from AMI transcripts, the place a call transferred into a queue takes, and
the transfer dialplan's text (the recorder's side: test_call_recorder.py)."""

import datetime as dt
from pathlib import Path

import pytest

from leadcenter.accounts.services import create_company
from leadcenter.calls.control import place_by_arrival
from leadcenter.clock import from_timestamp
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead
from leadcenter.telephony.service import Telephony
from leadcenter.telephony.tracker import CallTracker

T0 = dt.datetime(2026, 11, 26, 12, 0, 0)

ROOT = Path(__file__).resolve().parents[2]


def test_the_tracker_follows_each_answered_party_until_it_hangs_up():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    lead = {"Uniqueid": "17.1", "Channel": "PJSIP/trunk1-1"}
    tracker.handle({**lead, "Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"})
    tracker.handle({**lead, "Event": "AgentConnect", "Queue": "team1", "MemberName": "agent7", "DestUniqueid": "17.2"})
    # The agent transfers the call to a colleague: her leg ends, the colleague's Dial in lc-transfer answers.
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.2", "Channel": "PJSIP/webrtc7-2"})
    ring = {**lead, "Context": "lc-transfer", "DestChannel": "PJSIP/webrtc8-3", "DestUniqueid": "17.3"}
    tracker.handle({**ring, "Event": "DialBegin"})
    tracker.handle({**ring, "Event": "DialEnd", "DialStatus": "ANSWER"})
    # He transfers it to a number: lc-transfer-number's Dial on the trunk answers.
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.3", "Channel": "PJSIP/webrtc8-3"})
    out = {**lead, "Context": "lc-transfer-number", "Exten": "+14045550199", "DestChannel": "PJSIP/trunk1-4"}
    tracker.handle({**out, "DestUniqueid": "17.4", "Event": "DialEnd", "DialStatus": "ANSWER"})
    tracker.handle({**lead, "Event": "Hangup"})
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.4", "Channel": "PJSIP/trunk1-4"})  # after the lead: told once
    said = [
        (name, data.get("agent_id"), data.get("agent_channel_id") or data.get("party_channel_id"))
        for name, data in published[1:]
    ]
    assert said == [
        ("call.answered", 7, "17.2"),
        ("call.party_left", None, "17.2"),
        ("call.agent_offered", 8, "17.3"),
        ("call.answered", 8, "17.3"),
        ("call.party_left", None, "17.3"),
        ("call.party_answered", None, "17.4"),
        ("call.ended", None, None),
    ]
    assert published[-2][1]["number"] == "+14045550199"


def test_a_desk_phones_blind_refer_of_a_lead_is_told_with_the_extension():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    lead = {"Uniqueid": "17.1", "Channel": "PJSIP/trunk1-1"}
    tracker.handle({**lead, "Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"})
    refer = {"Event": "BlindTransfer", "TransfererChannel": "PJSIP/desk7-2", "TransfererUniqueid": "17.2"}
    tracker.handle({**refer, "TransfereeUniqueid": "17.1", "Extension": "8", "Result": "Success"})
    tracker.handle({**refer, "TransfereeUniqueid": "99.1", "Extension": "8", "Result": "Success"})  # not a lead's
    assert published[1:] == [
        ("call.referred", {"channel_id": "17.1", "agent_id": 7, "extension": "8", "succeeded": True, "at": T0})
    ]


# A real AMI AttendedTransfer (Asterisk 22, test_transfers.py's run), less the fields the tracker does not read: Alice's
# desk phone (desk1) took the lead's queue call, dialled Bob's extension (lc-colleague) and sent REFER with Replaces.
ATTENDED = {
    "Event": "AttendedTransfer",
    "Timestamp": "1796620092.565939",
    "Result": "Success",
    "OrigTransfererChannel": "PJSIP/desk1-00000001",
    "OrigTransfererContext": "lc-desk-company1",
    "OrigTransfererUniqueid": "1796620091.1",
    "OrigTransfererLinkedid": "1796620091.0",
    "OrigBridgeUniqueid": "6bbb14ab-4e91-4e71-8192-f9101d6da322",
    "SecondTransfererChannel": "PJSIP/desk1-00000003",
    "SecondTransfererContext": "lc-colleague",
    "SecondTransfererExten": "desk2",
    "SecondTransfererUniqueid": "1796620092.3",
    "SecondBridgeUniqueid": "5ce4540c-dbd8-47ef-a25f-fb0589485850",
    "TransfereeChannel": "PJSIP/trunk1-00000000",
    "TransfereeContext": "lc-step-queue",
    "TransfereeUniqueid": "1796620091.0",
    "TransferTargetChannel": "PJSIP/desk2-00000004",
    "TransferTargetUniqueid": "1796620092.4",
    "TransferTargetLinkedid": "1796620092.3",
    "IsExternal": "No",
    "DestType": "Bridge",
    "DestBridgeUniqueid": "6bbb14ab-4e91-4e71-8192-f9101d6da322",
}


def _attended_transcript(*events: dict) -> list[tuple[str, dict]]:
    published: list[tuple[str, dict]] = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    lead = {"Uniqueid": "1796620091.0", "Channel": "PJSIP/trunk1-00000000"}
    tracker.handle({**lead, "Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"})
    tracker.handle(
        {**lead, "Event": "AgentConnect", "Queue": "team1", "MemberName": "agent1", "DestUniqueid": "1796620091.1"}
    )
    for event in events:
        tracker.handle(event)
    return [(name, data) for name, data in published[2:]]  # after the call and Alice's answer


def test_an_attended_refer_sent_before_the_consult_call_was_bridged_is_the_colleague_s_the_agent_was_dialling():
    """A phone that sends REFER within milliseconds of the colleague answering (seen in a whole-suite run: 5 ms):
    the consult call is still Dial's, not bridged, so Asterisk names no transfer target (DestType App) and moves
    the lead into that Dial. The colleague is whom the agent's consult channel was dialling (lc-colleague)."""
    consult = {"Uniqueid": "1796620092.3", "Channel": "PJSIP/desk1-00000003", "Context": "lc-colleague"}
    dialled = {"DestUniqueid": "1796620092.4", "DestChannel": "PJSIP/desk2-00000004"}
    early = {k: v for k, v in ATTENDED.items() if not k.startswith(("TransferTarget", "SecondBridge", "DestBridge"))}
    said = _attended_transcript(
        {**consult, **dialled, "Event": "DialBegin"},
        {**early, "DestType": "App", "DestApp": "Dial"},
        {"Event": "Hangup", "Uniqueid": "1796620092.4", "Channel": "PJSIP/desk2-00000004"},
    )
    answered = [(name, data["agent_id"], data["agent_channel_id"]) for name, data in said if name == "call.answered"]
    assert answered == [("call.answered", 2, "1796620092.4")]
    assert said[0][1]["succeeded"] and said[-1][0] == "call.party_left"  # and Bob's hangup ends his leg


def test_a_desk_phones_attended_refer_is_told_as_its_blind_one_then_the_colleague_answering():
    at = from_timestamp(1796620092.565939)
    said = _attended_transcript(
        ATTENDED,
        {"Event": "Hangup", "Uniqueid": "1796620091.1", "Channel": "PJSIP/desk1-00000001"},  # Alice's phone hangs up
        {"Event": "Hangup", "Uniqueid": "1796620092.3", "Channel": "PJSIP/desk1-00000003"},  # her consult: no party
        {"Event": "Hangup", "Uniqueid": "1796620092.4", "Channel": "PJSIP/desk2-00000004"},  # Bob, later
    )
    assert said == [
        (
            "call.referred",
            {"channel_id": "1796620091.0", "agent_id": 1, "extension": "2", "succeeded": True, "at": at},
        ),
        (
            "call.answered",
            {
                "channel_id": "1796620091.0",
                "queue": None,
                "agent_id": 2,
                "agent_channel_id": "1796620092.4",
                "hold_seconds": None,
                "at": at,
            },
        ),
        ("call.party_left", {"channel_id": "1796620091.0", "party_channel_id": "1796620091.1", "at": T0}),
        ("call.party_left", {"channel_id": "1796620091.0", "party_channel_id": "1796620092.4", "at": T0}),
    ]


def test_an_attended_refer_that_failed_or_of_no_lead_is_told_failed_or_not_at_all():
    failed = _attended_transcript({**ATTENDED, "Result": "Fail"})
    assert [(name, data["succeeded"]) for name, data in failed] == [("call.referred", False)]
    assert _attended_transcript({**ATTENDED, "TransfereeUniqueid": "9.9", "TransferTargetUniqueid": "9.8"}) == []
    # The REFER sent in the consult call instead (Replaces naming the lead's): the lead is the target, Bob the
    # transferee.
    swapped = {
        **ATTENDED,
        "TransfereeChannel": "PJSIP/desk2-00000004",
        "TransfereeUniqueid": "1796620092.4",
        "TransferTargetChannel": "PJSIP/trunk1-00000000",
        "TransferTargetUniqueid": "1796620091.0",
    }
    said = _attended_transcript(swapped)
    assert [(name, data.get("agent_id"), data.get("agent_channel_id")) for name, data in said] == [
        ("call.referred", 1, None),
        ("call.answered", 2, "1796620092.4"),
    ]


@pytest.fixture
def calls(database):
    company = create_company("Acme", "US")
    lead = Lead.create(company=company, name="Lee", created_at=T0, updated_at=T0)
    return {
        channel: Interaction.create(
            company=company,
            lead=lead,
            kind="call",
            direction="inbound",
            channel_id=channel,
            started_at=T0 + dt.timedelta(seconds=seconds),
            status_changed_at=T0,
        )
        for channel, seconds in (("1.1", 0), ("0.9", -60), ("1.5", 30))  # ours, one called before, one after
    }


def test_a_call_transferred_into_a_queue_goes_ahead_of_those_who_called_after_it(calls):
    ours = calls["1.1"]
    now = T0 + dt.timedelta(seconds=100)
    # The queue: the earlier caller, the later one, and a caller the database does not know who queued 5 s ago.
    assert place_by_arrival(ours, [("0.9", 90), ("1.5", 50), ("x", 5)], now) == "2"
    assert place_by_arrival(ours, [("0.9", 90)], now) is None  # everyone waiting called first: the end
    assert place_by_arrival(ours, [], now) is None


def test_the_transfer_dialplan_rings_shows_queues_and_dials_as_the_design_says():
    text = (ROOT / "dialplans" / "transfer.conf").read_text()
    assert "[lc-transfer]" in text and "X-LC-Interaction" in text
    assert (
        'Queue(team${EXTEN},cb(lc-agent-leg^s^1(${IF($["${LC_CALL}" = ""]?${UNIQUEID}:${LC_CALL})})),,,'
        "${LC_TRANSFER_WAIT},,lc-agent-answered,,${LC_TRANSFER_POSITION})" in text
    )
    # The colleague's app is told the call's id: an agent's outbound call's is not its lead's channel (LC_CALL).
    assert 'lc-transfer-leg^s^1(${IF($["${LC_CALL}" = ""]?${UNIQUEID}:${LC_CALL})},${LC_INTERACTION})' in text
    assert "Dial(PJSIP/${EXTEN}@${LC_TRUNK},60,gmb(lc-forward-leg^s^1(${LC_TRACKING})))" in text


# Alice's outbound call (her channel lc-out-1): lc-outbound's Dial of the lead (channel 17.2) answered.
LEAD_ANSWERS = {
    "Event": "DialEnd",
    "Uniqueid": "lc-out-1",
    "DialStatus": "ANSWER",
    "DestUniqueid": "17.2",
    "Context": "lc-outbound",
}


def test_an_outbound_call_follows_the_lead_s_channel_once_they_answer():
    """Alice's outbound call (placed as her channel lc-out-1) is named by that id throughout, but once the lead
    answered, the lead's channel is the call's: Alice hanging up after a transfer ends her leg, not the call; the
    colleague's leg and holds on any of its channels are the call's; the lead's hangup ends it."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.track_outbound("lc-out-1")
    alice = {"Uniqueid": "lc-out-1", "Linkedid": "lc-out-1", "Channel": "PJSIP/webrtc7-1"}
    tracker.handle({**LEAD_ANSWERS, **alice})
    assert tracker.lead_channel("lc-out-1") == "17.2"  # what a transfer or a conference moves
    tracker.handle({**alice, "Event": "Hold"})
    tracker.handle({**alice, "Event": "Unhold"})
    lead = {"Uniqueid": "17.2", "Linkedid": "lc-out-1", "Channel": "PJSIP/trunk1-2"}
    # Alice transfers it to Bob: the lead's channel rings him in lc-transfer; her Dial returns and her channel hangs up.
    ring = {**lead, "Context": "lc-transfer", "DestChannel": "PJSIP/webrtc8-3", "DestUniqueid": "17.3"}
    tracker.handle({**ring, "Event": "DialBegin"})
    tracker.handle({**alice, "Event": "Hangup", "Cause": "16"})
    tracker.handle({**ring, "Event": "DialEnd", "DialStatus": "ANSWER"})
    tracker.handle({"Event": "Hold", "Uniqueid": "17.3", "Linkedid": "lc-out-1"})
    tracker.handle({**lead, "Event": "Hangup", "Cause": "16"})
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.3", "Linkedid": "lc-out-1"})
    told = [
        (name, data["channel_id"], data.get("agent_id") or data.get("party_channel_id")) for name, data in published
    ]
    assert told == [
        ("call.lead_answered", "lc-out-1", None),
        ("call.held", "lc-out-1", None),
        ("call.unheld", "lc-out-1", None),
        ("call.agent_offered", "lc-out-1", 8),
        ("call.party_left", "lc-out-1", "lc-out-1"),
        ("call.answered", "lc-out-1", 8),
        ("call.held", "lc-out-1", None),
        ("call.ended", "lc-out-1", None),
    ]
    assert (tracker.lead_channels, tracker.outbound_channels, tracker.call_of, tracker.lead_of, tracker.party_of) == (
        set(),
        set(),
        {},
        {},
        {},
    )


def test_an_outbound_call_is_recorded_on_the_lead_s_channel_and_the_recording_is_the_call_s():
    """A transfer or a conference moves the lead's channel and ends the agent's: the recording is the lead's, started
    once they answer (Dial's U on the called channel, without the notice: the agent called them), as an inbound
    call's is. The dialplan's word about it comes before the answer's DialEnd (Asterisk runs U first) and names the
    call by the lead leg's Linkedid: the agent's channel the call was placed from."""
    text = (ROOT / "dialplans" / "outbound.conf").read_text()
    outbound = text.split("[lc-outbound]")[1].split("\n[")[0]
    assert "Gosub(lc-record" not in outbound  # not on the agent's channel
    assert '${IF($["${LC_RECORD}" = "1"]?U(lc-record^s^1(0)))}' in outbound
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.track_outbound("lc-out-1")
    recording = {"Event": "UserEvent", "UserEvent": "LeadCenterRecording", "File": "/asterisk/spool/monitor/17.2.wav"}
    tracker.handle({**recording, "Uniqueid": "17.2", "Linkedid": "lc-out-1"})
    tracker.handle({**recording, "Uniqueid": "18.1", "Linkedid": "18.0"})  # no lead's call: no call's recording
    tracker.handle({**LEAD_ANSWERS, "Linkedid": "lc-out-1"})
    tracker.handle({**recording, "Uniqueid": "17.2", "Linkedid": "lc-out-1"})  # told after the answer: the same
    assert [(name, data["channel_id"], data.get("file")) for name, data in published] == [
        ("call.recording_started", "lc-out-1", "/asterisk/spool/monitor/17.2.wav"),
        ("call.lead_answered", "lc-out-1", None),
        ("call.recording_started", "lc-out-1", "/asterisk/spool/monitor/17.2.wav"),
    ]


def test_an_answered_outbound_call_s_conference_counts_the_agent_not_the_lead():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.track_outbound("lc-out-1")
    tracker.handle(LEAD_ANSWERS)
    for channel_id, channel in (("17.2", "PJSIP/trunk1-2"), ("lc-out-1", "PJSIP/webrtc7-1")):
        join = {"Event": "ConfbridgeJoin", "Conference": "lc-call-5", "Uniqueid": channel_id, "Channel": channel}
        tracker.handle(join)
    joined = [(data["channel_id"], data["agent_id"]) for name, data in published if name == "call.conference_joined"]
    assert joined == [("lc-out-1", 7)]


def test_resynchronisation_knows_an_answered_outbound_call_by_its_lead_s_channel():
    """After a restart, or a resync while the call goes on: the lead's channel says which call it is (LC_CALL, set by
    lc-outbound-leg), also when the agent's channel has gone (the call was transferred)."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.sync_started()
    tracker.synced([{"channel_id": "lc-out-1", "outbound": True, "lead_channel_id": "17.2"}])
    assert (tracker.lead_channels, tracker.outbound_channels, tracker.lead_channel("lc-out-1")) == (
        {"17.2"},
        set(),
        "17.2",
    )
    tracker.handle({"Event": "Hangup", "Uniqueid": "lc-out-1"})  # the agent's channel: their leg, not the call
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.2"})
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.party_left", "lc-out-1"),
        ("call.ended", "lc-out-1"),
    ]


def test_a_lead_answering_during_a_resync_is_not_undone_by_the_older_snapshot():
    tracker = CallTracker(lambda name, **data: None, lambda: T0)
    tracker.track_outbound("lc-out-1")
    tracker.sync_started()
    tracker.handle(LEAD_ANSWERS)
    tracker.synced([{"channel_id": "lc-out-1", "outbound": True}])  # read before the lead answered
    assert (tracker.lead_channels, tracker.outbound_channels, tracker.lead_channel("lc-out-1")) == (
        {"17.2"},
        set(),
        "17.2",
    )


def test_asterisk_s_channels_of_an_outbound_call_are_one_call_named_by_its_id():
    recorded = {"LC_CALL": "lc-out-4", "LC_RECORDING": "/asterisk/spool/monitor/17.4.wav"}  # on the lead's channel
    channels = [
        {"id": "lc-out-1", "name": "PJSIP/webrtc7-1", "channelvars": {"LC_OUTBOUND": "1"}},
        {"id": "17.2", "name": "PJSIP/trunk1-2", "channelvars": {"LC_CALL": "lc-out-1", "LC_RECORDING": ""}},
        {"id": "lc-out-3", "name": "PJSIP/webrtc8-3", "channelvars": {"LC_OUTBOUND": "1"}},  # ringing the lead
        {"id": "17.4", "name": "PJSIP/trunk1-4", "channelvars": recorded},  # transferred: Alice gone
    ]
    assert Telephony._lead_calls(None, channels) == [  # type: ignore[arg-type]
        {"channel_id": "lc-out-1", "outbound": True, "lead_channel_id": "17.2", "recording": None},
        {"channel_id": "lc-out-3", "outbound": True},
        {"channel_id": "lc-out-4", "outbound": True, "lead_channel_id": "17.4", "recording": recorded["LC_RECORDING"]},
    ]


def test_an_outbound_call_being_placed_or_ringing_while_asterisk_is_read_is_still_followed():
    """A resync whose snapshot does not show the call yet (its originate under way) keeps it; one that read the
    lead's channel while it rang (LC_CALL is set before the answer) still hears the answer."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.track_outbound("lc-out-1")
    tracker.placing.add("lc-out-1")
    tracker.sync_started()
    tracker.synced([])
    assert ("lc-out-1" in tracker.lead_channels, tracker.outbound_calls()) == (True, {"lc-out-1"})
    tracker.placing.discard("lc-out-1")
    tracker.sync_started()
    tracker.synced([{"channel_id": "lc-out-1", "outbound": True, "lead_channel_id": "17.2"}])  # ringing
    tracker.handle(LEAD_ANSWERS)
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.2"})
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.lead_answered", "lc-out-1"),
        ("call.ended", "lc-out-1"),
    ]


def test_a_queue_callback_s_place_answered_by_an_agent_after_a_resync_stays_the_call_s_lead():
    """After a controller restart a callback's place channel is an outbound one too (LC_OUTBOUND); the queue's Dial of
    the agent answering is no lead answering: the place stays the lead channel, and the agent's answer is told."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.sync_started()
    tracker.synced([{"channel_id": "lc-callback-1-1;2", "outbound": True}])
    place = {"Uniqueid": "lc-callback-1-1;2", "Context": "lc-callback-place", "DestUniqueid": "17.5"}
    tracker.handle({**place, "Event": "DialEnd", "DialStatus": "ANSWER", "DestChannel": "PJSIP/desk1-5"})
    tracker.handle({**place, "Event": "AgentConnect", "Queue": "team1", "MemberName": "agent1"})
    assert tracker.lead_channels == {"lc-callback-1-1;2"} and tracker.lead_of == {}
    assert ("call.answered", "lc-callback-1-1;2") in [(name, data["channel_id"]) for name, data in published]


def test_after_a_resync_a_callback_transferred_to_a_colleague_is_answered_by_them_not_by_the_lead():
    """A resynchronisation while a callback is up lists its Local pair as outbound (LC_OUTBOUND): the place's
    lc-transfer Dial answered is still the colleague answering the lead's call (their leg), the lead having picked
    up already."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    place, dial = "lc-callback-1-1;2", "lc-callback-1-1"
    tracker.sync_started()
    tracker.synced([{"channel_id": place, "outbound": True}, {"channel_id": dial, "outbound": True}])
    ring = {"Uniqueid": place, "Context": "lc-transfer", "DestChannel": "PJSIP/webrtc8-3", "DestUniqueid": "17.3"}
    tracker.handle({**ring, "Event": "DialBegin"})
    tracker.handle({**ring, "Event": "DialEnd", "DialStatus": "ANSWER"})
    tracker.handle({"Event": "Hangup", "Uniqueid": "17.3"})
    assert [(name, data["channel_id"], data.get("agent_id")) for name, data in published] == [
        ("call.agent_offered", place, 8),
        ("call.answered", place, 8),
        ("call.party_left", place, None),
    ]
    assert tracker.outbound_calls() == set()
