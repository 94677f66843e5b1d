from __future__ import annotations

from peewee import CharField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.flows.models import CallFlow
from leadcenter.trunks.models import Trunk


class TrackingNumber(TimestampedModel):
    company = ForeignKeyField(Company, backref="tracking_numbers", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    number = CharField(unique=True)  # E.164
    name = CharField()
    source = CharField(default="")  # the marketing source the number is tied to, e.g. "Google Ads"
    trunk = ForeignKeyField(Trunk, backref="numbers", on_delete="RESTRICT")
    trunk_id: IntegerField[int]  # the related row's id
    flow = ForeignKeyField(CallFlow, null=True, backref="numbers", on_delete="SET NULL")
    flow_id: IntegerField[int | None]  # the related row's id
