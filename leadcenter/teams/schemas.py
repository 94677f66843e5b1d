"""What the teams endpoints accept and answer."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import Field, RootModel, field_validator

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.teams.models import Strategy, Team, TeamMember
from leadcenter.wire import Schema, UtcDateTime

MAX_MEMBERS = 500


class NewTeam(Schema):
    name: Name
    strategy: Strategy = "leastrecent"
    ring_seconds: int = Field(30, ge=5, le=300, description="how long an agent rings before the queue moves on")
    announce_position: bool = Field(False, description="tell waiting callers their place in the queue")
    members: list[int] = Field(default_factory=list, max_length=MAX_MEMBERS, description="agent ids")

    @field_validator("members")
    @classmethod
    def each_once(cls, members: list[int]) -> list[int]:
        if len(set(members)) != len(members):
            raise ValueError("an agent is listed twice")
        return members


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    TeamChanges = NewTeam
else:
    TeamChanges = changes_of(
        NewTeam, "TeamChanges", "Only the fields sent change; members replaces the team's members."
    )


class QueueFiguresOut(Schema):
    """A team's queue now, as the last ``queue.updated`` said it."""

    team_id: int
    team_name: str
    callers_waiting: int
    longest_wait_seconds: int
    # available, on_call, wrap_up, missed, unreachable, offline (agents/presence.py) -> how many of the team's agents
    agents: dict[str, int]
    agent_states: dict[str, str]  # agent id -> one of those
    measured_at: UtcDateTime | None  # None: Asterisk has not reported this queue since the controller started


class QueueFiguresList(RootModel[list[QueueFiguresOut]]):
    pass


class TeamOut(Schema):
    id: int
    name: str
    strategy: str
    ring_seconds: int
    announce_position: bool
    members: list[int]  # agent ids, in the order the queue lists them
    created_at: UtcDateTime

    @classmethod
    def from_rows(cls, teams: list[Team]) -> list[TeamOut]:
        members = defaultdict(list)
        for member in TeamMember.select().where(TeamMember.team.in_([t.id for t in teams])).order_by(TeamMember.id):
            members[member.team_id].append(member.agent_id)
        return [
            cls(
                id=t.id,
                name=t.name,
                strategy=t.strategy,
                ring_seconds=t.ring_seconds,
                announce_position=t.announce_position,
                members=members[t.id],
                created_at=t.created_at,
            )
            for t in teams
        ]

    @classmethod
    def from_row(cls, team: Team) -> TeamOut:
        return cls.from_rows([team])[0]


class TeamList(RootModel[list[TeamOut]]):
    pass
