"""The agents domain's events (catalogue.py): the agent as the API returns it, presence included (what colleagues
see: their status and their phone, agents/presence.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from leadcenter import catalogue
from leadcenter.agents.models import Agent
from leadcenter.agents.schemas import AgentOut
from leadcenter.events import Publisher

PresenceOf = Callable[[Agent], tuple[str, dt.datetime]]  # the agent's presence and since when (Presence.seen)


def _publish(event: catalogue.EventType, bus: Publisher, agent: Agent, presence_of: PresenceOf) -> None:
    event.publish(bus, company_id=agent.company_id, agent=AgentOut.from_row(agent, presence_of).model_dump(mode="json"))


def status_changed(bus: Publisher, agent: Agent, presence_of: PresenceOf) -> None:
    _publish(catalogue.AGENT_STATUS_CHANGED, bus, agent, presence_of)


def presence_changed(bus: Publisher, agent: Agent, presence_of: PresenceOf) -> None:
    _publish(catalogue.AGENT_PRESENCE_CHANGED, bus, agent, presence_of)


def updated(bus: Publisher, agent: Agent, presence_of: PresenceOf) -> None:
    _publish(catalogue.AGENT_UPDATED, bus, agent, presence_of)
