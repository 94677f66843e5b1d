from peewee import CharField, DateTimeField, ForeignKeyField

from leadcenter.accounts.models import Company
from leadcenter.db import BaseModel, TimestampedModel


class Lead(TimestampedModel):
    company = ForeignKeyField(Company, backref="leads", on_delete="CASCADE")
    name = CharField(default="")
    email = CharField(default="")
    updated_at = DateTimeField()
    # Set when this lead was merged into another: it is kept for the record but no longer shown.
    merged_into = ForeignKeyField("self", null=True, backref="merged", on_delete="SET NULL")


class LeadPhone(BaseModel):
    """One phone number of a lead, in E.164; a number belongs to one lead per company."""
    lead = ForeignKeyField(Lead, backref="phones", on_delete="CASCADE")
    company = ForeignKeyField(Company, on_delete="CASCADE")
    number = CharField()

    class Meta:
        indexes = ((("company", "number"), True),)


class LeadSearchTerm(BaseModel):
    """Prefix-searchable words of a lead: name words, email, number digits. Index (company, term) makes
    "starts with" a range scan, on SQLite as on PostgreSQL."""
    company = ForeignKeyField(Company, on_delete="CASCADE")
    lead = ForeignKeyField(Lead, backref="search_terms", on_delete="CASCADE")
    term = CharField()

    class Meta:
        indexes = ((("company", "term"), False),)
