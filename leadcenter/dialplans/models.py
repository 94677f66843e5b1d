from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company, User
from leadcenter.db import BaseModel, TimestampedModel


class CustomContext(TimestampedModel):
    """A dialplan context the installation owner writes: ``text`` is its body (``exten =>``, ``same =>``,
    ``include =>`` lines), rendered under the header ``[custom-<name>]`` into ``generated/extensions_custom.conf``.
    ``company``: the one company whose call flows may send calls into it; null: any company's."""

    name = CharField(unique=True)
    text = TextField()
    version = IntegerField(default=1)  # the number of the version in force (a DialplanVersion of this context)
    company = ForeignKeyField(Company, null=True, on_delete="SET NULL")
    company_id: IntegerField[int | None]  # the related row's id


class DialplanVersion(BaseModel):
    """Every text a context has had, in order: version 1 is the first save; a restore adds a version."""

    context = ForeignKeyField(CustomContext, backref="versions", on_delete="CASCADE")
    context_id: IntegerField[int]  # the related row's id
    number = IntegerField()
    text = TextField()
    saved_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    saved_by_id: IntegerField[int | None]  # the related row's id
    saved_at = DateTimeField()
    restored_from = IntegerField(null=True)  # the version number a restore copied

    class Meta:
        indexes = ((("context", "number"), True),)
