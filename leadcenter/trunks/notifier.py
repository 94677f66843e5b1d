"""The trunks domain's events (catalogue.py): a trunk's live state as GET /api/v1/trunks/states returns it."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.trunks.models import Trunk
from leadcenter.trunks.schemas import TrunkStateOut


def state_changed(bus: Publisher, trunk: Trunk, state: TrunkStateOut) -> None:
    catalogue.TRUNK_STATE_CHANGED.publish(bus, company_id=trunk.company_id, trunk_state=state.model_dump(mode="json"))
