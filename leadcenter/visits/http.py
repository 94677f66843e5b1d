"""Website visits over HTTP: the snippet's collection endpoint (``POST /s/<public key>/collect``, public: the
protocol is in docs/architecture.md, "Visits and attribution"), the company's visit settings and number pools for
admins, and the visits list and attribution summary for supervisors."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, current_app, jsonify, request
from peewee import fn
from pydantic import ValidationError

from leadcenter.audit.services import record
from leadcenter.chats.http import public_widget, site_origin, to_site
from leadcenter.chats.schemas import Contact, Page
from leadcenter.db import database
from leadcenter.errors import ApiError, invalid
from leadcenter.interactions.models import Interaction
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits import forms, notifier
from leadcenter.visits.models import NumberPool, PageView, VisitSession, VisitSettings
from leadcenter.visits.schemas import (
    BODY_LIMIT,
    FORM_BODY_LIMIT,
    AttributionOut,
    AttributionRow,
    CollectIn,
    NewNumberPool,
    NumberPoolChanges,
    NumberPoolList,
    NumberPoolOut,
    Period,
    SiteFormIn,
    VisitSessionList,
    VisitSessionOut,
    VisitSettingsChanges,
    VisitSettingsOut,
)
from leadcenter.visits.services import settings_of
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.limits import Limits, Rates
from leadcenter.web.scoping import scoped

bp = Blueprint("visits", __name__, url_prefix="/api/v1")
public = Blueprint("visits_public", __name__)

VISITS_LIMIT = 500  # sessions one GET /visits answers (the newest of the period)


def _rates(name: str, per_address: int, per_company: int) -> tuple[Rates, Rates]:
    rates = current_app.extensions.get(name)
    if rates is None:
        limits: Limits = current_app.extensions["limits"]
        made = (limits.rates(f"{name}/address", per_address), limits.rates(f"{name}/company", per_company))
        rates = current_app.extensions.setdefault(name, made)
    return rates


def _limit(rates: Rates, key: Any, what: str, too_many: Callable[[str, int], ApiError]) -> None:
    wait = rates.take(key)
    if wait:
        raise too_many(what, max(1, math.ceil(wait)))


def _too_many_visits(what: str, seconds: int) -> ApiError:
    return ApiError(
        "too-many-visits",
        f"too many visits from {what}: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def _too_many_forms(what: str, seconds: int) -> ApiError:
    return ApiError(
        "too-many-forms", f"too many forms from {what}: try again in {seconds} s", headers={"Retry-After": str(seconds)}
    )


def _from_site(
    public_key: str, rates: tuple[Rates, Rates], too_many: Callable[[str, int], ApiError], limit: int, what: str
):
    """The widget of a public request from a page of the company's site and its JSON object: the address's rate
    first (key scans are counted), then the origin (an allowed one of the company's), the company's rate, the size.
    """
    per_address, per_company = rates
    _limit(per_address, request.remote_addr or "", "this address", too_many)
    widget = public_widget(public_key)
    origin = site_origin(widget, f"send {what} here")
    _limit(per_company, widget.company_id, "this company's site", too_many)
    if (request.content_length or 0) > limit:
        raise ApiError("request-entity-too-large", f"{what} is at most {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError("request-entity-too-large", f"{what} is at most {limit} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError("malformed-json", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError("malformed-json", "the body is not a JSON object")
    return widget, origin, data


def _validated(schema, data: dict):
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise invalid({".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}) from None


@public.post("/s/<public_key>/collect")
def collect(public_key: str):
    """A page view or ping from the snippet on a page of the company's site: the visitor's key and the numbers to
    show them. Readable (CORS) only by the company's allowed origins; counted per address and per company apart."""
    http = ports.controller().settings.http
    rates = _rates("visit_rates", http.collect_per_address_per_minute, http.collect_per_company_per_minute)
    widget, origin, data = _from_site(public_key, rates, _too_many_visits, BODY_LIMIT, "a visit")
    body = _validated(CollectIn, data)
    collected = ports.controller().visits.collect(
        widget,
        body.visitor,
        body.kind,
        body.page.url,
        body.page.title,
        body.page.referrer,
        body.privacy,
        request.remote_addr or "",
    )
    return to_site(
        jsonify(visitor=collected.visitor, numbers=collected.numbers, ping_seconds=collected.ping_seconds), origin
    )


@public.post("/s/<public_key>/form")
def site_form(public_key: str):
    """A form of the company's site that opted in (``data-leadcenter-form``), sent by the snippet as it is
    submitted: a form interaction in the Incoming of the widget's agents, with the visitor's attribution. Same rules
    as the collection (allowed origins, size, rates per address and per company apart), its own rates."""
    http = ports.controller().settings.http
    rates = _rates("form_rates", http.forms_per_address_per_minute, http.forms_per_company_per_minute)
    widget, origin, data = _from_site(public_key, rates, _too_many_forms, FORM_BODY_LIMIT, "a form")
    body = _validated(SiteFormIn, data)
    submitted = forms.read(body.fields)
    if not submitted.body:
        raise invalid({"fields": "no field has a value that may be kept"})
    visitor = None if body.privacy and settings_of(widget.company_id).honour_privacy else body.visitor
    # Validated here (the fields' own limits): the form's text is longer than a chat message may be.
    contact = Contact.model_construct(
        name=submitted.name, phone=submitted.phone, email=submitted.email, body=submitted.body, client_id=None
    )
    page = Page.model_construct(url=body.page.url, title=body.page.title[:300], referrer=body.page.referrer)
    ports.controller().chats.site_form(widget, visitor, body.form, contact, page)
    return to_site(jsonify(received=True), origin)


# -- settings ------------------------------------------------------------------------------------------------------
@endpoint(
    bp,
    "GET",
    "/visit-settings",
    role="supervisor",
    response=VisitSettingsOut,
    summary="How the company tracks its site's visits: the number swapped, attribution, sessions, privacy",
)
def get_visit_settings(principal: Principal):
    return VisitSettingsOut.from_row(settings_of(principal.company))


@endpoint(
    bp,
    "PATCH",
    "/visit-settings",
    role="admin",
    body=VisitSettingsChanges,
    response=VisitSettingsOut,
    summary="Change the visit settings (only the fields sent)",
)
def patch_visit_settings(principal: Principal, body: VisitSettingsChanges):
    settings = settings_of(principal.company)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if changes.get("site_number"):
        try:
            changes["site_number"] = to_e164(changes["site_number"], principal.company.default_region)
        except InvalidNumber as exc:
            raise invalid({"site_number": str(exc)}) from None
    if changes:
        with database.atomic():
            before = VisitSettingsOut.from_row(settings).model_dump(mode="json")
            VisitSettings.update(changes).where(VisitSettings.id == settings.id).execute()
            settings = VisitSettings.get_by_id(settings.id)
            record(
                principal,
                "updated",
                "visit_settings",
                settings.id,
                before,
                VisitSettingsOut.from_row(settings).model_dump(mode="json"),
            )
        notifier.settings_changed(ports.controller().bus, settings)
    return VisitSettingsOut.from_row(settings)


# -- number pools --------------------------------------------------------------------------------------------------
def _now() -> dt.datetime:
    return ports.controller().clock()


def _pool_columns(principal: Principal, changes: dict) -> dict:
    if changes.get("fallback_number") is not None:
        scoped(TrackingNumber, changes["fallback_number"], principal, "tracking number")
    return changes


@endpoint(
    bp,
    "GET",
    "/number-pools",
    role="supervisor",
    response=NumberPoolList,
    summary="The company's number pools, each with its numbers and how many are held now",
)
def list_number_pools(principal: Principal):
    pools = NumberPool.select().where(NumberPool.company == principal.company).order_by(NumberPool.id)
    return NumberPoolList([notifier.pool_out(pool, _now()) for pool in pools])


@endpoint(
    bp,
    "POST",
    "/number-pools",
    role="admin",
    body=NewNumberPool,
    response=NumberPoolOut,
    status=201,
    summary="Add a number pool (its numbers join with PATCH /tracking-numbers/<id> {pool})",
)
def create_number_pool(principal: Principal, body: NewNumberPool):
    pool = NumberPool.create(company=principal.company, **_pool_columns(principal, body.model_dump()))
    notifier.pool_changed(ports.controller().bus, pool, "created", _now())
    return notifier.pool_out(pool, _now())


@endpoint(
    bp,
    "PATCH",
    "/number-pools/<int:pool_id>",
    role="admin",
    body=NumberPoolChanges,
    response=NumberPoolOut,
    summary="Change a number pool (only the fields sent)",
)
def update_number_pool(principal: Principal, pool_id: int, body: NumberPoolChanges):
    pool = scoped(NumberPool, pool_id, principal, "number pool")
    changes = _pool_columns(principal, body.model_dump(exclude_unset=True))
    if changes:
        NumberPool.update(changes).where(NumberPool.id == pool.id).execute()
        pool = NumberPool.get_by_id(pool.id)
        notifier.pool_changed(ports.controller().bus, pool, "updated", _now())
    return notifier.pool_out(pool, _now())


@endpoint(
    bp,
    "DELETE",
    "/number-pools/<int:pool_id>",
    role="admin",
    status=204,
    summary="Delete a number pool (its numbers stay, in no pool)",
)
def delete_number_pool(principal: Principal, pool_id: int):
    pool = scoped(NumberPool, pool_id, principal, "number pool")
    with database.atomic():
        TrackingNumber.update(pool_id=None).where(TrackingNumber.pool_id == pool.id).execute()
        pool.delete_instance()
    notifier.pool_changed(ports.controller().bus, pool, "deleted", _now())


# -- visits and attribution ----------------------------------------------------------------------------------------
def _period(query: Period) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    until = query.until or _now().date()
    since = query.since or until - dt.timedelta(days=30)
    if since > until:
        raise invalid({"since": "must be on or before until"})
    return (
        since,
        until,
        dt.datetime.combine(since, dt.time()),
        dt.datetime.combine(until + dt.timedelta(days=1), dt.time()),
    )


@endpoint(
    bp,
    "GET",
    "/visits",
    role="supervisor",
    query=Period,
    response=VisitSessionList,
    summary=f"The site's visitor sessions started in the period, newest first (at most {VISITS_LIMIT}), with pages",
)
def list_visits(principal: Principal, query: Period):
    _, _, start, end = _period(query)
    sessions = list(
        VisitSession.select()
        .where(
            VisitSession.company == principal.company, VisitSession.started_at >= start, VisitSession.started_at < end
        )
        .order_by(VisitSession.started_at.desc(), VisitSession.id.desc())
        .limit(VISITS_LIMIT)
    )
    pages: dict[int, list[PageView]] = defaultdict(list)
    for page in PageView.select().where(PageView.session.in_([s.id for s in sessions] or [0])).order_by(PageView.at):
        pages[page.session_id].append(page)
    from leadcenter.chats.models import Visitor

    leads = {
        v.id: v.lead_id
        for v in Visitor.select(Visitor.id, Visitor.lead).where(Visitor.id.in_({s.visitor_id for s in sessions} or {0}))
    }
    return VisitSessionList([VisitSessionOut.from_row(s, leads.get(s.visitor_id), pages[s.id]) for s in sessions])


@endpoint(
    bp,
    "GET",
    "/attribution",
    role="supervisor",
    query=Period,
    response=AttributionOut,
    summary="Interactions started in the period by source, campaign and keyword, counted per kind",
)
def get_attribution(principal: Principal, query: Period):
    since, until, start, end = _period(query)

    def by(column) -> list[AttributionRow]:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        rows = cast(
            list[tuple[str, str, int]],
            Interaction.select(column, Interaction.kind, fn.COUNT(Interaction.id))
            .where(
                Interaction.company == principal.company,
                Interaction.direction == "inbound",
                Interaction.started_at >= start,
                Interaction.started_at < end,
            )
            .group_by(column, Interaction.kind)
            .tuples(),
        )
        for value, kind, count in rows:
            counts[value][kind] = count
        listed = [AttributionRow(value=v, counts=c, total=sum(c.values())) for v, c in counts.items()]
        return sorted(listed, key=lambda row: (-row.total, row.value))

    return AttributionOut(
        since=since,
        until=until,
        by_source=by(Interaction.source),
        by_campaign=by(Interaction.campaign),
        by_keyword=by(Interaction.keywords),
    )
