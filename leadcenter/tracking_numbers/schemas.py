"""What the tracking numbers endpoints accept and answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, RootModel

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.wire import Schema, UtcDateTime


class NewTrackingNumber(Schema):
    number: str = Field(min_length=1, max_length=40, description="read in the company's region; stored as E.164")
    name: Name
    source: str = Field("", max_length=100, description="the marketing source, e.g. Google Ads")
    trunk: int = Field(description="the trunk the number's calls arrive on")
    flow: int | None = Field(None, description="the flow its calls enter; none: callers hear 'no service'")


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    TrackingNumberChanges = NewTrackingNumber
else:
    TrackingNumberChanges = changes_of(
        NewTrackingNumber,
        "TrackingNumberChanges",
        "Only the fields sent change; flow null detaches the number from its flow.",
    )


class TrackingNumberOut(Schema):
    id: int
    number: str  # E.164
    name: str
    source: str
    trunk: int
    flow: int | None
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, number: TrackingNumber) -> TrackingNumberOut:
        return cls(
            id=number.id,
            number=number.number,
            name=number.name,
            source=number.source,
            trunk=number.trunk_id,
            flow=number.flow_id,
            created_at=number.created_at,
        )


class TrackingNumberList(RootModel[list[TrackingNumberOut]]):
    pass
