"""The visits domain's events (catalogue.py): a visit joining a lead's timeline, the visit settings and number pools
as the API returns them, and a pool that ran out of numbers."""

from __future__ import annotations

import datetime as dt

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.models import NumberPool, VisitSession, VisitSettings
from leadcenter.visits.schemas import NumberPoolOut, VisitSettingsOut


def pool_out(pool: NumberPool, now: dt.datetime) -> NumberPoolOut:
    numbers = [n.id for n in TrackingNumber.select(TrackingNumber.id).where(TrackingNumber.pool_id == pool.id)]
    held = (
        VisitSession.select(VisitSession.tracking_number)
        .where(VisitSession.tracking_number.in_(numbers or [0]), VisitSession.held_until > now)
        .distinct()
        .count()
    )
    return NumberPoolOut.from_row(pool, sorted(numbers), held)


def visit_joined(bus: Publisher, visit: Interaction) -> None:
    catalogue.VISIT_JOINED.publish(
        bus, company_id=visit.company_id, interaction=InteractionOut.from_row(visit).model_dump(mode="json")
    )


def visit_updated(bus: Publisher, visit: Interaction) -> None:
    catalogue.VISIT_UPDATED.publish(
        bus, company_id=visit.company_id, interaction=InteractionOut.from_row(visit).model_dump(mode="json")
    )


def pool_exhausted(bus: Publisher, pool: NumberPool, now: dt.datetime) -> None:
    catalogue.NUMBER_POOL_EXHAUSTED.publish(
        bus, company_id=pool.company_id, number_pool=pool_out(pool, now).model_dump(mode="json")
    )


def pool_changed(bus: Publisher, pool: NumberPool, change: str, now: dt.datetime) -> None:
    """number_pool.created / updated with the pool, or number_pool.deleted with its id."""
    if change == "deleted":
        catalogue.NUMBER_POOL_DELETED.publish(bus, company_id=pool.company_id, number_pool_id=pool.id)
        return
    catalogue.NUMBER_POOL_EVENTS[change].publish(
        bus, company_id=pool.company_id, number_pool=pool_out(pool, now).model_dump(mode="json")
    )


def settings_changed(bus: Publisher, settings: VisitSettings) -> None:
    catalogue.VISIT_SETTINGS_UPDATED.publish(
        bus, company_id=settings.company_id, visit_settings=VisitSettingsOut.from_row(settings).model_dump(mode="json")
    )
