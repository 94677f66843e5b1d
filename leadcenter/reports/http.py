"""The KPIs and report series API (supervisors): GET /kpis and GET /reports/<series>, for the company's own BI."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from leadcenter.agents.models import Agent
from leadcenter.errors import invalid
from leadcenter.reports import services
from leadcenter.reports.schemas import (
    PERIOD,
    AgentSeries,
    AttributionQuery,
    AttributionSeries,
    ChannelQuery,
    ChannelSeries,
    HourSeries,
    KpiQuery,
    KpisOut,
    MissedSeries,
    Period,
)
from leadcenter.teams.models import Team
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

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
    scope, period = _scope(principal, query)
    return ChannelSeries(period=period, interval=query.interval, rows=services.by_channel(scope, query.interval))


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
    scope, period = _scope(principal, query)
    return AttributionSeries(period=period, group=query.group, rows=services.by_attribution(scope, query.group))


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
    scope, period = _scope(principal, query)
    return AgentSeries(period=period, rows=services.by_agent(scope))


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
    scope, period = _scope(principal, query)
    return HourSeries(period=period, rows=services.by_hour(scope))


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
    if query.agent_id is not None:
        raise invalid({"agent_id": "missed and abandoned calls have no agent: ask for the company or a team"})
    scope, period = _scope(principal, query)
    return MissedSeries(period=period, rows=services.missed_by_hour(scope))
