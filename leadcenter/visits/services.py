"""Website visits: the snippet's page views and pings (``collect``), each visitor's sessions, the number each one is
shown, the retention sweep, and the attribution of a call, text or chat to the session behind it (``attribute``,
called by those domains inside the transaction that creates the interaction, before it is published).

Numbers: a session whose source matches a source number's rule (``TrackingNumber.swap_source``) is shown that
number; otherwise, when the company has a number pool, a number of the pool held by no other visitor's live
session (a returning visitor gets theirs back while it is held), held until ``last_seen + hold_minutes``; when all
are held, the pool's fallback number (or the site's own). Assignment runs in one IMMEDIATE transaction: two visitors
at once never get the same number.

Privacy: a browser that asks not to be tracked (GPC/DNT), when the company honours it, leaves nothing stored and is
shown only source numbers.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import cast

from peewee import JOIN, fn

from leadcenter import memo
from leadcenter.accounts.models import Company
from leadcenter.chats.models import ChatSession, ChatWidget, Visitor, key_hash
from leadcenter.clock import Clock
from leadcenter.db import Prepared, database
from leadcenter.events import Bus, Event, Publisher
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead
from leadcenter.timers import Sweeper
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits import notifier
from leadcenter.visits.models import NumberPool, PageView, VisitSession, VisitSettings
from leadcenter.visits.sources import LIMIT, Source, classify, rule_matches

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0  # the retention sweep: anonymous sessions past the company's retention_days go
BUSY = 0.8  # a pool held above this share is reported (a warning logged)
PING_SECONDS = 60  # how often an open page pings (told to the snippet)
VISITOR_SEEN_STEP = dt.timedelta(minutes=1)  # a visitor's last_seen_at is written at most this often
FALLBACK_SECONDS = 60  # a session shown the fallback asks its pool again after this long (see _remember_fallback)
MAX_FALLBACKS = 50_000  # sessions remembered on the fallback


@dataclass
class Collected:
    """What the snippet is told: the visitor's key (None: nothing stored) and the numbers to swap."""

    visitor: str | None
    numbers: dict[str, str]
    ping_seconds: int = PING_SECONDS


@dataclass
class Attribution:
    """What ``attribute`` wrote: the session it took the source from, and the visits that joined the lead's
    timeline (``announce`` publishes them once committed)."""

    session: VisitSession | None
    visits: list[Interaction] = field(default_factory=list)


def settings_of(company: Company | int) -> VisitSettings:
    settings = VisitSettings.get_or_none(VisitSettings.company == company)
    if settings is None:
        settings, _ = VisitSettings.get_or_create(company=company)
    return settings


def pool_numbers(pool: NumberPool) -> list[TrackingNumber]:
    return list(TrackingNumber.select().where(TrackingNumber.pool_id == pool.id).order_by(TrackingNumber.id))


def held_numbers(numbers: list[TrackingNumber], now: dt.datetime) -> set[int]:
    """The ids of these numbers some session holds at ``now``."""
    if not numbers:
        return set()
    rows = VisitSession.select(VisitSession.tracking_number).where(
        VisitSession.tracking_number.in_([n.id for n in numbers]), VisitSession.held_until > now
    )
    return {cast(int, row.tracking_number_id) for row in rows}


def utilisation(pool: NumberPool, now: dt.datetime) -> float:
    """The share of the pool's numbers held now (0 for an empty pool)."""
    numbers = pool_numbers(pool)
    return len(held_numbers(numbers, now)) / len(numbers) if numbers else 0.0


def _clip(text: str) -> str:
    return text[:LIMIT]


@dataclass(frozen=True)
class SiteConfig:
    """What the collection reads of a company at each request: its visit settings, its source numbers (in id
    order) and its first pool that has numbers, with the pool's fallback number and its numbers. Remembered for a
    second (``memo.Recent``); forgotten at once when this process changes one of them."""

    settings: VisitSettings
    sources: list[TrackingNumber]
    pool: NumberPool | None
    fallback: TrackingNumber | None
    numbers: list[TrackingNumber]

    @classmethod
    def read(cls, company_id: int) -> SiteConfig:
        sources = list(
            TrackingNumber.select()
            .where(TrackingNumber.company == company_id, TrackingNumber.swap_source != "")
            .order_by(TrackingNumber.id)
        )
        fallback = TrackingNumber.alias()
        pooled = TrackingNumber.select(TrackingNumber.pool_id).where(TrackingNumber.pool_id.is_null(False))
        pool = (
            NumberPool.select(NumberPool, fallback)
            .join(fallback, JOIN.LEFT_OUTER, on=(NumberPool.fallback_number == fallback.id), attr="fallback")
            .where(NumberPool.company == company_id, NumberPool.id.in_(pooled))
            .order_by(NumberPool.id)
            .first()
        )
        numbers = pool_numbers(pool) if pool is not None else []
        return cls(settings_of(company_id), sources, pool, getattr(pool, "fallback", None), numbers)

    def source_number(self, source: Source, landing_page: str) -> TrackingNumber | None:
        """The company's number for this source: a custom rule that matches first, else the source's own."""
        for number in self.sources:
            if number.swap_source == "custom" and rule_matches(number.swap_rule, source, landing_page):
                return number
        return next((n for n in self.sources if source.channel and n.swap_source == source.channel), None)


# What changes a company's SiteConfig (forgotten at once in the process that makes the change).
SITE_CONFIG_EVENTS = ("visit_settings.updated", "number_pool.*", "tracking_number.*")


class Visits:
    def __init__(self, bus: Bus, clock: Clock, remember_seconds: float = memo.SECONDS):
        self.bus = bus
        self.clock = clock
        self.timers = Sweeper("visits-retention", self.sweep, SWEEP_SECONDS)
        self._exhausted: set[int] = set()  # pools whose fallback is shown now (told once per episode)
        self._busy: set[int] = set()  # pools held above BUSY (warned once per episode)
        self._lock = threading.Lock()
        self._fallbacks: dict[int, tuple[dt.datetime, TrackingNumber | None]] = {}  # see _remember_fallback
        self._sites: memo.Recent[int, SiteConfig] = memo.Recent(remember_seconds)  # company id -> its SiteConfig
        for pattern in SITE_CONFIG_EVENTS:
            bus.subscribe(pattern, self.on_site_changed, everywhere=True)  # any node's edit (cluster.py)

    def on_site_changed(self, event: Event) -> None:
        self._sites.forget(event.data["company_id"])

    # -- collection ------------------------------------------------------------------------------------------
    def collect(
        self,
        widget: ChatWidget,
        visitor_key: str | None,
        kind: str,
        url: str,
        title: str,
        referrer: str,
        privacy: bool,
        ip: str = "",
    ) -> Collected:
        """A page view or ping from the snippet: the visitor (a new key for one this company does not know), their
        session continued or a new one, the page stored, and the numbers this visitor sees."""
        site = self._sites.get(widget.company_id, SiteConfig.read)
        settings = site.settings
        now = self.clock()
        if privacy and settings.honour_privacy:
            return Collected(None, self._swap(settings, site.source_number(classify(url, referrer), url)))
        started = False
        with database.atomic():  # IMMEDIATE: the pool's numbers are read and taken in one go
            company_id = widget.company_id
            session = _latest_session(company_id, visitor_key) if visitor_key else None
            visitor = session.visitor if session is not None else None
            if visitor is None and visitor_key:  # a visitor of the chat who has no session yet
                visitor = Visitor.get_or_none(Visitor.company == company_id, Visitor.key_hash == key_hash(visitor_key))
            if visitor is None:
                visitor_key = secrets.token_urlsafe(16)
                visitor = Visitor.create(company=company_id, key_hash=key_hash(visitor_key), last_seen_at=now)
            elif visitor.last_seen_at + VISITOR_SEEN_STEP < now:
                Visitor.update(last_seen_at=now).where(Visitor.id == visitor.id).execute()
            if session is None or session.last_seen_at + dt.timedelta(minutes=settings.session_minutes) < now:
                session = self._new_session(visitor, url, referrer, now, ip if settings.store_ip else "")
                started = True
            session.last_seen_at = now
            if kind == "view":
                PageView.create(session=session, url=_clip(url), title=_clip(title), referrer=_clip(referrer), at=now)
            number, ran_out = self._held(session, now) if not started else (None, None)
            fallback = self._fallbacks.get(session.id) if number is None and not started else None
            if fallback is not None and fallback[0] > now:
                number = fallback[1]
            elif number is None:
                source = classify(session.landing_page, session.referrer)
                number = site.source_number(source, session.landing_page)
                if number is None:
                    number, ran_out = self._pool_number(site, visitor, session, now)
            session.save(only=[VisitSession.last_seen_at, VisitSession.tracking_number, VisitSession.held_until])
            lead_id = _surviving_lead(visitor.lead_id) if started and visitor.lead_id else None
            visit = _visit_of(session, lead_id) if lead_id else None
            went_on = _visit_went_on(session, now) if kind == "view" and not started else None
        if visit is not None:
            notifier.visit_joined(self.bus, visit)
        if went_on is not None:
            notifier.visit_updated(self.bus, went_on)
        if ran_out is not None:
            notifier.pool_exhausted(self.bus, ran_out, now)
        return Collected(visitor_key, self._swap(settings, number))

    def _remember_fallback(self, session_id: int, fallback: TrackingNumber | None, now: dt.datetime) -> None:
        """A session shown the fallback, when every number was held, keeps it for FALLBACK_SECONDS: while a pool is
        full most of its visitors are on the fallback, and asking the pool at each of their pages would make a full
        pool the costliest time to collect. Remembered in this process only (a restart asks again)."""
        if len(self._fallbacks) >= MAX_FALLBACKS:  # forget the expired; all of them if none has
            expired = [key for key, (until, _) in list(self._fallbacks.items()) if until <= now]
            for key in expired or list(self._fallbacks):
                self._fallbacks.pop(key, None)
        self._fallbacks[session_id] = (now + dt.timedelta(seconds=FALLBACK_SECONDS), fallback)

    @staticmethod
    def _held(session: VisitSession, now: dt.datetime) -> tuple[TrackingNumber | None, None]:
        """The pool number a live session holds, held again for its pool's hold time: a session keeps the number it
        was shown for as long as it lasts (most requests are this: a further page or a ping), without asking the
        pools again. None when it holds none."""
        number = session.tracking_number if session.tracking_number_id is not None else None
        pool = getattr(number, "pool", None)
        if number is None or pool is None or pool.id is None or not session.held_until or session.held_until <= now:
            return None, None
        session.held_until = now + dt.timedelta(minutes=pool.hold_minutes)
        return number, None

    @staticmethod
    def _new_session(visitor: Visitor, url: str, referrer: str, now: dt.datetime, ip: str) -> VisitSession:
        source = classify(url, referrer)
        return VisitSession.create(
            company=visitor.company_id,
            visitor=visitor,
            started_at=now,
            last_seen_at=now,
            landing_page=_clip(url),
            referrer=_clip(referrer),
            source=source.source,
            medium=source.medium,
            campaign=source.campaign,
            keyword=source.keyword,
            content=source.content,
            click_id=source.click_id,
            click_id_kind=source.click_id_kind,
            ip=ip,
        )

    @staticmethod
    def _swap(settings: VisitSettings, number: TrackingNumber | None) -> dict[str, str]:
        if not settings.site_number or number is None or number.number == settings.site_number:
            return {}
        return {settings.site_number: number.number}

    def _pool_number(
        self, site: SiteConfig, visitor: Visitor, session: VisitSession, now: dt.datetime
    ) -> tuple[TrackingNumber | None, NumberPool | None]:
        """The session's pool number, held (again) until ``now + hold_minutes``; the fallback when all are held
        (and the pool, when it has just run out: to tell once committed). Runs inside the IMMEDIATE transaction of
        ``collect``."""
        pool, fallback, numbers = site.pool, site.fallback, site.numbers
        if pool is None:
            return None, None
        by_id = {n.id: n for n in numbers}
        hold = now + dt.timedelta(minutes=pool.hold_minutes)
        if session.tracking_number_id in by_id and session.held_until and session.held_until > now:
            session.held_until = hold  # a ping or a page of the session: kept
            return by_id[session.tracking_number_id], None
        # Held by other visitors' live sessions (the visitor's own earlier session does not keep it from them).
        others = VisitSession.select(VisitSession.tracking_number).where(
            VisitSession.tracking_number.in_(list(by_id)),
            VisitSession.held_until > now,
            VisitSession.visitor != visitor,
        )
        held = {row.tracking_number_id for row in others}
        free = [n for n in numbers if n.id not in held]
        ran_out = self._report(pool, len(held) + (1 if free else 0), len(numbers), exhausted=not free)
        if not free:
            session.tracking_number, session.held_until = None, None
            self._remember_fallback(session.id, fallback, now)
            return fallback, pool if ran_out else None
        theirs = (
            VisitSession.select(VisitSession.tracking_number)
            .where(
                VisitSession.visitor == visitor,
                VisitSession.tracking_number.in_([n.id for n in free]),
            )
            .order_by(VisitSession.last_seen_at.desc())
            .first()
        )
        if theirs is not None:
            chosen = by_id[theirs.tracking_number_id]
        else:
            # The free number released longest ago (never held first): a number is not shown to a new visitor
            # right after the last one left, while a late call from them may still come.
            rows = cast(
                list[tuple[int, dt.datetime | None]],
                list(
                    VisitSession.select(VisitSession.tracking_number, fn.MAX(VisitSession.held_until))
                    .where(VisitSession.tracking_number.in_([n.id for n in free]))
                    .group_by(VisitSession.tracking_number)
                    .tuples()
                ),
            )
            last_held = dict(rows)
            chosen = min(free, key=lambda n: (last_held.get(n.id) is not None, last_held.get(n.id) or now, n.id))
        session.tracking_number, session.held_until = chosen, hold
        return chosen, None

    def _report(self, pool: NumberPool, held: int, size: int, exhausted: bool) -> bool:
        """Pool utilisation: a warning logged once the pool runs above BUSY; True when every number is held now and
        was not before (number_pool.exhausted is told once an episode)."""
        with self._lock:
            busy = held / size > BUSY
            warn = busy and pool.id not in self._busy
            (self._busy.add if busy else self._busy.discard)(pool.id)
            tell = exhausted and pool.id not in self._exhausted
            (self._exhausted.add if exhausted else self._exhausted.discard)(pool.id)
        if warn:
            log.warning("number pool %s (%s) is %d%% held: add numbers", pool.id, pool.name, 100 * held // size)
        return tell

    # -- retention -------------------------------------------------------------------------------------------
    def sweep(self) -> int:
        """Delete each company's anonymous sessions (their visitor is no lead) last seen more than its
        retention_days ago, with their pages, and the anonymous visitors left without a session or a chat; returns
        how many sessions went."""
        now = self.clock()
        deleted = 0
        for settings in VisitSettings.select():
            cutoff = now - dt.timedelta(days=settings.retention_days)
            anonymous = Visitor.select(Visitor.id).where(Visitor.company == settings.company_id, Visitor.lead.is_null())
            old = VisitSession.select(VisitSession.id).where(
                VisitSession.company == settings.company_id,
                VisitSession.last_seen_at < cutoff,
                VisitSession.visitor.in_(anonymous),
            )
            with database.atomic():
                PageView.delete().where(PageView.session.in_(old)).execute()
                deleted += VisitSession.delete().where(VisitSession.id.in_(old)).execute()
                # The visitors left with nothing: their key in the site's storage is an identifier too.
                Visitor.delete().where(
                    Visitor.company == settings.company_id,
                    Visitor.lead.is_null(),
                    Visitor.last_seen_at < cutoff,
                    Visitor.id.not_in(VisitSession.select(VisitSession.visitor)),
                    Visitor.id.not_in(ChatSession.select(ChatSession.visitor)),
                ).execute()
        return deleted


def _latest_session(company_id: int, visitor_key: str) -> VisitSession | None:
    """The latest session of the company's visitor with this key, with its visitor, the pool number it holds and
    that number's pool, in one query, of the columns a further page of the session needs; None without a session.
    Its SQL is built once (``db.Prepared``): building it was most of a further page's cost."""
    return _LATEST_SESSION.first(company_id, key_hash(visitor_key))


def _latest_session_query(company_id: int, hashed_key: str):
    return (
        VisitSession.select(
            VisitSession.id,
            VisitSession.last_seen_at,
            VisitSession.landing_page,
            VisitSession.referrer,
            VisitSession.tracking_number,
            VisitSession.held_until,
            VisitSession.interaction,
            Visitor.id,
            Visitor.company,
            Visitor.lead,
            Visitor.last_seen_at,
            TrackingNumber.id,
            TrackingNumber.number,
            NumberPool.id,
            NumberPool.hold_minutes,
        )
        .join(Visitor)
        .switch(VisitSession)
        .join(TrackingNumber, JOIN.LEFT_OUTER)
        .join(NumberPool, JOIN.LEFT_OUTER, on=(TrackingNumber.pool_id == NumberPool.id), attr="pool")
        .where(Visitor.company == company_id, Visitor.key_hash == hashed_key)
        .order_by(VisitSession.last_seen_at.desc(), VisitSession.id.desc())
        .limit(1)
    )


_LATEST_SESSION = Prepared(_latest_session_query, -1_000_001, "stand-in key hash")


def _surviving_lead(lead_id: int) -> int | None:
    """The lead a visitor's lead was merged into (itself when not merged)."""
    lead = Lead.get_or_none(Lead.id == lead_id)
    while lead is not None and lead.merged_into_id is not None:
        lead = Lead.get_or_none(Lead.id == lead.merged_into_id)
    return lead.id if lead else None


def _visit_of(session: VisitSession, lead_id: int) -> Interaction:
    """The session as a visit interaction on the lead's timeline."""
    visit = Interaction.create(
        company=session.company_id,
        lead=lead_id,
        kind="visit",
        direction="inbound",
        status="recent",
        started_at=session.started_at,
        status_changed_at=session.last_seen_at,
        ended_at=session.last_seen_at,
        tracking_number=session.tracking_number_id,
        source=session.source,
        medium=session.medium,
        campaign=session.campaign,
        keywords=session.keyword,
        landing_page=session.landing_page,
        referrer=session.referrer,
        click_id=session.click_id,
    )
    VisitSession.update(interaction=visit).where(VisitSession.id == session.id).execute()
    session.interaction = visit
    return visit


def _visit_went_on(session: VisitSession, now: dt.datetime) -> Interaction | None:
    """The visit interaction of a session on a lead's timeline, ended at this later page (None: it is on none)."""
    if session.interaction_id is None:
        return None
    Interaction.update(ended_at=now, status_changed_at=now).where(Interaction.id == session.interaction_id).execute()
    return Interaction.get_or_none(Interaction.id == session.interaction_id)


# -- attribution (the calls', texts' and chats' hook) ------------------------------------------------------------


def attribute(
    interaction: Interaction,
    at: dt.datetime,
    number: TrackingNumber | None = None,
    visitor: Visitor | None = None,
) -> Attribution | None:
    """Write onto a new interaction where its lead came from, inside the transaction that creates it (before it is
    published): for a pool number, the session that held it at ``at``; for a chat, its visitor's latest session;
    for a source number, its source. The session's visitor becomes the lead's and its sessions join the lead's
    timeline as visit interactions (``announce`` them once committed). None when no session is known."""
    session = None
    if number is not None and number.pool_id is not None:
        session = (
            VisitSession.select()
            .where(
                VisitSession.tracking_number == number,
                VisitSession.held_until >= at,
                VisitSession.started_at <= at,
            )
            .order_by(VisitSession.last_seen_at.desc(), VisitSession.id.desc())
            .first()
        )
    elif visitor is not None:
        session = (
            VisitSession.select()
            .where(VisitSession.visitor == visitor)
            .order_by(VisitSession.last_seen_at.desc(), VisitSession.id.desc())
            .first()
        )
    if session is None:
        if number is not None and number.swap_source in SOURCE_NUMBERS:
            # A source's number: its visitors are not told apart, but where they came from is known.
            label, medium = SOURCE_NUMBERS[number.swap_source]
            interaction.source = interaction.source or label
            interaction.medium = medium
            interaction.save(only=[Interaction.source, Interaction.medium])
        return None
    touch = session
    if settings_of(interaction.company_id).attribution == "first_touch":
        touch = (
            VisitSession.select()
            .where(VisitSession.visitor == session.visitor_id)
            .order_by(VisitSession.started_at, VisitSession.id)
            .first()
        ) or session
    interaction.source = touch.source
    interaction.medium = touch.medium
    interaction.campaign = touch.campaign
    interaction.keywords = touch.keyword
    interaction.landing_page = touch.landing_page
    interaction.referrer = touch.referrer
    interaction.click_id = touch.click_id
    interaction.save()
    Visitor.update(lead=interaction.lead_id).where(Visitor.id == session.visitor_id).execute()
    earlier = (
        VisitSession.select()
        .where(
            VisitSession.visitor == session.visitor_id,
            VisitSession.interaction.is_null(),
            VisitSession.started_at <= at,
        )
        .order_by(VisitSession.started_at)
    )
    return Attribution(session, [_visit_of(s, interaction.lead_id) for s in earlier])


# The source (when the number names none of its own) and medium of a call or text to a source's number.
SOURCE_NUMBERS = {
    "google_ads": ("Google Ads", "cpc"),
    "bing_ads": ("Bing Ads", "cpc"),
    "google_organic": ("Google organic", "organic"),
    "bing_organic": ("Bing organic", "organic"),
    "facebook": ("Facebook", "social"),
    "yelp": ("Yelp", "referral"),
    "direct": ("Direct", "none"),
}


def announce(bus: Publisher, attribution: Attribution | None) -> None:
    """The visits that joined a lead's timeline, once the transaction that made them is committed."""
    for visit in attribution.visits if attribution else []:
        notifier.visit_joined(bus, visit)
