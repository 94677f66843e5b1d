"""The teams API: teams of agents, each served by one Asterisk queue."""
from __future__ import annotations

from flask import Blueprint

from leadcenter.agents.models import Agent
from leadcenter.companies.http import changed, in_use, save_changes
from leadcenter.db import database
from leadcenter.agents.services import current_agents
from leadcenter.flows.services import flows_naming
from leadcenter.teams.models import Team, TeamMember
from leadcenter.teams.schemas import NewTeam, TeamChanges, TeamList, TeamOut
from leadcenter.web.api import endpoint, invalid
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("teams", __name__, url_prefix="/api/v1")


def _set_members(team: Team, agent_ids: list[int]) -> None:
    """Make these agents the team's members; members who stay keep their place and penalty."""
    known = {a.id for a in current_agents(team.company).where(Agent.id.in_(agent_ids)).select(Agent.id)}
    unknown = {f"members.{index}": f"no agent {agent_id} in this company"
               for index, agent_id in enumerate(agent_ids) if agent_id not in known}
    if unknown:
        raise invalid(unknown)
    TeamMember.delete().where(TeamMember.team == team, TeamMember.agent.not_in(agent_ids)).execute()
    staying = {m.agent_id for m in TeamMember.select(TeamMember.agent).where(TeamMember.team == team)}
    for agent_id in agent_ids:
        if agent_id not in staying:
            TeamMember.create(team=team, agent=agent_id)


@endpoint(bp, "GET", "/teams", role="supervisor", response=TeamList, summary="The company's teams")
def list_teams(principal: Principal):
    return TeamList(TeamOut.from_rows(list(Team.select().where(Team.company == principal.company)
                                           .order_by(Team.name, Team.id))))


@endpoint(bp, "GET", "/teams/<int:team_id>", role="supervisor", response=TeamOut, summary="A team")
def get_team(principal: Principal, team_id: int):
    return TeamOut.from_row(scoped(Team, team_id, principal, "team"))


@endpoint(bp, "POST", "/teams", role="admin", body=NewTeam, response=TeamOut, status=201, summary="Create a team")
def create_team(principal: Principal, body: NewTeam):
    with database.atomic():
        team = Team.create(company=principal.company, **body.model_dump(exclude={"members"}))
        _set_members(team, body.members)
    changed(principal, "team.created", asterisk=True, team_id=team.id)
    return TeamOut.from_row(team)


@endpoint(bp, "PATCH", "/teams/<int:team_id>", role="admin", body=TeamChanges, response=TeamOut,
          summary="Change a team; members, when sent, replaces its members")
def update_team(principal: Principal, team_id: int, body: TeamChanges):
    changes = body.model_dump(exclude_unset=True)
    with database.atomic():
        team = scoped(Team, team_id, principal, "team")
        if "members" in changes:
            _set_members(team, changes.pop("members"))
        save_changes(team, changes)
    changed(principal, "team.updated", asterisk=True, team_id=team.id, fields=sorted(body.model_fields_set))
    return TeamOut.from_row(team)


@endpoint(bp, "DELETE", "/teams/<int:team_id>", role="admin", status=204,
          summary="Delete a team no flow sends calls to")
def delete_team(principal: Principal, team_id: int):
    with database.atomic():
        team = scoped(Team, team_id, principal, "team")
        flows = flows_naming(principal.company, team=team.id)
        if flows:
            raise in_use(f"team {team.name!r}", [f"flow {f.name!r}" for f in flows])
        team.delete_instance()
    changed(principal, "team.deleted", asterisk=True, team_id=team.id)
