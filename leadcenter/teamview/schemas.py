"""What the Team View endpoint answers: the same resources the event stream carries, so that the page applies an
event to what it loaded without asking again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from leadcenter.agents.models import Agent
from leadcenter.agents.schemas import AgentOut
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.teams.schemas import QueueFiguresOut
from leadcenter.teamview.services import Floor, counts_of
from leadcenter.wire import Schema, UtcDateTime


class TeamViewAgent(Schema):
    agent: AgentOut  # as agent.presence_changed carries it: presence and presence_since
    teams: list[int]  # the teams they are a member of
    # In wrap-up: the call that put them there (the call they are on is in ``calls``, by its agent)
    wrap_up_call: InteractionOut | None
    handled_today: int  # interactions they answered or took, concluded, that began today (the company's day)
    missed_today: int  # calls offered to them today that they let ring out


class TeamViewOut(Schema):
    """The floor now. Then: agent.presence_changed (an agent's row), interaction.created / interaction.updated (the
    calls, each naming its agent; answered_at starts the talk time), queue.updated (a team's queue and today's
    figures)."""

    now: UtcDateTime  # the server's clock, for timers that tick in the browser
    time_zone: str  # the company's: what "today" means
    day: dt.date
    agents: list[TeamViewAgent]
    queues: list[QueueFiguresOut]  # as GET /queues, with today's service level and abandonment
    calls: list[InteractionOut]  # calls in progress (ringing, waiting, or on with an agent), oldest first

    @classmethod
    def from_floor(
        cls,
        floor: Floor,
        presence: Callable[[Agent], tuple[str, dt.datetime]],
        queues: list[QueueFiguresOut],
    ) -> TeamViewOut:
        agents = AgentOut.from_rows(floor.agents, presence)
        wrap_ups = dict(
            zip(floor.wrap_up_calls, InteractionOut.from_rows(list(floor.wrap_up_calls.values())), strict=True)
        )
        return cls(
            now=floor.now,
            time_zone=floor.time_zone,
            day=floor.day,
            agents=[
                TeamViewAgent(
                    agent=out,
                    teams=floor.teams_of.get(row.id, []),
                    wrap_up_call=wrap_ups.get(row.id) if out.presence == "wrap_up" else None,
                    **counts_of(floor, row),
                )
                for row, out in zip(floor.agents, agents, strict=True)
            ],
            queues=queues,
            calls=InteractionOut.from_rows(floor.calls),
        )
