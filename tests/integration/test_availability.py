"""Wrap-up and availability with real calls: a queue call takes its agent out of the queue (Unavailable), they stay
out after it (wrap-up) until they press Rejoin the Queue, and an Offline agent is never offered a call."""
from __future__ import annotations

import contextlib

from harness import wait_for
from test_calls import ALICE, BOB

EMAIL = {ALICE: "alice@acme.example", BOB: "bob@acme.example"}


def statuses(system) -> dict[int, tuple[str, str]]:
    with contextlib.closing(system.sign_in(EMAIL[ALICE])) as client:
        return {a["id"]: (a["status"], a["status_reason"]) for a in client.get("/api/v1/agents").json()}


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
