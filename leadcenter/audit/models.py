from __future__ import annotations

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import ApiKey, Company, User
from leadcenter.db import TimestampedModel


class AuditEntry(TimestampedModel):
    """One admin change: ``created_at`` is when. Who: a user, or an API key (then ``user`` is null); ``actor`` keeps
    their email or the key's name, which outlives both. ``company`` is null for an installation-wide change. The
    resource as the API returned it before and after, as JSON, with its secrets masked (services.mask)."""

    company = ForeignKeyField(Company, null=True, on_delete="CASCADE")
    company_id: IntegerField[int | None]  # the related row's id
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    user_id: IntegerField[int | None]  # the related row's id
    api_key = ForeignKeyField(ApiKey, null=True, on_delete="SET NULL")
    api_key_id: IntegerField[int | None]  # the related row's id
    actor = CharField()
    action = CharField()  # created | updated | deleted | a verb (invited, revoked, ...)
    resource = CharField()  # team, flow, user, ...
    resource_id = IntegerField(null=True)
    summary = TextField(default="")
    before_json = TextField(null=True)
    after_json = TextField(null=True)

    class Meta:
        indexes = ((("company", "id"), False), (("company", "resource", "id"), False))
