"""The supervisors' Team View: the snapshot (GET /api/v1/team-view), the presence and since when the events carry,
the same after a controller restart, and one company's floor only."""

import datetime as dt

from support import T0

from leadcenter.agents.models import Agent
from leadcenter.agents.presence import Presence
from leadcenter.events import Event
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.teamview.services import call_began
from leadcenter.wire import utc_iso


def device(presence, agent, state, at=T0, seq=0):
    presence.on_device_state(
        Event(
            "telephony.device_state",
            {"endpoint": agent.endpoint_name(agent.ring_device), "agent_id": agent.id, "state": state, "at": at},
            seq,
            at,
        )
    )


def synced(presence, devices, at=T0):
    presence.on_synced(Event("telephony.synced", {"devices": devices, "read_at": at}, 0, at))


def seconds(n):
    return dt.timedelta(seconds=n)


def answer(controller, interaction, agent, at):
    """The agent answers the waiting call (as the call recorder does: the interaction, then the agent's status)."""
    Interaction.update(status="active", agent=agent, answered_at=at, status_changed_at=at, queue_team=None).where(
        Interaction.id == interaction.id
    ).execute()
    controller.availability.move(Agent.get_by_id(agent.id), "take_call", at)


def conclude(interaction, at, team=None):
    row = Interaction.get_by_id(interaction.id)
    Interaction.update(
        status="recent",
        outcome="answered",
        ended_at=at,
        status_changed_at=at,
        talk_seconds=int((at - row.answered_at).total_seconds()),
        queue_team=team,
    ).where(Interaction.id == interaction.id).execute()


def test_the_snapshot_has_each_agent_their_call_and_today_s_counts_and_each_queue(world, controller, supervisor):
    a = world["a"]
    alice, bob = a["agents"]
    waiting, talking, done = a["interactions"]
    synced(controller.presence, {f"webrtc{alice.id}": "NOT_INUSE", f"webrtc{bob.id}": "NOT_INUSE"})
    # Alice answered a queue call at T0+10 and ended it at T0+70 (in wrap-up since).
    answer(controller, done, alice, T0 + seconds(10))
    conclude(done, T0 + seconds(70), team=a["team"])
    controller.availability.move(Agent.get_by_id(alice.id), "end_call", T0 + seconds(70))
    # Bob is on a call since T0+100.
    answer(controller, talking, bob, T0 + seconds(100))
    controller.clock.advance(seconds=130)

    status, view = supervisor.get("/api/v1/team-view")

    assert status == 200
    assert view["now"] == utc_iso(T0 + seconds(130))
    rows = {row["agent"]["id"]: row for row in view["agents"]}
    assert list(rows) == [alice.id, bob.id]  # by name
    assert (rows[alice.id]["agent"]["presence"], rows[alice.id]["agent"]["presence_since"]) == (
        "wrap_up",
        utc_iso(T0 + seconds(70)),
    )
    assert rows[alice.id]["wrap_up_call"]["id"] == done.id  # the call that put her there, with its lead
    assert rows[alice.id]["wrap_up_call"]["lead"]["name"] == "Lead2 A"
    assert (rows[alice.id]["handled_today"], rows[alice.id]["missed_today"]) == (1, 0)
    assert (rows[bob.id]["agent"]["presence"], rows[bob.id]["agent"]["presence_since"]) == (
        "on_call",
        utc_iso(T0 + seconds(100)),
    )
    assert rows[bob.id]["wrap_up_call"] is None
    assert rows[bob.id]["teams"] == [a["team"].id]
    # The calls in progress: Bob's, with its lead, number, tracking number, source and answered_at; the waiting one.
    calls = {call["id"]: call for call in view["calls"]}
    assert set(calls) == {waiting.id, talking.id}
    assert calls[talking.id]["agent"]["id"] == bob.id
    assert calls[talking.id]["answered_at"] == utc_iso(T0 + seconds(100))
    assert (calls[talking.id]["lead"]["name"], calls[talking.id]["lead_number"]) == ("Lead1 A", "+14045551001")
    assert (calls[talking.id]["tracking_number"]["number"], calls[talking.id]["source"]) == ("+14045550100", "")
    # The queue: today's service level of its one concluded call (answered in 10 s: within 20 s).
    (queue,) = view["queues"]
    assert queue["team_id"] == a["team"].id
    today = queue["today"]
    assert (today["offered"], today["answered"], today["service_level"], today["abandonment_rate"]) == (1, 1, 1.0, 0.0)


def test_missed_today_counts_the_calls_an_agent_let_ring_out_today(world, controller, supervisor):
    alice = world["a"]["agents"][0]
    controller.availability.move(alice, "miss_call", T0 - dt.timedelta(days=2))  # another day: not counted
    controller.availability.move(Agent.get_by_id(alice.id), "go_available", T0 - dt.timedelta(days=2))
    controller.availability.move(Agent.get_by_id(alice.id), "miss_call", T0)
    rows = {row["agent"]["id"]: row for row in supervisor.get("/api/v1/team-view")[1]["agents"]}
    assert (rows[alice.id]["missed_today"], rows[alice.id]["agent"]["presence"]) == (1, "missed")


def test_ringing_is_a_presence_of_its_own_and_each_change_says_since_when(world, controller):
    alice = world["a"]["agents"][0]
    presence = controller.presence
    synced(presence, {f"webrtc{alice.id}": "NOT_INUSE"})
    controller.bus.published.clear()
    device(presence, alice, "RINGING", at=T0 + seconds(5))
    device(presence, alice, "RINGING", at=T0 + seconds(6))  # the same again: nothing new
    device(presence, alice, "INUSE", at=T0 + seconds(9))  # she answered (a call she placed: status Available)
    device(presence, alice, "NOT_INUSE", at=T0 + seconds(40))
    shown = [
        (data["agent"]["presence"], data["agent"]["presence_since"])
        for name, data in controller.bus.published
        if name == "agent.presence_changed"
    ]
    assert shown == [
        ("ringing", utc_iso(T0 + seconds(5))),
        ("on_call", utc_iso(T0 + seconds(9))),
        ("available", utc_iso(T0 + seconds(40))),
    ]
    # A call offered while her device is busy with another rings too.
    device(presence, alice, "RINGINUSE", at=T0 + seconds(50))
    assert presence.seen(Agent.get_by_id(alice.id)) == ("ringing", T0 + seconds(50))


def test_since_comes_from_the_database_after_a_controller_restart(world, controller):
    a = world["a"]
    alice, bob = a["agents"]
    waiting, talking, _ = a["interactions"]
    # Before the restart: Alice answered at T0+10 and is in wrap-up since T0+70; Bob placed a call at T0+100.
    answer(controller, waiting, alice, T0 + seconds(10))
    conclude(waiting, T0 + seconds(70))
    controller.availability.move(Agent.get_by_id(alice.id), "end_call", T0 + seconds(70))
    Interaction.update(
        status="active", agent=bob, direction="outbound", started_at=T0 + seconds(100), answered_at=T0 + seconds(108)
    ).where(Interaction.id == talking.id).execute()
    # A new controller: it knows nothing but the database and what Asterisk says at its first sync.
    restarted = Presence(controller.bus, call_began)
    synced(restarted, {f"webrtc{alice.id}": "NOT_INUSE", f"webrtc{bob.id}": "INUSE"}, at=T0 + seconds(500))
    assert restarted.seen(Agent.get_by_id(alice.id)) == ("wrap_up", T0 + seconds(70))
    assert restarted.seen(Agent.get_by_id(bob.id)) == ("on_call", T0 + seconds(100))  # when his call began
    # Once his call ends, he is available from the moment Asterisk said so.
    device(restarted, bob, "NOT_INUSE", at=T0 + seconds(600))
    assert restarted.seen(Agent.get_by_id(bob.id)) == ("available", T0 + seconds(600))


def test_a_queue_s_figures_of_today_follow_its_calls_as_they_conclude(world, controller):
    a = world["a"]
    alice = a["agents"][0]
    board = controller.queue_board
    board.on_status(
        Event(
            "queue.status",
            {"queue": a["team"].queue_name, "waiting": 0, "longest_wait_seconds": 0, "members": []},
            1,
            T0,
        )
    )
    waiting = a["interactions"][0]
    # Answered after 30 s: outside the team's 20 s.
    answer(controller, waiting, alice, T0 + seconds(30))
    conclude(waiting, T0 + seconds(90), team=a["team"])
    controller.bus.published.clear()
    board.on_interaction(
        Event(
            "interaction.updated",
            {"interaction": InteractionOut.from_row(Interaction.get_by_id(waiting.id)).model_dump(mode="json")},
            2,
            T0,
        )
    )
    ((name, data),) = controller.bus.published
    assert name == "queue.updated" and data["team_id"] == a["team"].id
    assert (data["today"]["offered"], data["today"]["answered_within_threshold"], data["today"]["service_level"]) == (
        1,
        0,
        0.0,
    )


def concluded_event(interaction, seq=2):
    shown = InteractionOut.from_row(Interaction.get_by_id(interaction.id)).model_dump(mode="json")
    return Event("interaction.updated", {"interaction": shown}, seq, T0)


def test_today_s_queue_figures_add_each_call_once_and_count_again_for_a_new_service_level(world, controller):
    """Kept call by call (a busy day's last call costs what its first did): a call updated again once concluded (a
    classification) is not counted twice; a new service level is counted again from the calls."""
    a = world["a"]
    alice, team = a["agents"][0], a["team"]
    board = controller.queue_board
    status = {"queue": team.queue_name, "waiting": 0, "longest_wait_seconds": 0, "members": []}
    board.on_status(Event("queue.status", status, 1, T0))
    first, second = a["interactions"][:2]
    answer(controller, first, alice, T0 + seconds(10))  # within the team's 20 s
    conclude(first, T0 + seconds(60), team=team)
    board.on_interaction(concluded_event(first))
    controller.bus.published.clear()
    board.on_interaction(concluded_event(first))  # the same call again
    assert controller.bus.published == []
    answer(controller, second, a["agents"][1], T0 + seconds(100))  # waited 100 s: not within
    conclude(second, T0 + seconds(160), team=team)
    controller.bus.published.clear()
    board.on_interaction(concluded_event(second))
    ((_, data),) = controller.bus.published
    today = data["today"]
    assert (today["offered"], today["answered"], today["answered_within_threshold"]) == (2, 2, 1)
    assert today == board.figures([team])[0][0]["today"]
    team.service_level_seconds = 120
    team.save()
    assert board.today(team)["answered_within_threshold"] == 2


def test_agents_may_not_see_the_team_view(agent):
    status, error = agent.get("/api/v1/team-view")
    assert status == 403


def test_a_supervisor_sees_their_own_company_s_floor_only(world, controller, make_client):
    from support import signed_in

    client = signed_in(make_client, "supervisor@b.example")
    status, view = client.get("/api/v1/team-view")
    assert status == 200
    b = world["b"]
    assert [row["agent"]["id"] for row in view["agents"]] == [agent.id for agent in b["agents"]]
    assert {call["id"] for call in view["calls"]} == {i.id for i in b["interactions"]}
    assert [queue["team_id"] for queue in view["queues"]] == [b["team"].id]
    a_names = {"Agent1 A", "Agent2 A", "Team A", "Lead0 A", "+1404555"}
    assert not [name for name in a_names if name in str(view)]


def test_a_queue_s_figures_of_today_are_the_kpis_of_its_day(world, controller, supervisor):
    """One definition: what the Team View says of a queue today is what GET /kpis says of the team for that day."""
    a = world["a"]
    alice = a["agents"][0]
    lead = a["leads"][0]
    cases = [  # (seconds waited, answered, talk seconds, outcome)
        (5, True, 60, "answered"),  # within the team's 20 s
        (25, True, 30, "answered"),  # not within
        (2, False, 0, "abandoned"),  # a short abandon: left out
        (40, False, 0, "abandoned"),
        (0, False, 0, None),  # still waiting: not concluded, not counted
    ]
    for n, (waited, answered, talk, outcome) in enumerate(cases):
        began = T0 + seconds(600 * n)
        Interaction.create(
            company=a["company"],
            lead=lead,
            kind="call",
            direction="inbound",
            lead_number=lead.phones[0].number,
            started_at=began,
            answered_at=began + seconds(waited) if answered else None,
            ended_at=began + seconds(waited + talk) if outcome else None,
            status="recent" if outcome else "incoming",
            status_changed_at=began,
            outcome=outcome,
            agent=alice if answered else None,
            talk_seconds=talk if answered else None,
            queue_team=a["team"],
        )
    controller.clock.advance(hours=1)
    (queue,) = supervisor.get("/api/v1/team-view")[1]["queues"]
    day = queue["today"]["day"]
    kpis = supervisor.get(f"/api/v1/kpis?since={day}&until={day}&team_id={a['team'].id}")[1]["queue"]
    today = queue["today"]
    assert (today["offered"], today["answered"], today["short_abandons"], today["abandoned"]) == (4, 2, 1, 1)
    assert (today["service_level"], today["abandonment_rate"]) == (round(1 / 3, 4), round(1 / 3, 4))
    for name in ("offered", "answered", "answered_within_threshold", "abandoned", "short_abandons"):
        assert today[name] == kpis[name], name
    assert (today["service_level"], today["abandonment_rate"]) == (kpis["service_level"], kpis["abandonment_rate"])


def offer(presence, name, agent, channel="lead-1", at=T0):
    presence.bus.published.clear()
    data = {"channel_id": channel, "agent_id": agent.id if agent else None, "at": at}
    handler = presence.on_offered if name == "call.agent_offered" else presence.on_offer_over
    handler(Event(name, data, 0, at))
    return [
        (data["agent"]["id"], data["agent"]["presence"], data["agent"]["presence_since"])
        for published, data in presence.bus.published
        if published == "agent.presence_changed"
    ]


def test_an_agent_a_call_is_offered_to_rings_from_the_offer_until_it_stops_ringing_them(world, controller):
    alice, bob = world["a"]["agents"]
    presence = controller.presence
    synced(presence, {f"webrtc{alice.id}": "NOT_INUSE", f"webrtc{bob.id}": "NOT_INUSE"})
    # Before the device says it rings (Asterisk's device states come later, or not at all when they coalesce).
    assert offer(presence, "call.agent_offered", alice, at=T0 + seconds(3)) == [
        (alice.id, "ringing", utc_iso(T0 + seconds(3)))
    ]
    device(presence, alice, "RINGING", at=T0 + seconds(4))  # already ringing: since stays the offer's
    assert presence.seen(Agent.get_by_id(alice.id)) == ("ringing", T0 + seconds(3))
    # A ringall queue rings Bob too; Alice answers: the call stops ringing both.
    offer(presence, "call.agent_offered", bob, at=T0 + seconds(3))
    device(presence, alice, "INUSE", at=T0 + seconds(5))
    assert offer(presence, "call.answered", alice) == [(bob.id, "available", utc_iso(T0))]
    assert presence.seen(Agent.get_by_id(alice.id)) == ("on_call", T0 + seconds(5))
    device(presence, alice, "NOT_INUSE", at=T0 + seconds(8))
    # Rung out: only the agent it names stops ringing.
    offer(presence, "call.agent_offered", alice, channel="lead-2", at=T0 + seconds(9))
    offer(presence, "call.agent_offered", bob, channel="lead-2", at=T0 + seconds(9))
    assert offer(presence, "call.agent_missed", bob, channel="lead-2") == [(bob.id, "available", utc_iso(T0))]
    assert presence.of(Agent.get_by_id(alice.id)) == "ringing"
    # The caller hangs up: nobody rings.
    assert offer(presence, "call.ended", None, channel="lead-2") == [(alice.id, "available", utc_iso(T0 + seconds(8)))]
