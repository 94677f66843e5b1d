"""The queries the agent app lives on (inbox, timeline) and classification with its history.

The inbox and timeline are keyset queries on composite indexes, so they stay fast with millions of rows
(see bench/api_queries.py): Incoming is the company's waiting interactions (and the messages in the agent's own
mailbox they have not handled), Active the agent's own, Recent the agent's concluded ones (and handled messages)
plus the company's that nobody handled (missed, abandoned, voicemail, timed out).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from peewee import JOIN, SQL, fn

from leadcenter.accounts.models import Company, User
from leadcenter.agents.models import Agent, current_agents
from leadcenter.db import ByIds, database
from leadcenter.flows.models import CallFlow
from leadcenter.flows.services import audience, flows_offering_to
from leadcenter.interactions.lifecycle import CONVERSATIONS
from leadcenter.interactions.models import (
    CallLeg,
    ClassificationChange,
    Interaction,
    InteractionDecline,
    InteractionTag,
    Message,
    Tag,
)
from leadcenter.leads.models import Lead
from leadcenter.teams.models import Team, TeamMember
from leadcenter.tracking_numbers.models import TrackingNumber

INBOX_LIMIT = 50
TIMELINE_PAGE = 20
REPORT_BATCH = 500
# Offered by team (the chat widget's), not by a tracking number's flow: website chats and the chat's offline form.
TEAM_ROUTED = ("chat", "form")


@dataclass
class Inbox:
    incoming: list[Interaction]
    active: list[Interaction]
    recent: list[Interaction]


def inbox(company: Company, agent: Agent | None, limit: int = INBOX_LIMIT) -> Inbox:
    # Every column as one `*`: peewee would write out each of the row's 30 columns in each of its six selects, which
    # cost about as much CPU as reading the rows (the agent app asks for the inbox at every change).
    base = Interaction.select(SQL("*")).where(Interaction.company == company)
    waiting = base.where(Interaction.status == "incoming")
    if agent is not None:
        # An agent sees the calls and texts of the flows that offer calls to them, and the chats and chat forms of
        # their teams' (or every agent's) chat widget, while not Offline, and not once declined.
        declined = InteractionDecline.select(InteractionDecline.interaction).where(InteractionDecline.agent == agent)
        theirs = TrackingNumber.select(TrackingNumber.id).where(
            TrackingNumber.flow.in_(flows_offering_to(agent) or [0])
        )
        teams = TeamMember.select(TeamMember.team).where(TeamMember.agent == agent)
        by_team = (
            Interaction.kind.in_(TEAM_ROUTED)
            & Interaction.tracking_number.is_null()
            & (Interaction.team.is_null() | Interaction.team.in_(teams))
        )
        waiting = waiting.where(Interaction.id.not_in(declined), Interaction.tracking_number.in_(theirs) | by_team)
    offline = agent is not None and agent.status == "offline"
    incoming = [] if offline else list(waiting.order_by(Interaction.status_changed_at.desc()).limit(limit))
    if agent is None:
        return Inbox(incoming, [], [])
    # The messages in the agent's own mailbox wait for them alone, Offline or not, until they mark them handled.
    messages = base.where(Interaction.mailbox_agent == agent, Interaction.handled_at.is_null())
    incoming = sorted(
        incoming + list(messages.order_by(Interaction.status_changed_at.desc()).limit(limit)),
        key=lambda i: (i.status_changed_at, i.id),
        reverse=True,
    )[:limit]
    active = list(
        base.where(Interaction.agent == agent, Interaction.status == "active")
        .order_by(Interaction.status_changed_at.desc())
        .limit(limit)
    )
    # Recent = the newest `limit` of (the agent's own) + (nobody's): each side is a range scan of the
    # (company, agent, status, status_changed_at) index, merged by SQLite, so only `limit` rows become objects.
    newest = (Interaction.status_changed_at.desc(), Interaction.id.desc())
    mine = base.where(Interaction.agent == agent, Interaction.status == "recent").order_by(*newest).limit(limit)
    # (A lead's website visits are on their timeline, not in anyone's inbox; a message in an agent's own mailbox is
    # in theirs alone, once handled.)
    nobodys = (
        base.where(
            Interaction.agent.is_null(),
            Interaction.status == "recent",
            Interaction.kind != "visit",
            Interaction.mailbox_agent.is_null(),
        )
        .order_by(*newest)
        .limit(limit)
    )
    handled = base.where(
        Interaction.mailbox_agent == agent,
        Interaction.handled_at.is_null(False),
        Interaction.status == "recent",
        Interaction.agent.is_null() | (Interaction.agent != agent),  # (those are among mine)
    )
    recent = list(
        mine.union_all(nobodys)
        .union_all(handled.order_by(*newest).limit(limit))
        .order_by(SQL('"status_changed_at"').desc(), SQL('"id"').desc())
        .limit(limit)
    )
    return Inbox(incoming, active, recent)


def chat_audience(company_id: int, team_id: int | None) -> set[int]:
    """The agents a chat (or a chat's offline form) is offered to: its team's, or every agent of the company; only
    those still in the company whose users may sign in (a removed or deactivated agent is nobody online)."""
    agents = (
        current_agents()
        .switch(Agent)
        .join(User, on=(User.id == Agent.user))
        .where(Agent.company == company_id, User.active == True)  # noqa: E712 (SQL)
    )
    if team_id is not None:
        agents = agents.where(Agent.id.in_(TeamMember.select(TeamMember.agent).where(TeamMember.team == team_id)))
    return {agent.id for agent in agents}


def incoming_for(interaction: Interaction) -> list[int]:
    """The agents whose Incoming holds ``interaction``, as ``inbox`` decides it: while it waits, the agents its
    tracking number's flow offers work to (a chat: its widget's team), less those Offline and those who declined
    it; a message in an agent's own mailbox: that agent, until they mark it handled."""
    if interaction.mailbox_agent_id is not None:
        return [interaction.mailbox_agent_id] if interaction.handled_at is None else []
    if interaction.status != "incoming":
        return []
    if interaction.tracking_number_id is None:
        offered = (
            chat_audience(interaction.company_id, interaction.team_id) if interaction.kind in TEAM_ROUTED else set()
        )
    else:
        number = TrackingNumber.by_id(interaction.tracking_number_id)
        flow = CallFlow.by_id(number.flow_id) if number is not None else None
        offered = audience(flow) if flow is not None else set()
    if not offered:
        return []
    # The company's agents not Offline, as rows of ids, then sets: an IN list of a flow's hundreds of agents costs
    # more to build than the query takes (this runs on the dispatcher for each change of a waiting call).
    online = Agent.select(Agent.id).where(Agent.company == interaction.company_id, Agent.status != "offline")
    declined = InteractionDecline.select(InteractionDecline.agent).where(
        InteractionDecline.interaction == interaction.id
    )
    return sorted((set(online.scalars()) & offered) - set(declined.scalars()))


def timeline(
    lead: Lead, before: tuple[dt.datetime, int] | None = None, limit: int = TIMELINE_PAGE
) -> tuple[list[Interaction], tuple[dt.datetime, int] | None]:
    """A page of the lead's interactions, newest first, and the cursor of the next page (None at the end)."""
    query = Interaction.select().where(Interaction.lead == lead)
    if before is not None:
        started, interaction_id = before
        query = query.where(
            (Interaction.started_at < started)
            | ((Interaction.started_at == started) & (Interaction.id < interaction_id))
        )
    page = list(query.order_by(Interaction.started_at.desc(), Interaction.id.desc()).limit(limit + 1))
    more = len(page) > limit
    page = page[:limit]
    return page, ((page[-1].started_at, page[-1].id) if more else None)


def newest_first(
    company: Company, status: str | None = None, kind: str | None = None, limit: int = INBOX_LIMIT
) -> list[Interaction]:
    """The company's interactions, newest first, optionally of one status and one kind."""
    query = Interaction.select().where(Interaction.company == company)
    if status is not None:
        query = query.where(Interaction.status == status)
    if kind is not None:
        query = query.where(Interaction.kind == kind)
    return list(query.order_by(Interaction.started_at.desc(), Interaction.id.desc()).limit(limit))


_TAGS_OF_INTERACTIONS = ByIds(
    lambda match: (
        InteractionTag.select(InteractionTag.interaction, Tag.name)
        .join(Tag)
        .where(match(InteractionTag.interaction))
        .order_by(Tag.name)
    )
)


def tags_by_interaction(interaction_ids) -> dict[int, list[str]]:
    """Each interaction's tag names, sorted, in one query for a whole page of interactions."""
    tags: dict[int, list[str]] = {interaction_id: [] for interaction_id in interaction_ids}
    for link in _TAGS_OF_INTERACTIONS.rows(tags):
        tags[link.interaction_id].append(link.tag.name)
    return tags


def tags_of(interaction: Interaction) -> list[str]:
    return tags_by_interaction([interaction.id])[interaction.id]


def company_tags(company: Company) -> list[str]:
    return [t.name for t in Tag.select(Tag.name).where(Tag.company == company).order_by(Tag.name)]


def message_summaries(interaction_ids) -> dict[int, tuple[int, Message | None]]:
    """How many messages each conversation has, and its newest one (what the inbox row shows)."""
    counts = dict.fromkeys(interaction_ids, 0)
    if not counts:
        return {}
    newest_ids = []
    for row in (
        Message.select(Message.interaction, fn.COUNT(Message.id).alias("count"), fn.MAX(Message.id).alias("newest"))
        .where(Message.interaction.in_(list(counts)))
        .group_by(Message.interaction)
    ):
        counts[row.interaction_id] = row.count
        newest_ids.append(row.newest)
    newest = {m.interaction_id: m for m in Message.select().where(Message.id.in_(newest_ids))}
    return {interaction_id: (count, newest.get(interaction_id)) for interaction_id, count in counts.items()}


def messages_of(interaction: Interaction) -> list[Message]:
    """A conversation's messages (a text thread's, a chat's), oldest first."""
    return list(Message.select().where(Message.interaction == interaction).order_by(Message.created_at, Message.id))


def classification_history(interaction: Interaction) -> list[ClassificationChange]:
    """Every classification change of the interaction, oldest first, with who made it (None: an integration)."""
    return list(
        ClassificationChange.select(ClassificationChange, User)
        .join(User, JOIN.LEFT_OUTER)
        .where(ClassificationChange.interaction == interaction)
        .order_by(ClassificationChange.at, ClassificationChange.id)
    )


def _record(interaction: Interaction, user: User | None, field: str, old, new, at: dt.datetime) -> None:
    ClassificationChange.create(
        interaction=interaction,
        user=user,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        at=at,
    )


def classify(interaction: Interaction, user: User | None, changes: dict, at: dt.datetime) -> Interaction:
    """Apply a partial classification (qualified, value_cents, notes, tags); each field that really changes is
    kept as a ClassificationChange. Fields not in ``changes`` are left alone, so two agents (or a debounced
    notes save racing a tag click) never overwrite each other's untouched fields; the last write of a field wins."""
    with database.atomic():
        for field in ("qualified", "value_cents", "notes"):
            if field in changes and getattr(interaction, field) != changes[field]:
                _record(interaction, user, field, getattr(interaction, field), changes[field], at)
                Interaction.update({getattr(Interaction, field): changes[field]}).where(
                    Interaction.id == interaction.id
                ).execute()
                setattr(interaction, field, changes[field])
        if "tags" in changes:
            wanted = sorted({" ".join(name.split()) for name in changes["tags"] if name.strip()})
            before = tags_of(interaction)
            if wanted != before:
                tags = [Tag.get_or_create(company=interaction.company_id, name=name)[0] for name in wanted]
                InteractionTag.delete().where(InteractionTag.interaction == interaction).execute()
                InteractionTag.insert_many([{"interaction": interaction.id, "tag": tag.id} for tag in tags]).execute()
                _record(interaction, user, "tags", ", ".join(before), ", ".join(wanted), at)
    return interaction


# -- the report --------------------------------------------------------------------------------------------------

REPORT_COLUMNS = (
    "interaction",
    "kind",
    "direction",
    "started_at",
    "answered_at",
    "ended_at",
    "talk_seconds",
    "outcome",
    "lead",
    "lead_number",
    "tracking_number",
    "tracking_number_name",
    "source",
    "campaign",
    "medium",
    "click_id",
    "keywords",
    "landing_page",
    "referrer",
    "agent",
    # A call's agents, each with their own talk and hold seconds (a transferred or conferenced call has several).
    "agent_legs",
    "team",
    "qualified",
    "value",
    "tags",
    "notes",
    "transcript",
)


def transcripts_by_interaction(interaction_ids: list[int], zone: str = "UTC") -> dict[int, str]:
    """Each conversation's messages, oldest first, one line each: when (in ``zone``), who (``lead`` or the agent's
    name) and what was said; in one query for a batch of the report."""
    lines: dict[int, list[str]] = {interaction_id: [] for interaction_id in interaction_ids}
    if not lines:
        return {}
    messages = (
        Message.select(Message.interaction, Message.created_at, Message.direction, Message.body, Agent.display_name)
        .join(Agent, JOIN.LEFT_OUTER)
        .where(Message.interaction.in_(list(lines)))
        .order_by(Message.interaction, Message.created_at, Message.id)
        .tuples()
    )
    for interaction_id, at, direction, body, agent in cast(list[tuple[Any, ...]], messages):
        who = "lead" if direction == "inbound" else agent or "agent"
        lines[interaction_id].append(f"{_when(at, zone)} {who}: {body}")
    return {interaction_id: "\n".join(said) for interaction_id, said in lines.items()}


def legs_by_interaction(interaction_ids: list[int]) -> dict[int, str]:
    """Each call's agent legs, in the order they joined: "Alice (talk 60, hold 10); Bob (talk 100, hold 0)"; in one
    query for a batch of the report. An external party's leg is named by its number."""
    legs: dict[int, list[str]] = {interaction_id: [] for interaction_id in interaction_ids}
    if not legs:
        return {}
    rows = (
        CallLeg.select(CallLeg, Agent.id, Agent.display_name)
        .join(Agent, JOIN.LEFT_OUTER)
        .where(CallLeg.interaction.in_(list(legs)), CallLeg.left_at.is_null(False))
        .order_by(CallLeg.interaction, CallLeg.joined_at, CallLeg.id)
    )
    for leg in rows:
        who = leg.agent.display_name if leg.agent is not None else leg.number
        legs[leg.interaction_id].append(f"{who} (talk {leg.talk_seconds}, hold {leg.hold_seconds})")
    return {interaction_id: "; ".join(said) for interaction_id, said in legs.items()}


def _when(moment: dt.datetime | None, zone: str) -> str:
    """A stored (UTC) moment in ``zone``, to the second, with its offset (Z in UTC): ISO 8601."""
    if not moment:
        return ""
    local = moment.replace(tzinfo=dt.UTC, microsecond=0).astimezone(ZoneInfo(zone))
    return local.isoformat().replace("+00:00", "Z")


def report(company: Company, since: dt.datetime, until: dt.datetime, zone: str = "UTC"):
    """Every interaction of the company started in [since, until) (UTC), oldest first, as rows of REPORT_COLUMNS
    (strings, times in ``zone``): what the agents recorded, for the business's own reporting. Read REPORT_BATCH at
    a time on the (company, started_at) index, as plain tuples (no model objects), so an export of any size is quick
    and holds one batch in memory."""
    columns = (
        Interaction.id,
        Interaction.kind,
        Interaction.direction,
        Interaction.started_at,
        Interaction.answered_at,
        Interaction.ended_at,
        Interaction.talk_seconds,
        Interaction.outcome,
        Interaction.status,
        Lead.name,
        Interaction.lead_number,
        TrackingNumber.number,
        TrackingNumber.name,
        Interaction.source,
        Interaction.campaign,
        Interaction.medium,
        Interaction.click_id,
        Interaction.keywords,
        Interaction.landing_page,
        Interaction.referrer,
        Agent.display_name,
        Team.name,
        Interaction.qualified,
        Interaction.value_cents,
        Interaction.notes,
    )
    after_time, after_id = since, 0
    while True:
        # started_at >= after_time bounds the index range scan; the OR only breaks ties within one start time.
        batch = cast(
            list[tuple[Any, ...]],
            list(  # tuples(): rows as tuples, which peewee's stubs call models
                Interaction.select(*columns)
                .join(Lead)
                .switch(Interaction)
                .join(TrackingNumber, JOIN.LEFT_OUTER)
                .switch(Interaction)
                .join(Agent, JOIN.LEFT_OUTER)
                .switch(Interaction)
                .join(Team, JOIN.LEFT_OUTER)
                .where(
                    Interaction.company == company,
                    Interaction.started_at < until,
                    Interaction.started_at >= after_time,
                    (Interaction.started_at > after_time) | (Interaction.id > after_id),
                )
                .order_by(Interaction.started_at, Interaction.id)
                .limit(REPORT_BATCH)
                .tuples()
            ),
        )
        tags = tags_by_interaction([row[0] for row in batch])
        transcripts = transcripts_by_interaction([row[0] for row in batch if row[1] in CONVERSATIONS], zone)
        legs = legs_by_interaction([row[0] for row in batch if row[1] == "call"])
        for (
            interaction_id,
            kind,
            direction,
            started,
            answered,
            ended,
            talk,
            outcome,
            status,
            lead,
            lead_number,
            number,
            number_name,
            source,
            campaign,
            medium,
            click_id,
            keywords,
            landing_page,
            referrer,
            agent,
            team,
            qualified,
            value_cents,
            notes,
        ) in batch:
            yield [
                str(interaction_id),
                kind,
                direction,
                _when(started, zone),
                _when(answered, zone),
                _when(ended, zone),
                "" if talk is None else str(talk),
                outcome or status,
                lead,
                lead_number,
                number or "",
                number_name or "",
                source,
                campaign,
                medium,
                click_id,
                keywords,
                landing_page,
                referrer,
                agent or "",
                legs.get(interaction_id, ""),
                team or "",
                {True: "yes", False: "no", None: ""}[qualified],
                "" if value_cents is None else f"{value_cents / 100:.2f}",
                "; ".join(tags[interaction_id]),
                notes,
                transcripts.get(interaction_id, ""),
            ]
        if len(batch) < REPORT_BATCH:
            return
        after_time, after_id = batch[-1][3], batch[-1][0]
