"""The call flows API: what happens to a call to a tracking number, step by step."""
from __future__ import annotations

from flask import Blueprint

from leadcenter.companies.http import changed, in_use, save_changes
from leadcenter.db import database
from leadcenter.flows.models import CallFlow
from leadcenter.flows.schemas import FlowChanges, FlowList, FlowOut, NewFlow
from leadcenter.flows.services import InvalidSteps, checked_steps
from leadcenter.numbers.models import TrackingNumber
from leadcenter.web.api import endpoint, invalid
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("flows", __name__, url_prefix="/api/v1")


def _columns(principal: Principal, changes: dict) -> dict:
    """The changes as CallFlow columns: steps checked against the company and stored as JSON."""
    if "steps" in changes:
        try:
            changes["steps"] = checked_steps(principal.company, changes["steps"])
        except InvalidSteps as exc:
            raise invalid(exc.fields) from None
    return changes


@endpoint(bp, "GET", "/flows", role="supervisor", response=FlowList, summary="The company's call flows")
def list_flows(principal: Principal):
    return FlowList([FlowOut.from_row(f) for f in CallFlow.select().where(CallFlow.company == principal.company)
                     .order_by(CallFlow.name, CallFlow.id)])


@endpoint(bp, "GET", "/flows/<int:flow_id>", role="supervisor", response=FlowOut, summary="A call flow")
def get_flow(principal: Principal, flow_id: int):
    return FlowOut.from_row(scoped(CallFlow, flow_id, principal, "flow"))


@endpoint(bp, "POST", "/flows", role="admin", body=NewFlow, response=FlowOut, status=201,
          summary="Create a call flow; the teams and agents its steps name must be the company's")
def create_flow(principal: Principal, body: NewFlow):
    with database.atomic():
        flow = CallFlow(company=principal.company)
        save_changes(flow, _columns(principal, body.model_dump()))
    changed(principal, "flow.created", asterisk=True, flow_id=flow.id)
    return FlowOut.from_row(flow)


@endpoint(bp, "PATCH", "/flows/<int:flow_id>", role="admin", body=FlowChanges, response=FlowOut,
          summary="Change a call flow; steps, when sent, replaces all its steps")
def update_flow(principal: Principal, flow_id: int, body: FlowChanges):
    with database.atomic():
        flow = scoped(CallFlow, flow_id, principal, "flow")
        save_changes(flow, _columns(principal, body.model_dump(exclude_unset=True)))
    changed(principal, "flow.updated", asterisk=True, flow_id=flow.id, fields=sorted(body.model_fields_set))
    return FlowOut.from_row(flow)


@endpoint(bp, "DELETE", "/flows/<int:flow_id>", role="admin", status=204,
          summary="Delete a call flow no tracking number sends calls to")
def delete_flow(principal: Principal, flow_id: int):
    with database.atomic():
        flow = scoped(CallFlow, flow_id, principal, "flow")
        numbers = list(TrackingNumber.select().where(TrackingNumber.flow == flow).order_by(TrackingNumber.id))
        if numbers:
            # Calls to those numbers would otherwise get "no service" without anyone having asked for it.
            raise in_use(f"flow {flow.name!r}", [f"tracking number {n.number}" for n in numbers])
        flow.delete_instance()
    changed(principal, "flow.deleted", asterisk=True, flow_id=flow.id)
