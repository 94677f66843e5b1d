from __future__ import annotations

from typing import Literal, get_args

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.interactions.models import Interaction
from leadcenter.teams.models import Team

# waiting: due to be put in the queue (next_at); queued: its place is held in the queue (channel_id) or an agent is
# on the call to the lead; done: the lead answered; failed: the lead did not answer, attempts times.
State = Literal["waiting", "queued", "done", "failed"]
STATES: tuple[State, ...] = get_args(State)


class Callback(TimestampedModel):
    """A lead who asked, waiting in a team's queue, to be called back. Durable: what is due, and which channel holds
    its place, survives a controller restart (callbacks/services.py resynchronises it with Asterisk)."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    team = ForeignKeyField(Team, on_delete="CASCADE")
    team_id: IntegerField[int]  # the related row's id
    # The call the lead asked in: its tracking number, number and attribution are the callback's.
    original = ForeignKeyField(Interaction, backref="callbacks", on_delete="CASCADE")
    original_id: IntegerField[int]  # the related row's id
    position = IntegerField()  # the caller's place in the queue when they pressed 1 (1 = the head)
    state = CharField(default="waiting", choices=[(s, s) for s in STATES])
    next_at = DateTimeField(null=True)  # waiting: when it goes into the queue
    placements = IntegerField(default=0)  # times its place was put in the queue (names its channels)
    attempts = IntegerField(default=0)  # times the lead was dialled and did not answer
    channel_id = CharField(null=True, unique=True)  # the place's channel now (names.callback_channel_ids)

    class Meta:
        indexes = ((("state", "next_at"), False),)
