"""The weekly summary email: each Monday (the company's time zone), the week that ended at 00:00 (Monday to
Sunday) to the company's chosen recipients: its KPIs against the week before, its top sources, a line per agent.

A sweeper (``weekly-summaries``, every SWEEP_EVERY seconds) looks for companies whose last complete week is newer
than the one their WeeklySummary row last summarised; it queues the emails in the mail outbox (leadcenter/mail.py,
one per recipient, keyed by company, week and address) and records the week in the same transaction, so each week
goes once per company across restarts, and a controller that was down on Monday sends it when it is back. A
summary turned on starts with the next week that ends (the week that ended before is recorded as done).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from leadcenter.accounts.models import Company
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.mail import Content, Email, Mailer
from leadcenter.reports import services
from leadcenter.reports.models import WeeklySummary
from leadcenter.timers import Sweeper

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0  # seconds: one indexed read of the few enabled summaries
TOP_SOURCES = 5


def last_complete_week(now: dt.datetime, zone: str) -> dt.date:
    """The Monday of the last week (Monday to Sunday, in ``zone``) that has ended at ``now`` (UTC)."""
    today = services.local_date(now, zone)
    return today - dt.timedelta(days=today.weekday() + 7)


def recipients_of(row: WeeklySummary) -> list[str]:
    return [line for line in row.recipients.splitlines() if line]


class WeeklySummaries:
    """The sweeper that sends each company's weekly summary once its week is over."""

    def __init__(self, mailer: Mailer, clock: Clock, app_url: str):
        self.mailer, self.clock, self.app_url = mailer, clock, app_url
        self.timers = Sweeper("weekly-summaries", self.send_due, SWEEP_EVERY)

    def send_due(self) -> int:
        """Queue the summaries of the weeks that are over and not yet summarised; how many companies'."""
        if not self.mailer.enabled:
            return 0  # nothing could go out: the weeks stay due until email is on
        done = 0
        now = self.clock()
        for row in WeeklySummary.select().where(WeeklySummary.enabled == True):  # noqa: E712 (SQL)
            week = last_complete_week(now, services.time_zone(row.company))
            if row.last_week is not None and row.last_week >= week:
                continue
            content = summary(row.company, week, self.app_url)  # read before the write lock is taken
            with database.atomic():  # IMMEDIATE: two sweeps cannot both take the week
                fresh = WeeklySummary.get_or_none(WeeklySummary.company == row.company_id)
                if fresh is None or not fresh.enabled or (fresh.last_week is not None and fresh.last_week >= week):
                    continue
                for address in recipients_of(fresh):
                    self.mailer.queue(
                        f"weekly-summary:{fresh.company_id}:{week}:{address}", Email(address, "", content)
                    )
                WeeklySummary.update(last_week=week).where(WeeklySummary.company == fresh.company_id).execute()
            log.info("weekly summary of company %s, week of %s, queued", row.company_id, week)
            done += 1
        return done


def summary(company: Company, week: dt.date, app_url: str = "") -> Content:
    """The email of ``company``'s week from Monday ``week``: its KPIs against the week before, the top sources, a
    line per agent."""
    zone = services.time_zone(company)
    now = services.scope_of_days(company, week, week + dt.timedelta(days=6), zone)
    before = services.scope_of_days(company, week - dt.timedelta(days=7), week - dt.timedelta(days=1), zone)
    k, p = services.kpis(now), services.kpis(before)
    total = sum(row["interactions"] for row in services.by_channel(now, "week"))
    total_before = sum(row["interactions"] for row in services.by_channel(before, "week"))

    def line(label: str, at: tuple[str, str], shown) -> tuple[str, str]:
        return (label, f"{shown(k[at[0]][at[1]])} (the week before: {shown(p[at[0]][at[1]])})")

    facts: list[tuple[str, str]] = [
        ("Interactions", f"{total} (the week before: {total_before})"),
        line("Service level", ("queue", "service_level"), _percent),
        line("Average speed of answer", ("queue", "average_speed_of_answer_seconds"), _seconds),
        line("Abandonment rate", ("queue", "abandonment_rate"), _percent),
        line("Missed calls", ("missed", "missed"), str),
        line("Calls handled", ("handling", "handled"), str),
        line("Average handle time", ("handling", "average_handle_time_seconds"), _seconds),
        line("Outbound calls connected", ("outbound", "connects"), str),
        line("Texts: first response", ("texts", "average_first_response_seconds"), _seconds),
        line("Chats: first response", ("chats", "average_first_response_seconds"), _seconds),
    ]
    facts += [
        (f"Source: {row['value'] or '(unknown)'}", _attribution(row))
        for row in services.by_attribution(now, "source")[:TOP_SOURCES]
    ]
    facts += [(f"Agent: {row['agent_name'] or row['agent_id']}", _agent(row)) for row in services.by_agent(now)]
    sunday = week + dt.timedelta(days=6)
    return Content(
        subject=f"{company.name}: your week, {_day(week)} to {_day(sunday)}",
        intro=f"How {company.name} did from Monday {_day(week)} to Sunday {_day(sunday)} ({zone}), against the week "
        "before. The Reports page has the charts and each figure's definition.",
        facts=tuple(facts),
        action=("Open the reports", app_url.rstrip("/") + "/admin#/reports") if app_url else None,
    )


def _attribution(row: dict[str, Any]) -> str:
    rate = f" ({_percent(row['qualified_rate'])})" if row["qualified_rate"] is not None else ""
    return (
        f"{row['interactions']} interactions, {row['qualified']} qualified{rate}, value {row['value_cents'] / 100:,.2f}"
    )


def _agent(row: dict[str, Any]) -> str:
    return (
        f"{row['handled']} handled, average handle time {_seconds(row['average_handle_time_seconds'])}, "
        f"{row['qualified']} qualified"
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:g} s"
    whole = round(value)
    return f"{whole // 60} min {whole % 60} s"


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}, {day.year}"
