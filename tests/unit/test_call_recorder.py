"""The call recorder turns call events into interactions; each event is delivered synchronously here (and the
recorder's own, with `delivering`, each after the handler that published it, as the dispatcher does)."""

import datetime as dt

import pytest
from support import RecordingBus, delivering

from leadcenter.accounts.services import create_company, create_user
from leadcenter.agents import availability
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent
from leadcenter.agents.presence import Presence
from leadcenter.agents.services import create_agent
from leadcenter.calls import legs
from leadcenter.calls.services import CallRecorder, start_outbound
from leadcenter.events import Event
from leadcenter.flows.models import CallFlow
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction
from leadcenter.leads.models import Lead, LeadPhone
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

T0 = dt.datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def world(database, tmp_path):
    company = create_company("Acme", "US")
    agent = create_agent(
        company, create_user("a@acme.example", "Alice", "password1"), devices=("desk",), ring_device="desk", now=T0
    )
    team = Team.create(company=company, name="Sales")
    flow = CallFlow.create(company=company, name="Main")
    trunk = Trunk.create(company=company, name="Carrier", host="127.0.0.1", port=5070)
    number = TrackingNumber.create(
        company=company, number="+14045550100", name="Ads line", source="Google Ads", trunk=trunk, flow=flow
    )
    bus = RecordingBus()
    recorder = CallRecorder(
        bus,
        lambda inside: "asterisk/" + inside.removeprefix("/srv/leadcenter/"),
        tmp_path / "asterisk",
        tmp_path,
        lambda: T0,
        Availability(bus, Presence(bus).seen),
    )
    return dict(company=company, agent=agent, team=team, number=number, bus=bus, recorder=recorder)


def send(world, name, seconds=0, **data):
    world["bus"].deliver(Event(name, {"at": T0 + dt.timedelta(seconds=seconds), **data}, 0, T0))


def inbound(world, channel_id="1700000000.1", caller="(404) 555-1234", name="Lee Caller", **more):
    send(
        world,
        "call.inbound",
        **more,
        channel_id=channel_id,
        channel="PJSIP/trunk1-1",
        caller_number=caller,
        caller_name=name,
        company_id=world["company"].id,
        number_id=world["number"].id,
        flow_id=1,
    )


def test_answered_call(world):
    inbound(world)
    send(
        world,
        "call.recording_started",
        seconds=0,
        channel_id="1700000000.1",
        file="/srv/leadcenter/spool/monitor/1700000000.1.wav",
    )
    send(
        world,
        "call.answered",
        seconds=12,
        channel_id="1700000000.1",
        agent_id=world["agent"].id,
        queue=world["team"].queue_name,
    )
    send(world, "call.ended", seconds=72, channel_id="1700000000.1", cause=16)
    call = Interaction.get()
    assert (call.kind, call.direction, call.status, call.outcome) == ("call", "inbound", "recent", "answered")
    assert call.lead_number == "+14045551234"
    assert call.lead.name == "Lee Caller"
    assert (call.agent_id, call.team_id, call.tracking_number_id) == (
        world["agent"].id,
        world["team"].id,
        world["number"].id,
    )
    assert (call.started_at, call.answered_at, call.ended_at) == (
        T0,
        T0 + dt.timedelta(seconds=12),
        T0 + dt.timedelta(seconds=72),
    )
    assert call.talk_seconds == 60
    assert call.recording == "asterisk/spool/monitor/1700000000.1.wav"
    assert call.source == "Google Ads"
    # One interaction.updated per event the recorder reacts to, after the agent's status it moved.
    assert [name for name, _ in world["bus"].published] == [
        "interaction.created",
        "agent.status_changed",
        "interaction.updated",
        "agent.status_changed",
        "interaction.updated",
    ]
    # Each event carries the interaction as the API shows it, moving incoming -> active -> recent.
    assert [
        (data["company_id"], data["interaction"]["id"], data["interaction"]["status"])
        for name, data in world["bus"].published
        if name.startswith("interaction.")
    ] == [(world["company"].id, call.id, status) for status in ("incoming", "active", "recent")]
    assert world["bus"].published[-1][1]["interaction"]["agent"]["id"] == world["agent"].id
    # A queue call took Alice out of the queue; once it ended she is in wrap-up until she rejoins.
    assert [
        (data["agent"]["id"], data["agent"]["status"], data["agent"]["status_reason"])
        for name, data in world["bus"].published
        if name == "agent.status_changed"
    ] == [(world["agent"].id, "unavailable", "on_call"), (world["agent"].id, "unavailable", "wrap_up")]


def test_same_number_lands_on_the_same_lead(world):
    inbound(world, "1.1", caller="404-555-1234")
    inbound(world, "1.2", caller="+1 (404) 555 1234")
    assert Lead.select().count() == 1
    assert LeadPhone.get().number == "+14045551234"
    assert Interaction.select().count() == 2


def test_abandoned_missed_and_a_queue_timeout_that_goes_on(world):
    inbound(world, "1.1")  # the caller hangs up while waiting
    send(world, "call.left_queue", seconds=20, channel_id="1.1")
    send(world, "call.ended", seconds=20, channel_id="1.1")
    inbound(world, "1.2")  # every step went by: the flow ends it
    send(world, "call.left_queue", seconds=120, channel_id="1.2")
    send(world, "call.flow_ended", seconds=121, channel_id="1.2")
    send(world, "call.ended", seconds=121, channel_id="1.2")
    inbound(world, "1.3")  # the queue step timed out and the flow goes on: still waiting
    send(world, "call.left_queue", seconds=60, channel_id="1.3")
    outcomes = {i.channel_id: (i.status, i.outcome) for i in Interaction.select()}
    assert outcomes == {"1.1": ("recent", "abandoned"), "1.2": ("recent", "missed"), "1.3": ("incoming", None)}


def test_events_for_unknown_channels_change_nothing(world):
    send(world, "call.answered", channel_id="nope", agent_id=world["agent"].id, queue="team1")
    send(world, "call.ended", channel_id="nope")
    assert Interaction.select().count() == 0


def test_a_number_of_another_company_is_not_trusted(world):
    send(
        world,
        "call.inbound",
        channel_id="1.9",
        channel="x",
        caller_number="4045551234",
        caller_name="",
        company_id=world["company"].id + 1,
        number_id=world["number"].id,
        flow_id=None,
    )
    assert Interaction.select().count() == 0


def call_up(world, channel_id: str, **more) -> dict:
    """A call Asterisk has up, as a resync lists it: a caller on the tracking number since T0 + 5 s."""
    return {
        "channel_id": channel_id,
        "channel": f"PJSIP/trunk1-{channel_id.rsplit('.', 1)[-1]}",
        "caller_number": "4045559876",
        "caller_name": "",
        "company_id": world["company"].id,
        "number_id": world["number"].id,
        "flow_id": 1,
        "started_at": T0 + dt.timedelta(seconds=5),
        **more,
    }


def test_resync_creates_calls_that_began_while_away_and_concludes_those_that_ended(world):
    inbound(world, "1.1")  # ended while the controller was away
    up = call_up(world, "1.2", agent_id=world["agent"].id, recording="/srv/leadcenter/spool/monitor/1.2.wav")
    world["bus"].deliver(
        Event("telephony.synced", {"calls": [up], "members": [], "read_at": T0 + dt.timedelta(seconds=6)}, 0, T0)
    )
    gone, found = Interaction.get(channel_id="1.1"), Interaction.get(channel_id="1.2")
    assert (gone.status, gone.outcome) == ("recent", "missed")
    assert (found.status, found.agent_id, found.lead_number) == ("active", world["agent"].id, "+14045559876")
    assert found.started_at == T0 + dt.timedelta(seconds=5)
    assert found.recording == "asterisk/spool/monitor/1.2.wav"
    # A second resync with the same picture changes nothing.
    world["bus"].deliver(
        Event("telephony.synced", {"calls": [up], "members": [], "read_at": T0 + dt.timedelta(seconds=6)}, 0, T0)
    )
    assert Interaction.select().count() == 2
    assert Interaction.get(channel_id="1.2").status == "active"


def test_a_node_s_resync_concludes_its_own_stale_calls_only(world):
    """Two Asterisk nodes: node b's resync does not list node a's calls, which are not its to conclude."""
    inbound(world, "a-1.1", node="a")  # up on node a
    inbound(world, "b-1.2", node="b")  # ended on node b while the controller was away
    assert [(i.channel_id, i.node) for i in Interaction.select().order_by(Interaction.id)] == [
        ("a-1.1", "a"),
        ("b-1.2", "b"),
    ]
    synced = {"calls": [], "members": [], "read_at": T0 + dt.timedelta(seconds=6), "node": "b"}
    world["bus"].deliver(Event("telephony.synced", synced, 0, T0))
    assert Interaction.get(channel_id="a-1.1").status == "incoming"
    assert (Interaction.get(channel_id="b-1.2").status, Interaction.get(channel_id="b-1.2").outcome) == (
        "recent",
        "missed",
    )
    # Node a's own resync without its call concludes it; a call node b had up that began while the controller was
    # away gets an interaction on node b.
    up = call_up(world, "b-1.3")
    world["bus"].deliver(Event("telephony.synced", {**synced, "calls": [up]}, 0, T0))
    assert Interaction.get(channel_id="b-1.3").node == "b"
    world["bus"].deliver(Event("telephony.synced", {**synced, "node": "a"}, 0, T0))
    assert Interaction.get(channel_id="a-1.1").status == "recent"
    assert Interaction.get(channel_id="b-1.3").status == "incoming"


def test_a_message_left_concludes_the_call_as_voicemail_with_its_audio(world, tmp_path):
    inbox = tmp_path / "asterisk" / "spool" / "voicemail" / "leadcenter" / "company1" / "INBOX"
    inbox.mkdir(parents=True)
    for n, channel in ((0, "PJSIP/trunk1-00000001"), (1, "PJSIP/trunk1-00000007")):
        (inbox / f"msg000{n}.txt").write_text(
            f";\n[message]\norigmailbox=company1\ncallerchan={channel}\nduration={5 + n}\n"
        )
        (inbox / f"msg000{n}.wav").write_bytes(b"RIFF")
    inbound(world, "1.7")
    send(
        world,
        "call.voicemail_left",
        seconds=30,
        channel_id="1.7",
        channel="PJSIP/trunk1-00000007",
        mailbox="company1",
        status="",
    )
    send(world, "call.ended", seconds=40, channel_id="1.7")
    call = Interaction.get(channel_id="1.7")
    assert (call.status, call.outcome, call.duration_seconds) == ("recent", "voicemail", 6)
    assert call.voicemail == "asterisk/spool/voicemail/leadcenter/company1/INBOX/msg0001.wav"
    assert call.ended_at == T0 + dt.timedelta(seconds=30)


def _message_left(tmp_path, mailbox: str, channel: str, seconds: int = 9) -> None:
    inbox = tmp_path / "asterisk" / "spool" / "voicemail" / "leadcenter" / mailbox / "INBOX"
    inbox.mkdir(parents=True)
    (inbox / "msg0000.txt").write_text(
        f";\n[message]\norigmailbox={mailbox}\ncallerchan={channel}\nduration={seconds}\n"
    )
    (inbox / "msg0000.wav").write_bytes(b"RIFF")


def test_a_message_in_an_agents_own_mailbox_is_theirs_alone(world, tmp_path):
    agent = world["agent"]
    _message_left(tmp_path, f"agent{agent.id}", "PJSIP/trunk1-00000009")
    inbound(world, "1.9")
    send(
        world,
        "call.voicemail_left",
        seconds=30,
        channel_id="1.9",
        channel="PJSIP/trunk1-00000009",
        mailbox=f"agent{agent.id}",
        status="",
    )
    call = Interaction.get(channel_id="1.9")
    assert (call.status, call.outcome, call.mailbox_agent_id, call.handled_at) == (
        "recent",
        "voicemail",
        agent.id,
        None,
    )
    assert call.voicemail == f"asterisk/spool/voicemail/leadcenter/agent{agent.id}/INBOX/msg0000.wav"
    name, data = world["bus"].published[-1]
    assert name == "interaction.updated" and data["incoming_for"] == [agent.id]
    assert data["interaction"]["mailbox_agent_id"] == agent.id


def test_an_answered_call_sent_to_a_colleague_s_mailbox_stays_the_call_it_was_with_the_message(world, tmp_path):
    """A transfer the colleague did not answer (lc-agent-voicemail): the lead leaves the colleague a message on a
    call the first agent answered; it ends answered, and the message is the colleague's."""
    colleague = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=T0)
    _message_left(tmp_path, f"agent{colleague.id}", "PJSIP/trunk1-0000000a", seconds=4)
    inbound(world, "1.10")
    send(
        world, "call.answered", seconds=5, channel_id="1.10", agent_id=world["agent"].id, queue=world["team"].queue_name
    )
    send(
        world,
        "call.voicemail_left",
        seconds=40,
        channel_id="1.10",
        channel="PJSIP/trunk1-0000000a",
        mailbox=f"agent{colleague.id}",
        status="",
    )
    send(world, "call.ended", seconds=41, channel_id="1.10")
    call = Interaction.get(channel_id="1.10")
    assert (call.status, call.outcome, call.agent_id) == ("recent", "answered", world["agent"].id)
    assert (call.mailbox_agent_id, call.duration_seconds) == (colleague.id, 4)


def test_hanging_up_before_the_beep_is_a_missed_call(world, tmp_path):
    inbound(world, "1.8")
    send(
        world,
        "call.voicemail_left",
        seconds=30,
        channel_id="1.8",
        channel="PJSIP/trunk1-00000008",
        mailbox="company1",
        status="",
    )
    send(world, "call.ended", seconds=31, channel_id="1.8")
    call = Interaction.get(channel_id="1.8")
    assert (call.outcome, call.voicemail) == ("missed", None)


def test_a_new_call_is_announced_to_the_agents_of_its_flow(world):
    from leadcenter.teams.models import TeamMember

    TeamMember.create(team=world["team"], agent=world["agent"])
    world["number"].flow.steps = [{"type": "queue", "team": world["team"].id, "timeout": 60}]
    world["number"].flow.save()
    inbound(world, "1.5")
    name, data = world["bus"].published[0]
    assert (name, data["incoming_for"]) == ("interaction.created", [world["agent"].id])
    assert (data["interaction"]["status"], data["interaction"]["call_id"]) == ("incoming", "1.5")


def test_a_call_that_began_after_asterisk_was_read_is_not_taken_for_one_that_ended(world):
    inbound(world, "1.4")  # started at T0, after the resync read Asterisk's channels
    world["bus"].deliver(
        Event("telephony.synced", {"calls": [], "members": [], "read_at": T0 - dt.timedelta(milliseconds=5)}, 0, T0)
    )
    assert Interaction.get(channel_id="1.4").status == "incoming"


@pytest.mark.parametrize("queue", ["team1", None], ids=["from a queue", "from a ring-agents step or Incoming"])
def test_every_inbound_call_an_agent_answers_takes_them_out_until_they_rejoin(world, queue):
    """However the call reached the agent (a queue, a ring-agents step, or Answer on a call ringing someone else),
    they are on a call while it lasts and in wrap-up after it."""
    from leadcenter.agents.models import Agent

    inbound(world)
    send(
        world,
        "call.answered",
        seconds=5,
        channel_id="1700000000.1",
        agent_id=world["agent"].id,
        queue=queue and f"team{world['team'].id}",
    )
    assert (Agent.get_by_id(world["agent"].id).status_reason, Interaction.get().status) == ("on_call", "active")
    send(world, "call.ended", seconds=30, channel_id="1700000000.1", cause=16)
    assert Agent.get_by_id(world["agent"].id).status_reason == "wrap_up"


def test_an_agent_on_two_calls_stays_on_a_call_until_the_last_ends(world):
    from leadcenter.agents.models import Agent

    for channel in ("1700000000.1", "1700000000.5"):
        inbound(world, channel_id=channel)
        send(world, "call.answered", seconds=5, channel_id=channel, agent_id=world["agent"].id, queue=None)
    send(world, "call.ended", seconds=30, channel_id="1700000000.1", cause=16)
    assert Agent.get_by_id(world["agent"].id).status_reason == "on_call"
    send(world, "call.ended", seconds=40, channel_id="1700000000.5", cause=16)
    assert Agent.get_by_id(world["agent"].id).status_reason == "wrap_up"


def test_hold_time_is_summed_per_call_whoever_holds_and_a_call_that_ends_on_hold_counts_to_its_end(world):
    inbound(world)
    send(world, "call.queued", seconds=1, channel_id="1700000000.1", queue=world["team"].queue_name, position=1)
    send(
        world,
        "call.answered",
        seconds=5,
        channel_id="1700000000.1",
        agent_id=world["agent"].id,
        queue=world["team"].queue_name,
    )
    call = Interaction.get()
    assert (call.queue_team_id, call.hold_seconds) == (world["team"].id, None)
    # The agent holds 10..40; the lead holds too 30..50 (the call is on hold 10..50 = 40 s); the agent again from
    # 60 until the call ends at 75: 55 s in all.
    send(world, "call.held", seconds=10, channel_id="1700000000.1", holder="agent-leg")
    send(world, "call.held", seconds=30, channel_id="1700000000.1", holder="1700000000.1")
    send(world, "call.unheld", seconds=40, channel_id="1700000000.1", holder="agent-leg")
    assert Interaction.get().hold_seconds is None  # the lead still holds it
    send(world, "call.unheld", seconds=50, channel_id="1700000000.1", holder="1700000000.1")
    assert Interaction.get().hold_seconds == 40
    send(world, "call.held", seconds=60, channel_id="1700000000.1", holder="agent-leg")
    send(world, "call.ended", seconds=75, channel_id="1700000000.1", cause=16)
    call = Interaction.get()
    assert (call.hold_seconds, call.talk_seconds, call.status) == (55, 70, "recent")


def test_a_call_counts_in_the_first_queue_it_entered_and_only_a_team_of_its_company(world):
    inbound(world)
    other = Team.create(company=create_company("Other", "US"), name="Theirs")
    send(world, "call.queued", seconds=1, channel_id="1700000000.1", queue=other.queue_name, position=1)
    assert Interaction.get().queue_team_id is None
    send(world, "call.queued", seconds=2, channel_id="1700000000.1", queue=world["team"].queue_name, position=1)
    second = Team.create(company=world["company"], name="Overflow")
    send(world, "call.queued", seconds=60, channel_id="1700000000.1", queue=second.queue_name, position=1)
    assert Interaction.get().queue_team_id == world["team"].id


# -- legs and transfers ----------------------------------------------------------------------------------------


def statuses(world, agent):
    return [
        data["agent"]["status_reason"]
        for name, data in world["bus"].published
        if name == "agent.status_changed" and data["agent"]["id"] == agent.id
    ]


def test_a_blind_transfer_moves_the_call_to_the_colleague_and_the_first_agent_to_wrap_up(world):
    delivering(world)
    alice = world["agent"]
    bob = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=T0)
    inbound(world, "1.1")
    send(world, "call.answered", seconds=10, channel_id="1.1", agent_id=alice.id, queue="team1", agent_channel_id="a.1")
    call = Interaction.get()
    CallTransfer.create(interaction=call, kind="blind", from_agent=alice, to_agent=bob, at=T0)
    send(world, "call.party_left", seconds=40, channel_id="1.1", party_channel_id="a.1")  # the redirect ends her leg
    assert statuses(world, alice) == ["on_call", "wrap_up"]
    send(world, "call.answered", seconds=45, channel_id="1.1", agent_id=bob.id, queue=None, agent_channel_id="b.1")
    live = Interaction.get_by_id(call.id)
    assert (live.status, live.agent_id) == ("active", bob.id)
    assert statuses(world, bob) == ["on_call"]
    send(world, "call.held", seconds=50, channel_id="1.1", holder="b.1")
    send(world, "call.unheld", seconds=55, channel_id="1.1", holder="b.1")
    send(world, "call.ended", seconds=70, channel_id="1.1")
    done = Interaction.get_by_id(call.id)
    assert (done.status, done.outcome, done.agent_id, done.talk_seconds, done.hold_seconds) == (
        "recent",
        "answered",
        bob.id,
        60,
        5,
    )
    legs = [(leg.agent_id, leg.talk_seconds, leg.hold_seconds) for leg in CallLeg.select().order_by(CallLeg.id)]
    assert legs == [(alice.id, 30, 0), (bob.id, 25, 5)]
    assert CallTransfer.get().outcome == "completed"
    assert statuses(world, bob) == ["on_call", "wrap_up"]
    # The browser's last event shows both legs and the transfer.
    shown = [data for name, data in world["bus"].published if name == "interaction.updated"][-1]["interaction"]
    assert [leg["agent_name"] for leg in shown["legs"]] == ["Alice", "Bob"]
    assert [t["outcome"] for t in shown["transfers"]] == ["completed"]


def test_an_outbound_call_transferred_to_a_colleague_is_one_call_with_each_agent_s_leg(world):
    """Alice's outbound call (named by her channel, lc-out-1, throughout): the lead answers, she hands it to Bob; her
    leg ends when her channel hangs up (wrap-up for her), Bob's when the call ends (wrap-up for him)."""
    delivering(world)
    alice = world["agent"]
    bob = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=T0)
    call = start_outbound(alice, world["number"], "+14045559301", "lc-out-1", T0)
    availability.MACHINE.move(Agent.get_by_id(alice.id), "take_call", T0)  # as Place Call does (presence)
    send(world, "call.lead_answered", seconds=5, channel_id="lc-out-1", agent_channel_id="lc-out-1")
    CallTransfer.create(interaction=call, kind="blind", from_agent=alice, to_agent=bob, at=T0)
    send(world, "call.party_left", seconds=35, channel_id="lc-out-1", party_channel_id="lc-out-1")
    assert statuses(world, alice)[-1] == "wrap_up"
    assert Interaction.get_by_id(call.id).status == "active"  # the lead is still on, waiting for Bob
    send(world, "call.answered", seconds=40, channel_id="lc-out-1", agent_id=bob.id, queue=None, agent_channel_id="b.1")
    assert (Interaction.get_by_id(call.id).agent_id, statuses(world, bob)) == (bob.id, ["on_call"])
    send(world, "call.ended", seconds=100, channel_id="lc-out-1")
    done = Interaction.get_by_id(call.id)
    assert (done.status, done.outcome, done.direction, done.agent_id, done.talk_seconds) == (
        "recent",
        "answered",
        "outbound",
        bob.id,
        95,
    )
    legs = [(leg.agent_id, leg.talk_seconds) for leg in CallLeg.select().order_by(CallLeg.id)]
    assert legs == [(alice.id, 30), (bob.id, 60)]
    assert CallTransfer.get().outcome == "completed"
    assert statuses(world, bob) == ["on_call", "wrap_up"]


def test_a_transfer_to_a_number_adds_the_external_party_and_one_the_lead_hangs_up_on_fails(world):
    delivering(world)
    alice = world["agent"]
    inbound(world, "1.1")
    send(world, "call.answered", seconds=10, channel_id="1.1", agent_id=alice.id, queue=None, agent_channel_id="a.1")
    call = Interaction.get()
    CallTransfer.create(interaction=call, kind="blind", from_agent=alice, to_number="+14045550199", at=T0)
    send(world, "call.party_left", seconds=20, channel_id="1.1", party_channel_id="a.1")
    send(world, "call.party_answered", seconds=25, channel_id="1.1", party_channel_id="x.1", number="+14045550199")
    send(world, "call.ended", seconds=85, channel_id="1.1")
    legs = [(leg.agent_id, leg.number, leg.talk_seconds) for leg in CallLeg.select().order_by(CallLeg.id)]
    assert legs == [(alice.id, "", 10), (None, "+14045550199", 60)]
    # An external party takes nobody's place: handed on, the call is no agent's (out of Alice's Active).
    assert Interaction.get_by_id(call.id).agent_id is None
    assert CallTransfer.get().outcome == "completed"
    inbound(world, "1.2")
    send(world, "call.answered", seconds=10, channel_id="1.2", agent_id=alice.id, queue=None, agent_channel_id="a.2")
    second = Interaction.get(channel_id="1.2")
    CallTransfer.create(interaction=second, kind="blind", from_agent=alice, to_number="+14045550198", at=T0)
    send(world, "call.ended", seconds=30, channel_id="1.2")
    assert CallTransfer.get(interaction=second).outcome == "failed"


def test_every_agent_still_on_a_call_when_it_ends_goes_to_wrap_up_and_an_unfinished_transfer_fails(world):
    """The lead's end comes first, the legs' ends after it (call.leg_left finds the call over): wrap-up is the
    conclusion's to give, to each agent still on it."""
    delivering(world)
    alice = world["agent"]
    bob = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=T0)
    inbound(world, "1.1")
    send(world, "call.answered", seconds=10, channel_id="1.1", agent_id=alice.id, queue=None, agent_channel_id="a.1")
    call = Interaction.get()
    # Alice hands the call to her team, and the lead's line goes down with her leg: she did not hand it on.
    CallTransfer.create(interaction=call, kind="blind", from_agent=alice, to_team=world["team"], at=T0)
    send(world, "call.ended", seconds=20, channel_id="1.1")
    done = Interaction.get_by_id(call.id)
    assert (done.status, done.agent_id, CallTransfer.get().outcome) == ("recent", alice.id, "failed")
    assert statuses(world, alice) == ["on_call", "wrap_up"]
    # A conference: Bob joined Alice's call; the lead hangs up on both.
    availability.MACHINE.move(Agent.get_by_id(alice.id), "rejoin", T0)
    inbound(world, "1.2")
    send(world, "call.answered", seconds=30, channel_id="1.2", agent_id=alice.id, queue=None, agent_channel_id="a.2")
    second = Interaction.get(channel_id="1.2")
    legs.joined(world["bus"], second, "b.2", T0 + dt.timedelta(seconds=35), agent=bob)
    world["bus"].deliver(Event("nothing", {}, 0, T0))  # and what joining published is delivered
    send(world, "call.ended", seconds=50, channel_id="1.2")
    assert statuses(world, alice)[-2:] == ["on_call", "wrap_up"]
    assert statuses(world, bob) == ["on_call", "wrap_up"]


def test_an_agent_whose_short_call_ended_before_their_leg_was_told_is_not_left_on_a_call(world):
    """A callback to a busy lead: the tracker tells the answer and the end before the dispatcher delivers the
    call.leg_joined the answer's handler published."""
    delivering(world)
    alice = world["agent"]
    inbound(world, "1.1")
    answered = {"channel_id": "1.1", "agent_id": alice.id, "queue": None, "agent_channel_id": "a.1"}
    world["deliver_alone"](Event("call.answered", {"at": T0 + dt.timedelta(seconds=10), **answered}, 0, T0))
    send(world, "call.ended", seconds=10, channel_id="1.1")  # then the leg_joined, late
    assert statuses(world, alice) == ["on_call", "wrap_up"]
    assert Agent.get_by_id(alice.id).status_reason == "wrap_up"


def test_an_agent_who_hangs_up_without_handing_on_goes_to_wrap_up_once(world):
    delivering(world)
    alice = world["agent"]
    inbound(world, "1.1")
    send(world, "call.answered", seconds=10, channel_id="1.1", agent_id=alice.id, queue="team1", agent_channel_id="a.1")
    send(world, "call.party_left", seconds=30, channel_id="1.1", party_channel_id="a.1")
    assert statuses(world, alice) == ["on_call"]  # the call may ring her again (lc-agent-left): not yet
    send(world, "call.ended", seconds=31, channel_id="1.1")
    assert statuses(world, alice) == ["on_call", "wrap_up"]


def referred_to_bob(world):
    """Alice answered a queue call, and her desk phone's transfer key sent it to Bob's extension."""
    delivering(world)
    alice = world["agent"]
    bob = create_agent(world["company"], create_user("b@acme.example", "Bob", "password1"), now=T0)
    inbound(world, "1.1")
    send(world, "call.answered", seconds=10, channel_id="1.1", agent_id=alice.id, queue="team1", agent_channel_id="a.1")
    send(world, "call.referred", seconds=20, channel_id="1.1", agent_id=alice.id, extension=str(bob.id), succeeded=True)
    return alice, bob


def test_a_desk_phones_refer_to_a_colleague_is_on_the_timeline_and_completes_when_they_answer(world):
    alice, bob = referred_to_bob(world)
    send(world, "call.party_left", seconds=20, channel_id="1.1", party_channel_id="a.1")
    assert statuses(world, alice) == ["on_call", "wrap_up"]
    send(world, "call.answered", seconds=25, channel_id="1.1", agent_id=bob.id, queue=None, agent_channel_id="b.1")
    move = CallTransfer.get()
    assert (move.kind, move.from_agent_id, move.to_agent_id, move.outcome) == ("refer", alice.id, bob.id, "completed")
    assert Interaction.get().agent_id == bob.id


def test_a_desk_phones_attended_refer_moves_the_call_to_the_colleague_at_once(world):
    """The tracker tells an attended REFER (AMI AttendedTransfer) as the blind one, then Bob answering at the same
    instant, then Alice's phone hanging up her leg: the same path as a blind REFER, all within one second."""
    alice, bob = referred_to_bob(world)
    send(world, "call.answered", seconds=20, channel_id="1.1", agent_id=bob.id, queue=None, agent_channel_id="b.1")
    assert Interaction.get().agent_id == bob.id  # in Bob's Active, before Alice's leg has even ended
    send(world, "call.party_left", seconds=20, channel_id="1.1", party_channel_id="a.1")
    assert statuses(world, alice) == ["on_call", "wrap_up"]
    assert statuses(world, bob) == ["on_call"]
    move = CallTransfer.get()
    assert (move.kind, move.from_agent_id, move.to_agent_id, move.outcome) == ("refer", alice.id, bob.id, "completed")
    shown = [data for name, data in world["bus"].published if name == "interaction.updated"][-1]["interaction"]
    assert shown["agent"]["id"] == bob.id
    assert [(leg["agent_id"], leg["left_at"] is not None) for leg in shown["legs"]] == [
        (alice.id, True),
        (bob.id, False),
    ]
    assert [(t["kind"], t["outcome"]) for t in shown["transfers"]] == [("refer", "completed")]
