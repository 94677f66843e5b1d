from peewee import BooleanField, CharField, ForeignKeyField, IntegerField

from leadcenter.agents.models import Agent
from leadcenter.companies.models import Company
from leadcenter.db import BaseModel, TimestampedModel

STRATEGIES = ("rrmemory", "linear", "ringall", "leastrecent", "fewestcalls", "random")


class Team(TimestampedModel):
    company = ForeignKeyField(Company, backref="teams", on_delete="CASCADE")
    name = CharField()
    strategy = CharField(default="rrmemory", choices=[(s, s) for s in STRATEGIES])
    ring_seconds = IntegerField(default=30)
    announce_position = BooleanField(default=False)

    @property
    def queue_name(self) -> str:
        return f"team{self.id}"


class TeamMember(BaseModel):
    team = ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    agent = ForeignKeyField(Agent, backref="team_memberships", on_delete="CASCADE")
    penalty = IntegerField(default=0)

    class Meta:
        indexes = ((("team", "agent"), True),)
