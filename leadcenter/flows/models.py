from __future__ import annotations

import json

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel


class CallFlow(TimestampedModel):
    """Steps, in order, as JSON: [{"type": "queue", "team": 1, "timeout": 300}, {"type": "voicemail"}].

    Step types: ``ring_agents`` (agents, timeout), ``queue`` (team, timeout), ``voicemail`` (agent or the company).
    """

    company = ForeignKeyField(Company, backref="flows", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    steps_json = TextField(default="[]")
    record = BooleanField(default=False)
    announce_recording = BooleanField(default=False)

    @property
    def steps(self) -> list[dict]:
        return json.loads(self.steps_json)

    @steps.setter
    def steps(self, steps: list[dict]) -> None:
        self.steps_json = json.dumps(steps)
