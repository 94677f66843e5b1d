"""What the teams endpoints accept and answer."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import Field, RootModel, field_validator

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.chats.models import ChatWidget
from leadcenter.teams.models import RingOut, Strategy, Team, TeamMember
from leadcenter.wire import Schema, UtcDateTime

MAX_MEMBERS = 500
MAX_PENALTY = 100


class NewTeam(Schema):
    name: Name
    strategy: Strategy = Field(
        "leastrecent",
        description="leastrecent: the longest idle agent first; rrmemory: round robin, remembering who was last; "
        "fewestcalls; random; linear: always in the members' order; ringall: every agent at once",
    )
    ring_seconds: int = Field(30, ge=5, le=300, description="how long an agent rings before the queue moves on")
    max_wait_seconds: int = Field(
        300,
        ge=10,
        le=7200,
        description="the longest a caller waits in the queue before the flow's next step (a flow's queue step may "
        "set its own)",
    )
    ring_out: RingOut = Field(
        "unavailable",
        description="an agent who lets a call ring out: unavailable (missed) until they choose Available, or stays "
        "available; the call goes on to the next agent either way",
    )
    wrap_up_seconds: int | None = Field(
        None,
        ge=0,
        le=3600,
        description="after a call: null, the agent stays in wrap-up until they press Rejoin the Queue; N, they are "
        "available again N seconds after the call ended",
    )
    service_level_seconds: int = Field(
        20,
        ge=1,
        le=3600,
        description="the service level's threshold N: the share of the queue's calls answered within N seconds of "
        "calling (docs/kpis.md)",
    )
    announce_position: bool = Field(False, description="tell waiting callers their place in the queue")
    announce_wait_time: bool = Field(False, description="tell waiting callers about how long they will wait")
    announce_seconds: int = Field(30, ge=15, le=600, description="how often the announcements repeat")
    callback_enabled: bool = Field(
        False,
        description="a caller waiting in the queue may press 1 to be called back and hang up: their place is kept, "
        "and when it comes up an agent is connected to a call to the lead's number",
    )
    callback_attempts: int = Field(
        3, ge=1, le=10, description="the most times a callback dials a lead who does not answer"
    )
    callback_retry_seconds: int = Field(
        300, ge=30, le=86400, description="how long after an unanswered callback the lead is dialled again"
    )
    chats: bool = Field(False, description="the website's chats go to this team's agents (the chat widget's team)")
    members: list[int] = Field(
        default_factory=list, max_length=MAX_MEMBERS, description="agent ids, in the team's order"
    )
    penalties: dict[int, int] = Field(
        default_factory=dict,
        description="agent id -> penalty (0-100) of members: the queue offers calls to the lowest penalty first; "
        "members left out keep theirs (0 when new)",
    )

    @field_validator("members")
    @classmethod
    def each_once(cls, members: list[int]) -> list[int]:
        if len(set(members)) != len(members):
            raise ValueError("an agent is listed twice")
        return members

    @field_validator("penalties")
    @classmethod
    def penalties_in_range(cls, penalties: dict[int, int]) -> dict[int, int]:
        if any(not 0 <= penalty <= MAX_PENALTY for penalty in penalties.values()):
            raise ValueError(f"a penalty is from 0 to {MAX_PENALTY}")
        return penalties


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    TeamChanges = NewTeam
else:
    TeamChanges = changes_of(
        NewTeam,
        "TeamChanges",
        "Only the fields sent change; members replaces the team's members (in that order), penalties sets those "
        "members' penalties.",
    )


class QueueToday(Schema):
    """A queue's calls of today (the company's day) so far, by the KPIs' definitions (docs/kpis.md): service level and
    abandonment are of the concluded calls that entered the queue, less the short abandons."""

    day: str  # the company's date, YYYY-MM-DD
    offered: int
    answered: int
    answered_within_threshold: int
    service_level_seconds: int  # the team's threshold
    service_level: float | None  # answered within the threshold / (offered - short abandons); null: none yet
    abandoned: int
    short_abandons: int
    abandonment_rate: float | None  # abandoned / (offered - short abandons)


class QueueFiguresOut(Schema):
    """A team's queue now, as the last ``queue.updated`` said it."""

    team_id: int
    team_name: str
    callers_waiting: int
    longest_wait_seconds: int
    # available, ringing, on_call, wrap_up, missed, unreachable, offline (agents/presence.py) -> how many of the
    # team's agents
    agents: dict[str, int]
    agent_states: dict[str, str]  # agent id -> one of those
    today: QueueToday
    measured_at: UtcDateTime | None  # None: Asterisk has not reported this queue since the controller started


class QueueFiguresList(RootModel[list[QueueFiguresOut]]):
    pass


class TeamOut(Schema):
    id: int
    name: str
    strategy: str
    ring_seconds: int
    max_wait_seconds: int
    ring_out: str
    wrap_up_seconds: int | None
    service_level_seconds: int
    announce_position: bool
    announce_wait_time: bool
    announce_seconds: int
    callback_enabled: bool
    callback_attempts: int
    callback_retry_seconds: int
    chats: bool  # the website's chats go to this team
    music: bool  # callers hear the team's own hold music (PUT /teams/{id}/music)
    members: list[int]  # agent ids, in the team's order
    penalties: dict[str, int]  # agent id -> penalty, for every member
    created_at: UtcDateTime

    @classmethod
    def from_rows(cls, teams: list[Team]) -> list[TeamOut]:
        members = defaultdict(list)
        for member in (
            TeamMember.select()
            .where(TeamMember.team.in_([t.id for t in teams]))
            .order_by(TeamMember.position, TeamMember.id)
        ):
            members[member.team_id].append(member)
        chats = {
            w.team_id for w in ChatWidget.select(ChatWidget.team).where(ChatWidget.team.in_([t.id for t in teams]))
        }
        return [
            cls(
                id=t.id,
                name=t.name,
                strategy=t.strategy,
                ring_seconds=t.ring_seconds,
                max_wait_seconds=t.max_wait_seconds,
                ring_out=t.ring_out,
                wrap_up_seconds=t.wrap_up_seconds,
                service_level_seconds=t.service_level_seconds,
                announce_position=t.announce_position,
                announce_wait_time=t.announce_wait_time,
                announce_seconds=t.announce_seconds,
                callback_enabled=t.callback_enabled,
                callback_attempts=t.callback_attempts,
                callback_retry_seconds=t.callback_retry_seconds,
                chats=t.id in chats,
                music=t.has_music,
                members=[m.agent_id for m in members[t.id]],
                penalties={str(m.agent_id): m.penalty for m in members[t.id]},
                created_at=t.created_at,
            )
            for t in teams
        ]

    @classmethod
    def from_row(cls, team: Team) -> TeamOut:
        return cls.from_rows([team])[0]


class TeamList(RootModel[list[TeamOut]]):
    pass
