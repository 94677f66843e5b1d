from __future__ import annotations

import json

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company, User
from leadcenter.db import TimestampedModel


class CallFlow(TimestampedModel):
    """Steps, in order, as JSON: [{"type": "queue", "team": 1, "timeout": 300}, {"type": "voicemail"}].

    The step types are ``leadcenter.flows.services``' (queue, ring_agents, voicemail, greeting, hours, ivr, forward,
    hangup); business hours and IVR menus hold branches, each its own list of steps or another flow.
    ``version`` counts the saves: a change sent with an older one met another admin's save (409 changed).
    """

    company = ForeignKeyField(Company, backref="flows", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    steps_json = TextField(default="[]")
    record = BooleanField(default=False)
    announce_recording = BooleanField(default=False)
    version = IntegerField(default=1)

    @property
    def steps(self) -> list[dict]:
        return json.loads(self.steps_json)

    @steps.setter
    def steps(self, steps: list[dict]) -> None:
        self.steps_json = json.dumps(steps)


class FlowVersion(TimestampedModel):
    """A flow as one save left it (every save, its first included): what an admin can look back at and restore."""

    flow = ForeignKeyField(CallFlow, backref="versions", on_delete="CASCADE")
    flow_id: IntegerField[int]
    version = IntegerField()
    name = CharField()
    steps_json = TextField()
    record = BooleanField()
    announce_recording = BooleanField()
    saved_by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # None: an API key or the CLI
    saved_by_id: IntegerField[int | None]

    class Meta:
        indexes = ((("flow", "version"), True),)

    @property
    def steps(self) -> list[dict]:
        return json.loads(self.steps_json)
