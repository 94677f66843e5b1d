"""The call flows API: what happens to a call to a tracking number, step by step.

A save is applied live: the flow is written, Asterisk's configuration rendered and reloaded, and the flow's context
checked in Asterisk's dialplan; when Asterisk does not take it, the flow is put back as it was (and applied again)
and the answer is 422 asterisk-refused with Asterisk's message. Every save is kept as a version, restorable. A
change sent with the version it was made to is refused (409 changed) once someone else saved meanwhile.
"""

from __future__ import annotations

import concurrent.futures

from flask import Blueprint

from leadcenter.db import database
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.flows.schemas import FlowChanges, FlowList, FlowOut, FlowVersionList, FlowVersionOut, NewFlow, Restore
from leadcenter.flows.services import InvalidSteps, checked_steps, flow_columns, flows_naming, keep_version
from leadcenter.pbx import names
from leadcenter.prompts.http import flow_sound_names
from leadcenter.telephony.service import AsteriskRefused
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("flows", __name__, url_prefix="/api/v1")

FLOWS = ConfigRows(CallFlow, "flow", "flow")
APPLY_SECONDS = 20  # the longest a save waits for Asterisk to reload and answer


def _columns(principal: Principal, changes: dict, row: CallFlow | None = None) -> dict:
    """The changes as CallFlow columns: steps checked against the company and stored as JSON; the version sent
    checked against the row's, and the row's counted up."""
    sent = changes.pop("version", None)
    if row is not None and row.id is not None:
        if sent is not None and sent != row.version:
            raise ApiError(
                "changed",
                f"flow {row.name!r} was saved by someone else meanwhile (version {row.version}, yours {sent}): "
                "reload it and redo your change",
            )
        changes["version"] = row.version + 1
    if "steps" in changes:
        try:
            changes["steps"] = checked_steps(
                principal.company, changes["steps"], flow_sound_names(principal.company.id)
            )
        except InvalidSteps as exc:
            raise invalid(exc.fields) from None
    return changes


def _kept(principal: Principal):
    return lambda flow: keep_version(flow, principal.user)


def _applied(principal: Principal, flow: CallFlow, before: dict | None) -> CallFlow:
    """Wait for Asterisk to take the saved flow; when it refuses, put the flow back as it was (``before``; None:
    it was new, so it goes) and apply that, then answer with Asterisk's message."""
    try:
        ports.controller().reconfigure_checked([names.flow_context(flow.id)]).result(APPLY_SECONDS)
        return flow
    except AsteriskRefused as exc:
        refusal = str(exc)
    except concurrent.futures.TimeoutError:
        refusal = f"Asterisk did not answer within {APPLY_SECONDS} s"
    if before is None:
        FLOWS.delete(principal, flow.id)
    else:
        with database.atomic():
            FlowVersion.delete().where(FlowVersion.flow == flow, FlowVersion.version == flow.version).execute()
        FLOWS.update(principal, flow.id, lambda _: {**before, "version": flow.version - 1})
    raise ApiError("asterisk-refused", f"Asterisk refused the flow; nothing was changed. Asterisk said: {refusal}")


def _numbers_using(flow: CallFlow) -> list[str]:
    # Calls to those numbers would otherwise get "no service" without anyone having asked for it.
    return [
        f"tracking number {n.number}"
        for n in TrackingNumber.select().where(TrackingNumber.flow == flow).order_by(TrackingNumber.id)
    ] + [f"flow {f.name!r}" for f in flows_naming(flow.company, flow=flow.id)]


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
    summary="Create a call flow and apply it; what its steps name must be the company's",
)
def create_flow(principal: Principal, body: NewFlow):
    flow = FLOWS.create(principal, lambda _: _columns(principal, body.model_dump()), _kept(principal))
    return FlowOut.from_row(_applied(principal, flow, None))


@endpoint(
    bp,
    "PATCH",
    "/flows/<int:flow_id>",
    role="admin",
    body=FlowChanges,
    response=FlowOut,
    summary="Change a call flow and apply it; steps, when sent, replaces all its steps; send version (409 changed)",
)
def update_flow(principal: Principal, flow_id: int, body: FlowChanges):
    before = flow_columns(FLOWS.one(principal, flow_id))
    flow = FLOWS.update(
        principal,
        flow_id,
        lambda row: _columns(principal, body.model_dump(exclude_unset=True), row),
        _kept(principal),
    )
    return FlowOut.from_row(_applied(principal, flow, before))


@endpoint(
    bp,
    "GET",
    "/flows/<int:flow_id>/versions",
    role="supervisor",
    response=FlowVersionList,
    summary="Every saved version of a call flow, newest first",
)
def list_flow_versions(principal: Principal, flow_id: int):
    flow = FLOWS.one(principal, flow_id)
    rows = FlowVersion.select().where(FlowVersion.flow == flow).order_by(FlowVersion.version.desc())
    return FlowVersionList([FlowVersionOut.from_row(v) for v in rows])


@endpoint(
    bp,
    "POST",
    "/flows/<int:flow_id>/versions/<int:version>/restore",
    role="admin",
    body=Restore,
    response=FlowOut,
    summary="Make an earlier version the flow again (a new version), checked and applied as a change is",
)
def restore_flow_version(principal: Principal, flow_id: int, version: int, body: Restore):
    flow = FLOWS.one(principal, flow_id)
    kept = FlowVersion.get_or_none(FlowVersion.flow == flow, FlowVersion.version == version)
    if kept is None:
        raise not_found(f"version {version} of flow {flow.name!r}")
    changes = {**flow_columns(kept), "version": body.version}
    before = flow_columns(flow)
    flow = FLOWS.update(principal, flow_id, lambda row: _columns(principal, dict(changes), row), _kept(principal))
    return FlowOut.from_row(_applied(principal, flow, before))


@endpoint(
    bp,
    "DELETE",
    "/flows/<int:flow_id>",
    role="admin",
    status=204,
    summary="Delete a call flow no tracking number and no other flow sends calls to",
)
def delete_flow(principal: Principal, flow_id: int):
    FLOWS.delete(principal, flow_id, _numbers_using)
