"""What the trunks endpoints accept and answer."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from pydantic import Field, RootModel, field_validator

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.trunks.models import Trunk, peer_address
from leadcenter.wire import Schema, UtcDateTime


class NewTrunk(Schema):
    name: Name
    host: str = Field(
        max_length=64,
        description="the carrier's IP address (v4 or v6), where its calls come from "
        "and ours go: calls are recognised by address and port",
    )
    port: int = Field(5060, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def ip_address(cls, host: str) -> str:
        # Only an address, in its one spelling: Asterisk matches a call's source address, so two spellings of one
        # address (127.1, 2130706433, a name resolving to it) would let a second trunk take the first one's calls;
        # a host name checked today may resolve to someone else's carrier tomorrow. It is also written into
        # pjsip.conf: nothing but an address may get there.
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                "not an IP address: write the carrier's signalling address, e.g. 203.0.113.5 "
                "(host names are not accepted)"
            ) from None
        if address.is_unspecified or address.is_multicast or getattr(address, "scope_id", None):
            raise ValueError("not the address of one peer")
        return peer_address(host)


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    TrunkChanges = NewTrunk
else:
    TrunkChanges = changes_of(NewTrunk, "TrunkChanges", "Only the fields sent change.")


class TrunkOut(Schema):
    id: int
    name: str
    host: str
    port: int
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, trunk: Trunk) -> TrunkOut:
        return cls(id=trunk.id, name=trunk.name, host=trunk.host, port=trunk.port, created_at=trunk.created_at)


class TrunkList(RootModel[list[TrunkOut]]):
    pass
