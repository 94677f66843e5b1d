"""An agent's availability as a state machine, named after what happens:

    available --take_call--> unavailable (on a call) --end_call--> unavailable (wrap-up)
    unavailable (wrap-up) --rejoin--> available          (the agent presses "Rejoin the Queue")
    available --miss_call--> unavailable (missed)         (they let a call offered to them ring out)
    unavailable (missed) --go_available--> available     (the agent is back: Available, or Rejoin the Queue)
    unavailable (wrap-up or missed) --take_call--> unavailable (on a call)   (they answered from Incoming)
    available / unavailable --go_offline--> offline --go_available--> available
    offline --sign_on--> available                         (signing in to the app, as the spec says)

Every inbound call an agent answers takes them out (a queue's, a ring-agents step's, or one they took from
Incoming with Answer) and leaves them in wrap-up; a call they place does not (see docs/architecture.md). Only
Available agents are offered calls (the pause keeper pauses everyone else in every queue and clears their
ring-agents flag). Each move sets ``status``, ``status_reason`` and ``status_changed_at``, is stored as an
AgentStatusChange (for reporting: occupancy, wrap-up time, missed offers), logged, and published as
``agent.status_changed``; any other move raises IllegalMove and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging

from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.db import database

log = logging.getLogger(__name__)

# (status, reason) -> {event: (status, reason)}
TRANSITIONS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("available", ""): {"take_call": ("unavailable", "on_call"), "miss_call": ("unavailable", "missed"),
                        "go_offline": ("offline", "")},
    ("unavailable", "on_call"): {"end_call": ("unavailable", "wrap_up"), "go_offline": ("offline", "")},
    ("unavailable", "wrap_up"): {"rejoin": ("available", ""), "take_call": ("unavailable", "on_call"),
                                 "go_offline": ("offline", "")},
    ("unavailable", "missed"): {"go_available": ("available", ""), "take_call": ("unavailable", "on_call"),
                                "go_offline": ("offline", "")},
    ("offline", ""): {"go_available": ("available", ""), "sign_on": ("available", "")},
}


class IllegalMove(Exception):
    def __init__(self, agent: Agent, event: str):
        state = agent.status + (f" ({agent.status_reason})" if agent.status_reason else "")
        super().__init__(f"agent {agent.id} is {state}: no '{event}' from there")
        self.agent, self.event = agent, event


def can(agent: Agent, event: str) -> bool:
    return event in TRANSITIONS.get((agent.status, agent.status_reason), {})


def apply(agent: Agent, event: str, bus, at: dt.datetime) -> Agent:
    """Move ``agent`` by ``event``, store and log the move, publish agent.status_changed."""
    if not can(agent, event):
        raise IllegalMove(agent, event)
    before = (agent.status, agent.status_reason)
    agent.status, agent.status_reason = TRANSITIONS[before][event]
    agent.status_changed_at = at
    with database.atomic():
        Agent.update(status=agent.status, status_reason=agent.status_reason, status_changed_at=at).where(
            Agent.id == agent.id).execute()
        AgentStatusChange.create(agent=agent, event=event, from_status=before[0], from_reason=before[1],
                                 to_status=agent.status, to_reason=agent.status_reason, at=at)
    log.info("agent %s: %s -> %s by %s", agent.id, "/".join(filter(None, before)),
             "/".join(filter(None, (agent.status, agent.status_reason))), event)
    bus.publish("agent.status_changed", company_id=agent.company_id, agent_id=agent.id, status=agent.status,
                reason=agent.status_reason)
    return agent


def choose(agent: Agent, status: str, bus, at: dt.datetime) -> Agent:
    """The agent picked Available or Offline in the app: the event that means (Available in wrap-up = rejoin)."""
    if status == agent.status and not agent.status_reason:
        return agent
    if status == "offline":
        return apply(agent, "go_offline", bus, at)
    return apply(agent, "rejoin" if agent.status_reason == "wrap_up" else "go_available", bus, at)
