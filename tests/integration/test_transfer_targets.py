"""Where a blind transfer takes a call, on the wire: into a team's queue, where the call's first arrival earns it its
place ahead of the callers who called after it (the team keeps transferred calls' places); and to a colleague
whose phone cannot ring, where the caller reaches the colleague's own mailbox and the message is theirs. An outside
number added to a call is dialled with the tracking number as caller ID, and dropped again; one consulted, then
handed the call. An agent's outbound call moves the same ways once the lead picked up: blind to a colleague, an
outside number added to it, a colleague consulted then handed it. SIPp callers on the demo trunk (and the carrier
answering the calls Asterisk places on it), Alice's and Bob's SIPp desk phones; Alice places calls and transfers
through the API as her app does."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from audio import seconds
from harness import ADS_LINE, bridged, wait_for
from sipp import Call, SippCaller
from test_availability import EMAIL
from test_calls import ALICE, BOB
from test_verbs import carrier, spoken

from leadcenter.agents.models import Agent
from leadcenter.calls import legs
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber

LEAD, LATER, LATEST = "+14045558601", "+14045558602", "+14045558603"
MAILBOX_LEAD = "+14045558611"
ADDED_LEAD = "+14045558621"
CONSULT_LEAD = "+14045558631"
BUSY_LEAD, BUSY_PARTY = "+14045559401", "+14045559402"
OTHER_LEAD, BOBS_LEAD = "+14045559403", "+14045559404"
CALLED_LEAD, CALLED_ADDED_LEAD, ADDED_PARTY = "+14045559301", "+14045559311", "+14045559312"
CALLED_CONSULTED_LEAD = "+14045559331"
RECORDED_LEAD = "+14045559701"


def channels_by_caller(running) -> dict[str, str]:
    """Each live channel's name by its caller ID number (core show channels concise: name!...!caller id!...)."""
    shown = running.instance.rx("core show channels concise") or ""
    return {fields[7]: fields[0] for fields in (line.split("!") for line in shown.splitlines()) if len(fields) > 7}


def waiting(running, queue: str) -> list[str]:
    """The channels waiting in a queue, first place first."""
    shown = running.instance.rx(f"queue show {queue}") or ""
    return [name for _, name in sorted(re.findall(r"^\s+(\d+)\. (\S+) \(wait", shown, re.M), key=lambda p: int(p[0]))]


def transfer(running, interaction: Interaction, to: dict) -> dict:
    with contextlib.closing(running.sign_in(EMAIL[ALICE])) as alice:
        answer = alice.post(f"/api/v1/interactions/{interaction.id}/transfer", json={"to": to})
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_a_call_transferred_to_a_busy_queue_goes_ahead_of_those_who_called_after_it(running, peers, tmp_path):
    team = Team.get(Team.name == "Sales")
    assert team.transfer_keeps_place
    running.choose_status(EMAIL[BOB], "offline")  # nobody else takes calls: the callers wait
    with peers.phone(ALICE) as alice:
        # From the trunk's one port, as a carrier calls: the lead, then two callers once Alice has the lead's call.
        callers = SippCaller(workdir=tmp_path / "callers").start_calls(
            [
                Call(ADS_LINE, LEAD, duration=45),
                Call(ADS_LINE, LATER, duration=40, delay=10),
                Call(ADS_LINE, LATEST, duration=40, delay=11),
            ],
            asterisk_port=running.sip_port,
            local_port=running.trunk_port,
        )
        peers.handles.append(callers)
        alice.wait_for("ANSWERED", timeout=20)
        live = wait_for(
            lambda: (i := running.interaction(lead_number=LEAD)) and i.status == "active" and i, 10, what="the call"
        )
        wait_for(lambda: len(waiting(running, team.queue_name)) == 2, 30, what="two callers waiting in the queue")

        transfer(running, live, {"team_id": team.id})
        lead_channel = wait_for(lambda: channels_by_caller(running).get(LEAD), 5, what="the lead's channel")
        # The lead's place is the first: it called before both.
        places = wait_for(
            lambda: (w := waiting(running, team.queue_name)) and len(w) == 3 and w, 10, what="the lead in the queue"
        )
        channels = channels_by_caller(running)
        assert places == [lead_channel, channels[LATER], channels[LATEST]], (places, channels)
        # Alice handed the call on: she is in wrap-up, the call waits for the team with its transfer recorded.
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
        moves = list(CallTransfer.select().where(CallTransfer.interaction == live))
        assert [(t.kind, t.from_agent_id, t.to_team_id) for t in moves] == [("blind", ALICE, team.id)]


def test_a_transfer_to_a_colleague_whose_phone_cannot_ring_reaches_their_mailbox(running, peers):
    running.choose_status(EMAIL[BOB], "offline")
    with peers.phone(ALICE) as alice:
        # The lead speaks 14 s in: after Alice took the call, and after Bob's greeting and the beep.
        caller = peers.call(MAILBOX_LEAD, duration=30, speak_at=14)
        alice.wait_for("ANSWERED", timeout=20)
        live = wait_for(
            lambda: (i := running.interaction(lead_number=MAILBOX_LEAD)) and i.status == "active" and i,
            10,
            what="the call",
        )
        transfer(running, live, {"agent_id": BOB})  # Bob's desk phone is not registered
        assert caller.wait(45).answered
    message = wait_for(
        lambda: (i := Interaction.get_by_id(live.id)).mailbox_agent_id and i, 15, what="the message in Bob's mailbox"
    )
    assert message.mailbox_agent_id == BOB
    with contextlib.closing(running.sign_in(EMAIL[BOB])) as bob, contextlib.closing(running.sign_in(EMAIL[ALICE])) as a:
        bobs, alices = bob.get("/api/v1/inbox").json(), a.get("/api/v1/inbox").json()
    assert live.id in {i["id"] for i in bobs["incoming"]}
    assert live.id not in {i["id"] for i in alices["incoming"]}


@contextlib.contextmanager
def alices_call_from(running, peers, lead: str, answers: bool | str = True):
    """A call from ``lead`` that Alice's desk phone answered (Bob is offline), live; the trunk's peer is both the
    lead's carrier and the one an outside number is dialled through: one process, answering (``answers``: "busy",
    486 to every call Asterisk places)."""
    running.choose_status(EMAIL[BOB], "offline")
    with peers.phone(ALICE) as alice:
        # Longer than the waits of a test on it (up to a minute on a loaded machine): the lead hanging up at 30 s
        # ended a consult test's call before it could look at it (2026-12-08). The test kills it at its end.
        caller = peers.call(lead, duration=90, answers=answers)
        alice.wait_for("ANSWERED", timeout=20)
        yield (
            caller,
            wait_for(
                lambda: (i := running.interaction(lead_number=lead)) and i.status == "active" and i, 10, what="the call"
            ),
        )


def test_an_outside_number_added_to_a_call_is_dialled_as_the_tracking_number_and_can_be_dropped(running, peers):
    with (
        alices_call_from(running, peers, ADDED_LEAD) as (caller, live),
        contextlib.closing(running.sign_in(EMAIL[ALICE])) as app,
    ):
        answer = app.post(f"/api/v1/interactions/{live.id}/conference", json={"number": "404 555 8699"})
        assert answer.status_code == 200, answer.text
        invite = wait_for(lambda: caller.carrier_invites(), 15, what="the carrier to get the added party's INVITE")
        assert invite[-1]["from_user"] == ADS_LINE  # the tracking number the lead called, not the lead's own
        party = wait_for(
            lambda: CallLeg.get_or_none(CallLeg.interaction == live, CallLeg.number == "+14045558699"),
            15,
            what="the outside party's leg",
        )
        assert app.delete(f"/api/v1/interactions/{live.id}/conference/{party.id}").status_code in (200, 204)
        wait_for(lambda: CallLeg.get_by_id(party.id).left_at, 10, what="the outside party's leg to end")
        # Dropped: the lead and Alice are still on the call.
        assert Interaction.get_by_id(live.id).status == "active"
        assert any(leg.agent_id == ALICE for leg in legs.open_legs(Interaction.get_by_id(live.id)))


def test_a_consult_with_an_outside_number_completed_leaves_the_lead_with_it(running, peers):
    with alices_call_from(running, peers, CONSULT_LEAD) as (caller, live):
        with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:
            answer = app.post(f"/api/v1/interactions/{live.id}/consult", json={"number": "404 555 8698"})
            assert answer.status_code == 200, answer.text
            invite = wait_for(lambda: caller.carrier_invites(), 15, what="the carrier to get the consult's INVITE")
            assert invite[-1]["from_user"] == ADS_LINE  # the tracking number the lead called
            # Complete once the outside number answered (until then: 409 no-consult, as the app's button says).
            completed = wait_for(
                lambda: (r := app.post(f"/api/v1/interactions/{live.id}/consult/complete")).status_code != 409 and r,
                15,
                interval=0.5,
                what="the consult to be completed once the outside number answered",
            )
            assert completed.status_code == 200, completed.text
        # Alice left: the lead and the outside number stay on, and she is in wrap-up.
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
        wait_for(
            lambda: [(leg.agent_id, leg.number) for leg in legs.open_legs(live)] == [(None, "+14045558698")],
            10,
            what="the outside number alone on the call with the lead",
        )
        assert Interaction.get_by_id(live.id).status == "active"
        moves = CallTransfer.select().where(CallTransfer.interaction == live)
        assert [(t.kind, t.from_agent_id, t.to_number, t.outcome) for t in moves] == [
            ("warm", ALICE, "+14045558698", "completed")
        ]


def _last_move_over(interaction: Interaction) -> CallTransfer | None:
    """The call's last transfer, once it is no longer under way."""
    move = CallTransfer.select().where(CallTransfer.interaction == interaction).order_by(CallTransfer.id.desc()).first()
    return move if move is not None and move.outcome != "requested" else None


def test_an_outside_number_that_answers_busy_fails_and_the_lead_stays_with_alice(running, peers):
    """Added to the call, then consulted: the carrier answers 486 Busy each time. The transfer is failed (busy), not
    completed when dialled; the lead and Alice are still together on the call, and Alice's app is told why."""
    with (
        alices_call_from(running, peers, BUSY_LEAD, answers="busy") as (caller, live),
        contextlib.closing(running.sign_in(EMAIL[ALICE])) as app,
    ):
        for verb, kind in (("conference", "conference"), ("consult", "warm")):
            answer = app.post(f"/api/v1/interactions/{live.id}/{verb}", json={"number": BUSY_PARTY})
            assert answer.status_code == 200, answer.text
            # Dialled, never completed for that (the carrier's 486 may be back before the answer is).
            assert answer.json()["transfers"][-1]["outcome"] in ("requested", "failed")
            move = wait_for(lambda: _last_move_over(live), 15, what=f"the {verb} to the busy number to end")
            assert move.kind == kind
            assert (move.outcome, move.failure, move.to_number) == ("failed", "busy", BUSY_PARTY)
            shown = app.get(f"/api/v1/interactions/{live.id}").json()["transfers"][-1]
            assert (shown["outcome"], shown["failure"]) == ("failed", "busy")
            # Still together: the call is Alice's and live, with her leg only; the lead was not hung up.
            call = Interaction.get_by_id(live.id)
            assert (call.status, call.agent_id) == ("active", ALICE)
            assert [(leg.agent_id, leg.number) for leg in legs.open_legs(call)] == [(ALICE, "")]
            assert "HANGUP" not in {e[0] for e in caller.events()}
        assert len(caller.carrier_invites()) == 2


def test_a_colleague_on_another_call_is_neither_consulted_nor_added(running, peers, tmp_path):
    """Bob takes a lead's call first; then Alice takes another and asks for Bob: refused (409 colleague-unavailable),
    his phone does not ring, and Alice's call goes on."""
    running.choose_status(EMAIL[ALICE], "offline")  # the first call is Bob's
    with peers.phone(BOB) as bob, peers.phone(ALICE) as alice:
        # From the trunk's one port, as a carrier calls: Bob's lead, then (waiting for Alice) the other.
        callers = SippCaller(workdir=tmp_path / "callers").start_calls(
            [Call(ADS_LINE, BOBS_LEAD, duration=40), Call(ADS_LINE, OTHER_LEAD, duration=35, delay=8)],
            asterisk_port=running.sip_port,
            local_port=running.trunk_port,
        )
        peers.handles.append(callers)
        bob.wait_for("ANSWERED", timeout=20)
        wait_for(lambda: Agent.get_by_id(BOB).status_reason == "on_call", 10, what="Bob on his call")
        running.choose_status(EMAIL[ALICE], "available")
        alice.wait_for("ANSWERED", timeout=30)
        live = wait_for(
            lambda: (i := running.interaction(lead_number=OTHER_LEAD)) and i.status == "active" and i, 10, what="call"
        )
        with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:
            for verb in ("consult", "conference"):
                refused = app.post(f"/api/v1/interactions/{live.id}/{verb}", json={"agent_id": BOB})
                assert (refused.status_code, refused.json()["error"]) == (409, "colleague-unavailable"), refused.text
        assert bob.count("INVITE") == 1  # his own call's only
        assert not CallTransfer.select().where(CallTransfer.interaction == live).exists()
        assert Interaction.get_by_id(live.id).status == "active"


@contextlib.contextmanager
def alices_outbound_call(running, peers, tmp_path, lead: str, record: bool = False, **bobs_phone):
    """Alice places a call to ``lead`` (her desk phone rings first and picks up, then the demo carrier answers for
    the lead), live once the lead answered; Bob's desk phone is registered (``bobs_phone``: its options)."""
    with (
        peers.phone(ALICE) as alice,
        peers.phone(BOB, **bobs_phone) as bob,
        carrier(running, tmp_path) as the_lead,
        contextlib.closing(running.sign_in(EMAIL[ALICE])) as app,
    ):
        number = TrackingNumber.get(TrackingNumber.number == ADS_LINE)
        placed = app.post("/api/v1/calls", json={"to": lead, "tracking_number_id": number.id, "record": record})
        assert placed.status_code == 201, placed.text
        the_lead.wait_for("ANSWERED", timeout=15)
        assert the_lead.invites()[0]["from_user"] == ADS_LINE
        live = wait_for(
            lambda: (i := Interaction.get_by_id(placed.json()["id"])).answered_at and i, 10, what="the lead to answer"
        )
        yield app, alice, bob, the_lead, live


def test_an_outbound_call_blind_transferred_to_a_colleague_stays_one_call_with_a_leg_each(running, peers, tmp_path):
    with alices_outbound_call(running, peers, tmp_path, CALLED_LEAD, hangup_after=4) as (app, alice, bob, _, live):
        answer = app.post(f"/api/v1/interactions/{live.id}/transfer", json={"to": {"agent_id": BOB}})
        assert answer.status_code == 202, answer.text
        bob.wait_for("ANSWERED", timeout=15)
        # The lead is with Bob (the trunk's channel bridged with his desk phone's), the call his, Alice in wrap-up.
        wait_for(lambda: bridged(running, "PJSIP/trunk1-", "PJSIP/desk2-"), 5, what="the lead bridged with Bob")
        assert not bridged(running, "PJSIP/trunk1-", "PJSIP/desk1-")
        call = wait_for(lambda: (i := Interaction.get_by_id(live.id)).agent_id == BOB and i, 10, what="Bob's call")
        assert (call.status, call.direction) == ("active", "outbound")
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
        with contextlib.closing(running.sign_in(EMAIL[BOB])) as bobs_app:
            assert live.id in {i["id"] for i in bobs_app.get("/api/v1/inbox").json()["active"]}
        # Bob hangs up: the call ends, his.
        done = wait_for(lambda: (i := Interaction.get_by_id(live.id)).status == "recent" and i, 15, what="the end")
    assert (done.outcome, done.agent_id) == ("answered", BOB)
    legs_ = list(CallLeg.select().where(CallLeg.interaction == done).order_by(CallLeg.joined_at))
    assert [leg.agent_id for leg in legs_] == [ALICE, BOB] and all(leg.left_at for leg in legs_)
    assert legs_[0].left_at <= legs_[1].joined_at + dt.timedelta(seconds=1)
    moves = CallTransfer.select().where(CallTransfer.interaction == done)
    assert [(t.kind, t.from_agent_id, t.to_agent_id, t.outcome) for t in moves] == [("blind", ALICE, BOB, "completed")]
    wait_for(lambda: Agent.get_by_id(BOB).status_reason == "wrap_up", 10, what="Bob's wrap-up")


def test_a_recorded_outbound_call_is_recorded_to_its_end_after_a_blind_transfer(running, peers, tmp_path):
    """The recording follows the lead, not the agent who placed the call: only Bob speaks, once he answered the
    transfer (Alice's phone and the lead's only echo), and the call's recording holds his voice."""
    with alices_outbound_call(running, peers, tmp_path, RECORDED_LEAD, record=True, speak=True, hangup_after=8) as (
        app,
        _,
        bob,
        _,
        live,
    ):
        assert app.post(f"/api/v1/interactions/{live.id}/transfer", json={"to": {"agent_id": BOB}}).status_code == 202
        bob.wait_for("ANSWERED", timeout=15)
        wait_for(lambda: bridged(running, "PJSIP/trunk1-", "PJSIP/desk2-"), 5, what="the lead bridged with Bob")
        done = wait_for(lambda: (i := Interaction.get_by_id(live.id)).status == "recent" and i, 20, what="the end")
    assert (done.outcome, done.agent_id) == ("answered", BOB)
    assert done.recording, "the call's recording"
    recording = running.settings.data_dir / done.recording
    # MixMonitor finishes the file after the hangup; Bob's voice is in it, most of his 8 s with the lead.
    wait_for(lambda: spoken(recording, longest=60), 10, what=f"Bob's voice in {recording}")
    assert seconds(recording) >= 5


def test_an_outside_number_added_to_an_outbound_call_joins_it_and_is_dropped(running, peers, tmp_path):
    with alices_outbound_call(running, peers, tmp_path, CALLED_ADDED_LEAD) as (app, _, _, the_lead, live):
        answer = app.post(f"/api/v1/interactions/{live.id}/conference", json={"number": "404 555 9312"})
        assert answer.status_code == 200, answer.text
        invites = wait_for(lambda: (i := the_lead.invites()) and len(i) == 2 and i, 15, what="the added party's INVITE")
        assert invites[-1]["from_user"] == ADS_LINE  # the tracking number, as the lead sees it
        party = wait_for(
            lambda: CallLeg.get_or_none(CallLeg.interaction == live, CallLeg.number == ADDED_PARTY),
            15,
            what="the outside party's leg",
        )
        assert [leg.agent_id for leg in legs.open_legs(live)] == [ALICE, None]
        assert app.delete(f"/api/v1/interactions/{live.id}/conference/{party.id}").status_code in (200, 204)
        wait_for(lambda: CallLeg.get_by_id(party.id).left_at, 10, what="the outside party's leg to end")
        assert Interaction.get_by_id(live.id).status == "active"  # the lead and Alice stay on
        assert app.post(f"/api/v1/interactions/{live.id}/hangup").status_code in (200, 204)
        done = wait_for(lambda: (i := Interaction.get_by_id(live.id)).status == "recent" and i, 15, what="the end")
    assert (done.outcome, done.agent_id) == ("answered", ALICE)
    assert all(leg.left_at for leg in CallLeg.select().where(CallLeg.interaction == done))
    wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")


def test_an_outbound_call_consulted_on_is_handed_to_the_colleague(running, peers, tmp_path):
    with alices_outbound_call(running, peers, tmp_path, CALLED_CONSULTED_LEAD) as (app, _, bob, _, live):
        answer = app.post(f"/api/v1/interactions/{live.id}/consult", json={"agent_id": BOB})
        assert answer.status_code == 200, answer.text
        bob.wait_for("ANSWERED", timeout=15)
        completed = wait_for(
            lambda: (r := app.post(f"/api/v1/interactions/{live.id}/consult/complete")).status_code != 409 and r,
            15,
            interval=0.5,
            what="the consult to be completed once Bob answered",
        )
        assert completed.status_code == 200, completed.text
        wait_for(lambda: Agent.get_by_id(ALICE).status_reason == "wrap_up", 10, what="Alice's wrap-up")
        wait_for(lambda: [leg.agent_id for leg in legs.open_legs(live)] == [BOB], 10, what="Bob alone with the lead")
        call = Interaction.get_by_id(live.id)
        assert (call.status, call.agent_id) == ("active", BOB)
        moves = CallTransfer.select().where(CallTransfer.interaction == live)
        assert [(t.kind, t.from_agent_id, t.to_agent_id, t.outcome) for t in moves] == [
            ("warm", ALICE, BOB, "completed")
        ]
