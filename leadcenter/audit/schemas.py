from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import Field

from leadcenter.audit.models import AuditEntry
from leadcenter.audit.services import changes
from leadcenter.wire import Schema, UtcDateTime

AUDIT_PAGE = 50


class AuditQuery(Schema):
    resource: str | None = Field(None, max_length=50, description="team, flow, user, company, api_key, ...")
    resource_id: int | None = Field(None, ge=1, le=2**63 - 1)
    user_id: int | None = Field(None, ge=1, le=2**63 - 1, description="changes made by this user")
    action: str | None = Field(None, max_length=50, description="created, updated, deleted or another verb")
    since: dt.datetime | None = Field(None, description="from this time (UTC), included")
    until: dt.datetime | None = Field(None, description="up to this time (UTC), excluded")
    before: int | None = Field(None, ge=1, le=2**63 - 1, description="the `next` cursor of the previous page")
    limit: int = Field(AUDIT_PAGE, ge=1, le=200)


class FieldChange(Schema):
    field: str  # a dotted path for a nested field: steps.2.timeout
    before: Any
    after: Any


class AuditEntryOut(Schema):
    id: int
    at: UtcDateTime
    user_id: int | None  # null: an API key made it (api_key_id), or the user was deleted since
    api_key_id: int | None
    actor: str  # the user's email or "API key <name>", as they were
    action: str
    resource: str
    resource_id: int | None
    summary: str
    before: dict | None  # the resource before (null: it was created), secrets masked
    after: dict | None  # the resource after (null: it was deleted), secrets masked
    changes: list[FieldChange]  # what differs between before and after

    @classmethod
    def from_row(cls, entry: AuditEntry) -> AuditEntryOut:
        before = json.loads(entry.before_json) if entry.before_json is not None else None
        after = json.loads(entry.after_json) if entry.after_json is not None else None
        return cls(
            id=entry.id,
            at=entry.created_at,
            user_id=entry.user_id,
            api_key_id=entry.api_key_id,
            actor=entry.actor,
            action=entry.action,
            resource=entry.resource,
            resource_id=entry.resource_id,
            summary=entry.summary,
            before=before,
            after=after,
            changes=[
                FieldChange(field=name, before=old, after=new)
                for name, (old, new) in changes(before or {}, after or {}).items()
            ],
        )


class AuditPage(Schema):
    entries: list[AuditEntryOut]
    next: int | None  # the cursor of the next (older) page; None on the last page
