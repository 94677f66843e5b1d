from peewee import CharField, DateTimeField, ForeignKeyField

from leadcenter.companies.models import Company
from leadcenter.db import BaseModel, TimestampedModel, utcnow


class Lead(TimestampedModel):
    company = ForeignKeyField(Company, backref="leads", on_delete="CASCADE")
    name = CharField(default="")
    email = CharField(default="")
    updated_at = DateTimeField(default=utcnow)


class LeadPhone(BaseModel):
    """One phone number of a lead, in E.164; a number belongs to one lead per company."""
    lead = ForeignKeyField(Lead, backref="phones", on_delete="CASCADE")
    company = ForeignKeyField(Company, on_delete="CASCADE")
    number = CharField()

    class Meta:
        indexes = ((("company", "number"), True),)
