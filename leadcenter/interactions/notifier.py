"""The interactions domain's events (catalogue.py): each carries the interaction as the API returns it, and the agents
whose Incoming holds it (the event stream tells each user where it is in their inbox)."""

from __future__ import annotations

import threading

from leadcenter import catalogue
from leadcenter.agents.models import Agent
from leadcenter.events import Publisher, publish_once
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.interactions.services import incoming_for

# Reading an interaction and publishing it, one thread at a time (see changed()).
_publishing = threading.Lock()


def changed(bus: Publisher, interaction: Interaction, created: bool = False) -> None:
    """interaction.created for a new one, interaction.updated for a change, after it is committed; in a reaction to
    an event, once at its end however many changes it made (``events.publish_once``: a call's answer, its agent's
    leg and a transfer reached are one event, as is a new call's creation and its first change).

    The event carries the interaction as the database has it now, not ``interaction`` as the caller last saw it: a
    caller that held its copy across an Asterisk round trip (an agent completing a consult: the colleague joined the
    call meanwhile, and the tracker published the call as his) would publish the call as it was, after the event that
    said where it is, and every tab would keep the older one (the colleague's Active without it). Reading and
    publishing under one lock puts the events in the order of their reads, so the last one says the latest."""
    event = catalogue.INTERACTION_CREATED if created else catalogue.INTERACTION_UPDATED

    def publish() -> None:
        with _publishing:
            current = Interaction.by_id(interaction.id) or interaction
            event.publish(
                bus,
                company_id=current.company_id,
                interaction=InteractionOut.from_row(current).model_dump(mode="json"),
                incoming_for=incoming_for(current),
            )

    publish_once(("interaction", interaction.id), publish)


def declined(bus: Publisher, interaction: Interaction, agent: Agent) -> None:
    """The agent declined it: it leaves their Incoming (theirs only)."""
    catalogue.INTERACTION_DECLINED.publish(
        bus, company_id=interaction.company_id, interaction_id=interaction.id, for_agents=[agent.id]
    )
