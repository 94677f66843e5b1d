"""Leads: found by phone number (every call, text or chat from a number lands on one lead), searched by name,
email or number, edited, and merged when one person ended up as two leads."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import phonenumbers

from leadcenter.accounts.models import Company
from leadcenter.db import ByIds, database
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead, LeadPhone, LeadSearchTerm
from leadcenter.phones import InvalidNumber, to_e164

SEARCH_LIMIT = 25


def lead_number(raw: str, company: Company) -> str:
    """The lead's number as E.164 when it parses, else as Asterisk gave it (withheld or odd caller IDs)."""
    try:
        return to_e164(raw, company.default_region)
    except InvalidNumber:
        return (raw or "").strip() or "anonymous"


def search_terms(lead: Lead, numbers: list[str]) -> set[str]:
    """What a lead can be found by, each matched as a prefix: name and each of its words, email, and each
    number as E.164 digits, national digits, and its last 7 and 4 digits."""
    terms = set()
    name = " ".join(lead.name.casefold().split())
    if name:
        terms.add(name)
        terms.update(name.split())
    if lead.email:
        terms.add(lead.email.casefold())
    for number in numbers:
        digits = re.sub(r"\D", "", number)
        if not digits:
            continue
        terms.update({digits, digits[-7:], digits[-4:]})
        with contextlib.suppress(phonenumbers.NumberParseException):
            terms.add(str(phonenumbers.parse(number).national_number))
    return {term[:100] for term in terms if term}


def index_lead(lead: Lead, new_with: str | None = None) -> None:
    """The lead's search terms, again; ``new_with``: a lead just created with this one number, which has none yet
    (a new caller, on every such call: no statement it does not need)."""
    if new_with is not None:
        _insert_terms(lead, [new_with])
        return
    numbers = [p.number for p in LeadPhone.select(LeadPhone.number).where(LeadPhone.lead == lead)]
    with database.atomic():
        LeadSearchTerm.delete().where(LeadSearchTerm.lead == lead).execute()
        _insert_terms(lead, numbers)


def _insert_terms(lead: Lead, numbers: list[str]) -> None:
    LeadSearchTerm.insert_many(
        [{"company": lead.company_id, "lead": lead.id, "term": term} for term in sorted(search_terms(lead, numbers))]
    ).execute()


def find_or_create_by_number(company: Company, number: str, now: dt.datetime, name: str = "") -> Lead:
    with database.atomic():
        phone = (
            LeadPhone.select(LeadPhone, Lead)
            .join(Lead)
            .where(LeadPhone.company == company, LeadPhone.number == number)
            .first()
        )
        if phone is not None:
            lead = phone.lead
            if name and not lead.name:
                lead.name = name
                lead.save()
                index_lead(lead)
            return lead
        lead = Lead.create(company=company, name=name, created_at=now, updated_at=now)
        LeadPhone.create(lead=lead, company=company, number=number)
        index_lead(lead, new_with=number)
        return lead


def search(company: Company, query: str, limit: int = SEARCH_LIMIT) -> list[Lead]:
    """Leads of the company whose name, a name word, email or number starts with ``query``."""
    text = " ".join(query.casefold().split())
    digits = re.sub(r"\D", "", text)
    prefix = digits if digits and len(digits) >= len(re.sub(r"[\s+().-]", "", text)) else text
    if not prefix:
        return []
    lead_ids = (
        LeadSearchTerm.select(LeadSearchTerm.lead)
        .distinct()
        .where(
            LeadSearchTerm.company == company, LeadSearchTerm.term >= prefix, LeadSearchTerm.term < prefix + "\uffff"
        )
        .limit(limit)
    )
    return list(Lead.select().where(Lead.id.in_(lead_ids), Lead.merged_into.is_null()).order_by(Lead.name, Lead.id))


_PHONES_OF_LEADS = ByIds(lambda match: LeadPhone.select().where(match(LeadPhone.lead)).order_by(LeadPhone.id))


def numbers_by_lead(lead_ids) -> dict[int, list[str]]:
    """Each lead's numbers in the order they were added, in one query for a whole page of leads."""
    numbers: dict[int, list[str]] = {lead_id: [] for lead_id in lead_ids}
    for phone in _PHONES_OF_LEADS.rows(numbers):
        numbers[phone.lead_id].append(phone.number)
    return numbers


class LeadError(ValueError):
    pass


class NumberTaken(LeadError):
    def __init__(self, number: str, lead_id: int):
        super().__init__(f"{number} belongs to another lead ({lead_id}): merge the two instead")
        self.number, self.lead_id = number, lead_id


def create(company: Company, name: str, email: str, numbers: list[str], now: dt.datetime) -> Lead:
    """A new lead with its numbers (E.164 already); a number another lead of the company has is refused."""
    with database.atomic():
        lead = Lead.create(company=company, name=name, email=email, created_at=now, updated_at=now)
        set_numbers(lead, numbers)
        index_lead(lead)
    return lead


def set_numbers(lead: Lead, numbers: list[str]) -> None:
    """Replace a lead's numbers (E.164 already); a number another lead of the company has is refused."""
    with database.atomic():
        taken = (
            LeadPhone.select()
            .where(LeadPhone.company == lead.company_id, LeadPhone.number.in_(numbers), LeadPhone.lead != lead)
            .first()
        )
        if taken is not None:
            raise NumberTaken(taken.number, taken.lead_id)
        LeadPhone.delete().where(LeadPhone.lead == lead, LeadPhone.number.not_in(numbers or [""])).execute()
        have = {p.number for p in lead.phones}
        for number in numbers:
            if number not in have:
                LeadPhone.create(lead=lead, company=lead.company_id, number=number)


def update(lead: Lead, changes: dict, now: dt.datetime) -> Lead:
    """Apply name / email / numbers changes (already validated) and keep the lead searchable."""
    with database.atomic():
        for field in ("name", "email"):
            if field in changes:
                setattr(lead, field, changes[field])
        if "numbers" in changes:
            set_numbers(lead, changes["numbers"])
        lead.updated_at = now
        lead.save()
        index_lead(lead)
    return lead


def merge(survivor: Lead, duplicate: Lead, now: dt.datetime) -> Lead:
    """Move the duplicate's numbers and interactions to the survivor; the duplicate stays, marked merged."""
    if survivor.id == duplicate.id or survivor.company_id != duplicate.company_id:
        raise LeadError("a lead can only be merged with another lead of the same company")
    for lead in (survivor, duplicate):
        if lead.merged_into_id is not None:
            raise LeadError(f"lead {lead.id} was already merged into lead {lead.merged_into_id}")
    with database.atomic():
        LeadPhone.update(lead=survivor).where(LeadPhone.lead == duplicate).execute()
        Interaction.update(lead=survivor).where(Interaction.lead == duplicate).execute()
        survivor.name = survivor.name or duplicate.name
        survivor.email = survivor.email or duplicate.email
        survivor.updated_at = now
        survivor.save()
        duplicate.merged_into = survivor
        duplicate.save()
        LeadSearchTerm.delete().where(LeadSearchTerm.lead == duplicate).execute()
        index_lead(survivor)
    return survivor
