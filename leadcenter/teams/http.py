"""The teams API: teams of agents, each served by one Asterisk queue."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.flows.services import flows_naming
from leadcenter.prompts import http as prompts  # its upload, playback and removal of a prompt file
from leadcenter.prompts.schemas import PromptOut
from leadcenter.teams import services
from leadcenter.teams.models import Team
from leadcenter.teams.schemas import NewTeam, QueueFiguresList, QueueFiguresOut, TeamChanges, TeamList, TeamOut
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("teams", __name__, url_prefix="/api/v1")

TEAMS = ConfigRows(Team, "team", "team")


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
    columns = body.model_dump()
    after = services.extras(columns)
    return TeamOut.from_row(TEAMS.create(principal, lambda _: columns, after=after))


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
    after = services.extras(changes)
    return TeamOut.from_row(TEAMS.update(principal, team_id, lambda _: changes, after=after))


@endpoint(
    bp, "DELETE", "/teams/<int:team_id>", role="admin", status=204, summary="Delete a team no flow sends calls to"
)
def delete_team(principal: Principal, team_id: int):
    music = TEAMS.one(principal, team_id).music_file
    TEAMS.delete(
        principal, team_id, lambda team: [f"flow {f.name!r}" for f in flows_naming(principal.company, team=team.id)]
    )
    prompts._remove(music)


def _music_url(team_id: int) -> str:
    return f"/api/v1/teams/{team_id}/music"


@endpoint(
    bp,
    "PUT",
    "/teams/<int:team_id>/music",
    role="admin",
    upload=prompts.WAV,
    response=PromptOut,
    summary="Upload the team's hold music (a WAV file, up to 2 minutes, played in a loop to its waiting callers)",
)
def put_team_music(principal: Principal, team_id: int, upload: bytes):
    team = TEAMS.one(principal, team_id)
    stored = prompts._store(team.music_file, upload, _music_url(team.id))
    TEAMS.update(principal, team.id, lambda _: {"has_music": True})
    return stored


@endpoint(
    bp,
    "GET",
    "/teams/<int:team_id>/music",
    role="supervisor",
    summary="The team's hold music (audio; 404 while its callers hear the standard music)",
)
def get_team_music(principal: Principal, team_id: int):
    return prompts._send(TEAMS.one(principal, team_id).music_file)


@endpoint(
    bp,
    "DELETE",
    "/teams/<int:team_id>/music",
    role="admin",
    status=204,
    summary="The team's callers go back to the standard hold music",
)
def delete_team_music(principal: Principal, team_id: int):
    team = TEAMS.update(principal, team_id, lambda _: {"has_music": False})
    prompts._remove(team.music_file)
