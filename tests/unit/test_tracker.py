"""The tracker against a recorded AMI session: one call answered by Alice (agent 1) from the queue, then one
whose caller hung up in the queue with no agent available (tests/unit/fixtures/ami_two_queue_calls.txt, recorded from
the real Asterisk of the integration suite, VarSet/Newexten/TestEvent events left out)."""

import datetime as dt
from pathlib import Path

import pytest
from support import T0

from leadcenter.telephony.tracker import CallTracker

TRANSCRIPT = Path(__file__).parent / "fixtures" / "ami_two_queue_calls.txt"


def messages():
    for block in TRANSCRIPT.read_text().split("\n\n"):
        headers = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if headers:
            yield headers


def replay():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    for message in messages():
        tracker.handle(message)
    return tracker, published


def test_the_recorded_session_becomes_these_domain_events():
    tracker, published = replay()
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.inbound", "1795737826.0"),
        ("call.recording_started", "1795737826.0"),
        ("call.queued", "1795737826.0"),
        ("call.agent_offered", "1795737826.0"),
        ("call.answered", "1795737826.0"),
        ("call.ended", "1795737826.0"),
        ("call.inbound", "1795737832.2"),
        ("call.recording_started", "1795737832.2"),
        ("call.queued", "1795737832.2"),
        ("call.left_queue", "1795737832.2"),
        ("call.ended", "1795737832.2"),
    ]
    assert tracker.lead_channels == set()  # both calls are over


def test_what_each_event_carries():
    _, published = replay()
    inbound = published[0][1]
    assert (inbound["caller_number"], inbound["caller_name"]) == ("4045551234", "Lee Caller")
    assert (inbound["company_id"], inbound["number_id"], inbound["flow_id"]) == (1, 1, 1)
    # Asterisk's own event time (Timestamp: 1795737826.950492), not when we happened to read it.
    assert inbound["at"] == dt.datetime.fromtimestamp(1795737826.950492, dt.UTC).replace(tzinfo=None)
    assert published[1][1]["file"] == "/srv/leadcenter/spool/monitor/1795737826.0.wav"
    answered = published[4][1]
    assert (answered["agent_id"], answered["queue"]) == (1, "team1")
    assert answered["at"] > inbound["at"]


def test_agent_channels_hanging_up_are_not_lead_calls_ending():
    _, published = replay()
    hangups = [m for m in messages() if m.get("Event") == "Hangup"]
    assert len(hangups) == 3  # the lead's two channels and Alice's phone
    assert sum(name == "call.ended" for name, _ in published) == 2


def test_an_outbound_call_is_answered_when_its_dial_to_the_lead_answers_and_ends_with_its_channel():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.track_outbound("lc-out-1")
    for message in (
        {"Event": "DialEnd", "Uniqueid": "lc-out-1", "DialStatus": "ANSWER", "Timestamp": "1795737900.5"},
        # a queue's ring-agents Dial on an inbound lead channel is not a lead answering
        {"Event": "DialEnd", "Uniqueid": "1795737826.0", "DialStatus": "ANSWER"},
        {"Event": "Hangup", "Uniqueid": "lc-out-1", "Cause": "16"},
    ):
        tracker.handle(message)
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.lead_answered", "lc-out-1"),
        ("call.ended", "lc-out-1"),
    ]
    assert tracker.lead_channels == tracker.outbound_channels == set()


def test_agents_rung_outside_a_queue_are_offered_and_the_one_who_picks_up_answers():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    lead = {"Uniqueid": "17.1", "Channel": "PJSIP/trunk1-00000001", "Timestamp": "1795737826.5"}
    tracker.handle({**lead, "Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"})
    ring = {**lead, "Context": "lc-step-ring-agents"}
    for leg, agent in (("17.2", "desk7"), ("17.3", "webrtc8")):
        tracker.handle(
            {**ring, "Event": "DialBegin", "DestChannel": f"PJSIP/{agent}-0000000{leg[-1]}", "DestUniqueid": leg}
        )
    tracker.handle(
        {
            **ring,
            "Event": "DialEnd",
            "DestChannel": "PJSIP/webrtc8-00000003",
            "DestUniqueid": "17.3",
            "DialStatus": "ANSWER",
        }
    )
    tracker.handle(
        {
            **ring,
            "Event": "DialEnd",
            "DestChannel": "PJSIP/desk7-00000002",
            "DestUniqueid": "17.2",
            "DialStatus": "CANCEL",
        }
    )
    # app_queue's own dials are told by AgentCalled/AgentConnect: their DialBegin is not a second offer.
    tracker.handle(
        {
            **lead,
            "Context": "lc-step-queue",
            "Event": "DialBegin",
            "DestChannel": "PJSIP/desk9-00000004",
            "DestUniqueid": "17.4",
        }
    )
    # Nor is a Dial of some other channel than a lead's.
    tracker.handle(
        {
            "Uniqueid": "18.1",
            "Context": "lc-answer",
            "Event": "DialBegin",
            "DestChannel": "PJSIP/desk7-00000005",
            "DestUniqueid": "18.2",
        }
    )
    assert [(name, data.get("agent_id"), data.get("agent_channel_id")) for name, data in published[1:]] == [
        ("call.agent_offered", 7, "17.2"),
        ("call.agent_offered", 8, "17.3"),
        ("call.answered", 8, "17.3"),
        ("call.agent_missed", 7, None),
    ]
    assert all(data["queue"] is None for _, data in published[1:])


def test_calls_that_begin_or_end_while_a_resync_reads_asterisk_are_not_undone_by_its_older_snapshot():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    inbound = {"Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"}
    tracker.handle({**inbound, "Uniqueid": "1.1"})
    tracker.sync_started()  # ARI GET /channels is on its way; events keep coming meanwhile
    tracker.handle({**inbound, "Uniqueid": "1.2"})  # began after the read
    tracker.handle({"Event": "Hangup", "Uniqueid": "1.1"})  # ended after the read
    tracker.synced([{"channel_id": "1.1"}])  # what Asterisk had when read
    assert tracker.lead_channels == {"1.2"}
    tracker.handle({"Event": "Hangup", "Uniqueid": "1.2"})
    assert [name for name, _ in published].count("call.ended") == 2


@pytest.mark.parametrize("context", ["lc-step-queue", "lc-step-ring-agents", "lc-answer"])
def test_an_agent_leg_that_rings_out_is_told_whichever_way_the_call_rang_the_agent(context):
    """DialEnd NOANSWER of an agent's leg: the queue's ring time, a ring-agents step's or Answer from Incoming's
    ran out (or the leg was hung up from our side: Asterisk says the same for an app Decline)."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    lead = {"Uniqueid": "17.1", "Context": context, "Timestamp": "1795737826.5"}
    tracker.handle({**lead, "Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Company": "1", "Number": "2"})
    tracker.handle({**lead, "Event": "QueueCallerJoin", "Queue": "team3", "Position": "1"})  # an earlier step's
    for status, leg in (
        ("NOANSWER", "desk7-00000002"),
        ("CANCEL", "desk8-00000003"),
        ("BUSY", "desk9-00000004"),
        ("NOANSWER", "trunk2-00000005"),
    ):
        tracker.handle(
            {**lead, "Event": "DialEnd", "DestChannel": f"PJSIP/{leg}", "DestUniqueid": leg[-1], "DialStatus": status}
        )
    # Some other channel's Dial (not a lead's) rings out: not a lead's call.
    tracker.handle(
        {
            "Uniqueid": "18.1",
            "Context": context,
            "Event": "DialEnd",
            "DestChannel": "PJSIP/desk7-6",
            "DialStatus": "NOANSWER",
        }
    )
    rang_out = [data for name, data in published if name == "call.agent_rang_out"]
    assert [(data["channel_id"], data["agent_id"], data["agent_channel_id"]) for data in rang_out] == [("17.1", 7, "2")]
    # The queue whose ring-out setting applies: a queue's leg names its queue; a Dial of the dialplan's, none.
    assert rang_out[0]["queue"] == ("team3" if context == "lc-step-queue" else None)


def test_agents_devices_are_followed_from_their_device_state():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    for device, state in (
        ("PJSIP/desk7", "UNAVAILABLE"),
        ("PJSIP/webrtc8", "NOT_INUSE"),
        ("PJSIP/trunk1", "INUSE"),
        ("Queue:team1_avail", "NOT_INUSE"),
        ("Custom:desk7", "INUSE"),
    ):
        tracker.handle({"Event": "DeviceStateChange", "Device": device, "State": state})
    assert [(name, data["endpoint"], data["agent_id"], data["state"]) for name, data in published] == [
        ("telephony.device_state", "desk7", 7, "UNAVAILABLE"),
        ("telephony.device_state", "webrtc8", 8, "NOT_INUSE"),
    ]


def test_hold_on_an_agents_leg_or_the_callers_channel_is_told_for_the_call():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: T0)
    tracker.lead_channels.add("1795737826.0")
    for event, uniqueid in (
        ("Hold", "1795737826.1"),
        ("Unhold", "1795737826.1"),
        ("Hold", "1795737826.0"),
        ("Hold", "1795737999.5"),
    ):
        tracker.handle(
            {
                "Event": event,
                "Uniqueid": uniqueid,
                "Linkedid": uniqueid.split(".")[0] + ".0",
                "Timestamp": "1795737830.250000",
            }
        )
    assert [(name, data["channel_id"], data["holder"]) for name, data in published] == [
        ("call.held", "1795737826.0", "1795737826.1"),  # the agent's leg, linked to the caller's channel
        ("call.unheld", "1795737826.0", "1795737826.1"),
        ("call.held", "1795737826.0", "1795737826.0"),  # the caller's own channel
    ]  # a channel of no call we follow: nothing
