"""What the tracking numbers endpoints accept and answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from pydantic import Field, RootModel

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.wire import Schema, UtcDateTime

SwapSource = Literal[
    "", "google_ads", "google_organic", "bing_ads", "bing_organic", "facebook", "yelp", "direct", "custom"
]


class SwapRule(Schema):
    """A custom source number's rule: the visit's UTM source, medium or campaign, the referring host, or a parameter
    of its landing page (``name``) equals or contains a text (case-insensitive)."""

    param: Literal["utm_source", "utm_medium", "utm_campaign", "referrer_host", "landing_param"]
    name: str = Field("", max_length=100, description="the landing page's parameter, for landing_param")
    equals: str | None = Field(None, max_length=200)
    contains: str | None = Field(None, min_length=1, max_length=200)


class NewTrackingNumber(Schema):
    number: str = Field(min_length=1, max_length=40, description="read in the company's region; stored as E.164")
    name: Name
    source: str = Field("", max_length=100, description="the marketing source, e.g. Google Ads")
    trunk: int = Field(description="the trunk the number's calls arrive on")
    flow: int | None = Field(None, description="the flow its calls enter; none: callers hear 'no service'")
    pool: int | None = Field(None, description="the number pool it is shown from, one website visitor at a time")
    swap_source: SwapSource = Field("", description="the website source whose visitors are shown it ('' : none)")
    swap_rule: SwapRule | None = Field(None, description="for swap_source custom: what the visit must have")
    texting: bool = Field(True, description="whether it sends and takes texts (off: sends refused, texts to it too)")


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
    pool: int | None
    swap_source: str
    swap_rule: SwapRule | None
    texting: bool
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
            pool=number.pool_id,
            swap_source=number.swap_source,
            swap_rule=SwapRule.model_validate(json.loads(number.swap_rule)) if number.swap_rule else None,
            texting=number.texting,
            created_at=number.created_at,
        )


class TrackingNumberList(RootModel[list[TrackingNumberOut]]):
    pass
