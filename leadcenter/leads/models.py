from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, ModelSelect

from leadcenter.accounts.models import Company
from leadcenter.db import BaseModel, TimestampedModel


class Lead(TimestampedModel):
    company = ForeignKeyField(Company, backref="leads", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField(default="")
    email = CharField(default="")
    updated_at = DateTimeField()
    # Set when this lead was merged into another: it is kept for the record but no longer shown.
    merged_into = ForeignKeyField("self", null=True, backref="merged", on_delete="SET NULL")
    merged_into_id: IntegerField[int | None]  # the related row's id
    phones: ModelSelect[LeadPhone]  # the backref of LeadPhone.lead


class LeadPhone(BaseModel):
    """One phone number of a lead, in E.164; a number belongs to one lead per company."""

    lead = ForeignKeyField(Lead, backref="phones", on_delete="CASCADE")
    lead_id: IntegerField[int]  # the related row's id
    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    number = CharField()

    class Meta:
        indexes = ((("company", "number"), True),)


class LeadSearchTerm(BaseModel):
    """Prefix-searchable words of a lead: name words, email, number digits. Index (company, term) makes
    "starts with" a range scan, on SQLite as on PostgreSQL."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    lead = ForeignKeyField(Lead, backref="search_terms", on_delete="CASCADE")
    lead_id: IntegerField[int]  # the related row's id
    term = CharField()

    class Meta:
        indexes = ((("company", "term"), False),)
