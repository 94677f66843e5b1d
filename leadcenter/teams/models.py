from __future__ import annotations

from typing import Literal, get_args

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.pbx import names

# The default, leastrecent, offers each call first to the agent who has waited longest since their last call
# ("longest idle agent"), so that calls are shared fairly; rrmemory can offer consecutive calls to the same agent
# when members pause and unpause between calls, as wrap-up makes them do.
Strategy = Literal["leastrecent", "rrmemory", "linear", "ringall", "fewestcalls", "random"]
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


class Team(TimestampedModel):
    company = ForeignKeyField(Company, backref="teams", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    # Service level: the share of the team's queue calls answered within this many seconds (reports/).
    service_level_seconds = IntegerField(default=20)
    strategy = CharField(default="leastrecent", choices=[(s, s) for s in STRATEGIES])
    ring_seconds = IntegerField(default=30)
    announce_position = BooleanField(default=False)

    @property
    def queue_name(self) -> str:
        return names.queue(self.id)


class TeamMember(BaseModel):
    team = ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    team_id: IntegerField[int]  # the related row's id
    agent = ForeignKeyField(Agent, backref="team_memberships", on_delete="CASCADE")
    agent_id: IntegerField[int]  # the related row's id
    penalty = IntegerField(default=0)

    class Meta:
        indexes = ((("team", "agent"), True),)
