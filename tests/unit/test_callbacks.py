"""Queue callback: the caller's 1, the callback's place in the queue, the agent's call to the lead, the retries and
a restart, over the call recorder and the telephony events Asterisk gives (delivered synchronously here), on a
clock the test moves."""

import datetime as dt

import pytest
from support import Clock, RecordingBus, delivering

from leadcenter.accounts.services import create_company, create_user
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent
from leadcenter.agents.presence import Presence
from leadcenter.agents.services import create_agent
from leadcenter.callbacks.models import Callback
from leadcenter.callbacks.services import Callbacks
from leadcenter.calls.services import CallRecorder
from leadcenter.events import Event
from leadcenter.flows.models import CallFlow
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction
from leadcenter.pbx import names
from leadcenter.teams.models import Team, TeamMember
from leadcenter.telephony.tracker import CallTracker
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

LEAD = "+14045551234"


class Telephony:
    """Records the verbs asked for."""

    def __init__(self):
        self.placed = []

    def place_callback(self, place_id, dial_id, lead_number, *, variables):
        return ("place_callback", place_id, dial_id, lead_number, variables)

    def submit(self, verb):
        self.placed.append(verb)


@pytest.fixture
def world(database, tmp_path):
    clock = Clock()
    company = create_company("Acme", "US")
    agent = create_agent(
        company, create_user("a@acme.example", "Alice", "password1"), devices=("desk",), ring_device="desk", now=clock()
    )
    team = Team.create(company=company, name="Sales", callback_enabled=True, callback_attempts=2)
    TeamMember.create(team=team, agent=agent)
    flow = CallFlow.create(company=company, name="Main", steps=[{"type": "queue", "team": team.id, "timeout": 60}])
    trunk = Trunk.create(company=company, name="Carrier", host="127.0.0.1", port=5070)
    number = TrackingNumber.create(
        company=company, number="+14045550100", name="Ads line", source="Google Ads", trunk=trunk, flow=flow
    )
    bus, telephony = RecordingBus(), Telephony()
    availability = Availability(bus, Presence(bus).seen)
    CallRecorder(bus, str, tmp_path, tmp_path, clock, availability)
    callbacks = Callbacks(bus, telephony, clock)
    return dict(
        clock=clock, company=company, agent=agent, team=team, number=number, bus=bus, telephony=telephony,
        callbacks=callbacks,
    )  # fmt: skip


def send(world, name, **data):
    world["bus"].deliver(Event(name, {"at": world["clock"](), **data}, 0, world["clock"]()))


def asked(world, channel_id="1700000000.1", position=3, caller=LEAD) -> Interaction:
    """A caller waits in the team's queue, then presses 1 (lc-callback-offer) and hangs up."""
    send(
        world,
        "call.inbound",
        channel_id=channel_id,
        channel="PJSIP/trunk1-1",
        caller_number=caller,
        caller_name="",
        company_id=world["company"].id,
        number_id=world["number"].id,
        flow_id=1,
    )
    send(world, "call.queued", channel_id=channel_id, queue=world["team"].queue_name, position=position)
    world["clock"].advance(seconds=40)
    send(world, "call.callback_asked", channel_id=channel_id, queue=world["team"].queue_name, position=position)
    send(world, "call.ended", channel_id=channel_id, cause=16, cause_text="Normal Clearing")
    return Interaction.get(Interaction.channel_id == channel_id)


def placed(world) -> Interaction:
    """The sweep puts the due callback in the queue: its call, by the id of the channel that holds the place."""
    assert world["callbacks"].sweep() == 1
    return Interaction.get(Interaction.channel_id == world["telephony"].placed[-1][1])


def agent_takes(world, call: Interaction) -> None:
    send(world, "call.queued", channel_id=call.channel_id, queue=world["team"].queue_name, position=1)
    send(world, "call.answered", channel_id=call.channel_id, queue=world["team"].queue_name, agent_id=world["agent"].id)


def ends(world, call: Interaction, after: int = 10) -> None:
    world["clock"].advance(seconds=after)
    send(world, "call.ended", channel_id=call.channel_id, cause=16, cause_text="Normal Clearing")


def test_a_caller_who_presses_1_concludes_as_a_callback_and_waits_in_incoming_at_their_place(world):
    original = asked(world)
    assert (original.status, original.outcome) == ("recent", "callback")  # not abandoned: they asked for it
    callback = Callback.get(Callback.original == original)
    assert (callback.state, callback.position, callback.next_at) == ("waiting", 3, world["clock"]())

    call = placed(world)
    verb = world["telephony"].placed[0]
    place_id, dial_id = names.callback_channel_ids(callback.id, 1)
    assert verb[:4] == ("place_callback", place_id, dial_id, LEAD)
    variables = verb[4]
    assert (variables["LC_CALLBACK_QUEUE"], variables["LC_CALLBACK_POSITION"]) == (world["team"].queue_name, "3")
    # The lead sees the tracking number they called, on its trunk.
    assert (variables["LC_CALLER_ID"], variables["LC_TRUNK"]) == ("+14045550100", world["number"].trunk.endpoint_name)
    assert (call.kind, call.direction, call.status) == ("call", "outbound", "incoming")
    assert call.callback_of_id == original.id
    assert (call.lead_id, call.lead_number, call.source, call.queue_team_id) == (
        original.lead_id,
        LEAD,
        "Google Ads",
        world["team"].id,
    )
    created = [d for name, d in world["bus"].published if name == "interaction.created"]
    assert created[-1]["interaction"]["callback_of"] == original.id
    assert created[-1]["incoming_for"] == [world["agent"].id]  # the flow's agents see it in Incoming
    assert world["callbacks"].sweep() == 0  # placed once


def test_the_agent_who_takes_the_place_is_on_a_call_to_the_lead_and_it_is_answered_when_the_lead_picks_up(world):
    asked(world)
    call = placed(world)
    agent_takes(world, call)
    call = Interaction.get_by_id(call.id)
    assert (call.status, call.agent_id, call.answered_at) == ("active", world["agent"].id, None)
    assert Agent.get_by_id(world["agent"].id).status_reason == "on_call"
    world["clock"].advance(seconds=5)
    send(world, "call.lead_answered", channel_id=call.channel_id, agent_channel_id=None)
    ends(world, call, after=30)
    call = Interaction.get_by_id(call.id)
    assert (call.status, call.outcome, call.talk_seconds) == ("recent", "answered", 30)
    assert Callback.get().state == "done"
    assert Agent.get_by_id(world["agent"].id).status_reason == "wrap_up"
    world["clock"].advance(hours=1)
    assert world["callbacks"].sweep() == 0


def test_a_lead_who_does_not_answer_is_dialled_again_after_the_teams_delay_up_to_its_attempts(world):
    original = asked(world)
    first = placed(world)
    agent_takes(world, first)
    ends(world, first)  # the lead's phone rang out
    assert (Interaction.get_by_id(first.id).outcome, Callback.get().state) == ("missed", "waiting")
    world["clock"].advance(seconds=299)
    assert world["callbacks"].sweep() == 0  # callback_retry_seconds (300) apart
    world["clock"].advance(seconds=1)
    second = placed(world)
    assert second.id != first.id and second.callback_of_id == original.id
    assert second.channel_id == names.callback_channel_ids(Callback.get().id, 2)[0]
    agent_takes(world, second)
    ends(world, second)
    callback = Callback.get()
    assert (callback.state, callback.attempts) == ("failed", 2)  # callback_attempts: 2 dials
    world["clock"].advance(hours=1)
    assert world["callbacks"].sweep() == 0


def test_a_place_lost_before_an_agent_took_it_goes_back_in_the_queue_at_once_without_counting_an_attempt(world):
    asked(world)
    call = placed(world)
    ends(world, call)  # Asterisk restarted: nobody dialled the lead
    assert (Callback.get().state, Callback.get().attempts) == ("waiting", 0)
    assert placed(world).id != call.id


def test_after_a_restart_a_place_asterisk_no_longer_has_is_settled_and_one_it_has_is_kept(world):
    asked(world)
    call = placed(world)
    read_at = world["clock"]() + dt.timedelta(seconds=1)
    send(world, "telephony.synced", calls=[{"channel_id": call.channel_id, "outbound": True}], read_at=read_at)
    assert Callback.get().state == "queued"
    send(world, "telephony.synced", calls=[], read_at=read_at)
    assert Callback.get().state == "waiting" and Interaction.get_by_id(call.id).status == "recent"
    again = placed(world)
    # A place made after Asterisk was read is not missing from what it said.
    send(world, "telephony.synced", calls=[], read_at=again.started_at - dt.timedelta(seconds=1))
    assert Callback.get().state == "queued"


def test_with_several_asterisk_nodes_a_place_is_the_home_node_s_to_settle_and_no_other_s(world):
    world["callbacks"].home = lambda company_id: "a"
    asked(world)
    call = placed(world)
    assert call.node == "a"
    read_at = world["clock"]() + dt.timedelta(seconds=1)
    send(world, "telephony.synced", calls=[], read_at=read_at, node="b")  # node b never had it
    assert Callback.get().state == "queued" and Interaction.get_by_id(call.id).status != "recent"
    send(world, "telephony.synced", calls=[], read_at=read_at, node="a")
    assert Callback.get().state == "waiting" and Interaction.get_by_id(call.id).status == "recent"


def test_a_1_in_a_queue_of_another_company_or_on_an_unknown_call_changes_nothing(world):
    other = Team.create(company=create_company("Other", "US"), name="Theirs", callback_enabled=True)
    send(world, "call.callback_asked", channel_id="nobody", queue=world["team"].queue_name, position=1)
    original = asked(world, position=1)
    send(world, "call.callback_asked", channel_id=original.channel_id, queue=other.queue_name, position=1)
    assert Callback.select().count() == 1 and Callback.get().team_id == world["team"].id


def test_a_caller_whose_number_is_withheld_gets_no_callback(world):
    original = asked(world, caller="anonymous")
    assert (original.outcome, Callback.select().count()) == ("abandoned", 0)
    assert world["callbacks"].sweep() == 0


def test_the_tracker_follows_a_callbacks_place_and_its_dialling_half():
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: dt.datetime(2026, 1, 1))
    place, dial = names.callback_channel_ids(7, 1)
    tracker.handle({"Event": "UserEvent", "UserEvent": "LeadCenterCallback", "Uniqueid": "17.1", "Queue": "team1"})
    tracker.handle({"Event": "UserEvent", "UserEvent": "LeadCenterInbound", "Uniqueid": "17.1", "Company": "1"})
    tracker.track_callback(place)
    for message in (
        {"Event": "UserEvent", "UserEvent": "LeadCenterCallback", "Uniqueid": "17.1", "Queue": "team1", "Position": 2},
        {"Event": "QueueCallerJoin", "Uniqueid": place, "Queue": "team1", "Position": "2"},
        {"Event": "AgentConnect", "Uniqueid": place, "Queue": "team1", "MemberName": "agent4", "HoldTime": "9"},
        # lc-callback-dial records and dials the lead on the other half
        {"Event": "UserEvent", "UserEvent": "LeadCenterRecording", "Uniqueid": dial, "File": f"/x/{dial}.wav"},
        {"Event": "DialEnd", "Uniqueid": dial, "DialStatus": "ANSWER", "Context": "lc-callback-dial"},
        {"Event": "Hangup", "Uniqueid": dial, "Cause": "16"},
        {"Event": "Hangup", "Uniqueid": place, "Cause": "16"},
    ):
        tracker.handle(message)
    assert [(name, data["channel_id"]) for name, data in published] == [
        ("call.inbound", "17.1"),  # a 1 on a channel the tracker does not follow is nobody's
        ("call.callback_asked", "17.1"),
        ("call.queued", place),
        ("call.answered", place),
        ("call.recording_started", place),
        ("call.lead_answered", place),
        ("call.ended", place),
    ]
    assert (published[1][1]["queue"], published[1][1]["position"]) == ("team1", 2)
    assert published[3][1]["agent_id"] == 4
    assert names.parse_callback_place(place) == 7 and names.parse_callback_place(dial) is None
    assert names.parse_callback_dial(dial) == place and names.parse_callback_dial(place) is None


def test_after_a_resync_the_lead_answering_a_callback_is_still_told_for_its_place():
    """Resynchronisation lists both halves of the pair as outbound channels (they carry LC_OUTBOUND)."""
    published = []
    tracker = CallTracker(lambda name, **data: published.append((name, data)), lambda: dt.datetime(2026, 1, 1))
    place, dial = names.callback_channel_ids(7, 2)
    tracker.sync_started()
    tracker.synced([{"channel_id": place, "outbound": True}, {"channel_id": dial, "outbound": True}])
    tracker.handle({"Event": "DialEnd", "Uniqueid": dial, "DialStatus": "ANSWER", "Context": "lc-callback-dial"})
    assert published == [
        ("call.lead_answered", {"channel_id": place, "agent_channel_id": None, "at": dt.datetime(2026, 1, 1)})
    ]


@pytest.mark.parametrize("last", ["bob", "lead"])
def test_a_callback_transferred_to_a_colleague_ends_as_theirs_with_one_leg_per_agent(world, last):
    """Alice takes a callback's place, the lead picks up, she hands the call to Bob (lc-transfer rings him from the
    place channel). The place channel is the lead's side of the call, never an agent's leg: the call ends as Bob's,
    with Alice's leg and Bob's, Alice in wrap-up when she leaves and Bob at the end, whoever hangs up first."""
    delivering(world)
    alice = world["agent"]
    bob = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=world["clock"]())
    asked(world)
    call = placed(world)
    place, dial = call.channel_id, names.callback_channel_ids(Callback.get().id, 1)[1]
    clock = world["clock"]
    tracker = CallTracker(lambda name, **data: world["bus"].deliver(Event(name, data, 0, clock())), clock)
    tracker.track_callback(place)
    ring = {
        "Uniqueid": place,
        "Context": "lc-transfer",
        "DestChannel": f"PJSIP/webrtc{bob.id}-3",
        "DestUniqueid": "b.3",
    }
    for seconds, message in (
        (0, {"Event": "QueueCallerJoin", "Uniqueid": place, "Queue": world["team"].queue_name, "Position": "1"}),
        (
            2,
            {
                "Event": "AgentConnect",
                "Uniqueid": place,
                "Queue": world["team"].queue_name,
                "MemberName": f"agent{alice.id}",
                "DestChannel": f"PJSIP/webrtc{alice.id}-1",
                "DestUniqueid": "a.1",
                "HoldTime": "2",
            },
        ),
        (3, {"Event": "DialEnd", "Uniqueid": dial, "DialStatus": "ANSWER", "Context": "lc-callback-dial"}),
        (20, {**ring, "Event": "DialBegin"}),  # Alice's blind transfer to Bob redirected the place to lc-transfer
        (0, {"Event": "Hangup", "Uniqueid": "a.1", "Channel": f"PJSIP/webrtc{alice.id}-1", "Cause": "16"}),
        (4, {**ring, "Event": "DialEnd", "DialStatus": "ANSWER"}),
    ):
        clock.advance(seconds=seconds)
        if message["Event"] == "DialBegin":
            CallTransfer.create(interaction=call, kind="blind", from_agent=alice, to_agent=bob, at=clock())
        tracker.handle(message)
        if message["Event"] == "Hangup":
            assert Agent.get_by_id(alice.id).status_reason == "wrap_up"  # she handed the call on
    assert (Interaction.get_by_id(call.id).agent_id, Agent.get_by_id(bob.id).status_reason) == (bob.id, "on_call")
    clock.advance(seconds=30)
    hangups = [{"Event": "Hangup", "Uniqueid": "b.3", "Cause": "16"}, {"Event": "Hangup", "Uniqueid": place}]
    for message in hangups if last == "lead" else hangups[::-1]:
        tracker.handle(message)
    done = Interaction.get_by_id(call.id)
    assert (done.status, done.outcome, done.agent_id, done.talk_seconds) == ("recent", "answered", bob.id, 54)
    assert [
        (leg.agent_id, leg.channel_id, leg.left_at is not None) for leg in CallLeg.select().order_by(CallLeg.id)
    ] == [
        (alice.id, "a.1", True),
        (bob.id, "b.3", True),
    ]
    assert [Agent.get_by_id(agent.id).status_reason for agent in (alice, bob)] == ["wrap_up", "wrap_up"]
    assert [t.outcome for t in CallTransfer.select()] == ["completed"]
