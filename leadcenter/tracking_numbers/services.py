"""A tracking number's columns as an admin's change makes them (the API and the CLI)."""

from __future__ import annotations

import json
from typing import Any

from leadcenter.accounts.models import Company
from leadcenter.errors import ApiError, invalid
from leadcenter.flows.models import CallFlow
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk
from leadcenter.visits.models import NumberPool


def _company_row(model: Any, row_id: int, company: Company, field: str, what: str) -> int:
    """An id sent in a body must name a row of the caller's company; another company's is as unknown as none."""
    if not model.select().where(model.id == row_id, model.company == company).exists():
        raise invalid({field: f"no {what} {row_id} in this company"})
    return row_id


def number_columns(company: Company, changes: dict, number_id: int | None = None) -> dict:
    """The changes as TrackingNumber columns: the number as E.164, free in every company; trunk and flow the
    company's own."""
    if "number" in changes:
        try:
            changes["number"] = to_e164(changes["number"], company.default_region)
        except InvalidNumber as exc:
            raise invalid({"number": str(exc)}) from None
        # number_id or 0: a new number has no id yet, and no row has id 0.
        if (
            TrackingNumber.select()
            .where(TrackingNumber.number == changes["number"], TrackingNumber.id != (number_id or 0))
            .exists()
        ):
            raise ApiError(
                "number-taken",
                f"{changes['number']} is a tracking number already",
                {"number": "already a tracking number"},
            )
    if "trunk" in changes:
        _company_row(Trunk, changes["trunk"], company, "trunk", "trunk")
    if changes.get("flow") is not None:
        _company_row(CallFlow, changes["flow"], company, "flow", "flow")
    if "pool" in changes:  # an id, not a foreign key (see the model)
        pool = changes.pop("pool")
        changes["pool_id"] = None if pool is None else _company_row(NumberPool, pool, company, "pool", "number pool")
    if "swap_rule" in changes:
        changes["swap_rule"] = json.dumps(changes["swap_rule"]) if changes["swap_rule"] else ""
    if changes.get("swap_source") == "custom" and not changes.get("swap_rule", "x"):
        raise invalid({"swap_rule": "a custom source number needs its rule"})
    return changes
