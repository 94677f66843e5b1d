"""The custom dialplan API: the installation owner's contexts, their versions, and the generated dialplan read-only.

Every endpoint is the owner's (``role="owner"``): a company admin or an API key gets 403 ``owner-only``. A save is
checked (services.check), then read by Asterisk as a scratch context (``controller.dialplans.complaints``); only
a text Asterisk took without a complaint is stored as the next version and rendered live (reconfigure).
"""

from __future__ import annotations

from flask import Blueprint

from leadcenter.accounts.http import in_use
from leadcenter.accounts.models import Company
from leadcenter.audit.services import record
from leadcenter.db import database
from leadcenter.dialplans import services
from leadcenter.dialplans.models import CustomContext, DialplanVersion
from leadcenter.dialplans.schemas import (
    DialplanChanges,
    DialplanList,
    DialplanOut,
    GeneratedDialplan,
    GeneratedFile,
    NewDialplan,
    UsableContext,
    UsableContextList,
    VersionList,
    VersionOut,
)
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.pbx import names
from leadcenter.pbx.render import generated_contexts
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import OWNER, Principal

bp = Blueprint("dialplans", __name__, url_prefix="/api/v1")

RESOURCE = "dialplan"


def _context(name: str) -> CustomContext:
    row = CustomContext.get_or_none(CustomContext.name == name)
    if row is None:
        raise not_found("custom dialplan context")
    return row


def _company(company_id: int | None) -> int | None:
    if company_id is not None and Company.get_or_none(Company.id == company_id) is None:
        raise invalid({"company_id": f"no company {company_id}"})
    return company_id


def _checked(context: str, text: str) -> None:
    """The owner's checks, then Asterisk's own reading; raises the refusal, with Asterisk's words when it is its."""
    asterisk = ports.controller().dialplans
    try:
        services.check(text, generated_contexts(asterisk.generated()))
    except services.InvalidDialplan as exc:
        raise invalid(exc.fields) from None
    try:
        complaints = asterisk.complaints(context, text)
    except services.DialplanUnchecked as exc:
        raise ApiError("asterisk-unavailable", str(exc)) from None
    if complaints:
        raise ApiError(
            "asterisk-refused",
            "Asterisk refused the dialplan; nothing changed:\n" + "\n".join(complaints),
            {"text": "\n".join(complaints)},
        )


def _store(principal: Principal, row: CustomContext, text: str, action: str, restored_from: int | None = None):
    before = None if row.id is None else DialplanOut.from_row(CustomContext.get_by_id(row.id)).model_dump(mode="json")
    with database.atomic():
        saved = services.save(row, text, principal.user, ports.controller().clock, restored_from)
        after = DialplanOut.from_row(saved.context).model_dump(mode="json")
        summary = f"custom context {row.name} version {saved.version.number}" + (
            f" (restored from version {restored_from})" if restored_from is not None else ""
        )
        record(principal, action, RESOURCE, row.id, before, after, summary, installation=True)
    ports.controller().reconfigure()
    return DialplanOut.from_row(saved.context)


@endpoint(bp, "GET", "/dialplans", role=OWNER, response=DialplanList, summary="The custom dialplan contexts")
def list_dialplans(principal: Principal):
    return DialplanList([DialplanOut.from_row(c) for c in CustomContext.select().order_by(CustomContext.name)])


@endpoint(
    bp,
    "GET",
    "/generated-dialplan",
    role=OWNER,
    response=GeneratedDialplan,
    summary="The generated dialplan, read-only: its files as rendered from the database, and its contexts",
)
def generated_dialplan(principal: Principal):
    files = ports.controller().dialplans.generated()
    return GeneratedDialplan(
        files=[GeneratedFile(name=name, text=text) for name, text in files.items()],
        contexts=sorted(generated_contexts(files)),
    )


@endpoint(
    bp,
    "GET",
    "/custom-contexts",
    role="supervisor",
    response=UsableContextList,
    summary="The custom contexts the company's call flows may send calls into: names only, never their dialplan",
)
def usable_contexts(principal: Principal):
    usable = CustomContext.select().where(
        CustomContext.company.is_null() | (CustomContext.company == principal.company)
    )
    return UsableContextList(
        [UsableContext(name=c.name, context=names.custom_context(c.name)) for c in usable.order_by(CustomContext.name)]
    )


@endpoint(bp, "GET", "/dialplans/<name>", role=OWNER, response=DialplanOut, summary="A custom dialplan context")
def get_dialplan(principal: Principal, name: str):
    return DialplanOut.from_row(_context(name))


@endpoint(
    bp,
    "POST",
    "/dialplans",
    role=OWNER,
    body=NewDialplan,
    response=DialplanOut,
    status=201,
    summary="Create a custom context: checked, read by Asterisk (422 asterisk-refused with its words), then live",
)
def create_dialplan(principal: Principal, body: NewDialplan):
    try:
        services.check_name(body.name)
    except services.InvalidDialplan as exc:
        raise invalid(exc.fields) from None
    if CustomContext.get_or_none(CustomContext.name == body.name) is not None:
        raise invalid({"name": f"a custom context {body.name} exists already"})
    company = _company(body.company_id)
    _checked(names.custom_context(body.name), body.text)
    return _store(principal, CustomContext(name=body.name, company=company), body.text, "created")


@endpoint(
    bp,
    "PATCH",
    "/dialplans/<name>",
    role=OWNER,
    body=DialplanChanges,
    response=DialplanOut,
    summary="Save a custom context's next version: checked, read by Asterisk, then live; nothing changes if refused",
)
def update_dialplan(principal: Principal, name: str, body: DialplanChanges):
    row = _context(name)
    if body.version is not None and body.version != row.version:
        raise ApiError("conflict", f"{name} was saved meanwhile (version {row.version}); reload and try again")
    company = _company(body.company_id) if "company_id" in body.model_fields_set else row.company_id
    if company is not None and company != row.company_id:
        using = services.flows_using(name, other_than=company)
        if using:
            raise in_use(f"custom context {name}", using)
    _checked(names.custom_context(name), body.text)
    row.company_id = company
    return _store(principal, row, body.text, "updated")


@endpoint(
    bp,
    "GET",
    "/dialplans/<name>/versions",
    role=OWNER,
    response=VersionList,
    summary="Every version of a custom context, newest first",
)
def list_versions(principal: Principal, name: str):
    row = _context(name)
    versions = DialplanVersion.select().where(DialplanVersion.context == row).order_by(DialplanVersion.number.desc())
    return VersionList([VersionOut.from_row(v) for v in versions])


@endpoint(
    bp,
    "POST",
    "/dialplans/<name>/versions/<int:number>/restore",
    role=OWNER,
    response=DialplanOut,
    summary="Restore a version: its text becomes the next version, checked and read by Asterisk as any save",
)
def restore_version(principal: Principal, name: str, number: int):
    row = _context(name)
    version = DialplanVersion.get_or_none(DialplanVersion.context == row, DialplanVersion.number == number)
    if version is None:
        raise not_found("version")
    _checked(names.custom_context(name), version.text)
    return _store(principal, row, version.text, "restored", restored_from=number)


@endpoint(
    bp,
    "DELETE",
    "/dialplans/<name>",
    role=OWNER,
    status=204,
    summary="Delete a custom context no call flow sends calls to (its versions go with it)",
)
def delete_dialplan(principal: Principal, name: str):
    row = _context(name)
    using = services.flows_using(name)
    if using:
        raise in_use(f"custom context {name}", using)
    before = DialplanOut.from_row(row).model_dump(mode="json")
    with database.atomic():
        row.delete_instance(recursive=True)
        record(principal, "deleted", RESOURCE, row.id, before, None, f"custom context {name}", installation=True)
    ports.controller().reconfigure()
