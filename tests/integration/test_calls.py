"""Real calls through the real chain: a SIPp caller on the demo trunk, SIPp desk phones for the demo agents,
Asterisk from the sid root, and `leadcenter run` recording what happens."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import time

import httpx
import pytest
from audio import rms, seconds
from harness import ADS_LINE, LEADCENTER, wait_for
from sipp import SippCaller, SippPhone

from leadcenter import demo
from leadcenter.interactions.models import Interaction
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber

ALICE, BOB = 1, 2  # the demo agents, both in the demo's Sales queue, ringing on their desk phones


def finished(system, channel_id: str) -> Interaction:
    return wait_for(
        lambda: (i := Interaction.get_or_none(Interaction.channel_id == channel_id)) and i.status == "recent" and i,
        15,
        what=f"interaction of {channel_id} to conclude",
    )


def test_answered_call_is_recorded_with_everything_a_report_needs(running, peers):
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        handle = peers.call("4045551235", duration=9, caller_name="Lee Caller")
        live = running.wait_interaction(lead_number="+14045551235", status="active", timeout=10)
        result = handle.wait(30)
        result.check()
        assert result.answered and result.hangup == "local"
    call_row = finished(running, live.channel_id)
    answering = alice if call_row.agent_id == ALICE else bob
    # The phone that answered saw the lead's caller ID.
    assert [invite["from_user"] for invite in answering.invites()] == ["4045551235"]
    assert call_row.kind == "call" and call_row.direction == "inbound" and call_row.outcome == "answered"
    assert call_row.tracking_number.number == ADS_LINE
    assert call_row.lead.name == "Lee Caller"
    assert call_row.started_at <= call_row.answered_at < call_row.ended_at
    assert (call_row.answered_at - call_row.started_at) < dt.timedelta(seconds=5)
    assert 6 <= call_row.talk_seconds <= 10
    assert call_row.team.name == "Sales"
    recording = running.settings.data_dir / call_row.recording
    assert recording.exists(), recording
    assert seconds(recording) >= 5
    # The caller's audio mixed with the agent phone's echo of it: a silent file would be 0.
    assert rms(recording) > 0.01


@pytest.fixture
def linear_queue(running):
    """The Sales queue rings its agents in a fixed order (Alice, then Bob) for this test, changed in the
    database and applied to the running Asterisk by `leadcenter asterisk reload`."""
    team = Team.get(Team.name == "Sales")
    before, team.strategy = team.strategy, "linear"
    team.save()
    running.cli("asterisk", "reload")
    yield team
    team.strategy = before
    team.save()
    running.cli("asterisk", "reload")


def test_an_agent_who_does_not_answer_for_30_seconds_is_skipped(running, peers, linear_queue):
    assert "'linear' strategy" in running.instance.rx("queue show team1")
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045556199", duration=45)
        alice.wait_for_invites(1, timeout=10)
        offered_alice = time.monotonic()
        bob.wait_for("ANSWERED", timeout=40)
        rang_for = time.monotonic() - offered_alice
        alice.wait_for("CANCELLED", timeout=5)
        handle.wait(60).check()
    assert 29 <= rang_for <= 35
    assert alice.invite_count == 1 and alice.answered_count == 0
    row = running.wait_interaction(lead_number="+14045556199", status="recent")
    assert (row.agent_id, row.outcome) == (BOB, "answered")
    assert (row.answered_at - row.started_at) >= dt.timedelta(seconds=29)


def test_healthz_tells_the_truth_and_the_controller_resyncs_after_asterisk_restarts(running, peers):
    assert running.health()[0] == 200
    with peers.phone(ALICE):
        handle = peers.call("+14045550111", duration=30)
        mid_call = running.wait_interaction(lead_number="+14045550111", status="active", timeout=10)
        running.stop_asterisk()  # mid-call
        status, body = wait_for(lambda: (h := running.health())[0] == 503 and h, 5, what="/healthz 503")
        assert body["database"] == "ok" and body["asterisk"]["ami"] == "disconnected"
        handle.kill()
    running.start_asterisk()
    assert running.wait_healthy(5) <= 5
    # The call Asterisk dropped with it is concluded, not left "active" forever; Alice is in wrap-up after it.
    assert finished(running, mid_call.channel_id).outcome == "answered"
    running.choose_status("alice@acme.example", "available")
    with peers.phone(ALICE):
        result = peers.call("+14045550112", duration=6).wait(30)
        result.check()
    after = finished(running, running.wait_interaction(lead_number="+14045550112").channel_id)
    assert (after.outcome, after.agent_id) == ("answered", ALICE)
    assert after.recording and (running.settings.data_dir / after.recording).exists()


def test_a_call_that_was_up_while_the_controller_was_down_is_not_lost(running, peers):
    running.kill_controller()
    assert running.health()[0] == 0
    with peers.phone(BOB) as bob:
        handle = peers.call("+14045550122", duration=12)
        bob.wait_for("ANSWERED", timeout=10)
        assert running.interaction(lead_number="+14045550122") is None  # nobody was there to see it
        running.start_controller()
        found = running.wait_interaction(lead_number="+14045550122", status="active", timeout=5)
        assert (found.status, found.agent_id, found.team.name) == ("active", BOB, "Sales")
        assert found.tracking_number_id == TrackingNumber.get(TrackingNumber.number == ADS_LINE).id
        handle.wait(30).check()
    row = finished(running, found.channel_id)
    assert row.outcome == "answered" and row.ended_at > row.answered_at


def test_the_demo_caller_rings_the_agents_and_reports_what_happened(running, peers):
    with peers.phone(ALICE, hangup_after=3) as alice, peers.phone(BOB, hangup_after=3) as bob:
        said = running.cli("demo", "call", "--from", "404 555 0777", "--name", "Dee Mo", "--seconds", "20", timeout=60)
    row = running.wait_interaction(lead_number="+14045550777", status="recent")
    assert (row.outcome, row.lead.name) == ("answered", "Dee Mo")
    assert row.agent_id == (ALICE if alice.answered_count else BOB) and alice.answered_count + bob.answered_count == 1
    assert "dialling" in said and "connected" in said and "hung up by the agent" in said, said
    assert f"in Recent: answered by {row.agent.display_name}, talked" in said, said


def test_the_demo_caller_takes_a_hang_up_that_arrives_between_its_receives(tmp_path, monkeypatch):
    # The caller checks its duration every 200 ms in <nop>s between two receives; a far-end BYE landing there once
    # aborted the call as "unexpected" (a sub-millisecond window). A pause in the tick widens it so the BYE always
    # lands there: the far end's hang-up must still be taken, answered and reported as such.
    slowed = tmp_path / "caller.xml"
    tick = '<label id="up_tick"/>'
    slowed.write_text(demo.CALLER_SCENARIO.read_text().replace(tick, f'{tick}<pause milliseconds="1500"/>'))
    monkeypatch.setattr(demo, "CALLER_SCENARIO", slowed)
    with SippPhone("carrier", "", 0, registers=False, answer_after=0, hangup_after=0.7, workdir=tmp_path) as far:
        result = SippCaller(tmp_path).call("100", "4045550100", asterisk_port=far.port, duration=6)
    assert result.hangup == "remote", result.report
    result.check()


@pytest.mark.parametrize(
    "options, error",
    [
        (["--to", "+14045550999"], "+14045550999 is not a tracking number"),
        (["--from", "12"], "--from '12' is not a phone number"),
    ],
)
def test_the_demo_caller_refuses_what_it_cannot_call(running, options, error):
    done = subprocess.run(
        [*LEADCENTER, "demo", "call", *options], env=running.env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0 and error in done.stderr, done.stderr


def test_a_number_nobody_owns_is_refused_and_recorded_nowhere(running, peers):
    before = Interaction.select().count()
    result = peers.call("+14045550133", duration=5, did="+14045550999").wait(20)
    assert not result.answered and result.rejected
    assert Interaction.select().count() == before


# The demo carrier (127.0.0.1 and the demo trunk port) written every other way a resolver reads it.
CARRIER_SPELLINGS = [
    "localhost",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "127.000.000.001",
    "::ffff:127.0.0.1",
    "0:0:0:0:0:ffff:7f00:1",
    "127.0.0.1",
]


def test_another_company_cannot_take_the_demo_carriers_calls(running, peers):
    """Company B's admin adds trunks at the demo company's carrier, its address spelled every way: each is refused,
    Asterisk still knows the address as one trunk's, and the carrier's next call reaches the demo company."""
    from leadcenter.accounts.models import Company
    from leadcenter.accounts.services import create_company
    from leadcenter.trunks.models import Trunk
    from leadcenter.web.auth import new_api_key

    acme = TrackingNumber.get(TrackingNumber.number == ADS_LINE).company_id
    rival = create_company("Rival Plumbing", "US")
    key = new_api_key(rival, "Rival's integration", None)[1]
    try:
        with httpx.Client(base_url=running.url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as b:
            for spelling in CARRIER_SPELLINGS:
                answer = b.post(
                    "/api/v1/trunks", json={"name": f"Mine {spelling}", "host": spelling, "port": running.trunk_port}
                )
                assert answer.status_code in (409, 422), (spelling, answer.text)
        assert not Trunk.select().where(Trunk.company == rival).exists()
        rendered = (running.instance.dir / "etc" / "generated" / "pjsip_endpoints.conf").read_text()
        assert rendered.count(f"match = 127.0.0.1:{running.trunk_port}") == 1
        result = peers.call("+14045556177", duration=2).wait(30)
        assert not result.rejected, result.report
        call_row = running.wait_interaction(lead_number="+14045556177")
        assert call_row.company_id == acme
    finally:
        Trunk.delete().where(Trunk.company == rival).execute()
        Company.delete_by_id(rival.id)
        running.cli("asterisk", "reload")


def test_decline_in_the_app_sends_the_call_to_the_next_agent_at_once(running, peers, linear_queue):
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550401", duration=30)
        alice.wait_for_invites(1, timeout=10)
        row = running.wait_interaction(lead_number="+14045550401", status="incoming")
        declined_at = time.monotonic()
        with contextlib.closing(running.sign_in("alice@acme.example")) as app:
            answer = app.post(f"/api/v1/interactions/{row.id}/decline")
            assert answer.status_code == 200 and answer.json()["ringing_leg_hung_up"] is True
            assert row.id not in [r["id"] for r in app.get("/api/v1/inbox").json()["incoming"]]
        bob.wait_for("ANSWERED", timeout=10)
        assert time.monotonic() - declined_at < 5  # not Alice's 30 s ring
        handle.wait(40).check()
    assert alice.answered_count == 0 and alice.invite_count == 1
    assert running.wait_interaction(lead_number="+14045550401", status="recent").agent_id == BOB


def test_answer_by_an_agent_whose_phone_is_not_ringing_takes_the_call_from_the_queue(running, peers, linear_queue):
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550402", duration=15)
        alice.wait_for_invites(1, timeout=10)  # the queue offers it to Alice first; Bob's phone is quiet
        row = running.wait_interaction(lead_number="+14045550402", status="incoming")
        assert bob.invite_count == 0
        pressed_at = time.monotonic()
        with contextlib.closing(running.sign_in("bob@acme.example")) as app:
            answer = app.post(f"/api/v1/interactions/{row.id}/answer")
            assert answer.status_code == 200 and answer.json()["ringing_already"] is False
        bob.wait_for("ANSWERED", timeout=10)
        assert time.monotonic() - pressed_at < 5  # at once, not after Alice's 30 s
        alice.wait_for("CANCELLED", timeout=5)  # the queue stopped offering it
        live = running.wait_interaction(lead_number="+14045550402", status="active")
        assert live.agent_id == BOB
        handle.wait(40).check()
    assert alice.answered_count == 0
    # Bob's phone was asked to pick up by itself: he had already pressed Answer.
    assert "answer-after=0" in (bob.workdir / "phone_messages.log").read_text()
    row = running.wait_interaction(lead_number="+14045550402", status="recent")
    assert (row.agent_id, row.outcome, row.team_id) == (BOB, "answered", None)
    assert row.talk_seconds and row.talk_seconds >= 8


def caller_application(system) -> str:
    """The dialplan application the caller's (trunk) channel is in now, e.g. Queue or Dial."""
    shown = system.instance.rx("core show channels concise") or ""
    return next((line.split("!")[5] for line in shown.splitlines() if line.startswith("PJSIP/trunk")), "")


@pytest.fixture
def ring_bob_then_queue(running, linear_queue):
    """The demo flow rings Bob alone for 5 s, then queues (Alice, then Bob), then voicemail."""
    from leadcenter.flows.models import CallFlow

    flow = CallFlow.get(CallFlow.name == "Main line")
    before, team = flow.steps, linear_queue
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        answer = admin.patch(
            f"/api/v1/flows/{flow.id}",
            json={
                "steps": [
                    {"type": "ring_agents", "agents": [BOB], "timeout": 5},
                    {"type": "queue", "team": team.id},
                    {"type": "voicemail"},
                ]
            },
        )
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: "lc-step-ring-agents" in (running.instance.rx("dialplan show lc-flow-1") or ""),
            5,
            what="the edited flow in Asterisk's dialplan",
        )
        yield flow
        assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200


def test_a_call_answered_from_the_app_but_not_picked_up_goes_back_to_the_step_it_was_taken_from(
    running, peers, ring_bob_then_queue
):
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB, answer=False) as bob:
        handle = peers.call("+14045550406", duration=60)
        bob.wait_for("CANCELLED", timeout=15)  # step 1 rang him alone for 5 s
        alice.wait_for_invites(1, timeout=5)  # step 2: the queue rings Alice first
        assert caller_application(running) == "Queue"
        row = running.wait_interaction(lead_number="+14045550406", status="incoming")
        with contextlib.closing(running.sign_in("bob@acme.example")) as app:
            answer = app.post(f"/api/v1/interactions/{row.id}/answer")
            assert answer.status_code == 200 and answer.json()["ringing_already"] is False
        bob.wait_for_invites(2, timeout=5)
        assert caller_application(running) == "Dial"
        bob.wait_for("CANCELLED", n=2, timeout=35)  # he never picked up: lc-answer's 30 s ring is over
        # Back in the queue at once, not to step 1 (which would ring Bob alone for 5 s first).
        wait_for(lambda: caller_application(running) == "Queue", 2, what="the caller back in the queue")
        assert bob.invite_count == 2
        running.instance.rx("channel request hangup all")
        handle.wait(10)
    assert bob.answered_count == 0 and alice.answered_count == 0


@pytest.fixture
def ring_both(running):
    """The demo flow rings Alice and Bob at once for 20 s, then goes to voicemail (saved through the API)."""
    from leadcenter.flows.models import CallFlow

    flow = CallFlow.get(CallFlow.name == "Main line")
    before = flow.steps
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        answer = admin.patch(
            f"/api/v1/flows/{flow.id}",
            json={"steps": [{"type": "ring_agents", "agents": [ALICE, BOB], "timeout": 20}, {"type": "voicemail"}]},
        )
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: "lc-step-ring-agents" in (running.instance.rx("dialplan show lc-flow-1") or ""),
            5,
            what="the edited flow in Asterisk's dialplan",
        )
        yield flow
        assert admin.patch(f"/api/v1/flows/{flow.id}", json={"steps": before}).status_code == 200


def test_a_ring_agents_step_rings_everyone_and_the_first_to_answer_takes_the_call(running, peers, ring_both):
    with peers.phone(ALICE, answer=False) as alice, peers.phone(BOB, answer_after=2) as bob:
        handle = peers.call("+14045550403", duration=10)
        alice.wait_for_invites(1, timeout=10)
        bob.wait_for("ANSWERED", timeout=10)
        alice.wait_for("CANCELLED", timeout=5)
        live = running.wait_interaction(lead_number="+14045550403", status="active")
        assert live.agent_id == BOB
        handle.wait(30).check()
    row = running.wait_interaction(lead_number="+14045550403", status="recent")
    assert (row.agent_id, row.outcome, row.team_id) == (BOB, "answered", None)
    assert row.recording and rms(running.settings.data_dir / row.recording) > 0.01


def test_a_ring_agents_step_leaves_out_an_agent_who_went_offline_since_the_flow_was_saved(running, peers, ring_both):
    running.choose_status("alice@acme.example", "offline")  # no flow edit, no reload: the dialplan asks AstDB
    wait_for(lambda: "0" in (running.instance.rx("database get lc_available 1") or ""), 5, what="Alice's flag")
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        peers.call("+14045550404", duration=4).wait(30).check()
        assert bob.answered_count == 1 and alice.invite_count == 0
    assert running.wait_interaction(lead_number="+14045550404", status="recent").agent_id == BOB


def test_hang_up_from_the_app_ends_the_call_for_the_caller_and_it_lands_in_recent(running, peers):
    with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
        handle = peers.call("+14045550405", duration=30)
        live = running.wait_interaction(lead_number="+14045550405", status="active")
        time.sleep(3)
        email = "alice@acme.example" if live.agent_id == ALICE else "bob@acme.example"
        with contextlib.closing(running.sign_in(email)) as app:
            answer = app.post(f"/api/v1/interactions/{live.id}/hangup")
            assert answer.status_code == 200, answer.text
        result = handle.wait(10)  # long before the caller's own 30 s
        assert result.answered and result.hangup == "remote"
        (alice if live.agent_id == ALICE else bob).wait_for("HANGUP", timeout=5)
    row = running.wait_interaction(lead_number="+14045550405", status="recent")
    assert row.outcome == "answered" and 2 <= row.talk_seconds <= 6


def test_an_agents_phone_holding_the_call_is_its_hold_time_and_the_call_counts_in_its_queue(running, peers):
    """The desk phone's hold key (a re-INVITE a=sendonly, 2 s after answering, then a=sendrecv at 5 s): Asterisk's
    Hold and Unhold on the agent's leg become the call's hold_seconds; the call counts in the queue it entered."""
    with peers.phone(ALICE, hold=(2.0, 5.0)):
        handle = peers.call("4045551299", duration=9, caller_name="Hal Held")
        live = running.wait_interaction(lead_number="+14045551299", status="active", timeout=10)
        handle.wait(30).check()
    call_row = finished(running, live.channel_id)
    assert call_row.agent_id == ALICE and call_row.outcome == "answered"
    assert 2 <= call_row.hold_seconds <= 4, call_row.hold_seconds
    assert call_row.queue_team.name == "Sales"
