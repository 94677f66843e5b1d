"""The leads API: search, read, create, edit and merge the company's leads."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.accounts.models import Company
from leadcenter.errors import ApiError, invalid
from leadcenter.leads import notifier, services
from leadcenter.leads.models import Lead
from leadcenter.leads.schemas import LeadChanges, LeadList, LeadOut, LeadSearch, MergeRequest, NewLead
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("leads", __name__, url_prefix="/api/v1")


def _e164(typed: list[str], company: Company) -> list[str]:
    """The numbers as E.164 in the company's region, each once; every unreadable one is named by its index."""
    numbers, problems = [], {}
    for index, text in enumerate(typed):
        try:
            numbers.append(to_e164(text, company.default_region))
        except InvalidNumber as exc:
            problems[f"numbers.{index}"] = str(exc)
    if problems:
        raise invalid(problems)
    return list(dict.fromkeys(numbers))


def _number_taken(exc: services.NumberTaken) -> ApiError:
    return ApiError("number-taken", str(exc), {"numbers": f"{exc.number} belongs to another lead"})


def _unmerged(lead: Lead) -> Lead:
    """A merged lead is kept for the record only: changes go to the lead it was merged into."""
    if lead.merged_into_id is not None:
        raise ApiError("lead-merged", f"lead {lead.id} was merged into lead {lead.merged_into_id}; use that one")
    return lead


@endpoint(
    bp,
    "GET",
    "/leads",
    query=LeadSearch,
    response=LeadList,
    summary="Leads whose name, a name word, email or number starts with q",
)
def search_leads(principal: Principal, query: LeadSearch):
    return LeadList(LeadOut.from_rows(services.search(principal.company, query.q, query.limit)))


@endpoint(
    bp,
    "GET",
    "/leads/<int:lead_id>",
    response=LeadOut,
    summary="A lead; a merged one names the lead it was merged into (merged_into_id)",
)
def get_lead(principal: Principal, lead_id: int):
    return LeadOut.from_row(scoped(Lead, lead_id, principal, "lead"))


def _saved(published, save) -> LeadOut:
    """Run ``save`` (it returns the lead), refusing a number another lead has; tell it (``published``, a notifier's
    function)."""
    try:
        lead = save()
    except services.NumberTaken as exc:
        raise _number_taken(exc) from None
    published(ports.controller().bus, lead)
    return LeadOut.from_row(lead)


@endpoint(
    bp,
    "POST",
    "/leads",
    body=NewLead,
    response=LeadOut,
    status=201,
    summary="Create a lead; numbers are read in the company's region",
)
def create_lead(principal: Principal, body: NewLead):
    numbers = _e164(body.numbers, principal.company)
    return _saved(
        notifier.created,
        lambda: services.create(principal.company, body.name, body.email, numbers, ports.controller().clock()),
    )


@endpoint(
    bp,
    "PATCH",
    "/leads/<int:lead_id>",
    body=LeadChanges,
    response=LeadOut,
    summary="Change a lead's name, email or numbers (only the fields sent)",
)
def update_lead(principal: Principal, lead_id: int, body: LeadChanges):
    lead = _unmerged(scoped(Lead, lead_id, principal, "lead"))
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return LeadOut.from_row(lead)
    if "numbers" in changes:
        changes["numbers"] = _e164(changes["numbers"], principal.company)
    return _saved(notifier.updated, lambda: services.update(lead, changes, ports.controller().clock()))


@endpoint(
    bp,
    "POST",
    "/leads/<int:lead_id>/merge",
    body=MergeRequest,
    response=LeadOut,
    summary="Merge a duplicate into this lead: its numbers and interactions move here",
)
def merge_leads(principal: Principal, lead_id: int, body: MergeRequest):
    if body.duplicate_id == lead_id:
        raise invalid({"duplicate_id": "a lead cannot be merged into itself"})
    survivor = scoped(Lead, lead_id, principal, "lead")
    duplicate = scoped(Lead, body.duplicate_id, principal, "lead")
    try:
        services.merge(survivor, duplicate, ports.controller().clock())
    except services.LeadError as exc:
        raise ApiError("merge-refused", str(exc)) from None
    notifier.merged(ports.controller().bus, survivor, duplicate)
    return LeadOut.from_row(survivor)
