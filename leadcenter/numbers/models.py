from peewee import CharField, ForeignKeyField, IntegerField

from leadcenter.companies.models import Company
from leadcenter.db import TimestampedModel
from leadcenter.flows.models import CallFlow


class Trunk(TimestampedModel):
    """A SIP carrier peer. Calls from it are recognised by address and port, never accepted anonymously."""
    company = ForeignKeyField(Company, backref="trunks", on_delete="CASCADE")
    name = CharField()
    host = CharField()
    port = IntegerField(default=5060)

    @property
    def endpoint_name(self) -> str:
        return f"trunk{self.id}"


class TrackingNumber(TimestampedModel):
    company = ForeignKeyField(Company, backref="tracking_numbers", on_delete="CASCADE")
    number = CharField(unique=True)  # E.164
    name = CharField()
    source = CharField(default="")  # the marketing source the number is tied to, e.g. "Google Ads"
    trunk = ForeignKeyField(Trunk, backref="numbers", on_delete="RESTRICT")
    flow = ForeignKeyField(CallFlow, null=True, backref="numbers", on_delete="SET NULL")
