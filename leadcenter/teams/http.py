"""The teams API: teams of agents, each served by one Asterisk queue."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.agents.models import Agent, current_agents
from leadcenter.errors import invalid
from leadcenter.flows.services import flows_naming
from leadcenter.teams.models import Team, TeamMember
from leadcenter.teams.schemas import NewTeam, QueueFiguresList, QueueFiguresOut, TeamChanges, TeamList, TeamOut
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("teams", __name__, url_prefix="/api/v1")

TEAMS = ConfigRows(Team, "team", "team")


def _set_members(team: Team, agent_ids: list[int]) -> None:
    """Make these agents the team's members; members who stay keep their place and penalty."""
    known = {a.id for a in current_agents(team.company).where(Agent.id.in_(agent_ids)).select(Agent.id)}
    unknown = {
        f"members.{index}": f"no agent {agent_id} in this company"
        for index, agent_id in enumerate(agent_ids)
        if agent_id not in known
    }
    if unknown:
        raise invalid(unknown)
    TeamMember.delete().where(TeamMember.team == team, TeamMember.agent.not_in(agent_ids)).execute()
    staying = {m.agent_id for m in TeamMember.select(TeamMember.agent).where(TeamMember.team == team)}
    for agent_id in agent_ids:
        if agent_id not in staying:
            TeamMember.create(team=team, agent=agent_id)


@endpoint(
    bp,
    "GET",
    "/queues",
    response=QueueFiguresList,
    summary="Each team's queue now: callers waiting, the longest wait, its agents' states (then queue.updated)",
)
def queue_figures(principal: Principal):
    teams = list(Team.select().where(Team.company == principal.company).order_by(Team.name, Team.id))
    return QueueFiguresList(
        [QueueFiguresOut(**figures, measured_at=at) for figures, at in ports.controller().queue_board.figures(teams)]
    )


@endpoint(bp, "GET", "/teams", role="supervisor", response=TeamList, summary="The company's teams")
def list_teams(principal: Principal):
    return TeamList(TeamOut.from_rows(TEAMS.listed(principal, Team.name, Team.id)))


@endpoint(bp, "GET", "/teams/<int:team_id>", role="supervisor", response=TeamOut, summary="A team")
def get_team(principal: Principal, team_id: int):
    return TeamOut.from_row(TEAMS.one(principal, team_id))


@endpoint(bp, "POST", "/teams", role="admin", body=NewTeam, response=TeamOut, status=201, summary="Create a team")
def create_team(principal: Principal, body: NewTeam):
    return TeamOut.from_row(
        TEAMS.create(
            principal,
            lambda _: body.model_dump(exclude={"members"}),
            after=lambda team: _set_members(team, body.members),
        )
    )


@endpoint(
    bp,
    "PATCH",
    "/teams/<int:team_id>",
    role="admin",
    body=TeamChanges,
    response=TeamOut,
    summary="Change a team; members, when sent, replaces its members",
)
def update_team(principal: Principal, team_id: int, body: TeamChanges):
    changes = body.model_dump(exclude_unset=True)
    members = changes.pop("members", None)
    return TeamOut.from_row(
        TEAMS.update(
            principal,
            team_id,
            lambda _: changes,
            after=(lambda team: _set_members(team, members)) if members is not None else None,
        )
    )


@endpoint(
    bp, "DELETE", "/teams/<int:team_id>", role="admin", status=204, summary="Delete a team no flow sends calls to"
)
def delete_team(principal: Principal, team_id: int):
    TEAMS.delete(
        principal, team_id, lambda team: [f"flow {f.name!r}" for f in flows_naming(principal.company, team=team.id)]
    )
