"""Finding the lead behind a phone number, creating one the first time a number contacts the company."""
from __future__ import annotations

from leadcenter.companies.models import Company
from leadcenter.db import database
from leadcenter.leads.models import Lead, LeadPhone
from leadcenter.phones import InvalidNumber, to_e164


def lead_number(raw: str, company: Company) -> str:
    """The lead's number as E.164 when it parses, else as Asterisk gave it (withheld or odd caller IDs)."""
    try:
        return to_e164(raw, company.default_region)
    except InvalidNumber:
        return (raw or "").strip() or "anonymous"


def find_or_create_by_number(company: Company, number: str, name: str = "") -> Lead:
    """Every call, text or chat from the same number lands on the same lead of the company."""
    with database.atomic():
        phone = (LeadPhone.select(LeadPhone, Lead).join(Lead)
                 .where(LeadPhone.company == company, LeadPhone.number == number).first())
        if phone is not None:
            lead = phone.lead
            if name and not lead.name:
                lead.name = name
                lead.save()
            return lead
        lead = Lead.create(company=company, name=name)
        LeadPhone.create(lead=lead, company=company, number=number)
        return lead
