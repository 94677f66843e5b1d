"""The interactions domain's events (catalogue.py): each carries the interaction as the API returns it, and the agents
whose Incoming holds it (the event stream tells each user where it is in their inbox)."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.agents.models import Agent
from leadcenter.events import Publisher
from leadcenter.interactions.models import Interaction
from leadcenter.interactions.schemas import InteractionOut
from leadcenter.interactions.services import incoming_for


def changed(bus: Publisher, interaction: Interaction, created: bool = False) -> None:
    """interaction.created for a new one, interaction.updated for a change, after it is committed."""
    event = catalogue.INTERACTION_CREATED if created else catalogue.INTERACTION_UPDATED
    event.publish(
        bus,
        company_id=interaction.company_id,
        interaction=InteractionOut.from_row(interaction).model_dump(mode="json"),
        incoming_for=incoming_for(interaction),
    )


def declined(bus: Publisher, interaction: Interaction, agent: Agent) -> None:
    """The agent declined it: it leaves their Incoming (theirs only)."""
    catalogue.INTERACTION_DECLINED.publish(
        bus, company_id=interaction.company_id, interaction_id=interaction.id, for_agents=[agent.id]
    )
