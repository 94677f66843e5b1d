"""The KPIs on hand-built histories with known answers (docs/kpis.md defines each one), their agreement with
report.csv, and the API: a supervisor's own company only."""

import csv
import datetime as dt
import io

import pytest

from leadcenter.agents.models import AgentStatusChange
from leadcenter.interactions.models import CallLeg, Interaction, InteractionTransition, Message
from leadcenter.reports import services
from leadcenter.reports.services import Scope
from leadcenter.teams.models import Team, TeamMember

DAY = dt.datetime(2026, 11, 20)


def at(seconds: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=10, seconds=seconds)


def call(
    company,
    lead,
    *,
    start,
    answered=None,
    ended=None,
    outcome="answered",
    agent=None,
    queue=None,
    direction="inbound",
    hold=None,
    status="recent",
    micro=0,
):
    """A concluded call of ``company``; times in seconds after 10:00 on DAY."""
    begin = at(start) + dt.timedelta(microseconds=micro)
    return Interaction.create(
        company=company,
        lead=lead,
        kind="call",
        direction=direction,
        status=status,
        outcome=outcome if status == "recent" else None,
        started_at=begin,
        status_changed_at=begin if ended is None else at(ended),  # as the lifecycle stamps it
        answered_at=None if answered is None else at(answered),
        ended_at=None if ended is None else at(ended),
        talk_seconds=None if answered is None or ended is None else round(ended - answered),
        agent=agent,
        team=queue if answered is not None and direction == "inbound" else None,
        queue_team=queue,
        hold_seconds=hold,
    )


def status_change(agent, seconds, to_reason, event="end_call", from_reason="on_call"):
    AgentStatusChange.create(
        agent=agent,
        event=event,
        from_status="unavailable",
        from_reason=from_reason,
        to_status="available" if to_reason == "" else "unavailable",
        to_reason=to_reason,
        at=at(seconds),
    )


@pytest.fixture
def history(world):
    """Company A's day: a team with a 20 s threshold (the default) and one with 10 s.

    Queue calls of Team A (threshold 20):  answered after 5 s, 20 s, 21 s and 40 s; abandoned after 3 s (short) and
    after 30 s; missed (the flow ran out); one to voicemail.  Team Fast (threshold 10): answered after 12 s.
    Service level A: 2 within 20 s of 8 offered less 1 short abandon = 2/7; ASA A = (5+20+21+40)/4 = 21.5 s."""
    a = world["a"]
    company, team, lead = a["company"], a["team"], a["leads"][0]
    company.time_zone = "UTC"  # the server's zone is a new company's: these days are UTC days
    company.save()
    alice, bob = a["agents"]
    fast = Team.create(company=company, name="Fast", service_level_seconds=10)
    TeamMember.create(team=fast, agent=bob)
    Interaction.delete().execute()
    calls = {
        "a5": call(company, lead, start=0, answered=5, ended=125, agent=alice, queue=team, hold=30, micro=900_000),
        "a20": call(company, lead, start=100, answered=120, ended=180, agent=alice, queue=team),
        "a21": call(company, lead, start=200, answered=221, ended=281, agent=alice, queue=team),
        "a40": call(company, lead, start=300, answered=340, ended=400, agent=alice, queue=team),
        "short": call(company, lead, start=500, ended=503, outcome="abandoned", queue=team),
        "abandon": call(company, lead, start=600, ended=630, outcome="abandoned", queue=team),
        "missed": call(company, lead, start=700, ended=820, outcome="missed", queue=team),
        "vm": call(company, lead, start=900, ended=990, outcome="voicemail", queue=team),
        "fast": call(company, lead, start=1000, answered=1012, ended=1100, agent=bob, queue=fast),
        # not queue calls: a ring-agents call, outbound attempts, one still ringing, yesterday's
        "direct": call(company, lead, start=1200, answered=1203, ended=1263, agent=bob),
        "out1": call(company, lead, start=1300, answered=1310, ended=1370, agent=alice, direction="outbound"),
        "out2": call(company, lead, start=1400, ended=1430, outcome="missed", agent=alice, direction="outbound"),
        "ringing": call(company, lead, start=1500, queue=team, status="incoming"),
        "yesterday": call(company, lead, start=-86400, answered=-86390, ended=-86300, agent=alice, queue=team),
    }
    # Alice's wrap-ups: 15 s after a5 (which ended at 125), 10 s after a20; none after a21 (Rejoin at once is a
    # wrap-up of 0 s); a40's wrap-up is still going. Bob wraps up 30 s after fast.
    for end, back in ((125, 140), (180, 190), (281, 281), (400, None)):
        status_change(alice, end, "wrap_up")
        if back is not None:
            status_change(alice, back, "", event="rejoin", from_reason="wrap_up")
    status_change(bob, 1100, "wrap_up")
    status_change(bob, 1130, "", event="rejoin", from_reason="wrap_up")
    status_change(bob, 1150, "missed", event="miss_call", from_reason="")
    return {**a, "calls": calls, "fast": fast}


def scope(world, **kw):
    return Scope(world["a"]["company"], DAY, DAY + dt.timedelta(days=1), **kw)


def test_service_level_speed_of_answer_and_abandonment_with_the_short_threshold(history, world):
    queue = services.queue_calls(scope(world))
    assert queue == {
        "offered": 9,  # 8 of Team A's queue, 1 of Fast's; the one still ringing and yesterday's are not counted
        "short_abandons": 1,
        "answered": 5,
        "answered_within_threshold": 2,  # 5 s and 20 s of A (within means at most 20 s); 12 s > Fast's 10 s
        "service_level_seconds": [10, 20],
        "service_level": round(2 / 8, 4),  # 9 offered less the short abandon
        "average_speed_of_answer_seconds": round((5 + 20 + 21 + 40 + 12) / 5, 1),
        "abandoned": 1,
        "abandonment_rate": round(1 / 8, 4),
    }
    team_a = services.queue_calls(scope(world, team_id=history["team"].id))
    assert (team_a["offered"], team_a["service_level"], team_a["average_speed_of_answer_seconds"]) == (
        8,
        round(2 / 7, 4),
        21.5,
    )
    assert team_a["abandonment_rate"] == round(1 / 7, 4) and team_a["service_level_seconds"] == [20]
    fast = services.queue_calls(scope(world, team_id=history["fast"].id))
    assert (fast["offered"], fast["answered_within_threshold"], fast["service_level"]) == (1, 0, 0.0)


def test_a_queue_callback_counts_once_in_the_queue_as_its_callback_call(history, world):
    before = services.queue_calls(scope(world, team_id=history["team"].id))
    lead = history["leads"][0]
    asked = call(world["a"]["company"], lead, start=600, ended=630, outcome="callback", queue=history["team"])
    callback = call(
        world["a"]["company"],
        lead,
        start=630,
        answered=640,  # the lead picked up 10 s after the callback was placed: within Team A's 20 s
        ended=700,
        agent=history["agents"][0],
        queue=history["team"],
        direction="outbound",
    )
    callback.callback_of = asked
    callback.save()
    after = services.queue_calls(scope(world, team_id=history["team"].id))
    assert after["offered"] == before["offered"] + 1  # the two calls count as one offered to the queue
    assert after["answered_within_threshold"] == before["answered_within_threshold"] + 1
    assert after["abandoned"] == before["abandoned"]


def test_the_wait_is_counted_in_whole_seconds_as_report_csv_shows_the_times(history, world):
    # a5 started at 10:00:00.9 and was answered at 10:00:05: report.csv says 10:00:00 and 10:00:05, so 5 s.
    assert services.queue_calls(scope(world, agent_id=history["agents"][0].id))[
        "average_speed_of_answer_seconds"
    ] == round((5 + 20 + 21 + 40) / 4, 1)


def test_missed_calls_and_voicemail_and_an_agents_rang_out_offers(history, world):
    assert services.missed_calls(scope(world)) == {"missed": 1, "voicemail": 1}
    assert services.missed_calls(scope(world, team_id=history["fast"].id)) == {"missed": 0, "voicemail": 0}
    assert services.missed_calls(scope(world, agent_id=history["agents"][1].id)) == {"missed": 1, "voicemail": 0}


def test_average_handle_time_is_talk_plus_hold_plus_the_wrap_up_after_each_call(history, world):
    alice, bob = history["agents"]
    # Alice's handled calls today: a5 (120 s, 30 of them on hold), a20 (60), a21 (60), a40 (60), out1 (60);
    # wrap-ups 15 + 10 + 0 (a40's is still going; out1 had none).
    handling = services.handled_calls(scope(world, agent_id=alice.id))
    assert handling == {
        "handled": 5,
        "average_talk_seconds": round((120 - 30 + 60 + 60 + 60 + 60) / 5, 1),
        "average_hold_seconds": 6.0,
        "wrapped_up": 3,
        "average_wrap_up_seconds": 5.0,
        "average_handle_time_seconds": round((360 + 25) / 5, 1),
    }
    assert services.handled_calls(scope(world, agent_id=bob.id))["average_handle_time_seconds"] == round(
        (88 + 30 + 60) / 2, 1
    )
    company = services.handled_calls(scope(world))
    assert company["handled"] == 7 and company["average_handle_time_seconds"] == round((360 + 25 + 148 + 30) / 7, 1)
    # Team Fast's members: Bob only
    assert services.handled_calls(scope(world, team_id=history["fast"].id))["handled"] == 2


def test_a_transferred_call_counts_for_each_agent_the_time_of_their_leg(history, world):
    alice, bob = history["agents"]
    before = {a.id: services.handled_calls(scope(world, agent_id=a.id)) for a in (alice, bob)}
    # Alice answers at 2005, holds 10 s, transfers at 2065; Bob takes it at 2070, it ends at 2170 (his call now).
    moved = call(
        world["a"]["company"], world["a"]["leads"][0], start=2000, answered=2005, ended=2170, agent=bob, hold=10
    )
    CallLeg.create(
        interaction=moved, agent=alice, channel_id="a.1", joined_at=at(2005), left_at=at(2065), hold_seconds=10
    )
    CallLeg.create(interaction=moved, agent=bob, channel_id="b.1", joined_at=at(2070), left_at=at(2170))
    after = {a.id: services.handled_calls(scope(world, agent_id=a.id)) for a in (alice, bob)}
    assert after[alice.id]["handled"] == before[alice.id]["handled"] + 1
    assert after[bob.id]["handled"] == before[bob.id]["handled"] + 1
    # Alice's talk less hold: 330 before, + 60 - 10; her hold 30 + 10. Bob's talk 148 before, + 100.
    assert after[alice.id]["average_talk_seconds"] == round((330 + 50) / 6, 1)
    assert after[alice.id]["average_hold_seconds"] == round(40 / 6, 1)
    assert after[bob.id]["average_talk_seconds"] == round((148 + 100) / 3, 1)
    # The company: one more call handled by each of two agents; the call itself is one interaction.
    assert services.handled_calls(scope(world))["handled"] == 7 + 2


def test_outbound_attempts_and_connects(history, world):
    assert services.outbound_calls(scope(world)) == {"attempts": 2, "connects": 1, "connect_rate": 0.5}
    assert services.outbound_calls(scope(world, agent_id=history["agents"][1].id))["attempts"] == 0


def test_a_transferred_outbound_call_is_an_attempt_of_the_agent_who_placed_it(history, world):
    """Alice calls a lead and hands the call to Bob, whose it is at its end: the attempt and the connect are hers,
    each of them handled it for their leg's time."""
    alice, bob = history["agents"]
    before = {a.id: services.kpis(scope(world, agent_id=a.id)) for a in (alice, bob)}
    placed = call(
        world["a"]["company"],
        world["a"]["leads"][0],
        start=3000,
        answered=3010,
        ended=3130,
        agent=bob,
        direction="outbound",
    )
    CallLeg.create(interaction=placed, agent=alice, channel_id="lc-out-9", joined_at=at(3010), left_at=at(3040))
    CallLeg.create(interaction=placed, agent=bob, channel_id="b.9", joined_at=at(3045), left_at=at(3130))
    after = {a.id: services.kpis(scope(world, agent_id=a.id)) for a in (alice, bob)}
    assert after[alice.id]["outbound"]["attempts"] == before[alice.id]["outbound"]["attempts"] + 1
    assert after[alice.id]["outbound"]["connects"] == before[alice.id]["outbound"]["connects"] + 1
    assert after[bob.id]["outbound"] == before[bob.id]["outbound"]
    for agent in (alice, bob):
        assert after[agent.id]["handling"]["handled"] == before[agent.id]["handling"]["handled"] + 1


def conversation(company, lead, kind, start, messages, transitions, agent=None):
    """An inbound text or chat begun ``start`` seconds after 10:00; messages as (seconds, direction, by agent?),
    transitions as (seconds, event, to_status, outcome)."""
    interaction = Interaction.create(
        company=company,
        lead=lead,
        kind=kind,
        direction="inbound",
        status="recent",
        outcome="answered",
        started_at=at(start),
        status_changed_at=at(start),
        agent=agent,
    )
    for seconds, direction, by_agent in messages:
        Message.create(
            interaction=interaction,
            direction=direction,
            body="hi",
            agent=agent if by_agent else None,
            created_at=at(seconds),
        )
    for seconds, event, to_status, outcome in transitions:
        InteractionTransition.create(
            interaction=interaction, event=event, from_status="", to_status=to_status, outcome=outcome, at=at(seconds)
        )
    return interaction


def test_first_response_and_resolution_of_texts_each_time_the_lead_writes_again(world):
    a = world["a"]
    alice = a["agents"][0]
    company, lead = a["company"], a["leads"][0]
    # A text at 0: Alice replies at 90 (an automatic reply at 10 is not a response), closes at 300. The lead
    # writes again at 1000 (reopen): Alice replies at 1030, closes at 1100.
    conversation(
        company,
        lead,
        "text",
        0,
        [
            (0, "inbound", False),
            (10, "outbound", False),
            (90, "outbound", True),
            (1000, "inbound", False),
            (1030, "outbound", True),
        ],
        [
            (60, "respond", "active", None),
            (300, "close", "recent", "answered"),
            (1000, "reopen", "incoming", None),
            (1020, "respond", "active", None),
            (1100, "close", "recent", "answered"),
        ],
        agent=alice,
    )
    # A text at 2000 nobody answered: timed out at 5000; not responded, not resolved.
    conversation(company, lead, "text", 2000, [(2000, "inbound", False)], [(5000, "time_out", "recent", "timed_out")])
    # A chat at 0 answered at 20, ended at 200.
    conversation(
        company,
        lead,
        "chat",
        0,
        [(0, "inbound", False), (20, "outbound", True)],
        [(200, "close", "recent", "answered")],
        agent=alice,
    )
    texts = services.conversations(scope(world), "text")
    assert texts == {
        "episodes": 3,
        "responded": 2,
        "average_first_response_seconds": round((90 + 30) / 2, 1),
        "resolved": 2,
        "average_resolution_seconds": round((300 + 100) / 2, 1),
    }
    assert services.conversations(scope(world), "chat") == {
        "episodes": 1,
        "responded": 1,
        "average_first_response_seconds": 20.0,
        "resolved": 1,
        "average_resolution_seconds": 200.0,
    }
    assert services.conversations(scope(world, agent_id=a["agents"][1].id), "text")["episodes"] == 0


# -- the API -------------------------------------------------------------------------------------------------------


def get(client, path):
    response = client.http.get(path)
    return response.status_code, response.get_json()


DAY_QUERY = "since=2026-11-20&until=2026-11-20"


def test_the_kpis_over_the_api_with_their_period(history, supervisor):
    status, body = get(supervisor, f"/api/v1/kpis?{DAY_QUERY}&team_id={history['team'].id}")
    assert status == 200, body
    assert body["period"] == {
        "since": "2026-11-20",
        "until": "2026-11-20",
        "time_zone": "UTC",
        "team_id": history["team"].id,
        "agent_id": None,
    }
    assert body["queue"]["service_level"] == round(2 / 7, 4) and body["queue"]["short_abandons"] == 1
    assert body["outbound"] == {"attempts": 2, "connects": 1, "connect_rate": 0.5}  # Alice is of Team A
    status, body = get(supervisor, f"/api/v1/kpis?{DAY_QUERY}&agent_id={history['agents'][0].id}")
    assert status == 200 and body["handling"]["average_handle_time_seconds"] == 77.0


def test_every_series_answers_for_the_period(history, supervisor):
    status, body = get(supervisor, f"/api/v1/reports/channels?{DAY_QUERY}")
    assert status == 200 and body["rows"] == [
        {"period": "2026-11-20", "channel": "call", "interactions": 13, "answered": 7}
    ]
    status, body = get(supervisor, "/api/v1/reports/channels?since=2026-11-01&until=2026-11-30&interval=week")
    assert [(r["period"], r["interactions"]) for r in body["rows"]] == [("2026-11-16", 14)]  # a Monday
    status, body = get(supervisor, f"/api/v1/reports/attribution?{DAY_QUERY}&group=source")
    assert status == 200 and body["rows"][0]["interactions"] == 13
    status, body = get(supervisor, f"/api/v1/reports/agents?{DAY_QUERY}")
    alice, bob = history["agents"]
    assert [(r["agent_id"], r["handled"], r["average_handle_time_seconds"]) for r in body["rows"]] == [
        (alice.id, 5, 77.0),
        (bob.id, 2, 89.0),
    ]
    status, body = get(supervisor, f"/api/v1/reports/hours?{DAY_QUERY}")
    assert body["rows"] == [{"weekday": 5, "hour": 10, "interactions": 11, "calls": 11}]  # 2026-11-20: a Friday
    status, body = get(supervisor, f"/api/v1/reports/hours?{DAY_QUERY}&team_id={history['fast'].id}")
    assert body["rows"] == [{"weekday": 5, "hour": 10, "interactions": 1, "calls": 1}]  # its queue's call
    status, body = get(supervisor, f"/api/v1/reports/hours?{DAY_QUERY}&agent_id={bob.id}")
    assert body["rows"] == [{"weekday": 5, "hour": 10, "interactions": 2, "calls": 2}]  # fast and direct
    status, body = get(supervisor, f"/api/v1/reports/attribution?{DAY_QUERY}&group=source&agent_id={bob.id}")
    assert [(r["value"], r["interactions"]) for r in body["rows"]] == [("", 2)]
    status, body = get(supervisor, f"/api/v1/reports/missed?{DAY_QUERY}")
    assert body["rows"] == [{"hour": 10, "calls": 11, "missed": 1, "voicemail": 1, "abandoned": 1, "short_abandons": 1}]


def test_a_team_s_service_level_threshold_is_set_through_the_teams_api(history, admin, supervisor):
    """Team A's N from 20 s (the default) to 40 s: a21 and a40 are answered within it now (4 of 7)."""
    team = history["team"]
    status, body = get(supervisor, f"/api/v1/teams/{team.id}")
    assert (status, body["service_level_seconds"]) == (200, 20)
    status, body = admin.patch(f"/api/v1/teams/{team.id}", {"service_level_seconds": 40})
    assert (status, body["service_level_seconds"]) == (200, 40), body
    status, body = get(supervisor, f"/api/v1/kpis?{DAY_QUERY}&team_id={team.id}")
    assert (body["queue"]["service_level_seconds"], body["queue"]["service_level"]) == ([40], round(4 / 7, 4))
    assert supervisor.patch(f"/api/v1/teams/{team.id}", {"service_level_seconds": 10})[0] == 403


@pytest.mark.parametrize(
    "series, extra",
    [
        ("channels", ""),
        ("channels", "&interval=week"),
        ("attribution", "&group=source"),
        ("attribution", "&group=campaign"),
        ("agents", ""),
        ("hours", ""),
        ("missed", ""),
        ("hours", "&team_id=TEAM"),
        ("agents", "&agent_id=AGENT"),
    ],
)
def test_each_series_as_csv_is_its_json(history, supervisor, series, extra):
    """The CSV of a series has a column per field of its rows and a line per row, the same values (null empty)."""
    Interaction.update(source="=HYPERLINK(evil)", campaign="Spring").where(
        Interaction.id == history["calls"]["a5"].id
    ).execute()
    extra = extra.replace("TEAM", str(history["team"].id)).replace("AGENT", str(history["agents"][0].id))
    status, body = get(supervisor, f"/api/v1/reports/{series}?{DAY_QUERY}{extra}")
    assert status == 200 and body["rows"]
    response = supervisor.http.get(f"/api/v1/reports/{series}.csv?{DAY_QUERY}{extra}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{series}')
    assert response.headers["Content-Disposition"].endswith('-2026-11-20-2026-11-20.csv"')
    lines = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    def written(value):
        text = "" if value is None else str(value)
        return "'" + text if text.startswith("=") else text  # a formula is shown, not run (report.csv's rule)

    assert lines == [{name: written(value) for name, value in row.items()} for row in body["rows"]]


def test_a_series_csv_is_refused_as_its_json_is(history, supervisor, make_client, world):
    assert get(supervisor, f"/api/v1/reports/weather.csv?{DAY_QUERY}")[0] == 404
    status, body = get(supervisor, f"/api/v1/reports/missed.csv?agent_id={history['agents'][0].id}")
    assert status == 422 and "agent_id" in body["fields"]
    agent = make_client()
    agent.sign_in("agent1@a.example")
    assert get(agent, "/api/v1/reports/hours.csv")[0] == 403
    b = make_client()
    b.sign_in("supervisor@b.example")
    response = b.http.get(f"/api/v1/reports/channels.csv?{DAY_QUERY}")
    assert response.get_data(as_text=True).splitlines() == ["period,channel,interactions,answered"]
    assert get(b, f"/api/v1/reports/agents.csv?{DAY_QUERY}&team_id={history['team'].id}")[0] == 404


def test_a_supervisor_of_another_company_gets_nothing_of_it(history, world, make_client):
    b = make_client()
    b.sign_in("supervisor@b.example")
    status, body = get(b, f"/api/v1/kpis?{DAY_QUERY}")
    assert status == 200
    assert body["queue"]["offered"] == body["handling"]["handled"] == body["outbound"]["attempts"] == 0
    for series in ("channels", "attribution", "agents", "hours", "missed"):
        status, body = get(b, f"/api/v1/reports/{series}?{DAY_QUERY}")
        assert (status, body["rows"]) == (200, []), series
    # A's team and agent are, to B, ids that do not exist
    for query in (f"team_id={history['team'].id}", f"agent_id={history['agents'][0].id}"):
        for path in ("/api/v1/kpis", "/api/v1/reports/agents"):
            status, body = get(b, f"{path}?{DAY_QUERY}&{query}")
            assert (status, body["error"]) == (404, "not-found"), (path, query)


def test_agents_may_not_read_the_kpis_and_bad_periods_are_refused(world, make_client, supervisor):
    agent = make_client()
    agent.sign_in("agent1@a.example")
    assert get(agent, "/api/v1/kpis")[0] == 403
    assert get(agent, "/api/v1/reports/hours")[0] == 403
    status, body = get(supervisor, "/api/v1/kpis?since=2026-11-21&until=2026-11-20")
    assert (status, body["fields"]) == (422, {"since": "must be on or before until"})
    status, body = get(supervisor, "/api/v1/reports/channels?interval=year")
    assert status == 422 and "interval" in body["fields"]
    status, body = get(supervisor, f"/api/v1/reports/missed?agent_id={world['a']['agents'][0].id}")
    assert status == 422 and "agent_id" in body["fields"]


def _seconds(begin: str, end: str) -> int:
    parse = lambda text: dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return round((parse(end) - parse(begin)).total_seconds())


def test_the_kpis_agree_with_report_csv_to_the_second(world, supervisor):
    """Calls and a text with times at odd fractions of a second: each KPI recomputed from report.csv's rows is the
    same number."""
    a = world["a"]
    company, team, lead, alice = a["company"], a["team"], a["leads"][0], a["agents"][0]
    company.time_zone = "UTC"  # report.csv's days are UTC days
    company.save()
    Interaction.delete().execute()
    for n, (wait, talk, outcome) in enumerate(
        [
            (3.7, 61.2, "answered"),
            (19.6, 10.1, "answered"),
            (20.4, 99.9, "answered"),
            (2.2, None, "abandoned"),
            (7.9, None, "abandoned"),
            (44.4, None, "missed"),
            (0.3, 5.5, "answered"),
        ]
    ):
        start = n * 300 + 0.45 * n
        answered = start + wait if talk is not None else None
        ended = answered + talk if answered is not None and talk is not None else start + wait
        call(company, lead, start=start, answered=answered, ended=ended, outcome=outcome,
             agent=alice if answered is not None else None, queue=team)  # fmt: skip
    text = conversation(company, lead, "text", 5000.7, [], [], agent=alice)
    Message.create(interaction=text, direction="inbound", body="hello", created_at=at(5000.7))
    Message.create(interaction=text, direction="outbound", body="hi!", agent=alice, created_at=at(5061.2))

    response = supervisor.http.get(f"/api/v1/interactions/report.csv?{DAY_QUERY}")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    calls = [r for r in rows if r["kind"] == "call"]
    short = [r for r in calls if r["outcome"] == "abandoned" and _seconds(r["started_at"], r["ended_at"]) < 5]
    abandoned = [r for r in calls if r["outcome"] == "abandoned" and r not in short]
    waits = [_seconds(r["started_at"], r["answered_at"]) for r in calls if r["answered_at"]]
    talk = [int(r["talk_seconds"]) for r in calls if r["answered_at"]]
    first_reply = next(
        line
        for line in next(r for r in rows if r["kind"] == "text")["transcript"].splitlines()
        if " lead: " not in line
    ).split(" ")[0]

    status, kpis = get(supervisor, f"/api/v1/kpis?{DAY_QUERY}")
    assert status == 200
    counted = len(calls) - len(short)
    assert kpis["queue"]["offered"] == len(calls)
    assert kpis["queue"]["short_abandons"] == len(short) == 1
    assert kpis["queue"]["service_level"] == round(sum(w <= 20 for w in waits) / counted, 4)
    assert kpis["queue"]["average_speed_of_answer_seconds"] == round(sum(waits) / len(waits), 1)
    assert kpis["queue"]["abandonment_rate"] == round(len(abandoned) / counted, 4)
    assert kpis["missed"]["missed"] == sum(r["outcome"] == "missed" for r in calls)
    assert kpis["handling"]["average_talk_seconds"] == round(sum(talk) / len(talk), 1)
    text_row = next(r for r in rows if r["kind"] == "text")
    assert kpis["texts"]["average_first_response_seconds"] == _seconds(text_row["started_at"], first_reply)


def test_the_daily_rollup_follows_every_change_to_what_it_was_made_of(history, world):
    """A day's sums are kept once read (reports/models.py); a change to anything they were made of makes the next
    read build the day again, so the figures are always the interactions' own."""
    from leadcenter.reports.models import KpiDayBuilt

    alice = history["agents"][0]
    first = services.kpis(scope(world))
    assert KpiDayBuilt.select().where(KpiDayBuilt.day == "2026-11-20").exists()
    assert services.kpis(scope(world)) == first  # read from the rollup
    # a40's wrap-up ends (Alice rejoins at 460): 60 s more of wrap-up
    status_change(alice, 460, "", event="rejoin", from_reason="wrap_up")
    handling = services.handled_calls(scope(world, agent_id=alice.id))
    assert (handling["wrapped_up"], handling["average_wrap_up_seconds"]) == (4, round(85 / 5, 1))
    # the short abandon turns out to be 6 s long (a correction): no longer short
    Interaction.update(ended_at=at(506)).where(Interaction.id == history["calls"]["short"].id).execute()
    queue = services.queue_calls(scope(world))
    assert (queue["short_abandons"], queue["abandoned"]) == (0, 2)
    # Team A's threshold becomes 40 s: a21 and a40 are now within it
    Team.update(service_level_seconds=40).where(Team.id == history["team"].id).execute()
    assert services.queue_calls(scope(world, team_id=history["team"].id))["answered_within_threshold"] == 4
    # a reply in a text that began that day
    text = conversation(
        history["company"], history["leads"][0], "text", 2000, [(2000, "inbound", False)], [], agent=alice
    )
    assert services.conversations(scope(world), "text")["responded"] == 0
    Message.create(interaction=text, direction="outbound", body="yes", agent=alice, created_at=at(2045))
    assert services.conversations(scope(world), "text")["average_first_response_seconds"] == 45.0
    # an interaction deleted (its lead merged away, say)
    Interaction.delete().where(Interaction.id == history["calls"]["vm"].id).execute()
    assert services.missed_calls(scope(world))["voicemail"] == 0


def test_the_days_and_hours_are_the_companys_own_across_a_change_of_offset(world, supervisor):
    """New York: 2026-11-01 is the day clocks go back (06:00 UTC: 02:00 EDT becomes 01:00 EST). A call at 05:30 UTC
    and one at 06:30 UTC both began at 01:30 local, on the 1st; one at 03:30 UTC on the 2nd began on the 1st too;
    one at 04:30 UTC on the 1st began on October 31st."""
    a = world["a"]
    company, lead, alice = a["company"], a["leads"][0], a["agents"][0]
    company.time_zone = "America/New_York"
    company.save()
    Interaction.delete().execute()
    for utc in ("2026-11-01 05:30", "2026-11-01 06:30", "2026-11-02 03:30", "2026-11-01 03:30"):
        start = (dt.datetime.fromisoformat(utc) - at(0)).total_seconds()  # call() counts from 10:00 on DAY
        call(company, lead, start=start, answered=start + 4, ended=start + 60, agent=alice, queue=a["team"])
    status, body = get(supervisor, "/api/v1/kpis?since=2026-11-01&until=2026-11-01")
    assert body["period"]["time_zone"] == "America/New_York" and body["queue"]["offered"] == 3
    status, body = get(supervisor, "/api/v1/reports/hours?since=2026-11-01&until=2026-11-01")
    assert body["rows"] == [
        {"weekday": 7, "hour": 1, "interactions": 2, "calls": 2},  # a Sunday
        {"weekday": 7, "hour": 22, "interactions": 1, "calls": 1},
    ]
    status, body = get(supervisor, f"/api/v1/reports/hours?since=2026-11-01&until=2026-11-01&agent_id={alice.id}")
    assert [(r["hour"], r["interactions"]) for r in body["rows"]] == [(1, 2), (22, 1)]  # read from the interactions
    status, body = get(supervisor, "/api/v1/reports/channels?since=2026-10-31&until=2026-11-01")
    assert [(r["period"], r["interactions"]) for r in body["rows"]] == [("2026-10-31", 1), ("2026-11-01", 3)]
    # A change is seen at once: the call of 22:30 local is deleted
    Interaction.delete().where(Interaction.started_at == dt.datetime(2026, 11, 2, 3, 30)).execute()
    assert get(supervisor, "/api/v1/kpis?since=2026-11-01&until=2026-11-01")[1]["queue"]["offered"] == 2


def test_a_period_is_cut_where_the_zones_offset_changes():
    begin, end = dt.datetime(2026, 10, 31, 4), dt.datetime(2026, 11, 3, 5)
    assert services.segments("America/New_York", begin, end) == [
        (begin, dt.datetime(2026, 11, 1, 6), -240),
        (dt.datetime(2026, 11, 1, 6), end, -300),
    ]
    assert services.segments("UTC", begin, end) == [(begin, end, 0)]
