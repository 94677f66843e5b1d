"""The KPIs and the report series: aggregate queries over the interactions, their transitions, their messages and
the agents' status changes. docs/kpis.md defines each figure in words; the schemas repeat the definitions.

Every figure is of the interactions *started* in the period, [since, until), as report.csv selects them, and every
duration is whole seconds between the timestamps as report.csv writes them (strftime('%s'): to the second,
fractions dropped), so that a figure recomputed from the CSV is the same number. Periods are UTC days.

Scope: a company, optionally one team or one agent. A team's *queue* figures (service level, speed of answer,
abandonment, missed) are of the calls that entered its queue (Interaction.queue_team); its *agent* figures
(handle time, outbound, conversations) are of the calls and conversations its members handled. An agent's are of
what they handled, and their missed calls are the offers they let ring out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Case, Expression, fn

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.teams.models import Team, TeamMember

# An abandon before this many seconds is a caller who changed their mind or misdialled, not one the team failed:
# counted apart (short_abandons) and left out of the service level and the abandonment rate.
SHORT_ABANDON_SECONDS = 5
CONVERSATION_KINDS = ("text", "chat")
# A wrap-up is found up to this long after the end of its call's period (a call started on the last day may end
# and be wrapped up the day after).
WRAP_UP_MARGIN = dt.timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    company: Company
    since: dt.datetime  # inclusive, UTC
    until: dt.datetime  # exclusive, UTC
    team_id: int | None = None
    agent_id: int | None = None


def seconds(begin, end):
    """Whole seconds from ``begin`` to ``end`` as report.csv writes them (each truncated to the second)."""
    return fn.strftime("%s", end).cast("INTEGER") - fn.strftime("%s", begin).cast("INTEGER")


def _count(condition):
    return fn.SUM(Case(None, ((condition, 1),), 0))


def _sum(condition, value):
    return fn.SUM(Case(None, ((condition, value),), None))


def _started(scope: Scope, *kinds: str):
    """The company's interactions of these kinds started in the period (the (company, kind, started_at) index)."""
    return (
        (Interaction.company == scope.company)
        & Interaction.kind.in_(kinds)
        & (Interaction.started_at >= scope.since)
        & (Interaction.started_at < scope.until)
    )


def _members(team_id: int):
    return TeamMember.select(TeamMember.agent).where(TeamMember.team == team_id)


def _handled_by(scope: Scope):
    """The agent side of the scope: interactions handled by the agent, or by the team's members."""
    if scope.agent_id is not None:
        return Interaction.agent == scope.agent_id
    if scope.team_id is not None:
        return Interaction.agent.in_(_members(scope.team_id))
    return SQL("1 = 1")


def _queued_in(scope: Scope):
    """The queue side of the scope: calls of the team's queue; an agent's: the queue calls they answered."""
    if scope.agent_id is not None:
        return Interaction.agent == scope.agent_id
    if scope.team_id is not None:
        return Interaction.queue_team == scope.team_id
    return SQL("1 = 1")


def _ratio(part: int | float, whole: int | float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _row(query) -> tuple[Any, ...]:
    return query.tuples().get()


# -- the KPIs ------------------------------------------------------------------------------------------------------


def queue_calls(scope: Scope) -> dict[str, Any]:
    """Service level, average speed of answer and abandonment of the concluded inbound calls that entered a queue."""
    wait = seconds(Interaction.started_at, Interaction.answered_at)
    waited = seconds(Interaction.started_at, Interaction.ended_at)
    abandoned = Interaction.outcome == "abandoned"
    answered = Interaction.answered_at.is_null(False)
    offered, short, long_abandons, answered_n, within, wait_total, thresholds = _row(
        Interaction.select(
            fn.COUNT(Interaction.id),
            _count(abandoned & (waited < SHORT_ABANDON_SECONDS)),
            _count(abandoned & (waited >= SHORT_ABANDON_SECONDS)),
            _count(answered),
            _count(answered & (wait <= Team.service_level_seconds)),
            _sum(answered, wait),
            fn.GROUP_CONCAT(Team.service_level_seconds.distinct()),
        )
        .join(Team, on=Team.id == Interaction.queue_team)
        .where(
            _started(scope, "call"),
            Interaction.direction == "inbound",
            Interaction.queue_team.is_null(False),
            Interaction.status == "recent",
            _queued_in(scope),
        )
    )
    offered, short = offered or 0, short or 0
    counted = offered - short
    return {
        "offered": offered,
        "short_abandons": short,
        "answered": answered_n or 0,
        "answered_within_threshold": within or 0,
        "service_level_seconds": sorted(int(n) for n in thresholds.split(",")) if thresholds else [],
        "service_level": _ratio(within or 0, counted),
        "average_speed_of_answer_seconds": _ratio(wait_total or 0, answered_n or 0, 1),
        "abandoned": long_abandons or 0,
        "abandonment_rate": _ratio(long_abandons or 0, counted),
    }


def missed_calls(scope: Scope) -> dict[str, int]:
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
    team = Interaction.queue_team == scope.team_id if scope.team_id is not None else SQL("1 = 1")
    missed, voicemail = _row(
        Interaction.select(_count(Interaction.outcome == "missed"), _count(Interaction.outcome == "voicemail")).where(
            _started(scope, "call"), Interaction.direction == "inbound", team
        )
    )
    return {"missed": missed or 0, "voicemail": voicemail or 0}


def handled_calls(scope: Scope) -> dict[str, Any]:
    """Average handle time of the concluded calls an agent talked on (either direction): talk (answer to end, less
    hold) + hold + the wrap-up that followed."""
    handled, talk, hold = _row(
        Interaction.select(
            fn.COUNT(Interaction.id), fn.SUM(Interaction.talk_seconds), fn.SUM(fn.COALESCE(Interaction.hold_seconds, 0))
        ).where(
            _started(scope, "call"),
            Interaction.answered_at.is_null(False),
            Interaction.status == "recent",
            Interaction.agent.is_null(False),
            _handled_by(scope),
        )
    )
    wrapped, wrap = wrap_ups(scope)
    handled, talk, hold = handled or 0, talk or 0, hold or 0
    return {
        "handled": handled,
        "average_talk_seconds": _ratio(talk - hold, handled, 1),
        "average_hold_seconds": _ratio(hold, handled, 1),
        "wrapped_up": wrapped,
        "average_wrap_up_seconds": _ratio(wrap, handled, 1),
        "average_handle_time_seconds": _ratio(talk + wrap, handled, 1),
    }


def wrap_ups(scope: Scope) -> tuple[int, int]:
    """(calls followed by a wrap-up, their wrap-up seconds): for each handled call, the agent's status change into
    wrap-up at the call's end, lasting until their next status change (a wrap-up still going counts once it ends).
    Two seeks of the (agent, at) index per call."""
    wrap = AgentStatusChange.alias("wrap")
    calls = (
        Interaction.select(
            Interaction.agent.alias("agent_id"),
            Interaction.ended_at.alias("began"),
            wrap.select(wrap.id)
            .where(wrap.agent == Interaction.agent, wrap.at == Interaction.ended_at, wrap.to_reason == "wrap_up")
            .limit(1)
            .alias("wrap_id"),
        )
        .where(
            _started(scope, "call"),
            Interaction.answered_at.is_null(False),
            Interaction.status == "recent",
            Interaction.agent.is_null(False),
            _handled_by(scope),
        )
        .alias("calls")
    )
    following = AgentStatusChange.alias("following")
    ended = following.select(fn.MIN(following.at)).where(
        following.agent == SQL("calls.agent_id"), following.at >= SQL("calls.began"), following.id > SQL("calls.wrap_id")
    )
    wrapped = Interaction.select(seconds(SQL("calls.began"), ended).alias("wrap")).from_(calls).where(
        SQL("calls.wrap_id IS NOT NULL")
    ).alias("wrapped")
    count, total = (
        Interaction.select(fn.COUNT(SQL("wrapped.wrap")), fn.SUM(SQL("wrapped.wrap"))).from_(wrapped).tuples().get()
    )
    return count or 0, total or 0


def outbound_calls(scope: Scope) -> dict[str, Any]:
    """Calls agents placed (attempts) and those the lead picked up (connects)."""
    attempts, connects = _row(
        Interaction.select(fn.COUNT(Interaction.id), _count(Interaction.answered_at.is_null(False))).where(
            _started(scope, "call"), Interaction.direction == "outbound", _handled_by(scope)
        )
    )
    return {
        "attempts": attempts or 0,
        "connects": connects or 0,
        "connect_rate": _ratio(connects or 0, attempts or 0),
    }


def conversations(scope: Scope, kind: str) -> dict[str, Any]:
    """First response and resolution of inbound texts or chats. Each time one comes into Incoming is an episode:
    its start (the first message) and each reopening (the lead wrote again after it concluded); the first response
    is the first message an agent sent after the episode began; it is resolved at its next move to Recent if an
    agent had it (outcome answered: Close, End Chat, or idle after the agent's reply)."""
    starts = Interaction.select(Interaction.id.alias("interaction_id"), Interaction.started_at.alias("began")).where(
        _started(scope, kind), Interaction.direction == "inbound", _handled_by(scope)
    )
    reopens = (
        InteractionTransition.select(
            InteractionTransition.interaction.alias("interaction_id"), InteractionTransition.at.alias("began")
        )
        .join(Interaction)
        .where(
            InteractionTransition.event == "reopen",
            InteractionTransition.at >= scope.since,
            InteractionTransition.at < scope.until,
            Interaction.company == scope.company,
            Interaction.kind == kind,
            _handled_by(scope),
        )
    )
    episodes = (starts | reopens).alias("episodes")  # UNION: one row per (interaction, moment)
    episode_id, began = SQL("episodes.interaction_id"), SQL("episodes.began")
    reply = (
        Message.select(fn.MIN(Message.created_at))
        .where(
            Message.interaction == episode_id,
            Message.direction == "outbound",
            Message.agent.is_null(False),
            Message.created_at >= began,
        )
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
    timed = (
        Interaction.select(began.alias("began"), reply.alias("replied"), resolved_at.alias("resolved"))
        .from_(episodes)
        .alias("timed")
    )
    count, responded, response_total, resolved_n, resolution_total = (
        Interaction.select(
            fn.COUNT(SQL("1")),
            fn.COUNT(SQL("replied")),
            fn.SUM(seconds(SQL("began"), SQL("replied"))),
            fn.COUNT(SQL("resolved")),
            fn.SUM(seconds(SQL("began"), SQL("resolved"))),
        )
        .from_(timed)
        .tuples()
        .get()
    )
    return {
        "episodes": count or 0,
        "responded": responded or 0,
        "average_first_response_seconds": _ratio(response_total or 0, responded or 0, 1),
        "resolved": resolved_n or 0,
        "average_resolution_seconds": _ratio(resolution_total or 0, resolved_n or 0, 1),
    }


def kpis(scope: Scope) -> dict[str, Any]:
    return {
        "queue": queue_calls(scope),
        "missed": missed_calls(scope),
        "handling": handled_calls(scope),
        "outbound": outbound_calls(scope),
        "texts": conversations(scope, "text"),
        "chats": conversations(scope, "chat"),
    }


# -- the report series ---------------------------------------------------------------------------------------------

INTERVALS = {
    "day": fn.date(Interaction.started_at),
    # the Monday of the week: 'weekday 0' moves on to the Sunday (or stays), six days back is its Monday
    "week": fn.date(Interaction.started_at, "weekday 0", "-6 days"),
    "month": fn.strftime("%Y-%m-01", Interaction.started_at),
}
ATTRIBUTIONS = {
    "source": Interaction.source,
    "medium": Interaction.medium,
    "campaign": Interaction.campaign,
    "keywords": Interaction.keywords,
    "landing_page": Interaction.landing_page,
}
ANSWERED = Interaction.outcome == "answered"


def _all_kinds(scope: Scope):
    return (
        (Interaction.company == scope.company)
        & (Interaction.started_at >= scope.since)
        & (Interaction.started_at < scope.until)
        & _handled_by(scope)
    )


def by_channel(scope: Scope, interval: str) -> list[dict[str, Any]]:
    """Interactions over time by channel (kind): per interval and kind, how many began and how many an agent
    answered or took."""
    period = INTERVALS[interval].alias("period")
    rows = (
        Interaction.select(period, Interaction.kind, fn.COUNT(Interaction.id), _count(Interaction.answered_at.is_null(False)))
        .where(_all_kinds(scope))
        .group_by(SQL("period"), Interaction.kind)
        .order_by(SQL("period"), Interaction.kind)
        .tuples()
    )
    return [
        {"period": p if isinstance(p, dt.date) else dt.date.fromisoformat(p), "channel": kind, "interactions": n, "answered": answered}
        for p, kind, n, answered in rows
    ]


def by_attribution(scope: Scope, group: str) -> list[dict[str, Any]]:
    """Interactions by where the lead came from (source, medium, campaign, keywords or landing page): how many,
    how many agents marked qualified, the qualified rate (of those classified either way) and their value."""
    column = ATTRIBUTIONS[group]
    rows = (
        Interaction.select(
            column,
            fn.COUNT(Interaction.id),
            _count(Interaction.qualified == True),  # noqa: E712 (SQL)
            _count(Interaction.qualified.is_null(False)),
            fn.SUM(fn.COALESCE(Interaction.value_cents, 0)),
        )
        .where(_all_kinds(scope))
        .group_by(column)
        .order_by(fn.COUNT(Interaction.id).desc(), column)
        .tuples()
    )
    return [
        {
            "value": value,
            "interactions": n,
            "qualified": qualified,
            "classified": classified,
            "qualified_rate": _ratio(qualified, classified),
            "value_cents": cents or 0,
        }
        for value, n, qualified, classified, cents in rows
    ]


def by_agent(scope: Scope) -> list[dict[str, Any]]:
    """Per agent: interactions they handled (answered or took), the calls among them with their average handle
    time (talk + hold + wrap-up: as handled_calls), and how many they marked qualified."""
    rows = (
        Interaction.select(
            Interaction.agent,
            fn.COUNT(Interaction.id),
            _count(Interaction.kind == "call"),
            _count(Interaction.qualified == True),  # noqa: E712 (SQL)
        )
        .where(
            _all_kinds(scope),
            Interaction.agent.is_null(False),
            Interaction.answered_at.is_null(False),
            Interaction.status == "recent",
        )
        .group_by(Interaction.agent)
        .tuples()
    )
    names = {a.id: a.display_name for a in Agent.select(Agent.id, Agent.display_name).where(Agent.company == scope.company)}
    out = []
    for agent_id, handled, calls, qualified in rows:
        per_agent = Scope(scope.company, scope.since, scope.until, agent_id=agent_id)
        handling = handled_calls(per_agent) if calls else {"average_handle_time_seconds": None}
        out.append(
            {
                "agent_id": agent_id,
                "agent_name": names.get(agent_id, ""),
                "handled": handled,
                "calls_handled": calls,
                "average_handle_time_seconds": handling["average_handle_time_seconds"],
                "qualified": qualified,
            }
        )
    return sorted(out, key=lambda row: (-row["handled"], row["agent_name"], row["agent_id"]))


def _weekday_hour():
    # ISO: 1 = Monday .. 7 = Sunday (strftime's %w is 0 = Sunday)
    sunday_first = fn.strftime("%w", Interaction.started_at).cast("INTEGER")
    weekday = (Expression(sunday_first + 6, "%", 7) + 1).alias("weekday")  # (peewee's % is GLOB)
    hour = fn.strftime("%H", Interaction.started_at).cast("INTEGER").alias("hour")
    return weekday, hour


def by_hour(scope: Scope) -> list[dict[str, Any]]:
    """Inbound interactions (calls, texts, chats, forms...) by day of the week and hour of the day they began:
    when to staff."""
    weekday, hour = _weekday_hour()
    rows = (
        Interaction.select(weekday, hour, fn.COUNT(Interaction.id), _count(Interaction.kind == "call"))
        .where(_all_kinds(scope), Interaction.direction == "inbound")
        .group_by(SQL("weekday"), SQL("hour"))
        .order_by(SQL("weekday"), SQL("hour"))
        .tuples()
    )
    return [{"weekday": d, "hour": h, "interactions": n, "calls": calls} for d, h, n, calls in rows]


def missed_by_hour(scope: Scope) -> list[dict[str, Any]]:
    """Inbound calls by the hour of the day they began: how many, missed (with voicemail), and abandoned (those
    under the short-abandon threshold apart)."""
    _, hour = _weekday_hour()
    waited = seconds(Interaction.started_at, Interaction.ended_at)
    abandoned = Interaction.outcome == "abandoned"
    team = Interaction.queue_team == scope.team_id if scope.team_id is not None else SQL("1 = 1")
    rows = (
        Interaction.select(
            hour,
            fn.COUNT(Interaction.id),
            _count(Interaction.outcome == "missed"),
            _count(Interaction.outcome == "voicemail"),
            _count(abandoned & (waited >= SHORT_ABANDON_SECONDS)),
            _count(abandoned & (waited < SHORT_ABANDON_SECONDS)),
        )
        .where(_started(scope, "call"), Interaction.direction == "inbound", team)
        .group_by(SQL("hour"))
        .order_by(SQL("hour"))
        .tuples()
    )
    return [
        {"hour": h, "calls": n, "missed": missed, "voicemail": vm, "abandoned": ab, "short_abandons": short}
        for h, n, missed, vm, ab, short in rows
    ]
