"""The console's Reports page in Chromium against the real system: with two months of the demo company's calls and
texts in the database, the page draws each chart, its KPI tiles say what GET /api/v1/kpis says (for the last 30
days, then the last 7), each with its definition, and a chart's CSV link downloads the series' CSV. Screenshot of
the page (docs/screenshot-reports.png). An admin turns the weekly summary email on there, and once a week is over
it reaches the suite's SMTP server, once."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import pytest
from admin_console import AdminConsole
from browser import SCREENSHOTS, TIMEOUT_MS, Browser
from playwright.sync_api import expect

from leadcenter import clock
from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.leads.services import find_or_create_by_number
from leadcenter.reports.models import WeeklySummary
from leadcenter.reports.summary import SWEEP_EVERY
from leadcenter.teams.models import Team

SOURCES = [("Google Ads", "spring-promo"), ("Facebook", "retarget"), ("Website", ""), ("", "")]
CLOSED_AFTER = dt.timedelta(minutes=20)
CHARTS = ("channels-chart", "attribution-chart", "agents-chart", "hours-chart", "weekdays-chart", "missed-chart")


@pytest.fixture
def history(running):
    """Sixty days of Acme Plumbing's inbound calls (answered, missed, abandoned), outbound calls and texts, a few
    a day at business hours, spread over the sources; removed after the test."""
    company = Company.get(Company.name == "Acme Plumbing")
    zone, company.time_zone = company.time_zone, "UTC"  # the days the test computes are UTC days
    company.save()
    agents = list(Agent.select().where(Agent.company == company).order_by(Agent.id))
    team = Team.get(Team.company == company, Team.name == "Sales")
    today = clock.system().replace(hour=0, minute=0, second=0, microsecond=0)
    leads = [find_or_create_by_number(company, f"+1404555{7000 + n}", today, f"Report Lead {n}") for n in range(12)]
    made = []
    for days_ago in range(60):
        day = today - dt.timedelta(days=days_ago)
        for n in range(3 + (days_ago * 7) % 5):
            lead = leads[(days_ago + n) % len(leads)]
            source, campaign = SOURCES[(days_ago + n) % len(SOURCES)]
            started = day + dt.timedelta(hours=8 + (n * 3 + days_ago) % 10, minutes=(n * 17) % 60)
            agent = agents[n % len(agents)]
            fate = (days_ago + n) % 7
            row = dict(
                company=company,
                lead=lead,
                kind="call",
                direction="inbound",
                status="recent",
                lead_number=lead.phones[0].number,
                started_at=started,
                queue_team=team,
                source=source,
                campaign=campaign,
            )
            if fate == 0:
                row.update(outcome="missed", ended_at=started + dt.timedelta(seconds=60))
            elif fate == 1:
                row.update(outcome="abandoned", ended_at=started + dt.timedelta(seconds=3 if days_ago % 2 else 45))
            elif fate == 2:
                row.update(
                    kind="text", queue_team=None, outcome="answered", agent=agent, ended_at=started + CLOSED_AFTER
                )
            else:
                answered = started + dt.timedelta(seconds=4 + (n * 11 + days_ago) % 40)
                talk = 60 + (n * 37 + days_ago * 13) % 400
                row.update(
                    outcome="answered",
                    agent=agent,
                    team=team,
                    answered_at=answered,
                    ended_at=answered + dt.timedelta(seconds=talk),
                    talk_seconds=talk,
                    qualified=fate != 3,
                    value_cents=(15000 + n * 2500) if fate == 4 else None,
                )
            row["status_changed_at"] = row["ended_at"]
            made.append(Interaction.create(**row))
            if row["kind"] == "text":  # the lead writes, the agent replies, then closes it
                reply = started + dt.timedelta(seconds=40 + (n * 29 + days_ago * 7) % 300)
                Message.create(interaction=made[-1], direction="inbound", body="Hi, are you open?", created_at=started)
                Message.create(interaction=made[-1], direction="outbound", body="Yes!", agent=agent, created_at=reply)
                InteractionTransition.create(
                    interaction=made[-1],
                    event="close",
                    from_status="active",
                    to_status="recent",
                    outcome="answered",
                    at=row["ended_at"],
                )
        if days_ago % 3 == 0:  # an outbound call placed
            placed = day + dt.timedelta(hours=15)
            made.append(
                Interaction.create(
                    company=company,
                    lead=leads[0],
                    kind="call",
                    direction="outbound",
                    status="recent",
                    outcome="answered",
                    lead_number=leads[0].phones[0].number,
                    agent=agents[0],
                    started_at=placed,
                    answered_at=placed + dt.timedelta(seconds=9),
                    ended_at=placed + dt.timedelta(seconds=129),
                    talk_seconds=120,
                    status_changed_at=placed + dt.timedelta(seconds=129),
                )
            )
    yield today.date()
    Interaction.delete().where(Interaction.id.in_([i.id for i in made])).execute()
    Company.update(time_zone=zone).where(Company.id == company.id).execute()


def test_a_supervisor_reads_the_reports_with_charts_tiles_and_csv(running, history, tmp_path):
    today = history
    with contextlib.closing(running.sign_in("admin@acme.example")) as api, Browser() as browser:

        def kpis(days: int) -> dict:
            since = today - dt.timedelta(days=days - 1)
            answer = api.get("/api/v1/kpis", params={"since": str(since), "until": str(today)})
            assert answer.status_code == 200, answer.text
            return answer.json()

        console = AdminConsole.open(browser, running, "#/reports")
        page = console.page
        for chart in CHARTS:
            expect(page.locator(f"#{chart}[data-drawn]")).to_have_count(1, timeout=TIMEOUT_MS)
        month = kpis(30)
        assert month["missed"]["missed"] > 0 and month["queue"]["service_level"] is not None
        tile = page.locator('[data-kpi="service_level"]')
        expect(tile.locator(".kpi-value")).to_have_text(f"{month['queue']['service_level'] * 100:.1f}%")
        expect(page.locator('[data-kpi="missed"] .kpi-value')).to_have_text(str(month["missed"]["missed"]))
        expect(page.locator('[data-kpi="handled"] .kpi-value')).to_have_text(str(month["handling"]["handled"]))
        expect(tile.locator(".kpi-compare")).to_contain_text("the 30 days before")
        # Each tile's definition is the API's own (the KPIs' schema in the OpenAPI document).
        tile.get_by_text("How it is counted").click()
        expect(tile.locator(".kpi-help dd").nth(1)).to_contain_text("answered_within_threshold / (offered")
        expect(page.locator(".attribution-rows tbody")).to_contain_text("Google Ads")
        path = (Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / "screenshot-reports.png"
        page.screenshot(path=str(path), full_page=True)

        # The last 7 days: the tiles follow.
        page.get_by_label("Period", exact=True).select_option("7")
        week = kpis(7)
        assert week["missed"]["missed"] != month["missed"]["missed"]
        expect(page.locator('[data-kpi="missed"] .kpi-value')).to_have_text(str(week["missed"]["missed"]))
        expect(page.locator("#report-period")).to_contain_text("(7 days")

        # A chart's CSV link downloads the series for the period shown.
        link = page.locator('[data-csv="channels"]')
        expect(link).to_have_attribute("href", f"/api/v1/reports/channels.csv?since={today - dt.timedelta(days=6)}"
                                       f"&until={today}&interval=day")  # fmt: skip
        with page.expect_download() as download:
            link.click()
        saved = Path(download.value.path()).read_bytes()
        expected = api.get(link.get_attribute("href"))
        assert expected.status_code == 200 and saved == expected.content
        lines = saved.decode().splitlines()
        assert lines[0] == "period,channel,interactions,answered" and len(lines) > 7

        # One agent: the tiles are theirs; missed calls have no agent, so that chart makes way for a note.
        alice = Agent.get(Agent.display_name == "Alice Agent")
        page.get_by_label("Agent", exact=True).select_option(label="Alice Agent")
        since = today - dt.timedelta(days=6)
        hers = api.get("/api/v1/kpis", params={"since": str(since), "until": str(today), "agent_id": alice.id}).json()
        assert hers["handling"]["handled"] < week["handling"]["handled"]
        expect(page.locator('[data-kpi="handled"] .kpi-value')).to_have_text(str(hers["handling"]["handled"]))
        expect(page.locator("#missed-note")).to_be_visible()
        expect(page.locator("#missed-chart")).to_be_hidden()
        expect(page.locator('[data-csv="agents"]')).to_have_attribute("href", re.compile(f"agent_id={alice.id}"))
        assert console.errors == []


def test_an_admin_turns_the_weekly_summary_on_and_it_arrives_when_the_week_is_over(emailing, history):
    system, smtp = emailing
    acme = Company.get(Company.name == "Acme Plumbing")
    try:
        with Browser() as browser:
            console = AdminConsole.open(browser, system, "#/reports")
            form = console.page.locator("#weekly-summary-form")
            form.get_by_label("Send the weekly summary").check()
            form.get_by_label("Recipients").fill("boss at acme")
            form.get_by_role("button", name="Save").click()
            expect(form.locator('.field-error[data-for="recipients"]')).to_contain_text("not an email address")
            form.get_by_label("Recipients").fill("boss@acme.example\nops@acme.example")
            form.get_by_role("button", name="Save").click()
            expect(console.toast()).to_contain_text("goes to boss@acme.example, ops@acme.example")
            assert console.errors == []
        # On from the next week that ends: the week that ended last Monday counts as done, nothing goes now.
        row = WeeklySummary.get_by_id(acme.id)
        assert row.enabled and row.last_week.weekday() == 0 and smtp.received == []
        # A week later (as the sweeper sees it: the week recorded is the one before), the week that ended goes.
        WeeklySummary.update(last_week=row.last_week - dt.timedelta(days=7)).where(
            WeeklySummary.company == acme.id
        ).execute()
        received = smtp.wait(2, timeout=SWEEP_EVERY * 3 + 10)
        assert sorted(r.rcpt_tos[0] for r in received) == ["boss@acme.example", "ops@acme.example"]
        monday = row.last_week
        sunday = monday + dt.timedelta(days=6)
        subject = f"Acme Plumbing: your week, {monday:%b} {monday.day}, {monday.year} to {sunday:%b} {sunday.day}"
        assert received[0].message["Subject"].startswith(subject)
        text = received[0].part("plain")
        assert "Calls handled: " in text and "Source: Google Ads: " in text and "Agent: Alice Agent: " in text
        assert f"Open the reports: {system.url}/admin#/reports" in text
        assert WeeklySummary.get_by_id(acme.id).last_week == monday
    finally:
        WeeklySummary.delete().where(WeeklySummary.company == acme.id).execute()
