"""The trunks API: SIP trunks, the carrier peers whose calls are recognised by address and port."""

from __future__ import annotations

from flask import Blueprint

from leadcenter.trunks.models import Trunk
from leadcenter.trunks.schemas import NewTrunk, TrunkChanges, TrunkList, TrunkOut, TrunkStateList
from leadcenter.trunks.services import trunk_columns, trunk_users
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.config_rows import ConfigRows
from leadcenter.web.ports import controller

bp = Blueprint("trunks", __name__, url_prefix="/api/v1")

TRUNKS = ConfigRows(Trunk, "trunk", "trunk")


def _tls_on() -> bool:
    """Whether Asterisk has SIP over TLS, which trunks over TLS connect through."""
    return controller().settings.asterisk.sip_tls_port > 0


@endpoint(bp, "GET", "/trunks", role="supervisor", response=TrunkList, summary="The company's SIP trunks")
def list_trunks(principal: Principal):
    return TrunkList([TrunkOut.from_row(t) for t in TRUNKS.listed(principal, Trunk.name, Trunk.id)])


@endpoint(
    bp,
    "GET",
    "/trunks/states",
    role="supervisor",
    response=TrunkStateList,
    summary="Each of the company's trunks now: registered, reachable, failing or unknown (trunk.state_changed "
    "follows it)",
)
def trunk_states(principal: Principal):
    states = controller().trunk_states
    return TrunkStateList([states.of(t) for t in TRUNKS.listed(principal, Trunk.name, Trunk.id)])


@endpoint(bp, "GET", "/trunks/<int:trunk_id>", role="supervisor", response=TrunkOut, summary="A SIP trunk")
def get_trunk(principal: Principal, trunk_id: int):
    return TrunkOut.from_row(TRUNKS.one(principal, trunk_id))


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
    return TrunkOut.from_row(
        TRUNKS.create(principal, lambda trunk: trunk_columns(trunk, body.model_dump(), tls_on=_tls_on()))
    )


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
    return TrunkOut.from_row(
        TRUNKS.update(principal, trunk_id, lambda trunk: trunk_columns(trunk, changes, tls_on=_tls_on()))
    )


@endpoint(
    bp,
    "DELETE",
    "/trunks/<int:trunk_id>",
    role="admin",
    status=204,
    summary="Delete a SIP trunk no tracking number is on",
)
def delete_trunk(principal: Principal, trunk_id: int):
    TRUNKS.delete(principal, trunk_id, trunk_users)
