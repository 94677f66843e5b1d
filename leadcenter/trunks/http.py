"""The trunks API: SIP trunks, the carrier peers whose calls are recognised by address and port."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.errors import ApiError
from leadcenter.flows.services import flows_naming
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk, peer_address
from leadcenter.trunks.schemas import NewTrunk, TrunkChanges, TrunkList, TrunkOut
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows

bp = Blueprint("trunks", __name__, url_prefix="/api/v1")

TRUNKS = ConfigRows(Trunk, "trunk", "trunk")


def _refuse_taken_address(host: str, port: int, trunk_id: int | None = None) -> None:
    """Asterisk tells trunks apart by address and port alone: a second trunk there, in any company, would take
    the first one's calls (and send its calls through the first one's carrier). Compared as addresses, so rows from
    before only IP addresses were accepted count however they were written. (``trunk_id or 0``: a new trunk has
    no id yet, and no row has id 0.)"""
    address = peer_address(host)
    others = Trunk.select(Trunk.host).where(Trunk.port == port, Trunk.id != (trunk_id or 0))
    if any(peer_address(other.host) == address for other in others):
        raise ApiError(
            "address-taken",
            f"a trunk at {address}:{port} exists already",
            {"host": "another trunk has this address and port"},
        )


@endpoint(bp, "GET", "/trunks", role="supervisor", response=TrunkList, summary="The company's SIP trunks")
def list_trunks(principal: Principal):
    return TrunkList([TrunkOut.from_row(t) for t in TRUNKS.listed(principal, Trunk.name, Trunk.id)])


@endpoint(bp, "GET", "/trunks/<int:trunk_id>", role="supervisor", response=TrunkOut, summary="A SIP trunk")
def get_trunk(principal: Principal, trunk_id: int):
    return TrunkOut.from_row(TRUNKS.one(principal, trunk_id))


def _trunk_columns(trunk: Trunk, changes: dict) -> dict:
    _refuse_taken_address(changes.get("host", trunk.host), changes.get("port", trunk.port), trunk.id)
    return changes


@endpoint(
    bp,
    "POST",
    "/trunks",
    role="admin",
    body=NewTrunk,
    response=TrunkOut,
    status=201,
    summary="Add a SIP trunk: a carrier peer whose calls are recognised by address and port",
)
def create_trunk(principal: Principal, body: NewTrunk):
    return TrunkOut.from_row(TRUNKS.create(principal, lambda trunk: _trunk_columns(trunk, body.model_dump())))


@endpoint(
    bp,
    "PATCH",
    "/trunks/<int:trunk_id>",
    role="admin",
    body=TrunkChanges,
    response=TrunkOut,
    summary="Change a SIP trunk",
)
def update_trunk(principal: Principal, trunk_id: int, body: TrunkChanges):
    changes = body.model_dump(exclude_unset=True)
    return TrunkOut.from_row(TRUNKS.update(principal, trunk_id, lambda trunk: _trunk_columns(trunk, changes)))


@endpoint(
    bp,
    "DELETE",
    "/trunks/<int:trunk_id>",
    role="admin",
    status=204,
    summary="Delete a SIP trunk no tracking number is on",
)
def delete_trunk(principal: Principal, trunk_id: int):
    TRUNKS.delete(
        principal,
        trunk_id,
        lambda trunk: (
            [
                f"tracking number {n.number}"
                for n in TrackingNumber.select().where(TrackingNumber.trunk == trunk).order_by(TrackingNumber.id)
            ]
            + [f"flow {f.name!r}" for f in flows_naming(principal.company, trunk=trunk.id)]
        ),  # its forward steps
    )
