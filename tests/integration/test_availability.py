"""Availability with real calls: every inbound call an agent answers takes them out of the queue (Unavailable), they
stay out after it (wrap-up) until they press Rejoin the Queue; an agent who lets a call ring out is passed over
and set Unavailable (missed a call), whatever the team's strategy; an Offline agent, and one whose phone cannot
ring (not registered, or a desk phone that died), is never offered a call nor counted as available."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from harness import wait_for
from test_calls import ALICE, BOB

from leadcenter.flows.models import CallFlow
from leadcenter.teams.models import STRATEGIES, Team, TeamMember

EMAIL = {ALICE: "alice@acme.example", BOB: "bob@acme.example"}
RING = 5  # seconds a team rings an agent in these tests (the least a team may choose)


def agents(system) -> dict[int, dict]:
    """The agents as the app shows them to a colleague (GET /api/v1/agents), by id."""
    with contextlib.closing(system.sign_in(EMAIL[ALICE])) as client:
        return {a["id"]: a for a in client.get("/api/v1/agents").json()}


def statuses(system) -> dict[int, tuple[str, str]]:
    return {agent_id: (a["status"], a["status_reason"]) for agent_id, a in agents(system).items()}


def presences(system) -> dict[int, str]:
    return {agent_id: a["presence"] for agent_id, a in agents(system).items()}


def queue_states(system) -> dict[int, str]:
    """Each demo agent's state in the Sales queue's live figures (GET /api/v1/queues)."""
    with contextlib.closing(system.sign_in(EMAIL[ALICE])) as client:
        figures = client.get("/api/v1/queues").json()
    return {int(agent_id): state for agent_id, state in figures[0]["agent_states"].items()}


def ring_agents_flag(system, agent: int) -> str:
    """What a ring-agents step reads for the agent (AstDB lc_available/N): 1 rings them."""
    shown = system.instance.rx(f"database get lc_available {agent}") or ""
    return shown.split("Value:")[-1].strip()


@pytest.fixture
def sales(running):
    """Sets the demo team Sales (strategy, ring time, each agent's penalty: the queue offers a call to the lowest
    penalty first) in the database and reloads Asterisk; puts it back afterwards."""
    team = Team.get(Team.name == "Sales")
    members = list(TeamMember.select().where(TeamMember.team == team))
    before = (team.strategy, team.ring_seconds, {m.id: m.penalty for m in members})

    def configure(strategy: str, ring_seconds: int = RING, penalties: dict[int, int] | None = None) -> None:
        team.strategy, team.ring_seconds = strategy, ring_seconds
        team.save()
        for member in members:
            member.penalty = (penalties or {}).get(member.agent_id, 0)
            member.save()
        running.cli("asterisk", "reload")
        wait_for(
            lambda: f"'{strategy}' strategy" in (running.instance.rx("queue show team1") or ""),
            5,
            what=f"the Sales queue to use {strategy}",
        )

    yield configure
    team.strategy, team.ring_seconds = before[0], before[1]
    team.save()
    for member in members:
        member.penalty = before[2][member.id]
        member.save()
    running.cli("asterisk", "reload")


@pytest.fixture
def main_line(running):
    """Replaces the steps of the demo flow (Main line) through the API; puts them back afterwards."""
    flow = CallFlow.get(CallFlow.name == "Main line")
    before = flow.steps
    admin = running.sign_in("admin@acme.example")

    def rendered() -> list[str]:
        """The kinds of the steps Asterisk runs now, in order."""
        return re.findall(r"Gosub\(lc-step-([a-z-]+)", running.instance.rx(f"dialplan show lc-flow-{flow.id}") or "")

    def kinds(steps: list[dict]) -> list[str]:
        return [step["type"].replace("_", "-") for step in steps]

    def steps(*new: dict) -> None:
        answer = admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": list(new)})
        assert answer.status_code == 200, answer.text
        wait_for(lambda: rendered() == kinds(list(new)), 5, what="the edited flow in Asterisk")

    yield steps
    assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200
    wait_for(lambda: rendered() == kinds(before), 5, what="the demo flow back in Asterisk")
    admin.close()


def test_wrap_up_keeps_the_agent_out_of_the_queue_until_they_rejoin(running, peers):
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        phones = {ALICE: alice, BOB: bob}
        first = peers.call("+14045550201", duration=6)
        row = running.wait_interaction(lead_number="+14045550201", status="active", timeout=10)
        took, other = row.agent_id, BOB if row.agent_id == ALICE else ALICE
        assert statuses(running)[took] == ("unavailable", "on_call")
        first.wait(30).check()
        wait_for(lambda: statuses(running)[took] == ("unavailable", "wrap_up"), 5, what="wrap-up")
        assert f"agent{took}" in running.paused_members()

        # The next caller goes to the other agent: the one in wrap-up is not offered it.
        peers.call("+14045550202", duration=4).wait(30).check()
        assert running.wait_interaction(lead_number="+14045550202", status="recent").agent_id == other
        assert phones[took].invite_count == 1

        # Both in wrap-up: a third caller waits until someone rejoins.
        third = peers.call("+14045550203", duration=20)
        waiting = running.wait_interaction(lead_number="+14045550203", status="incoming", timeout=10)
        wait_for(lambda: statuses(running)[other] == ("unavailable", "wrap_up"), 5, what="both in wrap-up")
        assert phones[took].invite_count == 1 and phones[other].invite_count == 1
        running.choose_status(EMAIL[took], "available")  # Rejoin the Queue
        phones[took].wait_for("ANSWERED", n=2, timeout=10)
        third.wait(30).check()
    answered = running.wait_interaction(channel_id=waiting.channel_id, status="recent")
    assert answered.agent_id == took


def test_an_offline_agent_is_never_offered_a_call(running, peers):
    running.choose_status(EMAIL[BOB], "offline")
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused")
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        for n in range(2):
            peers.call(f"+1404555021{n}", duration=3).wait(30).check()
            running.choose_status(EMAIL[ALICE], "available")
        assert bob.invite_count == 0 and alice.answered_count == 2
    assert statuses(running)[BOB] == ("offline", "")


def test_queue_calls_are_shared_fairly_the_longest_idle_agent_first(running, peers):
    """The demo team's default strategy (leastrecent): each call goes to the agent who has waited longest since
    their last call, so two agents who both answer at once alternate instead of one taking every call."""
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        takers = []
        for n in range(4):
            peers.call(f"+1404555022{n}", duration=2).wait(30).check()
            row = running.wait_interaction(lead_number=f"+1404555022{n}", status="recent")
            takers.append(row.agent_id)
            running.choose_status(EMAIL[row.agent_id], "available")  # Rejoin the Queue after wrap-up
        assert alice.answered_count == bob.answered_count == 2
    assert takers[0] != takers[1] and takers[::2] == [takers[0]] * 2 and takers[1::2] == [takers[1]] * 2


@pytest.mark.parametrize("taken", ["from the queue", "from a ring-agents step", "with Answer in Incoming"])
def test_every_inbound_call_an_agent_answers_takes_them_out_until_they_rejoin(running, peers, sales, main_line, taken):
    """However a call reaches Alice, while she talks and after it (wrap-up) she is out of every queue and every
    ring-agents step, and her colleagues see it, until she rejoins. (Answer on a call that rang Bob left her
    Available: the next caller rang her 0.4 s after she hung up.)"""
    if taken == "from a ring-agents step":
        main_line({"type": "ring_agents", "agents": [ALICE], "timeout": 20}, {"type": "voicemail"})
    # The queue offers the call to her first; when she takes it with Answer in Incoming, it rings Bob.
    sales("linear", penalties={BOB: 0, ALICE: 1} if taken == "with Answer in Incoming" else {ALICE: 0, BOB: 1})
    with peers.phone(ALICE) as alice, peers.phone(BOB, answer=False) as bob:
        handle = peers.call("+14045550611", duration=8)
        if taken == "with Answer in Incoming":
            bob.wait_for_invites(1, timeout=10)
            row = running.wait_interaction(lead_number="+14045550611", status="incoming")
            with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:
                assert app.post(f"/api/v1/interactions/{row.id}/answer").json()["ringing_already"] is False
        alice.wait_for("ANSWERED", timeout=10)
        wait_for(lambda: statuses(running)[ALICE] == ("unavailable", "on_call"), 5, what="Alice on a call")
        assert presences(running)[ALICE] == "on_call" and queue_states(running)[ALICE] == "on_call"
        assert "agent1" in running.paused_members() and ring_agents_flag(running, ALICE) == "0"
        handle.wait(30).check()
        wait_for(lambda: statuses(running)[ALICE] == ("unavailable", "wrap_up"), 5, what="Alice in wrap-up")
        assert presences(running)[ALICE] == "wrap_up"
        wait_for(lambda: queue_states(running)[ALICE] == "wrap_up", 5, what="the queue figures to say wrap-up")
        assert "agent1" in running.paused_members() and ring_agents_flag(running, ALICE) == "0"
    row = running.wait_interaction(lead_number="+14045550611", status="recent")
    assert (row.agent_id, row.outcome) == (ALICE, "answered")
    assert alice.invite_count == 1
    running.choose_status(EMAIL[ALICE], "available")  # Rejoin the Queue
    wait_for(lambda: "agent1" not in running.paused_members(), 5, what="Alice back in the queue")
    assert ring_agents_flag(running, ALICE) == "1"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_call_an_agent_lets_ring_out_goes_to_the_next_agent_whatever_the_strategy(running, peers, sales, strategy):
    """Alice is offered every call first (the lower penalty) and never answers; Bob would. After the team's ring time
    the call goes to Bob and never back to Alice, who is Unavailable (missed a call) until she chooses Available.
    (With autopause = no, leastrecent, fewestcalls, random and ringall offered it to Alice again and again.)"""
    sales(strategy, penalties={ALICE: 0, BOB: 1})
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550621", duration=RING + 6)
        alice.wait_for_invites(1, timeout=10)
        offered = time.monotonic()
        bob.wait_for("ANSWERED", timeout=RING + 5)
        # After Alice's ring time, and before a second one (she is not rung again first); 8.03 s was once seen
        # on a loaded machine, hence not RING + 3.
        assert RING - 1 <= time.monotonic() - offered < 2 * RING
        alice.wait_for("CANCELLED", timeout=5)
        wait_for(lambda: statuses(running)[ALICE] == ("unavailable", "missed"), 5, what="Alice set Unavailable")
        assert "agent1" in running.paused_members() and ring_agents_flag(running, ALICE) == "0"
        assert presences(running)[ALICE] == "missed"
        handle.wait(30).check()
    assert alice.invite_count == 1 and alice.answered_count == 0
    row = running.wait_interaction(lead_number="+14045550621", status="recent")
    assert (row.agent_id, row.outcome) == (BOB, "answered")
    # She is back as soon as she says so (Available, or Rejoin the Queue in the app).
    running.choose_status(EMAIL[ALICE], "available")
    wait_for(lambda: "agent1" not in running.paused_members(), 5, what="Alice back in the queue")


def test_an_agent_who_declines_is_not_taken_for_one_who_let_the_call_ring_out(running, peers, sales):
    """Decline hangs up the agent's ringing leg, which Asterisk reports (and autopauses) as a ring-out: she stays
    Available, in the queue."""
    sales("linear", penalties={ALICE: 0, BOB: 1})
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550631", duration=8)
        alice.wait_for_invites(1, timeout=10)
        row = running.wait_interaction(lead_number="+14045550631", status="incoming")
        with contextlib.closing(running.sign_in(EMAIL[ALICE])) as app:
            assert app.post(f"/api/v1/interactions/{row.id}/decline").json()["ringing_leg_hung_up"] is True
        bob.wait_for("ANSWERED", timeout=5)
        handle.wait(30).check()
    assert statuses(running)[ALICE] == ("available", "")
    wait_for(lambda: "agent1" not in running.paused_members(), 5, what="Alice unpaused")
    assert ring_agents_flag(running, ALICE) == "1"


def test_a_call_rung_out_in_a_ring_agents_step_is_not_offered_straight_back_by_the_next_step(
    running, peers, sales, main_line
):
    """Alice lets a ring-agents step ring out; the next step, a queue where she comes first, offers it to Bob at once
    instead of ringing her again; Bob, who declined it in the step, is not taken for one who let it ring out."""
    main_line(
        {"type": "ring_agents", "agents": [ALICE, BOB], "timeout": RING},
        {"type": "queue", "team": Team.get(Team.name == "Sales").id},
        {"type": "voicemail"},
    )
    sales("linear", penalties={ALICE: 0, BOB: 1})
    # Bob would pick up after 3 s: in the step he declines before that; in the queue he answers.
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB, answer_after=3) as bob:
        handle = peers.call("+14045550641", duration=RING + 10)
        bob.wait_for_invites(1, timeout=10)
        row = running.wait_interaction(lead_number="+14045550641", status="incoming")
        with contextlib.closing(running.sign_in(EMAIL[BOB])) as app:
            assert app.post(f"/api/v1/interactions/{row.id}/decline").json()["ringing_leg_hung_up"] is True
        alice.wait_for("CANCELLED", timeout=RING + 3)  # the step's ring time ran out
        bob.wait_for("ANSWERED", timeout=RING + 5)  # the queue offered it to Bob (as Alice is out)
        handle.wait(30).check()
    assert alice.invite_count == 1
    assert statuses(running)[ALICE] == ("unavailable", "missed")
    row = running.wait_interaction(lead_number="+14045550641", status="recent")
    assert row.agent_id == BOB


def test_an_agent_whose_desk_phone_cannot_ring_is_unreachable_everywhere_and_never_rung(running, peers, sales):
    """Bob is Available in the database. With no phone registered he is Unreachable to his colleagues and in the
    queue figures, never counted as available; registered, he is Available; when his desk phone dies without
    unregistering, qualify finds it in seconds (not when the registration expires, an hour with a typical phone)
    and calls go to Alice at once instead of ringing the dead phone first."""
    sales("linear", penalties={BOB: 0, ALICE: 1})  # the queue would offer Bob every call first
    wait_for(lambda: presences(running)[BOB] == "unreachable", 5, what="Bob unreachable")
    assert statuses(running)[BOB] == ("available", "") and queue_states(running)[BOB] == "unreachable"
    bob = peers.phone(BOB)
    try:
        with peers.phone(ALICE):
            bob.start()
            wait_for(lambda: presences(running)[BOB] == "available", 5, what="Bob's phone registered")
            wait_for(lambda: queue_states(running)[BOB] == "available", 5, what="the queue figures to count Bob")
            bob.uas.stop()  # the phone dies: no un-REGISTER, its registration would last 10 more minutes
            died = time.monotonic()
            wait_for(lambda: presences(running)[BOB] == "unreachable", 10, what="Bob unreachable again")
            assert time.monotonic() - died <= 2 + 3 + 1  # qualify every 2 s here, 3 s without an answer
            wait_for(lambda: queue_states(running)[BOB] == "unreachable", 5, what="the queue figures to agree")
            peers.call("+14045550651", duration=4).wait(30).check()
        row = running.wait_interaction(lead_number="+14045550651", status="recent")
        assert row.agent_id == ALICE
        assert (row.answered_at - row.started_at).total_seconds() < RING - 1  # Bob's dead phone was not rung
        assert statuses(running)[BOB] == ("available", "")  # his choice stands: he is back when his phone is
    finally:
        bob.stop()
        bob.unregister()
