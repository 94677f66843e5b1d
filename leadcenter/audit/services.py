"""Recording admin changes. ``record`` writes one entry in the caller's transaction, so a change and its entry are
committed together or not at all. Secrets never reach the log: a field whose name says it holds one (password,
secret, key, token) is stored as MASKED (or CHANGED when its value changed), at any depth."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Protocol

from leadcenter.accounts.models import ApiKey, Company, User
from leadcenter.audit.models import AuditEntry
from leadcenter.db import database

MASKED = "(secret)"
CHANGED = "(secret, changed)"
# Field names that hold a secret: passwords, SIP secrets, API keys and their hashes, tokens. Not ids of such things.
SECRET_NAME = re.compile(r"(password|secret|token|(^|_)key($|_hash))", re.IGNORECASE)


class Actor(Protocol):
    """Who makes a change (the web layer's Principal)."""

    @property
    def company(self) -> Company: ...

    @property
    def user(self) -> User | None: ...

    @property
    def api_key(self) -> ApiKey | None: ...


def mask(value: Any, compared: Any = None) -> Any:
    """``value`` with every secret field masked; a secret that differs from ``compared``'s is CHANGED."""
    if isinstance(value, dict):
        other = compared if isinstance(compared, dict) else {}
        return {
            name: (
                (CHANGED if compared is not None and other.get(name) != item else MASKED)
                if SECRET_NAME.search(str(name)) and item not in (None, "")
                else mask(item, other.get(name))
            )
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value


def record(
    principal: Actor,
    action: str,
    resource: str,
    resource_id: int | None,
    before: dict | None,
    after: dict | None,
    summary: str = "",
    *,
    installation: bool = False,
) -> AuditEntry:
    """Write one entry in the caller's transaction. ``before``/``after``: the resource as the API shows it (None
    when it did not exist / no longer does). ``installation``: a change to the whole installation (no company)."""
    user, key = principal.user, principal.api_key
    with database.atomic():
        return AuditEntry.create(
            company=None if installation else principal.company,
            user=user,
            api_key=key,
            actor=user.email if user is not None else f"API key {key.name}" if key is not None else "system",
            action=action,
            resource=resource,
            resource_id=resource_id,
            summary=summary,
            before_json=None if before is None else json.dumps(mask(before), default=str),
            after_json=None if after is None else json.dumps(mask(after, before), default=str),
        )


def changes(before: Any, after: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """The fields that differ, by dotted path (nested objects compared field by field, lists whole)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: dict[str, tuple[Any, Any]] = {}
        for name in [*before, *(n for n in after if n not in before)]:
            found.update(changes(before.get(name), after.get(name), f"{path}{name}."))
        return found
    if before == after:
        return {}
    return {path.rstrip("."): (before, after)}


def entries(
    company: Company,
    *,
    resource: str | None = None,
    resource_id: int | None = None,
    user_id: int | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
    installation: bool = False,
) -> list[AuditEntry]:
    """The company's entries, newest first, at most ``limit``, older than ``before_id`` when given; with
    ``installation`` (for the installation owner) the installation-wide ones (no company) too."""
    mine = AuditEntry.company == company
    query = AuditEntry.select().where(mine | AuditEntry.company.is_null() if installation else mine)
    for column, value in (
        (AuditEntry.resource, resource),
        (AuditEntry.resource_id, resource_id),
        (AuditEntry.user, user_id),
        (AuditEntry.action, action),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if until is not None:
        query = query.where(AuditEntry.created_at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(query.order_by(AuditEntry.id.desc()).limit(limit))
