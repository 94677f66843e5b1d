"""The interactions report: a CSV of what happened and what the agents recorded, for the business's reporting."""

import csv
import datetime as dt
import io
import re

import pytest
from peewee import CharField, TextField
from support import T0

from leadcenter.agents.models import Agent
from leadcenter.interactions import services
from leadcenter.interactions.models import CallLeg, Interaction, Message
from leadcenter.interactions.services import classify
from leadcenter.leads.models import Lead
from leadcenter.teams.models import Team
from leadcenter.tracking_numbers.models import TrackingNumber


@pytest.fixture(autouse=True)
def utc_company(world):
    """Company A in UTC (a new company takes the server's zone): these tests' days and times are UTC ones."""
    world["a"]["company"].time_zone = "UTC"
    world["a"]["company"].save()


def report(client, query: str = "") -> tuple[int, str, list[dict]]:
    response = client.http.get(f"/api/v1/interactions/report.csv{query}")
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text))) if response.mimetype == "text/csv" else []
    return response.status_code, response.headers.get("Content-Disposition", ""), rows


def test_each_interaction_with_its_attribution_and_classification(supervisor, world):
    a = world["a"]
    call = a["interactions"][0]
    started = dt.datetime(2026, 11, 20, 14, 30)
    Interaction.update(
        started_at=started,
        answered_at=started + dt.timedelta(seconds=5),
        ended_at=started + dt.timedelta(seconds=65),
        talk_seconds=60,
        status="recent",
        outcome="answered",
        agent=a["agents"][0],
        team=a["team"],
        source="Google Ads",
        campaign="spring",
        medium="cpc",
        click_id="EAIaIQ",
    ).where(Interaction.id == call.id).execute()
    classify(
        Interaction.get_by_id(call.id),
        None,
        {"qualified": True, "value_cents": 12550, "tags": ["roof", "hot"], "notes": "Wants a quote, call back Tuesday"},
        T0,
    )
    # The agent's leg of it: their own talk and hold time (a transferred call lists each agent).
    answered, ended = started + dt.timedelta(seconds=5), started + dt.timedelta(seconds=65)
    CallLeg.create(interaction=call, agent=a["agents"][0], channel_id="a.1", joined_at=answered, left_at=ended)
    status, disposition, rows = report(supervisor, "?since=2026-11-20&until=2026-11-20")
    assert status == 200 and disposition == 'attachment; filename="interactions-2026-11-20-2026-11-20.csv"'
    assert list(rows[0]) == list(services.REPORT_COLUMNS)
    assert rows == [
        dict(
            zip(
                services.REPORT_COLUMNS,
                [
                    str(call.id),
                    "call",
                    "inbound",
                    "2026-11-20T14:30:00Z",
                    "2026-11-20T14:30:05Z",
                    "2026-11-20T14:31:05Z",
                    "60",
                    "answered",
                    "Lead0 A",
                    "+14045551000",
                    "+14045550100",
                    "Line A",
                    "Google Ads",
                    "spring",
                    "cpc",
                    "EAIaIQ",
                    "",
                    "",
                    "",
                    a["agents"][0].display_name,
                    f"{a['agents'][0].display_name} (talk 60, hold 0)",
                    "Team A",
                    "yes",
                    "125.50",
                    "hot; roof",
                    "Wants a quote, call back Tuesday",
                    "",
                ],
                strict=True,
            )
        )
    ]


def test_the_days_asked_oldest_first_across_batches(supervisor, world, monkeypatch):
    monkeypatch.setattr(services, "REPORT_BATCH", 2)  # the keyset paging between batches is exercised
    a = world["a"]
    day = dt.datetime(2026, 10, 1, 9, 0)
    made = [
        Interaction.create(
            company=a["company"],
            lead=a["leads"][i % 3],
            kind="call",
            direction="inbound",
            lead_number="+14045551000",
            started_at=day + dt.timedelta(hours=i // 2),
            status_changed_at=day,
        )
        for i in range(7)
    ]  # pairs share a start time: the id breaks the tie
    Interaction.create(
        company=a["company"],
        lead=a["leads"][0],
        kind="call",
        direction="inbound",
        lead_number="+14045551000",
        started_at=day + dt.timedelta(days=1),
        status_changed_at=day,
    )  # the day after: left out
    status, _, rows = report(supervisor, "?since=2026-10-01&until=2026-10-01")
    assert status == 200 and [int(r["interaction"]) for r in rows] == [i.id for i in made]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def test_no_cell_of_any_column_can_start_a_formula(supervisor, world):
    """Every text the report writes came from outside at some point (an SMS sender can be any word, a tracking
    number's name is an admin's, attribution comes from the web): each column is given a formula here, and no cell
    of the report may start like one. Only E.164 numbers keep their '+' (a spreadsheet reads them as numbers)."""
    a = world["a"]
    call = a["interactions"][0]
    hostile = iter(f"{start}{n}+{n}|cmd" for n in range(100) for start in ("=", "+", "-", "@", "\t", "\r"))
    Lead.update(name=next(hostile)).where(Lead.id == call.lead_id).execute()
    TrackingNumber.update(name=next(hostile)).where(TrackingNumber.id == a["number"].id).execute()
    Agent.update(display_name=next(hostile)).where(Agent.id == a["agents"][0].id).execute()
    Team.update(name=next(hostile)).where(Team.id == a["team"].id).execute()
    text_columns = [
        f
        for f in Interaction._meta.sorted_fields
        if isinstance(f, (CharField, TextField)) and f.name not in ("status", "channel_id")
    ]
    Interaction.update(
        {
            **{f: next(hostile) for f in text_columns},
            Interaction.agent: a["agents"][0],
            Interaction.team: a["team"],
            Interaction.started_at: dt.datetime(2026, 11, 2, 8, 0),
        }
    ).where(Interaction.id == call.id).execute()
    classify(Interaction.get_by_id(call.id), None, {"notes": "@SUM(A1)", "tags": ["-5"]}, T0)
    rows = report(supervisor, "?since=2026-11-02&until=2026-11-02")[2]
    assert len(rows) == 1
    hostile_cells = {
        column: value
        for column, value in rows[0].items()
        if value.startswith(FORMULA_START) and not re.fullmatch(r"\+\d+", value)
    }
    assert hostile_cells == {}
    escaped = {column for column, value in rows[0].items() if value.startswith("'")}
    assert {"lead", "lead_number", "tracking_number_name", "agent", "team", "notes", "tags"} <= escaped
    assert rows[0]["notes"] == "'@SUM(A1)" and rows[0]["tracking_number"] == "+14045550100"


def test_numbers_stay_as_they_are(supervisor, world):
    call = world["a"]["interactions"][0]
    Interaction.update(started_at=dt.datetime(2026, 11, 2, 8, 0)).where(Interaction.id == call.id).execute()
    rows = report(supervisor, "?since=2026-11-02&until=2026-11-02")[2]
    assert (rows[0]["lead_number"], rows[0]["tracking_number"]) == ("+14045551000", "+14045550100")


def test_agents_cannot_and_bad_days_are_refused(make_client, supervisor, world):
    agent = make_client()
    agent.sign_in("agent1@a.example")
    assert agent.get("/api/v1/interactions/report.csv")[0] == 403
    status, body = supervisor.get("/api/v1/interactions/report.csv?since=2026-11-05&until=2026-11-01")
    assert (status, body["error"], list(body["fields"])) == (422, "invalid-fields", ["since"])
    status, body = supervisor.get("/api/v1/interactions/report.csv?since=yesterday")
    assert status == 422 and list(body["fields"]) == ["since"]


def test_another_company_s_interactions_are_never_in_the_report(supervisor, world):
    b_call = world["b"]["interactions"][0]
    Interaction.update(started_at=dt.datetime(2026, 11, 3, 8, 0)).where(Interaction.id == b_call.id).execute()
    assert report(supervisor, "?since=2026-11-03&until=2026-11-03")[2] == []


def test_conversations_carry_their_transcript(supervisor, world):
    """A text's, a chat's or a form's words are in the report, oldest first, who said each; a call has none."""
    a = world["a"]
    agent = a["agents"][0]
    day = dt.datetime(2026, 9, 3, 10, 0)
    chat = Interaction.create(
        company=a["company"],
        lead=a["leads"][0],
        kind="chat",
        direction="inbound",
        started_at=day,
        status_changed_at=day,
    )
    said = [
        ("inbound", None, "Hi, do you fix <b>roofs</b>?"),
        ("outbound", agent, "We do: when suits you?"),
        ("inbound", None, "=1+1, tomorrow\nmorning"),
    ]
    for n, (direction, by, body) in enumerate(said):
        Message.create(
            interaction=chat, direction=direction, agent=by, body=body, created_at=day + dt.timedelta(seconds=n)
        )
    Interaction.create(
        company=a["company"],
        lead=a["leads"][1],
        kind="call",
        direction="inbound",
        lead_number="+14045551000",
        started_at=day + dt.timedelta(minutes=1),
        status_changed_at=day,
    )
    _, _, rows = report(supervisor, "?since=2026-09-03&until=2026-09-03")
    assert [(r["kind"], r["transcript"]) for r in rows] == [
        (
            "chat",
            "\n".join(
                [
                    "2026-09-03T10:00:00Z lead: Hi, do you fix <b>roofs</b>?",
                    f"2026-09-03T10:00:01Z {agent.display_name}: We do: when suits you?",
                    "2026-09-03T10:00:02Z lead: =1+1, tomorrow\nmorning",
                ]
            ),
        ),
        ("call", ""),
    ]


def test_the_days_and_times_are_the_company_s_own_as_the_kpis(supervisor, world):
    """New York (UTC-5 in November): a call at 03:30 UTC on the 20th began at 22:30 on the 19th there. It is in the
    19th's report with its times in New York time, in the 19th's KPIs, and in neither for the 20th; a text's
    transcript is in the company's time too."""
    a = world["a"]
    company, call = a["company"], a["interactions"][0]
    company.time_zone = "America/New_York"
    company.save()
    started = dt.datetime(2026, 11, 20, 3, 30, 0, 700_000)
    Interaction.update(
        started_at=started,
        answered_at=started + dt.timedelta(seconds=7),
        ended_at=started + dt.timedelta(seconds=67),
        talk_seconds=60,
        status="recent",
        outcome="answered",
    ).where(Interaction.id == call.id).execute()
    text = Interaction.create(
        company=company, lead=a["leads"][1], kind="text", direction="inbound", started_at=started,
        status_changed_at=started,
    )  # fmt: skip
    Message.create(interaction=text, direction="inbound", body="hello", created_at=started)
    status, disposition, rows = report(supervisor, "?since=2026-11-19&until=2026-11-19")
    assert status == 200 and [r["interaction"] for r in rows] == [str(call.id), str(text.id)]
    assert (rows[0]["started_at"], rows[0]["answered_at"], rows[0]["ended_at"]) == (
        "2026-11-19T22:30:00-05:00",
        "2026-11-19T22:30:07-05:00",
        "2026-11-19T22:31:07-05:00",
    )
    assert rows[1]["transcript"] == "2026-11-19T22:30:00-05:00 lead: hello"
    assert report(supervisor, "?since=2026-11-20&until=2026-11-20")[2] == []
    kpis = supervisor.get("/api/v1/reports/channels?since=2026-11-19&until=2026-11-19")[1]
    assert {r["channel"]: r["interactions"] for r in kpis["rows"]} == {"call": 1, "text": 1}
    assert supervisor.get("/api/v1/reports/channels?since=2026-11-20&until=2026-11-20")[1]["rows"] == []
