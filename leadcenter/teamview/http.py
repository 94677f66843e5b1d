"""The Team View API (supervisors): one snapshot of the floor, then the event stream."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.teams.schemas import QueueFiguresOut
from leadcenter.teamview import services
from leadcenter.teamview.schemas import TeamViewOut
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal

bp = Blueprint("teamview", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "GET",
    "/team-view",
    role="supervisor",
    response=TeamViewOut,
    summary="The floor now: every agent's presence and since when, the call they are on, today's handled and "
    "missed; every queue with today's service level and abandonment; the calls in progress. Then live from the "
    "event stream: agent.presence_changed, interaction.created / interaction.updated, queue.updated",
)
def team_view(principal: Principal):
    controller = ports.controller()
    floor = services.floor(principal.company, controller.clock())
    queues = [QueueFiguresOut(**figures, measured_at=at) for figures, at in controller.queue_board.figures(floor.teams)]
    return TeamViewOut.from_floor(floor, controller.presence.seen, queues)
