from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from leadcenter.accounts.models import Company
from leadcenter.chats.models import Visitor
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.interactions.models import Interaction
from leadcenter.tracking_numbers.models import TrackingNumber

ATTRIBUTIONS = ("first_touch", "last_touch")
CLICK_ID_KINDS = ("", "gclid", "msclkid", "fbclid")


class VisitSettings(TimestampedModel):
    """How a company tracks its site's visitors (one per company, made with the defaults when first asked for)."""

    company = ForeignKeyField(Company, unique=True, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    site_number = CharField(default="")  # E.164: the business's own number printed on its pages, the one swapped
    # Which of a lead's sessions an interaction takes its attribution from: their first, or the one behind it.
    attribution = CharField(default="last_touch", choices=[(a, a) for a in ATTRIBUTIONS])
    session_minutes = IntegerField(default=30)  # a page view this long after the previous one starts a new session
    honour_privacy = BooleanField(default=True)  # Global Privacy Control / Do Not Track: store nothing
    retention_days = IntegerField(default=180)  # anonymous sessions (their visitor no lead) older are deleted
    store_ip = BooleanField(default=False)


class NumberPool(TimestampedModel):
    """Tracking numbers shown one per visitor session (its numbers: ``TrackingNumber.pool_id``), each held for the
    session and ``hold_minutes`` after its last page view or ping."""

    company = ForeignKeyField(Company, backref="number_pools", on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    name = CharField()
    hold_minutes = IntegerField(default=30)
    # Shown when every number is held (none: the site's own number stays).
    fallback_number = ForeignKeyField(TrackingNumber, null=True, on_delete="SET NULL")
    fallback_number_id: IntegerField[int | None]  # the related row's id


class VisitSession(BaseModel):
    """A visitor's pages with no more than the company's ``session_minutes`` between two of them; its attribution
    is its landing view's."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    visitor = ForeignKeyField(Visitor, backref="sessions", on_delete="CASCADE")
    visitor_id: IntegerField[int]  # the related row's id
    started_at = DateTimeField()
    last_seen_at = DateTimeField()
    landing_page = TextField(default="")
    referrer = TextField(default="")
    source = CharField(default="")
    medium = CharField(default="")
    campaign = CharField(default="")
    keyword = CharField(default="")
    content = CharField(default="")
    click_id = CharField(default="")
    click_id_kind = CharField(default="", choices=[(k, k) for k in CLICK_ID_KINDS])
    # The pool number this session holds until held_until (null: none; a source's number is not held).
    tracking_number = ForeignKeyField(TrackingNumber, null=True, on_delete="SET NULL")
    tracking_number_id: IntegerField[int | None]  # the related row's id
    held_until = DateTimeField(null=True)
    ip = CharField(default="")  # only when the company asks (VisitSettings.store_ip)
    # The "visit" interaction it became on its visitor's lead's timeline (null: not a lead's yet).
    interaction = ForeignKeyField(Interaction, null=True, on_delete="SET NULL")
    interaction_id: IntegerField[int | None]  # the related row's id

    class Meta:
        indexes = (
            (("visitor", "last_seen_at"), False),
            (("tracking_number", "held_until"), False),
            (("company", "started_at"), False),
            (("company", "last_seen_at"), False),
        )


class PageView(BaseModel):
    session = ForeignKeyField(VisitSession, backref="pages", on_delete="CASCADE")
    session_id: IntegerField[int]  # the related row's id
    url = TextField()
    title = TextField(default="")
    referrer = TextField(default="")
    at = DateTimeField()

    class Meta:
        indexes = ((("session", "at"), False),)
