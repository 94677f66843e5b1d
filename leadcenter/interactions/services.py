"""The queries the agent app lives on (inbox, timeline) and classification with its history.

The inbox and timeline are keyset queries on composite indexes, so they stay fast with millions of rows
(see bench/api_queries.py): Incoming is the company's waiting interactions, Active the agent's own, Recent the
agent's concluded ones plus the company's that nobody handled (missed, abandoned, voicemail, timed out).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from leadcenter.agents.models import Agent
from leadcenter.companies.models import Company, User
from leadcenter.db import database, utcnow
from leadcenter.interactions.models import ClassificationChange, Interaction, InteractionTag, Tag
from leadcenter.leads.models import Lead

INBOX_LIMIT = 50
TIMELINE_PAGE = 20


@dataclass
class Inbox:
    incoming: list[Interaction]
    active: list[Interaction]
    recent: list[Interaction]


def inbox(company: Company, agent: Agent | None, limit: int = INBOX_LIMIT) -> Inbox:
    base = Interaction.select().where(Interaction.company == company)
    incoming = list(base.where(Interaction.status == "incoming")
                    .order_by(Interaction.status_changed_at.desc()).limit(limit))
    if agent is None:
        return Inbox(incoming, [], [])
    active = list(base.where(Interaction.agent == agent, Interaction.status == "active")
                  .order_by(Interaction.status_changed_at.desc()).limit(limit))
    mine = list(base.where(Interaction.agent == agent, Interaction.status == "recent")
                .order_by(Interaction.status_changed_at.desc()).limit(limit))
    nobodys = list(base.where(Interaction.agent.is_null(), Interaction.status == "recent")
                   .order_by(Interaction.status_changed_at.desc()).limit(limit))
    recent = sorted(mine + nobodys, key=lambda i: (i.status_changed_at, i.id), reverse=True)[:limit]
    return Inbox(incoming, active, recent)


def timeline(lead: Lead, before: tuple[dt.datetime, int] | None = None,
             limit: int = TIMELINE_PAGE) -> tuple[list[Interaction], tuple[dt.datetime, int] | None]:
    """A page of the lead's interactions, newest first, and the cursor of the next page (None at the end)."""
    query = Interaction.select().where(Interaction.lead == lead)
    if before is not None:
        started, interaction_id = before
        query = query.where((Interaction.started_at < started)
                            | ((Interaction.started_at == started) & (Interaction.id < interaction_id)))
    page = list(query.order_by(Interaction.started_at.desc(), Interaction.id.desc()).limit(limit + 1))
    more = len(page) > limit
    page = page[:limit]
    return page, ((page[-1].started_at, page[-1].id) if more else None)


def tags_of(interaction: Interaction) -> list[str]:
    return [t.name for t in Tag.select(Tag.name).join(InteractionTag)
            .where(InteractionTag.interaction == interaction).order_by(Tag.name)]


def _record(interaction: Interaction, user: User | None, field: str, old, new) -> None:
    ClassificationChange.create(interaction=interaction, user=user, field=field,
                                old_value=None if old is None else str(old),
                                new_value=None if new is None else str(new), at=utcnow())


def classify(interaction: Interaction, user: User | None, changes: dict) -> Interaction:
    """Apply a partial classification (qualified, value_cents, notes, tags); each field that really changes is
    kept as a ClassificationChange. Fields not in ``changes`` are left alone, so two agents (or a debounced
    notes save racing a tag click) never overwrite each other's untouched fields; the last write of a field wins."""
    with database.atomic():
        for field in ("qualified", "value_cents", "notes"):
            if field in changes and getattr(interaction, field) != changes[field]:
                _record(interaction, user, field, getattr(interaction, field), changes[field])
                Interaction.update({getattr(Interaction, field): changes[field]}).where(
                    Interaction.id == interaction.id).execute()
                setattr(interaction, field, changes[field])
        if "tags" in changes:
            wanted = sorted({" ".join(name.split()) for name in changes["tags"] if name.strip()})
            before = tags_of(interaction)
            if wanted != before:
                tags = [Tag.get_or_create(company=interaction.company_id, name=name)[0] for name in wanted]
                InteractionTag.delete().where(InteractionTag.interaction == interaction).execute()
                InteractionTag.insert_many([{"interaction": interaction.id, "tag": tag.id} for tag in tags]).execute()
                _record(interaction, user, "tags", ", ".join(before), ", ".join(wanted))
    return interaction
