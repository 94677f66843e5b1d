from peewee import CharField, ForeignKeyField

from leadcenter.accounts.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.flows.models import CallFlow
from leadcenter.trunks.models import Trunk


class TrackingNumber(TimestampedModel):
    company = ForeignKeyField(Company, backref="tracking_numbers", on_delete="CASCADE")
    number = CharField(unique=True)  # E.164
    name = CharField()
    source = CharField(default="")  # the marketing source the number is tied to, e.g. "Google Ads"
    trunk = ForeignKeyField(Trunk, backref="numbers", on_delete="RESTRICT")
    flow = ForeignKeyField(CallFlow, null=True, backref="numbers", on_delete="SET NULL")
