"""What the trunks and tracking numbers endpoints accept and answer."""
from __future__ import annotations

import re

from pydantic import Field, RootModel, field_validator

from leadcenter.companies.schemas import Name, changes_of
from leadcenter.numbers.models import TrackingNumber, Trunk
from leadcenter.web.api import Schema, UtcDateTime

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class NewTrunk(Schema):
    name: Name
    host: str = Field(max_length=253, description="the carrier's host name or IPv4 address: calls from it are "
                                                  "recognised by address and port")
    port: int = Field(5060, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def host_name_or_address(cls, host: str) -> str:
        # It is written into pjsip.conf: nothing but a host may get there.
        if not _HOST.fullmatch(host):
            raise ValueError("not a host name or IPv4 address")
        return host.lower()


TrunkChanges = changes_of(NewTrunk, "TrunkChanges", "Only the fields sent change.")


class TrunkOut(Schema):
    id: int
    name: str
    host: str
    port: int
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, trunk: Trunk) -> "TrunkOut":
        return cls(id=trunk.id, name=trunk.name, host=trunk.host, port=trunk.port, created_at=trunk.created_at)


class TrunkList(RootModel[list[TrunkOut]]):
    pass


class NewTrackingNumber(Schema):
    number: str = Field(min_length=1, max_length=40, description="read in the company's region; stored as E.164")
    name: Name
    source: str = Field("", max_length=100, description="the marketing source, e.g. Google Ads")
    trunk: int = Field(description="the trunk the number's calls arrive on")
    flow: int | None = Field(None, description="the flow its calls enter; none: callers hear 'no service'")


TrackingNumberChanges = changes_of(NewTrackingNumber, "TrackingNumberChanges",
                                   "Only the fields sent change; flow null detaches the number from its flow.")


class TrackingNumberOut(Schema):
    id: int
    number: str  # E.164
    name: str
    source: str
    trunk: int
    flow: int | None
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, number: TrackingNumber) -> "TrackingNumberOut":
        return cls(id=number.id, number=number.number, name=number.name, source=number.source,
                   trunk=number.trunk_id, flow=number.flow_id, created_at=number.created_at)


class TrackingNumberList(RootModel[list[TrackingNumberOut]]):
    pass
