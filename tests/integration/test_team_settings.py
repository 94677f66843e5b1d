"""A team's settings, changed by an admin through the API, with real calls: automatic wrap-up offers the agent the
next call N seconds after their last one without Rejoin; the team's maximum wait sends a caller nobody answered on
to the flow's next step; a team that keeps agents who let a call ring out Available does."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from harness import wait_for
from test_availability import EMAIL, RING, main_line, sales, statuses  # noqa: F401 (fixtures)
from test_calls import ALICE, BOB
from test_voicemail import tone

from leadcenter.agents.models import AgentStatusChange
from leadcenter.flows.models import CallFlow
from leadcenter.teams.models import Team

WRAP = 5  # seconds of automatic wrap-up in these tests
MAX_WAIT = 10  # seconds a caller waits in the queue in these tests (the least a team may choose)


@pytest.fixture
def team(running):
    """Changes the demo team Sales through the admin API (as the console does) and waits until Asterisk has the
    rendered result; puts its settings back afterwards."""
    sales_team = Team.get(Team.name == "Sales")
    admin = running.sign_in("admin@acme.example")
    before = admin.get(f"/api/v1/teams/{sales_team.id}").json()
    flow = CallFlow.get(CallFlow.name == "Main line")

    def change(**settings) -> dict:
        answer = admin.patch(f"/api/v1/teams/{sales_team.id}", json=settings)
        assert answer.status_code == 200, answer.text
        if "max_wait_seconds" in settings:
            wait_for(
                lambda: (
                    f"({sales_team.queue_name},{settings['max_wait_seconds']})"
                    in (running.instance.rx(f"dialplan show lc-flow-{flow.id}") or "")
                ),
                5,
                what="the flow waiting the team's maximum in Asterisk",
            )
        if "members" in settings:
            order = [f"agent{agent}" for agent in settings["members"]]

            def listed() -> list[str]:
                shown = running.instance.rx(f"queue show {sales_team.queue_name}") or ""
                return [name for name in re.findall(r"^\s+(agent\d+) ", shown, re.M) if name in order]

            wait_for(lambda: listed() == order, 5, what=f"the queue's members in the order {order}")
        return answer.json()

    yield change
    restored = {k: before[k] for k in ("wrap_up_seconds", "max_wait_seconds", "ring_out", "members")}
    assert admin.patch(f"/api/v1/teams/{sales_team.id}", json=restored).status_code == 200
    admin.close()


def events_of(agent: int, event: str) -> int:
    """How many times the agent made this availability move so far."""
    return AgentStatusChange.select().where(AgentStatusChange.agent == agent, AgentStatusChange.event == event).count()


def test_automatic_wrap_up_offers_the_agent_the_next_call_after_the_team_s_seconds_without_rejoin(running, peers, team):
    team(wrap_up_seconds=WRAP)
    running.choose_status(EMAIL[BOB], "offline")  # Alice alone: the next caller waits for her
    wait_for(lambda: "agent2" in running.paused_members(), 5, what="Bob paused")
    rejoins = events_of(ALICE, "rejoin")
    with peers.phone(ALICE) as alice:
        peers.call("+14045550701", duration=2).wait(30).check()
        wait_for(lambda: statuses(running)[ALICE] == ("unavailable", "wrap_up"), 5, what="Alice in wrap-up")
        wrapped = time.monotonic()
        assert "agent1" in running.paused_members()
        second = peers.call("+14045550702", duration=WRAP + 10)  # waits, then talks
        running.wait_interaction(lead_number="+14045550702", status="incoming", timeout=10)
        assert alice.invite_count == 1  # in wrap-up: not offered it
        alice.wait_for("ANSWERED", n=2, timeout=WRAP + 10)
        waited = time.monotonic() - wrapped
        second.wait(30).check()
    # Offered the call once her wrap-up was over, not before; she never pressed Rejoin: the timer did.
    assert WRAP - 1.5 <= waited <= WRAP + 4, waited
    assert events_of(ALICE, "rejoin") == rejoins + 1
    row = running.wait_interaction(lead_number="+14045550702", status="recent")
    assert (row.agent_id, row.outcome) == (ALICE, "answered")


def test_the_team_s_maximum_wait_sends_the_caller_on_to_the_flow_s_next_step(running, peers, team, main_line):  # noqa: F811
    """Nobody can take the call (both agents Offline): after the team's maximum wait (the queue step sets none),
    not the flows' old five minutes, the caller goes on to the next step, the company's voicemail, and leaves a
    message after the beep."""
    main_line({"type": "queue", "team": Team.get(Team.name == "Sales").id}, {"type": "voicemail"})
    team(max_wait_seconds=MAX_WAIT)
    for agent in (ALICE, BOB):
        running.choose_status(EMAIL[agent], "offline")
    result = peers.call("+14045550711", duration=MAX_WAIT + 19, speak_at=MAX_WAIT + 9).wait(60)
    assert result.answered  # by Asterisk: hold music, then the mailbox
    call = wait_for(
        lambda: (i := running.interaction(lead_number="+14045550711")) and i.status == "recent" and i,
        10,
        what="the call to conclude",
    )
    assert (call.outcome, call.agent_id) == ("voicemail", None)
    assert call.duration_seconds and call.duration_seconds >= 3


def test_a_team_that_keeps_agents_who_let_a_call_ring_out_available(running, peers, sales, team):  # noqa: F811
    """Alice is offered the call first and lets it ring out; Bob takes it. Her team keeps her Available: back in the
    queue at once (Asterisk's autopause, which moved the call on, undone) and offered the next call first again."""
    sales("linear", penalties={ALICE: 0, BOB: 1})
    team(ring_out="available")
    misses = events_of(ALICE, "miss_call")
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550721", duration=RING + 6)
        alice.wait_for_invites(1, timeout=10)
        bob.wait_for("ANSWERED", timeout=RING + 5)
        handle.wait(30).check()
        wait_for(lambda: "agent1" not in running.paused_members(), 5, what="Alice back in the queue")
        assert statuses(running)[ALICE] == ("available", "")
        running.choose_status(EMAIL[BOB], "available")  # Bob rejoins after his call
        handle = peers.call("+14045550722", duration=RING + 6)
        alice.wait_for_invites(2, timeout=10)  # not taken out: offered the next call first again
        bob.wait_for("ANSWERED", n=2, timeout=RING + 5)
        handle.wait(30).check()
    assert statuses(running)[ALICE] == ("available", "")
    assert events_of(ALICE, "miss_call") == misses


def test_the_team_s_own_hold_music_is_a_class_asterisk_plays_from(running, tmp_path):
    """The upload is converted, the team's music class appears in Asterisk with the file in its directory and the
    team's queue names it; removing it takes the class away (the queue plays the standard music again)."""
    sales_team = Team.get(Team.name == "Sales")
    music_class = f"lc-team{sales_team.id}"
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        answer = admin.put(
            f"/api/v1/teams/{sales_team.id}/music", content=tone(440, 3.0), headers={"Content-Type": "audio/wav"}
        )
        assert answer.status_code == 200, answer.text
        try:
            shown = wait_for(
                lambda: (text := running.instance.rx("moh show files") or "") and music_class in text and text,
                10,
                what="the team's music class in Asterisk",
            )
            assert f"music/{music_class}/music" in shown
            queues = (running.instance.etc / "generated" / "queues.conf").read_text()
            assert f"musicclass = {music_class}\n" in queues
        finally:
            assert admin.delete(f"/api/v1/teams/{sales_team.id}/music").status_code == 204
        wait_for(
            lambda: music_class not in (running.instance.rx("moh show classes") or ""),
            10,
            what="the team's music class gone",
        )


def test_linear_rings_the_members_in_the_order_the_admin_sets_live(running, peers, sales, team):  # noqa: F811
    """Reordering the members through the API is live: the next call rings the new first member first."""
    sales("linear")  # every penalty 0: only the order decides
    team(members=[ALICE, BOB])
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB, answer=False) as bob:
        handle = peers.call("+14045550741", duration=3)
        alice.wait_for_invites(1, timeout=10)
        assert bob.invite_count == 0
        handle.wait(30)
        running.all_available()
        team(members=[BOB, ALICE])
        handle = peers.call("+14045550742", duration=3)
        bob.wait_for_invites(1, timeout=10)
        assert alice.invite_count == 1
        handle.wait(30)
