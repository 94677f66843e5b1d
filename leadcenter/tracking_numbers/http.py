"""The tracking numbers API: a company's numbers, the trunk each arrives on and the flow its calls enter."""

from __future__ import annotations

import json

from flask import Blueprint

from leadcenter.accounts.models import Company
from leadcenter.errors import ApiError, invalid
from leadcenter.flows.models import CallFlow
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.tracking_numbers.schemas import (
    NewTrackingNumber,
    TrackingNumberChanges,
    TrackingNumberList,
    TrackingNumberOut,
)
from leadcenter.trunks.models import Trunk
from leadcenter.visits.models import NumberPool
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows
from leadcenter.web.scoping import CompanyRow

bp = Blueprint("tracking_numbers", __name__, url_prefix="/api/v1")

NUMBERS = ConfigRows(TrackingNumber, "tracking number", "tracking_number")


def _company_row(model: type[CompanyRow], row_id: int, company: Company, field: str, what: str) -> int:
    """An id sent in a body must name a row of the caller's company; another company's is as unknown as none."""
    if not model.select().where(model.id == row_id, model.company == company).exists():
        raise invalid({field: f"no {what} {row_id} in this company"})
    return row_id


def _number_columns(principal: Principal, changes: dict, number_id: int | None = None) -> dict:
    """The changes as TrackingNumber columns: the number as E.164, free in every company; trunk and flow the
    company's own."""
    company = principal.company
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


@endpoint(
    bp,
    "GET",
    "/tracking-numbers",
    response=TrackingNumberList,
    summary="The company's tracking numbers (also the caller ids agents may call out with)",
)
def list_tracking_numbers(principal: Principal):
    return TrackingNumberList(
        [TrackingNumberOut.from_row(n) for n in NUMBERS.listed(principal, TrackingNumber.name, TrackingNumber.id)]
    )


@endpoint(
    bp,
    "GET",
    "/tracking-numbers/<int:number_id>",
    role="supervisor",
    response=TrackingNumberOut,
    summary="A tracking number",
)
def get_tracking_number(principal: Principal, number_id: int):
    return TrackingNumberOut.from_row(NUMBERS.one(principal, number_id))


@endpoint(
    bp,
    "POST",
    "/tracking-numbers",
    role="admin",
    body=NewTrackingNumber,
    response=TrackingNumberOut,
    status=201,
    summary="Add a tracking number on one of the company's trunks",
)
def create_tracking_number(principal: Principal, body: NewTrackingNumber):
    return TrackingNumberOut.from_row(
        NUMBERS.create(principal, lambda number: _number_columns(principal, body.model_dump(), number.id))
    )


@endpoint(
    bp,
    "PATCH",
    "/tracking-numbers/<int:number_id>",
    role="admin",
    body=TrackingNumberChanges,
    response=TrackingNumberOut,
    summary="Change a tracking number, its trunk or its flow",
)
def update_tracking_number(principal: Principal, number_id: int, body: TrackingNumberChanges):
    return TrackingNumberOut.from_row(
        NUMBERS.update(
            principal,
            number_id,
            lambda number: _number_columns(principal, body.model_dump(exclude_unset=True), number.id),
        )
    )


@endpoint(
    bp,
    "DELETE",
    "/tracking-numbers/<int:number_id>",
    role="admin",
    status=204,
    summary="Delete a tracking number (its past interactions keep their source, no longer the number)",
)
def delete_tracking_number(principal: Principal, number_id: int):
    NUMBERS.delete(principal, number_id)
