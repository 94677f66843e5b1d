"""The numbers API: SIP trunks (carrier peers) and the tracking numbers that arrive on them."""
from __future__ import annotations

from flask import Blueprint
from peewee import Model

from leadcenter.accounts.models import Company
from leadcenter.flows.models import CallFlow
from leadcenter.numbers.models import TrackingNumber, Trunk, peer_address
from leadcenter.numbers.schemas import (NewTrackingNumber, NewTrunk, TrackingNumberChanges, TrackingNumberList,
                                        TrackingNumberOut, TrunkChanges, TrunkList, TrunkOut)
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.web.api import ApiError, endpoint, invalid
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("numbers", __name__, url_prefix="/api/v1")

TRUNKS = ConfigRows(Trunk, "trunk", "trunk")
NUMBERS = ConfigRows(TrackingNumber, "tracking number", "tracking_number")


# -- trunks ----------------------------------------------------------------------------------------------------

def _refuse_taken_address(host: str, port: int, trunk_id: int | None = None) -> None:
    """Asterisk tells trunks apart by address and port alone: a second trunk there, in any company, would take
    the first one's calls (and send its calls through the first one's carrier). Compared as addresses, so rows from
    before only IP addresses were accepted count however they were written. (``trunk_id or 0``: a new trunk has
    no id yet, and no row has id 0.)"""
    address = peer_address(host)
    others = Trunk.select(Trunk.host).where(Trunk.port == port, Trunk.id != (trunk_id or 0))
    if any(peer_address(other.host) == address for other in others):
        raise ApiError(409, "address-taken", f"a trunk at {address}:{port} exists already",
                       {"host": "another trunk has this address and port"})


@endpoint(bp, "GET", "/trunks", role="supervisor", response=TrunkList, summary="The company's SIP trunks")
def list_trunks(principal: Principal):
    return TrunkList([TrunkOut.from_row(t) for t in TRUNKS.listed(principal, Trunk.name, Trunk.id)])


@endpoint(bp, "GET", "/trunks/<int:trunk_id>", role="supervisor", response=TrunkOut, summary="A SIP trunk")
def get_trunk(principal: Principal, trunk_id: int):
    return TrunkOut.from_row(TRUNKS.one(principal, trunk_id))


def _trunk_columns(trunk: Trunk, changes: dict) -> dict:
    _refuse_taken_address(changes.get("host", trunk.host), changes.get("port", trunk.port), trunk.id)
    return changes


@endpoint(bp, "POST", "/trunks", role="admin", body=NewTrunk, response=TrunkOut, status=201,
          summary="Add a SIP trunk: a carrier peer whose calls are recognised by address and port")
def create_trunk(principal: Principal, body: NewTrunk):
    return TrunkOut.from_row(TRUNKS.create(principal, lambda trunk: _trunk_columns(trunk, body.model_dump())))


@endpoint(bp, "PATCH", "/trunks/<int:trunk_id>", role="admin", body=TrunkChanges, response=TrunkOut,
          summary="Change a SIP trunk")
def update_trunk(principal: Principal, trunk_id: int, body: TrunkChanges):
    changes = body.model_dump(exclude_unset=True)
    return TrunkOut.from_row(TRUNKS.update(principal, trunk_id, lambda trunk: _trunk_columns(trunk, changes),
                                           set(changes)))


@endpoint(bp, "DELETE", "/trunks/<int:trunk_id>", role="admin", status=204,
          summary="Delete a SIP trunk no tracking number is on")
def delete_trunk(principal: Principal, trunk_id: int):
    TRUNKS.delete(principal, trunk_id, lambda trunk: [f"tracking number {n.number}"
                                                      for n in trunk.numbers.order_by(TrackingNumber.id)])


# -- tracking numbers ------------------------------------------------------------------------------------------

def _company_row(model: type[Model], row_id: int, company: Company, field: str, what: str) -> int:
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
        if TrackingNumber.select().where(TrackingNumber.number == changes["number"],
                                         TrackingNumber.id != (number_id or 0)).exists():
            raise ApiError(409, "number-taken", f"{changes['number']} is a tracking number already",
                           {"number": "already a tracking number"})
    if "trunk" in changes:
        _company_row(Trunk, changes["trunk"], company, "trunk", "trunk")
    if changes.get("flow") is not None:
        _company_row(CallFlow, changes["flow"], company, "flow", "flow")
    return changes


@endpoint(bp, "GET", "/tracking-numbers", response=TrackingNumberList,
          summary="The company's tracking numbers (also the caller ids agents may call out with)")
def list_tracking_numbers(principal: Principal):
    return TrackingNumberList([TrackingNumberOut.from_row(n) for n in NUMBERS.listed(
        principal, TrackingNumber.name, TrackingNumber.id)])


@endpoint(bp, "GET", "/tracking-numbers/<int:number_id>", role="supervisor", response=TrackingNumberOut,
          summary="A tracking number")
def get_tracking_number(principal: Principal, number_id: int):
    return TrackingNumberOut.from_row(NUMBERS.one(principal, number_id))


@endpoint(bp, "POST", "/tracking-numbers", role="admin", body=NewTrackingNumber, response=TrackingNumberOut,
          status=201, summary="Add a tracking number on one of the company's trunks")
def create_tracking_number(principal: Principal, body: NewTrackingNumber):
    return TrackingNumberOut.from_row(NUMBERS.create(
        principal, lambda number: _number_columns(principal, body.model_dump(), number.id)))


@endpoint(bp, "PATCH", "/tracking-numbers/<int:number_id>", role="admin", body=TrackingNumberChanges,
          response=TrackingNumberOut, summary="Change a tracking number, its trunk or its flow")
def update_tracking_number(principal: Principal, number_id: int, body: TrackingNumberChanges):
    return TrackingNumberOut.from_row(NUMBERS.update(principal, number_id, lambda number: _number_columns(
        principal, body.model_dump(exclude_unset=True), number.id), body.model_fields_set))


@endpoint(bp, "DELETE", "/tracking-numbers/<int:number_id>", role="admin", status=204,
          summary="Delete a tracking number (its past interactions keep their source, no longer the number)")
def delete_tracking_number(principal: Principal, number_id: int):
    NUMBERS.delete(principal, number_id)
