"""The Team View's snapshot: every agent of the company with their presence and since when, the call they are on
(or, in wrap-up, the call that put them there), today's handled and missed counts; every team's queue now with
today's service level and abandonment; the calls in progress. A page loads it once, then follows the event stream
(``agent.presence_changed``, ``interaction.created/updated``, ``queue.updated``), which carries the same resources.

Today is the company's day (its time zone); handled and missed are the KPIs' (reports/services.py): handled, the
concluded interactions an agent answered or took that began today; missed, the calls offered to them they let ring
out today. Everything here is read from the database (status changes, the interactions' times) and from what the
controller follows of Asterisk, so a restarted controller shows the same floor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent, current_agents
from leadcenter.interactions.models import Interaction
from leadcenter.reports import services as reports
from leadcenter.teams.models import Team, TeamMember

IN_PROGRESS = ("incoming", "active")  # a call ringing or waiting, and one an agent is on


def calls_in_progress(company: Company) -> list[Interaction]:
    """The company's calls not yet concluded, oldest first."""
    return list(
        Interaction.select()
        .where(Interaction.company == company, Interaction.status.in_(IN_PROGRESS), Interaction.kind == "call")
        .order_by(Interaction.started_at, Interaction.id)
    )


def call_began(agent: Agent) -> dt.datetime | None:
    """When the agent's call in progress began (None: they are on none): agents/presence.py's since of a call they
    placed, after a restart."""
    call = (
        Interaction.select(Interaction.started_at)
        .where(
            Interaction.company == agent.company_id,
            Interaction.agent == agent,
            Interaction.status == "active",
            Interaction.kind == "call",
        )
        .order_by(Interaction.id.desc())
        .first()
    )
    return call.started_at if call is not None else None


def last_calls(agents: list[Agent]) -> dict[int, Interaction]:
    """The call that put each agent in wrap-up: their newest concluded inbound call."""
    out = {}
    for agent in agents:
        call = (
            Interaction.select()
            .where(
                Interaction.company == agent.company_id,
                Interaction.agent == agent,
                Interaction.status == "recent",
                Interaction.kind == "call",
                Interaction.direction == "inbound",
            )
            .order_by(Interaction.status_changed_at.desc(), Interaction.id.desc())
            .first()
        )
        if call is not None:
            out[agent.id] = call
    return out


@dataclass(frozen=True)
class Floor:
    now: dt.datetime
    time_zone: str
    day: dt.date
    agents: list[Agent]
    teams_of: dict[int, list[int]]  # agent id -> the teams they are a member of
    counts: dict[int, tuple[int, int]]  # agent id -> (handled, missed) today
    calls: list[Interaction]
    wrap_up_calls: dict[int, Interaction]  # agent id -> the call that put them in wrap-up
    teams: list[Team]


def floor(company: Company, now: dt.datetime) -> Floor:
    zone = reports.time_zone(company)
    day = reports.local_date(now, zone)
    agents = list(current_agents(company).order_by(Agent.display_name, Agent.id))
    teams = list(Team.select().where(Team.company == company).order_by(Team.name, Team.id))
    teams_of: dict[int, list[int]] = {a.id: [] for a in agents}
    for member in TeamMember.select().where(TeamMember.team.in_([t.id for t in teams])).order_by(TeamMember.team):
        teams_of.setdefault(member.agent_id, []).append(member.team_id)
    scope = reports.scope_of_days(company, day, day, zone)
    wrapping = [a for a in agents if a.status_reason == "wrap_up"]
    return Floor(
        now=now,
        time_zone=zone,
        day=day,
        agents=agents,
        teams_of=teams_of,
        counts=reports.handled_and_missed_by_agent(scope),
        calls=calls_in_progress(company),
        wrap_up_calls=last_calls(wrapping),
        teams=teams,
    )


def counts_of(floor: Floor, agent: Agent) -> dict[str, Any]:
    handled, missed = floor.counts.get(agent.id, (0, 0))
    return {"handled_today": handled, "missed_today": missed}
