"""The tracking numbers API: a company's numbers, the trunk each arrives on and the flow its calls enter."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.tracking_numbers.schemas import (
    NewTrackingNumber,
    TrackingNumberChanges,
    TrackingNumberList,
    TrackingNumberOut,
)
from leadcenter.tracking_numbers.services import number_columns
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("tracking_numbers", __name__, url_prefix="/api/v1")

NUMBERS = ConfigRows(TrackingNumber, "tracking number", "tracking_number")


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
        NUMBERS.create(principal, lambda number: number_columns(principal.company, body.model_dump(), number.id))
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
            lambda number: number_columns(principal.company, body.model_dump(exclude_unset=True), number.id),
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
