"""The tracker against a recorded AMI session: one call answered by Alice (agent 1) from the queue, then one
whose caller hung up in the queue with no agent available (tests/unit/fixtures/ami_two_queue_calls.txt, recorded from
the real Asterisk of the integration suite, VarSet/Newexten/TestEvent events left out)."""
import datetime as dt
from pathlib import Path

from leadcenter.telephony.tracker import CallTracker, agent_id

TRANSCRIPT = Path(__file__).parent / "fixtures" / "ami_two_queue_calls.txt"


def messages():
    for block in TRANSCRIPT.read_text().split("\n\n"):
        headers = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if headers:
            yield headers


def replay():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)))
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
    assert inbound["at"] == dt.datetime.fromtimestamp(1795737826.950492, dt.timezone.utc).replace(tzinfo=None)
    assert published[1][1]["file"] == "/srv/leadcenter/spool/monitor/1795737826.0.wav"
    answered = published[4][1]
    assert (answered["agent_id"], answered["queue"]) == (1, "team1")
    assert answered["at"] > inbound["at"]


def test_agent_channels_hanging_up_are_not_lead_calls_ending():
    _, published = replay()
    hangups = [m for m in messages() if m.get("Event") == "Hangup"]
    assert len(hangups) == 3  # the lead's two channels and Alice's phone
    assert sum(name == "call.ended" for name, _ in published) == 2


def test_member_names_map_to_agents():
    assert agent_id("agent12") == 12
    assert agent_id("PJSIP/desk12") is None
    assert agent_id(None) is None


def test_an_outbound_call_is_answered_when_its_dial_to_the_lead_answers_and_ends_with_its_channel():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)))
    tracker.track_outbound("lc-out-1")
    for message in ({"Event": "DialEnd", "Uniqueid": "lc-out-1", "DialStatus": "ANSWER", "Timestamp": "1795737900.5"},
                    # a queue's ring-agents Dial on an inbound lead channel is not a lead answering
                    {"Event": "DialEnd", "Uniqueid": "1795737826.0", "DialStatus": "ANSWER"},
                    {"Event": "Hangup", "Uniqueid": "lc-out-1", "Cause": "16"}):
        tracker.handle(message)
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.lead_answered", "lc-out-1"), ("call.ended", "lc-out-1")]
    assert tracker.lead_channels == tracker.outbound_channels == set()


def test_an_agent_taking_a_call_from_the_inbox_answers_the_lead_channel_it_names():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)))
    tracker.synced([{"channel_id": "1795737826.0"}])
    tracker.handle({"Event": "UserEvent", "UserEvent": "LeadCenterAnswered", "Uniqueid": "1795737830.5",
                    "Device": "webrtc2", "Lead": "1795737826.0"})
    tracker.handle({"Event": "UserEvent", "UserEvent": "LeadCenterAnswered", "Uniqueid": "1795737831.6",
                    "Device": "webrtc2", "Lead": "not-a-lead-call"})
    assert [(name, data["channel_id"], data["agent_id"]) for name, data in published] == [
        ("call.answered", "1795737826.0", 2)]
