"""The KPIs and report series API (supervisors): GET /kpis and GET /reports/<series>, for the company's own BI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from leadcenter.agents.models import Agent
from leadcenter.audit.services import record
from leadcenter.db import database
from leadcenter.errors import invalid
from leadcenter.reports import services, summary
from leadcenter.reports.models import WeeklySummary
from leadcenter.reports.schemas import (
    PERIOD,
    AgentRow,
    AgentSeries,
    AttributionQuery,
    AttributionRow,
    AttributionSeries,
    ChannelQuery,
    ChannelRow,
    ChannelSeries,
    HourRow,
    HourSeries,
    KpiQuery,
    KpisOut,
    MissedRow,
    MissedSeries,
    Period,
    WeeklySummaryChanges,
    WeeklySummaryOut,
)
from leadcenter.teams.models import Team
from leadcenter.web import ports, spreadsheet
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped
from leadcenter.wire import Schema

bp = Blueprint("reports", __name__, url_prefix="/api/v1")

DEFAULT_DAYS = 30


def _scope(principal: Principal, query: KpiQuery) -> tuple[services.Scope, Period]:
    zone = services.time_zone(principal.company)
    until = query.until or services.local_date(ports.controller().clock(), zone)
    since = query.since or until - dt.timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise invalid({"since": "must be on or before until"})
    if query.team_id is not None and query.agent_id is not None:
        raise invalid({"agent_id": "ask for a team or an agent, not both"})
    # Another company's team or agent answers as one that does not exist.
    team_id = scoped(Team, query.team_id, principal, "team").id if query.team_id is not None else None
    agent_id = scoped(Agent, query.agent_id, principal, "agent").id if query.agent_id is not None else None
    scope = services.scope_of_days(principal.company, since, until, zone, team_id=team_id, agent_id=agent_id)
    return scope, Period(since=since, until=until, time_zone=zone, team_id=team_id, agent_id=agent_id)


@endpoint(
    bp,
    "GET",
    "/kpis",
    role="supervisor",
    query=KpiQuery,
    response=KpisOut,
    summary="The KPIs of the company, a team or an agent over a period: service level, speed of answer, "
    "abandonment, missed calls, handle time, outbound attempts and connects, texts' and chats' first response and "
    "resolution. " + PERIOD,
)
def get_kpis(principal: Principal, query: KpiQuery):
    scope, period = _scope(principal, query)
    return KpisOut(period=period, **services.kpis(scope))


# Each series: its query, its rows' schema and how they are read (with the query's interval or group if it has one).
SERIES: dict[str, tuple[type[KpiQuery], type[Schema], Callable[[services.Scope, Any], list[dict[str, Any]]]]] = {
    "channels": (ChannelQuery, ChannelRow, lambda scope, query: services.by_channel(scope, query.interval)),
    "attribution": (
        AttributionQuery,
        AttributionRow,
        lambda scope, query: services.by_attribution(scope, query.group),
    ),
    "agents": (KpiQuery, AgentRow, lambda scope, _: services.by_agent(scope)),
    "hours": (KpiQuery, HourRow, lambda scope, _: services.by_hour(scope)),
    "missed": (KpiQuery, MissedRow, lambda scope, _: services.missed_by_hour(scope)),
}


def _series(name: str, principal: Principal, query: KpiQuery) -> tuple[Period, list[dict[str, Any]]]:
    if name == "missed" and query.agent_id is not None:
        raise invalid({"agent_id": "missed and abandoned calls have no agent: ask for the company or a team"})
    scope, period = _scope(principal, query)
    return period, SERIES[name][2](scope, query)


@endpoint(
    bp,
    "GET",
    "/reports/channels",
    role="supervisor",
    query=ChannelQuery,
    response=ChannelSeries,
    summary="Interactions over time by channel (per day, week or month). " + PERIOD,
)
def get_channels(principal: Principal, query: ChannelQuery):
    period, rows = _series("channels", principal, query)
    return ChannelSeries(period=period, interval=query.interval, rows=rows)


@endpoint(
    bp,
    "GET",
    "/reports/attribution",
    role="supervisor",
    query=AttributionQuery,
    response=AttributionSeries,
    summary="Interactions by source, medium, campaign, keywords or landing page, with the qualified rate and "
    "value. " + PERIOD,
)
def get_attribution(principal: Principal, query: AttributionQuery):
    period, rows = _series("attribution", principal, query)
    return AttributionSeries(period=period, group=query.group, rows=rows)


@endpoint(
    bp,
    "GET",
    "/reports/agents",
    role="supervisor",
    query=KpiQuery,
    response=AgentSeries,
    summary="Per agent: handled, average handle time, qualified. " + PERIOD,
)
def get_agents(principal: Principal, query: KpiQuery):
    period, rows = _series("agents", principal, query)
    return AgentSeries(period=period, rows=rows)


@endpoint(
    bp,
    "GET",
    "/reports/hours",
    role="supervisor",
    query=KpiQuery,
    response=HourSeries,
    summary="Inbound interactions by day of the week and hour of the day (when to staff). " + PERIOD,
)
def get_hours(principal: Principal, query: KpiQuery):
    period, rows = _series("hours", principal, query)
    return HourSeries(period=period, rows=rows)


@endpoint(
    bp,
    "GET",
    "/reports/missed",
    role="supervisor",
    query=KpiQuery,
    response=MissedSeries,
    summary="Inbound calls missed and abandoned by hour of the day (of the company or a team's queue: a missed "
    "call has no agent). " + PERIOD,
)
def get_missed(principal: Principal, query: KpiQuery):
    period, rows = _series("missed", principal, query)
    return MissedSeries(period=period, rows=rows)


def _series_csv(name: str, principal: Principal, query: KpiQuery) -> Response:
    period, rows = _series(name, principal, query)
    row_schema = SERIES[name][1]
    dumped = (row_schema.model_validate(row).model_dump(mode="json") for row in rows)
    lines = (["" if value is None else str(value) for value in row.values()] for row in dumped)
    scoped_to = f"-team-{period.team_id}" if period.team_id else f"-agent-{period.agent_id}" if period.agent_id else ""
    return spreadsheet.download(
        list(row_schema.model_fields), lines, f"{name}{scoped_to}-{period.since}-{period.until}.csv"
    )


def _declare_csv(name: str) -> None:
    """GET /reports/<name>.csv: the series' rows as a CSV download, for the same query."""

    def view(principal: Principal, query: KpiQuery) -> Response:
        return _series_csv(name, principal, query)

    view.__name__ = f"get_{name}_csv"
    endpoint(
        bp,
        "GET",
        f"/reports/{name}.csv",
        role="supervisor",
        query=SERIES[name][0],
        summary=f"The {name} series (GET /reports/{name}) as a CSV download for the same query: a line per row, a "
        "column per field, empty for null. " + PERIOD,
    )(view)


for _name in SERIES:
    _declare_csv(_name)


def _weekly_summary_out(principal: Principal, row: WeeklySummary) -> WeeklySummaryOut:
    return WeeklySummaryOut(
        enabled=row.enabled,
        recipients=summary.recipients_of(row),
        last_week=row.last_week,
        time_zone=services.time_zone(principal.company),
        email_on=ports.controller().mailer.enabled,
    )


def _weekly_summary(principal: Principal) -> WeeklySummary:
    """The company's setting (off, to nobody, until an admin sets it)."""
    return WeeklySummary.get_or_none(WeeklySummary.company == principal.company) or WeeklySummary(
        company=principal.company
    )


@endpoint(
    bp,
    "GET",
    "/reports/weekly-summary",
    role="supervisor",
    response=WeeklySummaryOut,
    summary="The weekly summary email: on or off, its recipients, the last week summarised",
)
def get_weekly_summary(principal: Principal):
    return _weekly_summary_out(principal, _weekly_summary(principal))


@endpoint(
    bp,
    "PUT",
    "/reports/weekly-summary",
    role="admin",
    body=WeeklySummaryChanges,
    response=WeeklySummaryOut,
    summary="Turn the weekly summary email on or off and set its recipients. Each Monday (the company's time zone) "
    "the week that ended goes to them: its KPIs against the week before, the top sources, a line per agent; the "
    "first is of the next week that ends.",
)
def put_weekly_summary(principal: Principal, body: WeeklySummaryChanges):
    if body.enabled and not body.recipients:
        raise invalid({"recipients": "add at least one recipient to turn the summary on"})
    with database.atomic():
        row, created = WeeklySummary.get_or_create(company=principal.company)
        before = None if created else _weekly_summary_out(principal, row).model_dump(mode="json")
        if body.enabled and not row.enabled:  # from the next week that ends: the one that ended is done
            zone = services.time_zone(principal.company)
            row.last_week = summary.last_complete_week(ports.controller().clock(), zone)
        row.enabled = body.enabled
        row.recipients = "\n".join(body.recipients)
        row.save()
        after = _weekly_summary_out(principal, row)
        record(principal, "updated", "weekly_summary", principal.company.id, before, after.model_dump(mode="json"))
    return after
