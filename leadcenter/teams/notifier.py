"""The teams domain's event (catalogue.py): a team's queue now, as GET /api/v1/queues gives it."""

from __future__ import annotations

import datetime as dt

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.wire import utc_iso


def queue_updated(bus: Publisher, company_id: int, figures: dict, measured_at: dt.datetime) -> None:
    catalogue.QUEUE_UPDATED.publish(bus, company_id=company_id, **figures, measured_at=utc_iso(measured_at))
