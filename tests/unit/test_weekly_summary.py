"""The weekly summary email (reports/summary.py): queued in the mail outbox once per company and week when the week
ends in the company's time zone (Monday 00:00), again after a restart never, with the week's KPIs against the week
before, the top sources and a line per agent; its setting through the API (admins), checked and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from support import Clock

from leadcenter import config
from leadcenter.audit.models import AuditEntry
from leadcenter.interactions.models import Interaction
from leadcenter.mail import Mailer, OutboundEmail
from leadcenter.reports.models import WeeklySummary
from leadcenter.reports.summary import WeeklySummaries, last_complete_week

NEW_YORK = "America/New_York"  # UTC-5 in late November
# Monday 2026-11-30 00:00 in New York
WEEK_OVER = dt.datetime(2026, 11, 30, 5, 0)
WEEK = dt.date(2026, 11, 23)


def mailer(clock) -> Mailer:
    return Mailer(config.SmtpSettings(host="127.0.0.1", port=25, security="none", from_address="lc@x.test"), clock)


@pytest.fixture
def week(world):
    """Company A in New York with its summary on to two recipients, last sent for the week before WEEK; calls
    answered in WEEK (3, one from Google Ads) and in the week before (1), and one at 23:30 on Sunday the 29th there
    (04:30 UTC on the 30th: in WEEK)."""
    a = world["a"]
    company, lead, alice = a["company"], a["leads"][0], a["agents"][0]
    company.time_zone = NEW_YORK
    company.save()
    Interaction.delete().execute()

    def answered(start: dt.datetime, source: str = "") -> None:
        Interaction.create(
            company=company, lead=lead, kind="call", direction="inbound", status="recent", outcome="answered",
            started_at=start, status_changed_at=start + dt.timedelta(seconds=70), agent=alice, source=source,
            answered_at=start + dt.timedelta(seconds=10), ended_at=start + dt.timedelta(seconds=70), talk_seconds=60,
        )  # fmt: skip

    for day in (24, 25):
        answered(dt.datetime(2026, 11, day, 15, 0), "Google Ads" if day == 24 else "")
    answered(dt.datetime(2026, 11, 30, 4, 30))
    answered(dt.datetime(2026, 11, 17, 15, 0))
    WeeklySummary.create(
        company=company, enabled=True, recipients="boss@a.example\nops@a.example", last_week=WEEK - dt.timedelta(7)
    )
    return a


def test_the_week_is_summarised_once_when_it_ends_in_the_company_s_time_zone(week):
    clock = Clock(WEEK_OVER - dt.timedelta(minutes=1))  # 23:59 on Sunday in New York: not over yet
    summaries = WeeklySummaries(mailer(clock), clock, "https://leads.example:8443/")
    assert summaries.send_due() == 0 and OutboundEmail.select().count() == 0
    clock.now = WEEK_OVER
    assert summaries.send_due() == 1
    emails = list(OutboundEmail.select().order_by(OutboundEmail.to_address))
    assert [e.to_address for e in emails] == ["boss@a.example", "ops@a.example"]
    assert emails[0].key == f"weekly-summary:{week['company'].id}:2026-11-23:boss@a.example"
    assert emails[0].subject == "Company A: your week, Nov 23, 2026 to Nov 29, 2026"
    text = emails[0].text
    assert "Calls handled: 3 (the week before: 1)" in text
    assert "Interactions: 3 (the week before: 1)" in text
    assert "Average handle time: 1 min 0 s (the week before: 1 min 0 s)" in text
    assert "Source: Google Ads: 1 interactions, 0 qualified, value 0.00" in text
    assert f"Agent: {week['agents'][0].display_name}: 3 handled" in text
    assert "Open the reports: https://leads.example:8443/admin#/reports" in text
    assert WeeklySummary.get_by_id(week["company"].id).last_week == WEEK
    # Later sweeps, and a restarted controller's, send nothing more that week.
    clock.now += dt.timedelta(days=3)
    assert summaries.send_due() == 0
    assert WeeklySummaries(mailer(clock), clock, "").send_due() == 0
    assert OutboundEmail.select().count() == 2
    clock.now = WEEK_OVER + dt.timedelta(days=7)  # the next Monday
    assert summaries.send_due() == 1 and OutboundEmail.select().count() == 4


def test_a_week_waits_while_email_is_off_and_goes_once_it_is_on(week):
    clock = Clock(WEEK_OVER + dt.timedelta(days=2))  # the controller came back on Wednesday
    off = WeeklySummaries(Mailer(config.SmtpSettings(), clock), clock, "")
    assert off.send_due() == 0 and WeeklySummary.get_by_id(week["company"].id).last_week == WEEK - dt.timedelta(7)
    assert WeeklySummaries(mailer(clock), clock, "").send_due() == 1
    assert OutboundEmail.select().count() == 2


def test_an_off_summary_sends_nothing(week):
    WeeklySummary.update(enabled=False).execute()
    clock = Clock(WEEK_OVER)
    assert WeeklySummaries(mailer(clock), clock, "").send_due() == 0 and OutboundEmail.select().count() == 0


@pytest.mark.parametrize(
    "now, monday",
    [
        (dt.datetime(2026, 11, 30, 4, 59), dt.date(2026, 11, 16)),  # Sunday 23:59 in New York
        (dt.datetime(2026, 11, 30, 5, 0), dt.date(2026, 11, 23)),  # Monday 00:00
        (dt.datetime(2026, 12, 6, 23, 0), dt.date(2026, 11, 23)),  # Sunday
    ],
)
def test_the_last_complete_week_ends_on_monday_at_midnight_there(now, monday):
    assert last_complete_week(now, NEW_YORK) == monday


def test_admins_set_the_summary_supervisors_read_it(admin, supervisor, world, controller):
    controller.clock.now = WEEK_OVER + dt.timedelta(days=1)
    status, body = supervisor.get("/api/v1/reports/weekly-summary")
    assert (status, body["enabled"], body["recipients"], body["last_week"]) == (200, False, [], None)
    assert body["email_on"] is False  # the stand-in controller has no SMTP host
    assert supervisor.put("/api/v1/reports/weekly-summary", {"enabled": True, "recipients": ["s@a.example"]})[0] == 403
    status, body = admin.put(
        "/api/v1/reports/weekly-summary", {"enabled": True, "recipients": ["Boss@A.example ", "boss@a.example"]}
    )
    assert status == 200, body
    # From the next week that ends: the one that ended on Monday counts as done.
    assert (body["enabled"], body["recipients"]) == (True, ["boss@a.example"])
    assert body["last_week"] == str(last_complete_week(controller.clock.now, body["time_zone"]))
    entry = AuditEntry.select().where(AuditEntry.resource == "weekly_summary").get()
    assert entry.company_id == world["a"]["company"].id and entry.action == "updated"
    assert supervisor.get("/api/v1/reports/weekly-summary")[1]["recipients"] == ["boss@a.example"]
    status, body = admin.put("/api/v1/reports/weekly-summary", {"enabled": False, "recipients": []})
    assert (status, body["enabled"]) == (200, False)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"enabled": True, "recipients": []}, "recipients"),
        ({"enabled": True, "recipients": ["not an address"]}, "recipients"),
        ({"enabled": True, "recipients": ["a@b.example\nBcc: c@d.example"]}, "recipients"),
        ({"enabled": True, "recipients": [f"x{n}@a.example" for n in range(21)]}, "recipients"),
        ({"enabled": "sometimes", "recipients": []}, "enabled"),
    ],
)
def test_bad_summary_settings_are_refused_next_to_their_field(admin, body, field):
    status, answer = admin.put("/api/v1/reports/weekly-summary", body)
    assert (status, answer["error"], list(answer["fields"])) == (422, "invalid-fields", [field])
    assert WeeklySummary.select().count() == 0


def test_a_hostile_source_name_arrives_as_the_characters_it_is(week):
    """Sources come from the web: in the summary's HTML part a source is text, never markup."""
    Interaction.update(source='<img src=x onerror="alert(1)">').where(Interaction.source == "Google Ads").execute()
    clock = Clock(WEEK_OVER)
    assert WeeklySummaries(mailer(clock), clock, "").send_due() == 1
    email = OutboundEmail.select().first()
    assert "<img" not in email.html and "Source: &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in email.html
    assert 'Source: <img src=x onerror="alert(1)">: 1 interactions' in email.text
