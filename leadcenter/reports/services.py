"""The KPIs and the report series: aggregates of the interactions, their transitions, their messages and the
agents' status changes. docs/kpis.md defines each figure in words; the schemas repeat the definitions.

Every figure is of the interactions *started* in the period, [since, until), as report.csv selects them (a
conversation's episodes: those that began in it), and every duration is whole seconds between the timestamps as
report.csv writes them (fractions dropped: db.epoch_seconds), so that a figure recomputed from the CSV is the same
number. Periods are UTC days.

The sums come from the daily rollup (models.py: KpiDay), built here from the raw rows (``_raw_sums``) for each day
a read needs whose rollup is missing or was forgotten because something in it changed; today's is rebuilt on each
read after any change. Series by hour and by attribution read the interactions directly.

Scope: a company, optionally one team or one agent. A team's *queue* figures (service level, speed of answer,
abandonment, missed) are of the calls that entered its queue (Interaction.queue_team); its *agent* figures
(handle time, outbound, conversations, the channel and agent series) are of what its current members handled. An
agent's are of what they handled, and their missed calls are the offers they let ring out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peewee import JOIN, SQL, Case, fn

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.db import database, epoch_seconds, iso_weekday, local_day, local_hour, week_start
from leadcenter.interactions.models import CallLeg, Interaction, InteractionTransition, Message
from leadcenter.reports.models import (
    DIMENSIONS,
    MEASURES,
    SLICE_MEASURES,
    KpiDay,
    KpiDayBuilt,
    KpiSlice,
    KpiZone,
)
from leadcenter.teams.models import Team, TeamMember

# An abandon before this many seconds is a caller who changed their mind or misdialled, not one the team failed:
# counted apart (short_abandons) and left out of the service level and the abandonment rate.
SHORT_ABANDON_SECONDS = 5
CONVERSATION_KINDS = ("text", "chat")
# Built in one go: the first read of a year builds it a quarter at a time.
BUILD_DAYS = 92
ATTRIBUTIONS = {
    "source": Interaction.source,
    "medium": Interaction.medium,
    "campaign": Interaction.campaign,
    "keywords": Interaction.keywords,
    "landing_page": Interaction.landing_page,
}


@dataclass(frozen=True)
class Scope:
    company: Company
    since: dt.datetime  # inclusive: the first day's midnight in ``zone``, as UTC
    until: dt.datetime  # exclusive: the midnight after the last day in ``zone``, as UTC
    team_id: int | None = None
    agent_id: int | None = None
    zone: str = "UTC"  # the days' and hours' time zone (the company's)


def scope_of_days(company: Company, first: dt.date, last: dt.date, zone: str, **filters: Any) -> Scope:
    """The scope of the days ``first`` to ``last`` (included) in ``zone``."""
    return Scope(
        company, _utc_midnight(first, zone), _utc_midnight(last + dt.timedelta(days=1), zone), zone=zone, **filters
    )


def _utc_midnight(day: dt.date, zone: str) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def _offset(moment: dt.datetime, zone: ZoneInfo) -> int:
    """The zone's offset from UTC at a UTC moment, in minutes."""
    offset = moment.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def segments(zone: str, begin: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """[begin, end) (UTC) cut where ``zone``'s offset changes: (from, to, offset in minutes) each, so that a query
    of one segment gives each row its local day and hour with one date modifier."""
    tz = ZoneInfo(zone)
    out: list[tuple[dt.datetime, dt.datetime, int]] = []
    start, offset, moment = begin, _offset(begin, tz), begin
    while moment < end:
        step = min(moment + dt.timedelta(days=1), end)
        if _offset(step, tz) != offset:  # it changed within the day: find the minute (zones change on one)
            low, high = 0, (step - moment) // dt.timedelta(minutes=1)
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(moment + dt.timedelta(minutes=middle), tz) == offset:
                    low = middle
                else:
                    high = middle
            changed = moment + dt.timedelta(minutes=high)
            out.append((start, changed, offset))
            start, offset = changed, _offset(changed, tz)
        moment = step
    out.append((start, end, offset))
    return [segment for segment in out if segment[0] < segment[1]]


def seconds(begin, end):
    """Whole seconds from ``begin`` to ``end`` as report.csv writes them (each truncated to the second)."""
    return epoch_seconds(end) - epoch_seconds(begin)


def _count(condition):
    return fn.SUM(Case(None, ((condition, 1),), 0))


def _sum(condition, value):
    return fn.SUM(Case(None, ((condition, value),), 0))


def _tuples(query: Any) -> list[tuple[Any, ...]]:
    """The rows as tuples (peewee's stubs call them models)."""
    return cast(list[tuple[Any, ...]], list(query.tuples()))


def _ratio(part: int | float, whole: int | float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def local_date(moment: dt.datetime, zone: str) -> dt.date:
    """The day a UTC moment is in, in ``zone``."""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(zone)).date()


def time_zone(company: Company) -> str:
    """The company's time zone if this Python knows it, else UTC."""
    try:
        ZoneInfo(company.time_zone)
    except (ValueError, ZoneInfoNotFoundError):
        return "UTC"
    return company.time_zone


def _days(scope: Scope) -> list[str]:
    """The local days of the scope."""
    first, after = local_date(scope.since, scope.zone), local_date(scope.until, scope.zone)
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((after - first).days)]


# -- the raw sums: one company, a range of days, per rollup key ------------------------------------------------------

Key = tuple[str, str, str, int, int]  # day, kind, direction, queue team (0: none), agent (0: none)


def _key_columns(day, agent=Interaction.agent):
    return (
        day.alias("day"),
        Interaction.kind,
        Interaction.direction,
        fn.COALESCE(Interaction.queue_team, 0).alias("queue_team_id"),
        fn.COALESCE(agent, 0).alias("agent_id"),
    )


# Whose an interaction is, counted: its agent's; an outbound call is the attempt of the agent who placed it (its
# first agent's leg), also when it was transferred to a colleague, whose agent it is at its end.
PLACED_BY = (
    CallLeg.select(CallLeg.agent)
    .where(CallLeg.interaction == Interaction.id, CallLeg.agent.is_null(False))
    .order_by(CallLeg.joined_at, CallLeg.id)
    .limit(1)
)
COUNTED_FOR = Case(
    None, ((Interaction.direction == "outbound", fn.COALESCE(PLACED_BY, Interaction.agent)),), Interaction.agent
)


def _began(company_id: int, since: dt.datetime, until: dt.datetime):
    return (Interaction.company == company_id) & (Interaction.started_at >= since) & (Interaction.started_at < until)


HANDLED = Interaction.answered_at.is_null(False) & (Interaction.status == "recent") & Interaction.agent.is_null(False)
# A call with agents' legs (recorded since schema 19; several agents when it was transferred or conferenced): each
# agent's handled call, talk and hold are their leg's (_leg_sums), not the whole call's.
HAS_LEGS = fn.EXISTS(
    CallLeg.select(CallLeg.id).where(CallLeg.interaction == Interaction.id, CallLeg.agent.is_null(False))
)


def _queued() -> Any:
    """A concluded call that a queue served or lost."""
    # A caller who pressed 1 for a callback was neither served nor lost by the queue: the callback's own call,
    # which waits in the queue in their place, is the one counted (answered when the lead picks up).
    asked_callback = Interaction.outcome.is_null(False) & (Interaction.outcome == "callback")
    return (
        (Interaction.kind == "call")
        & Interaction.queue_team.is_null(False)
        & (Interaction.status == "recent")
        & (((Interaction.direction == "inbound") & ~asked_callback) | Interaction.callback_of.is_null(False))
    )


def _queue_measures() -> dict[str, Any]:
    """The sums of the queue KPIs (QUEUE, in its order) over interactions joined to their queue's team."""
    wait = seconds(Interaction.started_at, Interaction.answered_at)
    waited = seconds(Interaction.started_at, Interaction.ended_at)
    queued = _queued()
    answered = Interaction.answered_at.is_null(False)
    abandoned = Interaction.outcome == "abandoned"
    return {
        "queue_offered": _count(queued),
        "queue_short": _count(queued & abandoned & (waited < SHORT_ABANDON_SECONDS)),
        "queue_abandoned": _count(queued & abandoned & (waited >= SHORT_ABANDON_SECONDS)),
        "queue_answered": _count(queued & answered),
        "queue_within": _count(queued & answered & (wait <= Team.service_level_seconds)),
        "queue_wait": _sum(queued & answered, wait),
    }


def _interaction_sums(company_id: int, since: dt.datetime, until: dt.datetime, offset: int):
    inbound_call = (Interaction.kind == "call") & (Interaction.direction == "inbound")
    answered = Interaction.answered_at.is_null(False)
    measures = {
        "interactions": fn.COUNT(Interaction.id),
        "answered": _count(answered),
        "handled": _count(HANDLED & ~HAS_LEGS),
        "talk": _sum(HANDLED & ~HAS_LEGS, fn.COALESCE(Interaction.talk_seconds, 0)),
        "hold": _sum(HANDLED & ~HAS_LEGS, fn.COALESCE(Interaction.hold_seconds, 0)),
        "qualified": _count(Interaction.qualified == True),  # noqa: E712 (SQL)
        **_queue_measures(),
        "missed": _count(inbound_call & (Interaction.outcome == "missed")),
        "voicemail": _count(inbound_call & (Interaction.outcome == "voicemail")),
    }
    day = local_day(Interaction.started_at, offset)  # the local day, as text
    query = (
        Interaction.select(*_key_columns(day, COUNTED_FOR), *[m.alias(name) for name, m in measures.items()])
        .join(Team, JOIN.LEFT_OUTER, on=Team.id == Interaction.queue_team)
        .where(_began(company_id, since, until))
        .group_by(SQL("1, 2, 3, 4, 5"))
    )
    return list(measures), query


def _leg_sums(company_id: int, since: dt.datetime, until: dt.datetime, offset: int):
    """Per key of the call, with each agent who had a leg on it as the agent: the concluded answered calls they were
    on, and their legs' talk and hold seconds."""
    handled = Interaction.answered_at.is_null(False) & (Interaction.status == "recent") & CallLeg.left_at.is_null(False)
    day = local_day(Interaction.started_at, offset)
    query = (
        CallLeg.select(
            day.alias("day"),
            Interaction.kind,
            Interaction.direction,
            fn.COALESCE(Interaction.queue_team, 0).alias("queue_team_id"),
            CallLeg.agent.alias("agent_id"),
            fn.COUNT(fn.DISTINCT(Case(None, ((handled, Interaction.id),), None))),
            _sum(handled, seconds(CallLeg.joined_at, CallLeg.left_at)),
            _sum(handled, CallLeg.hold_seconds),
        )
        .join(Interaction)
        .where(_began(company_id, since, until), CallLeg.agent.is_null(False))
        .group_by(SQL("1, 2, 3, 4, 5"))
    )
    return ["handled", "talk", "hold"], query


def _wrap_up_sums(company_id: int, since: dt.datetime, until: dt.datetime, offset: int):
    """Per key of the call: the handled calls followed by a wrap-up that has ended, and its seconds: the agent's
    status change into wrap-up at the call's end, until their next status change. Two seeks of the (agent, at)
    index per call."""
    wrap = AgentStatusChange.alias("wrap")
    calls = (
        Interaction.select(
            *_key_columns(local_day(Interaction.started_at, offset)),
            Interaction.ended_at.alias("began"),
            wrap.select(wrap.id)
            .where(wrap.agent == Interaction.agent, wrap.at == Interaction.ended_at, wrap.to_reason == "wrap_up")
            .limit(1)
            .alias("wrap_id"),
        )
        .where(_began(company_id, since, until), Interaction.kind == "call", HANDLED)
        .alias("calls")
    )
    following = AgentStatusChange.alias("following")
    ended = following.select(fn.MIN(following.at)).where(
        following.agent == SQL("calls.agent_id"),
        following.at >= SQL("calls.began"),
        following.id > SQL("calls.wrap_id"),
    )
    timed = (
        Interaction.select(
            *[SQL(f"calls.{column}") for column in ("day", "kind", "direction", "queue_team_id", "agent_id")],
            seconds(SQL("calls.began"), ended).alias("wrap"),
        )
        .from_(calls)
        .where(SQL("calls.wrap_id IS NOT NULL"))
        .alias("timed")
    )
    query = (
        Interaction.select(
            *[SQL(f"timed.{column}") for column in ("day", "kind", "direction", "queue_team_id", "agent_id")],
            fn.COUNT(SQL("timed.wrap")),
            fn.SUM(SQL("timed.wrap")),
        )
        .from_(timed)
        .group_by(SQL("1, 2, 3, 4, 5"))
    )
    return ["wrapped", "wrap"], query


def _episode_sums(company_id: int, since: dt.datetime, until: dt.datetime, offset: int):
    """Per key of the day each episode of an inbound text or chat began: how many, how many an agent replied in,
    the seconds to that reply, how many were resolved, the seconds to that."""
    keys = (
        Interaction.kind,
        Interaction.direction,
        fn.COALESCE(Interaction.queue_team, 0).alias("queue_team_id"),
        fn.COALESCE(Interaction.agent, 0).alias("agent_id"),
    )
    conversations = Interaction.kind.in_(CONVERSATION_KINDS) & (Interaction.direction == "inbound")
    starts = Interaction.select(
        Interaction.id.alias("interaction_id"), Interaction.started_at.alias("began"), *keys
    ).where(_began(company_id, since, until), conversations)
    reopens = (
        InteractionTransition.select(
            InteractionTransition.interaction.alias("interaction_id"), InteractionTransition.at.alias("began"), *keys
        )
        .join(Interaction)
        .where(
            InteractionTransition.event == "reopen",
            InteractionTransition.at >= since,
            InteractionTransition.at < until,
            Interaction.company == company_id,
            conversations,
        )
    )
    episodes = (starts | reopens).alias("episodes")  # UNION: one row per (interaction, moment)
    episode_id, began = SQL("episodes.interaction_id"), SQL("episodes.began")
    reply = Message.select(fn.MIN(Message.created_at)).where(
        Message.interaction == episode_id,
        Message.direction == "outbound",
        Message.agent.is_null(False),
        Message.created_at >= began,
    )
    concluded = InteractionTransition.alias("concluded")
    settled = concluded.select(fn.MIN(concluded.at)).where(
        concluded.interaction == episode_id, concluded.to_status == "recent", concluded.at >= began
    )
    resolved = InteractionTransition.alias("resolved")
    resolved_at = (
        resolved.select(resolved.at)
        .where(
            resolved.interaction == episode_id,
            resolved.to_status == "recent",
            resolved.outcome == "answered",
            resolved.at == settled,
        )
        .limit(1)
    )
    key_names = ("kind", "direction", "queue_team_id", "agent_id")
    timed = (
        Interaction.select(
            local_day(began, offset).alias("day"),
            *[SQL(f"episodes.{column}") for column in key_names],
            began.alias("began"),
            reply.alias("replied"),
            resolved_at.alias("resolved"),
        )
        .from_(episodes)
        .alias("timed")
    )
    query = (
        Interaction.select(
            SQL("timed.day"),
            *[SQL(f"timed.{column}") for column in key_names],
            fn.COUNT(SQL("1")),
            fn.COUNT(SQL("timed.replied")),
            fn.SUM(seconds(SQL("timed.began"), SQL("timed.replied"))),
            fn.COUNT(SQL("timed.resolved")),
            fn.SUM(seconds(SQL("timed.began"), SQL("timed.resolved"))),
        )
        .from_(timed)
        .group_by(SQL("1, 2, 3, 4, 5"))
    )
    return ["episodes", "responded", "response", "resolved", "resolution"], query


def _raw_sums(company_id: int, zone: str, since: dt.datetime, until: dt.datetime) -> dict[Key, dict[str, int]]:
    """Every measure of the rollup (models.MEASURES) per key (its day: local), from the raw rows."""
    sums: dict[Key, dict[str, int]] = {}
    for names, query in (
        query_of(company_id, begin, end, offset)
        for begin, end, offset in segments(zone, since, until)
        for query_of in (_interaction_sums, _leg_sums, _wrap_up_sums, _episode_sums)
    ):
        for row in _tuples(query):
            measures = sums.setdefault(cast(Key, tuple(row[:5])), dict.fromkeys(MEASURES, 0))
            for name, value in zip(names, row[5:], strict=True):
                measures[name] += value or 0
    return sums


def _slice_sums(company_id: int, zone: str, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """The KpiSlice rows of [since, until) (local days and hours) from the raw rows: one grouped pass per dimension
    and segment of one offset."""
    sums: dict[tuple, dict[str, Any]] = {}
    for begin, end, offset in segments(zone, since, until):
        for row in _slice_rows(company_id, begin, end, offset):
            key = tuple(row[k] for k in ("day", "dimension", "value", "kind", "direction", "queue_team_id"))
            if key in sums:
                for name in SLICE_MEASURES:
                    sums[key][name] += row[name]
            else:
                sums[key] = row
    return list(sums.values())


def _slice_rows(company_id: int, since: dt.datetime, until: dt.datetime, offset: int) -> list[dict[str, Any]]:
    waited = seconds(Interaction.started_at, Interaction.ended_at)
    inbound_call = (Interaction.kind == "call") & (Interaction.direction == "inbound")
    abandoned = inbound_call & (Interaction.outcome == "abandoned")
    measures = (
        fn.COUNT(Interaction.id),
        _count(Interaction.qualified == True),  # noqa: E712 (SQL)
        _count(Interaction.qualified.is_null(False)),
        fn.SUM(fn.COALESCE(Interaction.value_cents, 0)),
        _count(inbound_call & (Interaction.outcome == "missed")),
        _count(inbound_call & (Interaction.outcome == "voicemail")),
        _count(abandoned & (waited >= SHORT_ABANDON_SECONDS)),
        _count(abandoned & (waited < SHORT_ABANDON_SECONDS)),
    )
    columns = {"hour": local_hour(Interaction.started_at, offset), **ATTRIBUTIONS}
    rows = []
    for dimension in DIMENSIONS:
        query = (
            Interaction.select(
                local_day(Interaction.started_at, offset),
                columns[dimension],
                Interaction.kind,
                Interaction.direction,
                fn.COALESCE(Interaction.queue_team, 0),
                *measures,
            )
            .where(_began(company_id, since, until))
            .group_by(SQL("1, 2, 3, 4, 5"))
        )
        for day, value, kind, direction, queue_team, *sums in _tuples(query):
            rows.append(
                {
                    "company": company_id,
                    "day": day,
                    "dimension": dimension,
                    "value": value,
                    "kind": kind,
                    "direction": direction,
                    "queue_team_id": queue_team,
                    **dict(zip(SLICE_MEASURES, sums, strict=True)),
                }
            )
    return rows


def _day_rows(company_id: int, zone: str, begin: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"company": company_id, "day": d, "kind": k, "direction": di, "queue_team_id": q, "agent_id": a, **m}
        for (d, k, di, q, a), m in _raw_sums(company_id, zone, begin, end).items()
    ]


# The two parts of the rollup, built apart (the KPIs need no slices): table, its rows of a range, the rows of a
# company's days (for the slices, each dimension: the index's order).
PARTS: dict[str, tuple[Any, Any, Any]] = {
    "day": (
        KpiDay,
        _day_rows,
        lambda company_id, first, last: (KpiDay.company == company_id) & KpiDay.day.between(first, last),
    ),
    "slice": (
        KpiSlice,
        _slice_sums,
        lambda company_id, first, last: (
            (KpiSlice.company == company_id) & KpiSlice.dimension.in_(DIMENSIONS) & KpiSlice.day.between(first, last)
        ),
    ),
}


def ensure_rollup(scope: Scope, part: str = "day") -> None:
    """Build the company's rows of the rollup's ``part`` (day: KpiDay, slice: KpiSlice) of each day of the scope
    (local days) whose rows are not current."""
    wanted, company_id, zone = _days(scope), scope.company.id, scope.zone
    if not wanted:
        return
    model, rows_of, days_of = PARTS[part]
    marks = KpiDayBuilt.select(KpiDayBuilt.day).where(
        KpiDayBuilt.company == company_id, KpiDayBuilt.part == part, KpiDayBuilt.day.between(wanted[0], wanted[-1])
    )
    built = {day for (day,) in _tuples(marks)}
    missing = [day for day in wanted if day not in built]
    for run in _runs(missing):
        with database.atomic():  # IMMEDIATE: no change can slip in between reading the rows and the marks
            first, last = run[0], run[-1]
            if len(_tuples(marks.where(KpiDayBuilt.day.between(first, last)))) == len(run):
                continue  # another request built them while this one waited for the lock
            begin = _utc_midnight(dt.date.fromisoformat(first), zone)
            end = _utc_midnight(dt.date.fromisoformat(last) + dt.timedelta(days=1), zone)
            _widen_zone(company_id, zone, segments(zone, begin, end))
            model.delete().where(days_of(company_id, first, last)).execute()
            KpiDayBuilt.delete().where(
                KpiDayBuilt.company == company_id, KpiDayBuilt.part == part, KpiDayBuilt.day.between(first, last)
            ).execute()
            made = rows_of(company_id, zone, begin, end)
            for chunk in range(0, len(made), 500):
                model.insert_many(made[chunk : chunk + 500]).execute()
            KpiDayBuilt.insert_many([{"company": company_id, "day": day, "part": part} for day in run]).execute()


def _widen_zone(company_id: int, zone: str, built: list[tuple[dt.datetime, dt.datetime, int]]) -> None:
    """Tell the triggers the offsets of the days built (KpiZone): a change at a moment forgets each local day it
    can be in. Another zone than the one recorded: every day of the company is built again."""
    offsets = [offset for _, _, offset in built]
    known = KpiZone.get_or_none(KpiZone.company == company_id)
    if known is not None and known.zone != zone:
        KpiDayBuilt.delete().where(KpiDayBuilt.company == company_id).execute()
        known.delete_instance()
        known = None
    if known is None:
        KpiZone.create(company=company_id, zone=zone, low=min(offsets), high=max(offsets))
    elif min(offsets) < known.low or max(offsets) > known.high:
        KpiZone.update(low=min(known.low, *offsets), high=max(known.high, *offsets)).where(
            KpiZone.company == company_id
        ).execute()


def _runs(days: list[str]) -> Iterable[list[str]]:
    """Consecutive days in runs of at most BUILD_DAYS."""
    run: list[str] = []
    for day in days:
        if run and (
            len(run) >= BUILD_DAYS or dt.date.fromisoformat(day) - dt.date.fromisoformat(run[-1]) != dt.timedelta(1)
        ):
            yield run
            run = []
        run.append(day)
    if run:
        yield run


# -- the KPIs ----------------------------------------------------------------------------------------------------


def _members(team_id: int):
    return TeamMember.select(TeamMember.agent).where(TeamMember.team == team_id)


def _rolled(scope: Scope):
    ensure_rollup(scope)
    days = _days(scope)
    return (KpiDay.company == scope.company) & KpiDay.day.between(days[0], days[-1])


def _handled_by(scope: Scope):
    """The agent side of the scope: what the agent, or the team's members, handled."""
    if scope.agent_id is not None:
        return KpiDay.agent_id == scope.agent_id
    if scope.team_id is not None:
        return KpiDay.agent_id.in_(_members(scope.team_id))
    return SQL("1 = 1")


def _queued_in(scope: Scope):
    """The queue side of the scope: the team's queue calls; an agent's: the queue calls they answered."""
    if scope.agent_id is not None:
        return KpiDay.agent_id == scope.agent_id
    if scope.team_id is not None:
        return KpiDay.queue_team_id == scope.team_id
    return SQL("1 = 1")


def _sums(where, names: tuple[str, ...], *group) -> list[tuple[Any, ...]]:
    return _tuples(
        KpiDay.select(*group, *[fn.COALESCE(fn.SUM(getattr(KpiDay, name)), 0) for name in names])
        .where(where)
        .group_by(*group)
    )


QUEUE = ("queue_offered", "queue_short", "queue_abandoned", "queue_answered", "queue_within", "queue_wait")
HANDLING = ("handled", "talk", "hold", "wrapped", "wrap")
EPISODES = ("episodes", "responded", "response", "resolved", "resolution")


def _parts(scope: Scope) -> dict[str, tuple[int, ...]]:
    """Every KPI's sums in one pass over the period's rollup rows, each part with its own side of the scope."""
    handled = _handled_by(scope)
    call = KpiDay.kind == "call"
    parts = {
        "queue": (QUEUE, _queued_in(scope)),
        "missed": (
            ("missed", "voicemail"),
            KpiDay.queue_team_id == scope.team_id if scope.team_id is not None else SQL("1 = 1"),
        ),
        "handling": (HANDLING, handled & call),
        "outbound": (("interactions", "answered"), handled & call & (KpiDay.direction == "outbound")),
        "text": (EPISODES, handled & (KpiDay.kind == "text")),
        "chat": (EPISODES, handled & (KpiDay.kind == "chat")),
    }
    sums = [
        fn.COALESCE(fn.SUM(Case(None, ((condition, getattr(KpiDay, name)),), 0)), 0)
        for names, condition in parts.values()
        for name in names
    ]
    row = iter(_tuples(KpiDay.select(*sums).where(_rolled(scope)))[0])
    return {part: tuple(next(row) for _ in names) for part, (names, _) in parts.items()}


def queue_calls(scope: Scope, sums: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Service level, average speed of answer and abandonment of the concluded inbound calls that entered a queue."""
    teams = KpiDay.select(KpiDay.queue_team_id).where(_rolled(scope), _queued_in(scope), KpiDay.queue_offered > 0)
    thresholds = Team.select(Team.service_level_seconds).where(Team.id.in_(teams)).distinct()
    return _queue_figures(sums or _parts(scope)["queue"], sorted(t for (t,) in _tuples(thresholds)))


def team_queue_sums_by_call(
    company: Company, team: Team, since: dt.datetime, until: dt.datetime, call_id: int | None = None
) -> dict[int, tuple[int, ...]]:
    """Each concluded call of one team's queue begun in [since, until) (or only the call ``call_id``, if it is one):
    its part of the queue sums (QUEUE's order), read from the interactions themselves: nothing is written (the rollup
    is not rebuilt), for live figures on the dispatcher thread (the Team View's of today, kept call by call)."""
    query = (
        Interaction.select(Interaction.id, *[fn.COALESCE(m, 0) for m in _queue_measures().values()])
        .join(Team, on=Team.id == Interaction.queue_team)
        .where(_began(company.id, since, until), Interaction.queue_team == team.id, _queued())
        .group_by(Interaction.id)
    )
    if call_id is not None:
        query = query.where(Interaction.id == call_id)
    return {row[0]: tuple(row[1:]) for row in _tuples(query)}


def team_queue_figures(sums: tuple[int, ...], service_level_seconds: int) -> dict[str, Any]:
    """queue_calls of one team's queue from its sums (team_queue_sums_by_call's, added up)."""
    return _queue_figures(sums, [service_level_seconds] if sums[0] else [])


def _queue_figures(sums: tuple[int, ...], thresholds: list[int]) -> dict[str, Any]:
    offered, short, abandoned, answered, within, wait = sums
    counted = offered - short
    return {
        "offered": offered,
        "short_abandons": short,
        "answered": answered,
        "answered_within_threshold": within,
        "service_level_seconds": thresholds,
        "service_level": _ratio(within, counted),
        "average_speed_of_answer_seconds": _ratio(wait, answered, 1),
        "abandoned": abandoned,
        "abandonment_rate": _ratio(abandoned, counted),
    }


def missed_calls(scope: Scope, sums: tuple[int, ...] | None = None) -> dict[str, int]:
    """Inbound calls nobody answered that the caller did not abandon: missed (the flow ran out, or the call ended
    unanswered) and voicemail; an agent's: the calls offered to them that they let ring out."""
    if scope.agent_id is not None:
        rang_out = (
            AgentStatusChange.select(fn.COUNT(AgentStatusChange.id))
            .where(
                AgentStatusChange.agent == scope.agent_id,
                AgentStatusChange.event == "miss_call",
                AgentStatusChange.at >= scope.since,
                AgentStatusChange.at < scope.until,
            )
            .scalar()
        )
        return {"missed": rang_out or 0, "voicemail": 0}
    missed, voicemail = sums or _parts(scope)["missed"]
    return {"missed": missed, "voicemail": voicemail}


def _handling(handled: int, talk: int, hold: int, wrapped: int, wrap: int) -> dict[str, Any]:
    return {
        "handled": handled,
        "average_talk_seconds": _ratio(talk - hold, handled, 1),
        "average_hold_seconds": _ratio(hold, handled, 1),
        "wrapped_up": wrapped,
        "average_wrap_up_seconds": _ratio(wrap, handled, 1),
        "average_handle_time_seconds": _ratio(talk + wrap, handled, 1),
    }


def handled_calls(scope: Scope, sums: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Average handle time of the concluded calls an agent talked on (either direction): talk (answer to end, less
    hold) + hold + the wrap-up that followed."""
    return _handling(*(sums or _parts(scope)["handling"]))


def outbound_calls(scope: Scope, sums: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Calls agents placed (attempts) and those the lead picked up (connects)."""
    attempts, connects = sums or _parts(scope)["outbound"]
    return {"attempts": attempts, "connects": connects, "connect_rate": _ratio(connects, attempts)}


def conversations(scope: Scope, kind: str, sums: tuple[int, ...] | None = None) -> dict[str, Any]:
    """First response and resolution of inbound texts or chats. Each time one comes into Incoming is an episode:
    its start (the first message) and each reopening (the lead wrote again after it concluded); the first response
    is the first message an agent sent after the episode began; it is resolved at its next move to Recent if an
    agent had it (outcome answered: Close, End Chat, or idle after the agent's reply). A team's or an agent's: the
    conversations they have now."""
    count, responded, response, resolved, resolution = sums or _parts(scope)[kind]
    return {
        "episodes": count,
        "responded": responded,
        "average_first_response_seconds": _ratio(response, responded, 1),
        "resolved": resolved,
        "average_resolution_seconds": _ratio(resolution, resolved, 1),
    }


def kpis(scope: Scope) -> dict[str, Any]:
    parts = _parts(scope)
    return {
        "queue": queue_calls(scope, parts["queue"]),
        "missed": missed_calls(scope, parts["missed"]),
        "handling": handled_calls(scope, parts["handling"]),
        "outbound": outbound_calls(scope, parts["outbound"]),
        "texts": conversations(scope, "text", parts["text"]),
        "chats": conversations(scope, "chat", parts["chat"]),
    }


# -- the report series ---------------------------------------------------------------------------------------------

INTERVALS = {
    "day": lambda: KpiDay.day,
    "week": lambda: week_start(KpiDay.day),
    "month": lambda: fn.SUBSTR(KpiDay.day, 1, 7).concat("-01"),
}


def _started(scope: Scope, *kinds: str):
    """The company's interactions (of these kinds) started in the period, handled by the agent or the team's
    members if asked: for the series read from the interactions themselves."""
    where = _began(scope.company.id, scope.since, scope.until)
    if kinds:
        where &= Interaction.kind.in_(kinds)
    if scope.agent_id is not None:
        where &= Interaction.agent == scope.agent_id
    elif scope.team_id is not None:
        where &= Interaction.agent.in_(_members(scope.team_id))
    return where


def by_channel(scope: Scope, interval: str) -> list[dict[str, Any]]:
    """Interactions over time by channel (kind): per interval and kind, how many began and how many an agent
    answered or took."""
    period = INTERVALS[interval]().alias("period")
    rows = _sums(_rolled(scope) & _handled_by(scope), ("interactions", "answered"), period, KpiDay.kind)
    return [
        {"period": dt.date.fromisoformat(p), "channel": kind, "interactions": n, "answered": answered}
        for p, kind, n, answered in sorted(rows)
    ]


def _slices(scope: Scope, dimension: str):
    ensure_rollup(scope, "slice")
    days = _days(scope)
    return (
        (KpiSlice.company == scope.company)
        & (KpiSlice.dimension == dimension)
        & KpiSlice.day.between(days[0], days[-1])
    )


def by_attribution(scope: Scope, group: str) -> list[dict[str, Any]]:
    """Interactions by where the lead came from (source, medium, campaign, keywords or landing page): how many,
    how many agents marked qualified, the qualified rate (of those classified either way) and their value. The
    company's from the rollup; a team's or an agent's (what they handled) from the interactions."""
    query: Any
    if scope.agent_id is None and scope.team_id is None:
        value = KpiSlice.value
        total = fn.SUM(KpiSlice.interactions)
        query = KpiSlice.select(
            value, total, fn.SUM(KpiSlice.qualified), fn.SUM(KpiSlice.classified), fn.SUM(KpiSlice.value_cents)
        ).where(_slices(scope, group))
    else:
        value = ATTRIBUTIONS[group]
        total = fn.COUNT(Interaction.id)
        query = Interaction.select(
            value,
            total,
            _count(Interaction.qualified == True),  # noqa: E712 (SQL)
            _count(Interaction.qualified.is_null(False)),
            fn.SUM(fn.COALESCE(Interaction.value_cents, 0)),
        ).where(_started(scope))
    return [
        {
            "value": value,
            "interactions": n,
            "qualified": qualified,
            "classified": classified,
            "qualified_rate": _ratio(qualified, classified),
            "value_cents": cents or 0,
        }
        for value, n, qualified, classified, cents in _tuples(
            # No value (null) first among equals, as SQLite sorts it and PostgreSQL does only when told
            query.group_by(value).order_by(total.desc(), value.asc(nulls="FIRST"))
        )
    ]


def by_agent(scope: Scope) -> list[dict[str, Any]]:
    """Per agent: interactions they handled (answered or took, concluded), the calls among them with their average
    handle time (as handled_calls), and how many of their interactions they marked qualified."""
    where = _rolled(scope) & _handled_by(scope) & (KpiDay.agent_id != 0)
    handled = {agent: (n, qualified) for agent, n, qualified in _sums(where, ("handled", "qualified"), KpiDay.agent_id)}
    calls = {row[0]: row[1:] for row in _sums(where & (KpiDay.kind == "call"), HANDLING, KpiDay.agent_id)}
    names = dict(_tuples(Agent.select(Agent.id, Agent.display_name).where(Agent.company == scope.company)))
    out = [
        {
            "agent_id": agent,
            "agent_name": names.get(agent, ""),
            "handled": n,
            "calls_handled": calls.get(agent, (0,))[0],
            "average_handle_time_seconds": _handling(*calls[agent])["average_handle_time_seconds"]
            if agent in calls
            else None,
            "qualified": qualified,
        }
        for agent, (n, qualified) in handled.items()
        if n or qualified
    ]
    return sorted(out, key=lambda row: (-row["handled"], row["agent_name"], row["agent_id"]))


def by_hour(scope: Scope) -> list[dict[str, Any]]:
    """Inbound interactions (calls, texts, chats, forms...) by day of the week and hour of the day they began
    (local): when to staff. A team's: the calls of its queue (from the rollup); an agent's: what they handled."""
    counts: dict[tuple[int, int], list[int]] = {}
    if scope.agent_id is None:
        weekday, hour = iso_weekday(KpiSlice.day).alias("weekday"), KpiSlice.value.cast("INTEGER").alias("hour")
        team = KpiSlice.queue_team_id == scope.team_id if scope.team_id is not None else SQL("1 = 1")
        queries: list[Any] = [
            KpiSlice.select(
                weekday, hour, fn.SUM(KpiSlice.interactions), _sum(KpiSlice.kind == "call", KpiSlice.interactions)
            ).where(_slices(scope, "hour"), KpiSlice.direction == "inbound", team)
        ]
    else:
        queries = []
        for begin, end, offset in segments(scope.zone, scope.since, scope.until):
            queries.append(
                Interaction.select(
                    iso_weekday(Interaction.started_at, offset).alias("weekday"),
                    local_hour(Interaction.started_at, offset).cast("INTEGER").alias("hour"),
                    fn.COUNT(Interaction.id),
                    _count(Interaction.kind == "call"),
                ).where(
                    _started(Scope(scope.company, begin, end, agent_id=scope.agent_id)),
                    Interaction.direction == "inbound",
                )
            )
    for query in queries:
        for d, h, n, calls in _tuples(query.group_by(SQL("weekday"), SQL("hour"))):
            total = counts.setdefault((d, h), [0, 0])
            total[0] += n
            total[1] += calls
    return [
        {"weekday": d, "hour": h, "interactions": n, "calls": calls} for (d, h), (n, calls) in sorted(counts.items())
    ]


def missed_by_hour(scope: Scope) -> list[dict[str, Any]]:
    """Inbound calls (of the company, or of a team's queue) by the hour of the day they began: how many, missed,
    voicemail, and abandoned (those under the short-abandon threshold apart)."""
    team = KpiSlice.queue_team_id == scope.team_id if scope.team_id is not None else SQL("1 = 1")
    hour = KpiSlice.value.cast("INTEGER").alias("hour")
    rows = (
        KpiSlice.select(
            hour,
            *[
                fn.SUM(getattr(KpiSlice, name))
                for name in ("interactions", "missed", "voicemail", "abandoned", "short_abandons")
            ],
        )
        .where(_slices(scope, "hour"), KpiSlice.kind == "call", KpiSlice.direction == "inbound", team)
        .group_by(SQL("hour"))
        .order_by(SQL("hour"))
    )
    return [
        {"hour": h, "calls": n, "missed": missed, "voicemail": vm, "abandoned": ab, "short_abandons": short}
        for h, n, missed, vm, ab, short in _tuples(rows)
    ]


def handled_and_missed_by_agent(scope: Scope) -> dict[int, tuple[int, int]]:
    """Per agent of the company: what they handled (handled_calls' and by_agent's handled: answered or taken,
    concluded, of any channel) and the calls offered to them they let ring out (missed_calls of an agent), over the
    period, read from the rows themselves (nothing written: the rollup is not rebuilt). Agents with neither are left
    out. (The Team View's counts of today.)"""
    handled = dict(
        _tuples(
            Interaction.select(Interaction.agent, fn.COUNT(Interaction.id))
            .where(_began(scope.company.id, scope.since, scope.until), HANDLED)
            .group_by(Interaction.agent)
        )
    )
    rang_out = dict(
        _tuples(
            AgentStatusChange.select(AgentStatusChange.agent, fn.COUNT(AgentStatusChange.id))
            .join(Agent)
            .where(
                Agent.company == scope.company,
                AgentStatusChange.event == "miss_call",
                AgentStatusChange.at >= scope.since,
                AgentStatusChange.at < scope.until,
            )
            .group_by(AgentStatusChange.agent)
        )
    )
    return {
        agent: (handled.get(agent, 0), rang_out.get(agent, 0))
        for agent in sorted(set(handled) | set(rang_out))
        if handled.get(agent) or rang_out.get(agent)
    }
