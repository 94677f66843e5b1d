"""The leads domain's events (catalogue.py): the lead as the API returns it."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.leads.models import Lead
from leadcenter.leads.schemas import LeadOut


def _lead(lead: Lead) -> dict:
    return LeadOut.from_row(lead).model_dump(mode="json")


def created(bus: Publisher, lead: Lead) -> None:
    catalogue.LEAD_CREATED.publish(bus, company_id=lead.company_id, lead=_lead(lead))


def updated(bus: Publisher, lead: Lead) -> None:
    catalogue.LEAD_UPDATED.publish(bus, company_id=lead.company_id, lead=_lead(lead))


def merged(bus: Publisher, survivor: Lead, duplicate: Lead) -> None:
    catalogue.LEAD_MERGED.publish(bus, company_id=survivor.company_id, lead=_lead(survivor), duplicate_id=duplicate.id)
