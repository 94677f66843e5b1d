"""What the visits endpoints accept and answer: the snippet's collection body, the company's visit settings, number
pools, the visits list and the attribution summary."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field, RootModel, field_validator

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.visits.models import NumberPool, PageView, VisitSession, VisitSettings
from leadcenter.wire import Schema, Text, UtcDateTime

BODY_LIMIT = 8 * 1024  # bytes of a collection request's body
URL_LIMIT = 2048


# -- the snippet's collection (public) ----------------------------------------------------------------------------
class CollectedPage(Schema):
    url: str = Field(min_length=1, max_length=URL_LIMIT)
    title: str = Field("", max_length=500)
    referrer: str = Field("", max_length=URL_LIMIT)

    @field_validator("url")
    @classmethod
    def _web_page(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("not the URL of a web page")
        return url

    @field_validator("referrer")
    @classmethod
    def _web_or_none(cls, referrer: str) -> str:
        if referrer and not referrer.lower().startswith(("http://", "https://", "android-app://")):
            raise ValueError("not the URL of a web page")
        return referrer


class CollectIn(Schema):
    visitor: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    kind: Literal["view", "ping"]
    page: CollectedPage
    privacy: bool = False


# -- the site's forms (public) -------------------------------------------------------------------------------------
FORM_BODY_LIMIT = 32 * 1024  # bytes of a form's request (a keepalive fetch carries at most 64 KB in all)
FORM_FIELDS = 50
FORM_VALUE_LIMIT = 4000  # characters of one field's value


class FormField(Schema):
    """One field of the form as the browser has it: what names it (name, label, type, autocomplete) and the value
    the visitor gave (the text of a select's chosen option)."""

    name: str = Field("", max_length=200)
    label: str = Field("", max_length=200)
    type: str = Field("", max_length=40)
    autocomplete: str = Field("", max_length=200)
    value: Text = Field(max_length=FORM_VALUE_LIMIT)


class SiteFormIn(Schema):
    visitor: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    form: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")  # its data-leadcenter-form
    page: CollectedPage
    privacy: bool = False
    fields: list[FormField] = Field(min_length=1, max_length=FORM_FIELDS)


# -- settings ------------------------------------------------------------------------------------------------------
class VisitSettingsOut(Schema):
    site_number: str  # E.164, "" until set
    attribution: Literal["first_touch", "last_touch"]
    session_minutes: int
    honour_privacy: bool
    retention_days: int
    store_ip: bool

    @classmethod
    def from_row(cls, row: VisitSettings) -> VisitSettingsOut:
        return cls(
            site_number=row.site_number,
            attribution=row.attribution,
            session_minutes=row.session_minutes,
            honour_privacy=row.honour_privacy,
            retention_days=row.retention_days,
            store_ip=row.store_ip,
        )


class VisitSettingsChanges(Schema):
    """Only the fields sent change."""

    site_number: str | None = Field(
        None,
        max_length=40,
        description="the number printed on the site; read in the "
        "company's region, stored as E.164; empty: swap nothing",
    )
    attribution: Literal["first_touch", "last_touch"] | None = None
    session_minutes: int | None = Field(None, ge=1, le=24 * 60)
    honour_privacy: bool | None = None
    retention_days: int | None = Field(None, ge=1, le=3650)
    store_ip: bool | None = None


# -- pools ---------------------------------------------------------------------------------------------------------
class NewNumberPool(Schema):
    name: Name
    hold_minutes: int = Field(
        30, ge=1, le=24 * 60, description="how long a number stays a visitor's after their last page view or ping"
    )
    fallback_number: int | None = Field(None, description="the tracking number shown when every number is held")


if TYPE_CHECKING:
    NumberPoolChanges = NewNumberPool
else:
    NumberPoolChanges = changes_of(NewNumberPool, "NumberPoolChanges", "Only the fields sent change.")


class NumberPoolOut(Schema):
    id: int
    name: str
    hold_minutes: int
    fallback_number: int | None
    numbers: list[int]  # its tracking numbers' ids (a tracking number joins with PATCH {"pool": id})
    held: int  # numbers a visitor session holds now
    utilisation: float  # held / numbers (0 for an empty pool); above 0.8 a warning is logged
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, pool: NumberPool, numbers: list[int], held: int) -> NumberPoolOut:
        return cls(
            id=pool.id,
            name=pool.name,
            hold_minutes=pool.hold_minutes,
            fallback_number=pool.fallback_number_id,
            numbers=numbers,
            held=held,
            utilisation=round(held / len(numbers), 3) if numbers else 0.0,
            created_at=pool.created_at,
        )


class NumberPoolList(RootModel[list[NumberPoolOut]]):
    pass


# -- visits and attribution ----------------------------------------------------------------------------------------
class Period(Schema):
    since: dt.date | None = Field(None, description="first day (UTC); default: 30 days before until")
    until: dt.date | None = Field(None, description="last day (UTC), included; default: today")


class PageOut(Schema):
    url: str
    title: str
    referrer: str
    at: UtcDateTime

    @classmethod
    def from_row(cls, page: PageView) -> PageOut:
        return cls(url=page.url, title=page.title, referrer=page.referrer, at=page.at)


class VisitSessionOut(Schema):
    id: int
    visitor_id: int
    lead_id: int | None
    started_at: UtcDateTime
    last_seen_at: UtcDateTime
    landing_page: str
    referrer: str
    source: str
    medium: str
    campaign: str
    keyword: str
    content: str
    click_id: str
    click_id_kind: str
    tracking_number: int | None  # the pool number it holds (or held)
    held_until: UtcDateTime | None
    ip: str
    pages: list[PageOut]

    @classmethod
    def from_row(cls, session: VisitSession, lead_id: int | None, pages: list[PageView]) -> VisitSessionOut:
        return cls(
            id=session.id,
            visitor_id=session.visitor_id,
            lead_id=lead_id,
            started_at=session.started_at,
            last_seen_at=session.last_seen_at,
            landing_page=session.landing_page,
            referrer=session.referrer,
            source=session.source,
            medium=session.medium,
            campaign=session.campaign,
            keyword=session.keyword,
            content=session.content,
            click_id=session.click_id,
            click_id_kind=session.click_id_kind,
            tracking_number=session.tracking_number_id,
            held_until=session.held_until,
            ip=session.ip,
            pages=[PageOut.from_row(p) for p in pages],
        )


class VisitSessionList(RootModel[list[VisitSessionOut]]):
    pass


class AttributionRow(Schema):
    """How many interactions of each kind came from one source / campaign / keyword in the period."""

    value: str  # the source, campaign or keyword ("" = none recorded)
    counts: dict[str, int]  # kind (call, text, chat, form, visit) -> interactions
    total: int


class AttributionOut(Schema):
    since: dt.date
    until: dt.date
    by_source: list[AttributionRow]
    by_campaign: list[AttributionRow]
    by_keyword: list[AttributionRow]
