"""The call flows API: what happens to a call to a tracking number, step by step."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.errors import invalid
from leadcenter.flows.models import CallFlow
from leadcenter.flows.schemas import FlowChanges, FlowList, FlowOut, NewFlow
from leadcenter.flows.services import InvalidSteps, checked_steps
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("flows", __name__, url_prefix="/api/v1")

FLOWS = ConfigRows(CallFlow, "flow", "flow")


def _columns(principal: Principal, changes: dict) -> dict:
    """The changes as CallFlow columns: steps checked against the company and stored as JSON."""
    if "steps" in changes:
        try:
            changes["steps"] = checked_steps(principal.company, changes["steps"])
        except InvalidSteps as exc:
            raise invalid(exc.fields) from None
    return changes


def _numbers_using(flow: CallFlow) -> list[str]:
    # Calls to those numbers would otherwise get "no service" without anyone having asked for it.
    return [
        f"tracking number {n.number}"
        for n in TrackingNumber.select().where(TrackingNumber.flow == flow).order_by(TrackingNumber.id)
    ]


@endpoint(bp, "GET", "/flows", role="supervisor", response=FlowList, summary="The company's call flows")
def list_flows(principal: Principal):
    return FlowList([FlowOut.from_row(f) for f in FLOWS.listed(principal, CallFlow.name, CallFlow.id)])


@endpoint(bp, "GET", "/flows/<int:flow_id>", role="supervisor", response=FlowOut, summary="A call flow")
def get_flow(principal: Principal, flow_id: int):
    return FlowOut.from_row(FLOWS.one(principal, flow_id))


@endpoint(
    bp,
    "POST",
    "/flows",
    role="admin",
    body=NewFlow,
    response=FlowOut,
    status=201,
    summary="Create a call flow; the teams and agents its steps name must be the company's",
)
def create_flow(principal: Principal, body: NewFlow):
    return FlowOut.from_row(FLOWS.create(principal, lambda _: _columns(principal, body.model_dump())))


@endpoint(
    bp,
    "PATCH",
    "/flows/<int:flow_id>",
    role="admin",
    body=FlowChanges,
    response=FlowOut,
    summary="Change a call flow; steps, when sent, replaces all its steps",
)
def update_flow(principal: Principal, flow_id: int, body: FlowChanges):
    return FlowOut.from_row(
        FLOWS.update(principal, flow_id, lambda _: _columns(principal, body.model_dump(exclude_unset=True)))
    )


@endpoint(
    bp,
    "DELETE",
    "/flows/<int:flow_id>",
    role="admin",
    status=204,
    summary="Delete a call flow no tracking number sends calls to",
)
def delete_flow(principal: Principal, flow_id: int):
    FLOWS.delete(principal, flow_id, _numbers_using)
