"""The audit log API: what admins changed, newest first, for the company's supervisors and admins."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from leadcenter.audit import services
from leadcenter.audit.schemas import AuditEntryOut, AuditPage, AuditQuery
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


@endpoint(
    bp,
    "GET",
    "/audit-log",
    role="supervisor",
    query=AuditQuery,
    response=AuditPage,
    summary="The company's admin changes, newest first, a page at a time: who, when, what changed (the "
    "installation owner also sees the installation's own: custom dialplans, owners)",
)
def audit_log(principal: Principal, query: AuditQuery):
    found = services.entries(
        principal.company,
        resource=query.resource,
        resource_id=query.resource_id,
        user_id=query.user_id,
        action=query.action,
        since=_naive_utc(query.since),
        until=_naive_utc(query.until),
        before_id=query.before,
        limit=query.limit + 1,
        installation=principal.user is not None and principal.user.owner,
    )
    page = found[: query.limit]
    return AuditPage(
        entries=[AuditEntryOut.from_row(e) for e in page], next=page[-1].id if len(found) > query.limit else None
    )


def _naive_utc(when: dt.datetime | None) -> dt.datetime | None:
    """A time as the database stores it (naive UTC); one without a zone is UTC already."""
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when is not None and when.tzinfo else when
