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
# What happens to an agent who lets one of the team's calls ring out: Unavailable (missed) until they choose
# Available, or they stay Available (the call goes on to the next agent either way).
RingOut = Literal["unavailable", "available"]
RING_OUTS: tuple[RingOut, ...] = get_args(RingOut)


class Team(TimestampedModel):
    company = ForeignKeyField(Company, backref="teams", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    # Service level: the share of the team's queue calls answered within this many seconds (reports/).
    service_level_seconds = IntegerField(default=20)
    strategy = CharField(default="leastrecent", choices=[(s, s) for s in STRATEGIES])
    ring_seconds = IntegerField(default=30)
    announce_position = BooleanField(default=False)
    announce_wait_time = BooleanField(default=False)  # tell waiting callers about how long they will wait
    announce_seconds = IntegerField(default=30)  # how often those announcements repeat
    # The longest a caller waits in the queue before the flow's next step, unless the flow's step says otherwise.
    max_wait_seconds = IntegerField(default=300)
    ring_out = CharField(default="unavailable", choices=[(r, r) for r in RING_OUTS])
    # After a call of the team: null, the agent stays in wrap-up until they press Rejoin the Queue; N, they are
    # Available again N seconds after the call ended (teams/services.py:WrapUpTimer).
    wrap_up_seconds = IntegerField(null=True)
    has_music = BooleanField(default=False)  # callers hear the team's uploaded hold music, not the standard one
    # A call transferred into the team's queue waits at the place its original arrival earns it, not at the end.
    transfer_keeps_place = BooleanField(default=True)
    # Queue callback (callbacks/): a caller waiting in the queue may press 1 to be called back, keeping their place;
    # the lead is dialled at most callback_attempts times, callback_retry_seconds apart, until they answer.
    callback_enabled = BooleanField(default=False)
    callback_attempts = IntegerField(default=3)
    callback_retry_seconds = IntegerField(default=300)

    @property
    def queue_name(self) -> str:
        return names.queue(self.id)

    @property
    def music_file(self) -> str:
        """Where the team's hold music is, in the Asterisk instance directory."""
        return f"{names.MUSIC_DIRECTORY}/{names.music_class(self.id)}/music.wav"


class TeamMember(BaseModel):
    team = ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    team_id: IntegerField[int]  # the related row's id
    agent = ForeignKeyField(Agent, backref="team_memberships", on_delete="CASCADE")
    agent_id: IntegerField[int]  # the related row's id
    penalty = IntegerField(default=0)  # the queue offers a call to its members with the lowest penalty first
    position = IntegerField(default=0)  # the member's place in the team's order (linear rings in this order)

    class Meta:
        indexes = ((("team", "agent"), True),)
