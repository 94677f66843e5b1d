from __future__ import annotations

from typing import Literal, get_args

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company, User
from leadcenter.agents.models import Agent
from leadcenter.db import TimestampedModel
from leadcenter.interactions.models import Interaction

Mode = Literal["listen", "whisper", "barge"]  # nobody hears the supervisor / only the agent does / both do
MODES: tuple[Mode, ...] = get_args(Mode)


class Monitor(TimestampedModel):
    """A supervisor listening to (whispering to, barging into) an agent's live call on their own device: active from
    the moment their device is rung until it hangs up, the call ends, or they stop."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    interaction = ForeignKeyField(Interaction, backref="monitors", on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    supervisor = ForeignKeyField(User, on_delete="CASCADE")
    supervisor_id: IntegerField[int]  # the related row's id
    agent = ForeignKeyField(Agent, null=True, on_delete="SET NULL")  # the agent on the call
    agent_id: IntegerField[int | None]  # the related row's id
    device = CharField()  # the supervisor's device it rang: webrtc | desk
    mode = CharField(choices=[(m, m) for m in MODES])
    state = CharField(default="active")  # active | ended
    channel_id = CharField(unique=True)  # the supervisor's device channel (names.monitor_channel_id)
    started_at = DateTimeField()
    ended_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("company", "state"), False),)
