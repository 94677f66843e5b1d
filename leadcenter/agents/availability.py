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
ring-agents flag). A machine of the one shape (statemachine.py): each move sets ``status``, ``status_reason`` and
``status_changed_at`` with a compare-and-set, is stored as an AgentStatusChange (for reporting: occupancy, wrap-up
time, missed offers), logged, and published as ``agent.status_changed`` (``Availability``); any other move raises
IllegalMove and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from leadcenter.agents import notifier
from leadcenter.agents.models import Agent, AgentStatusChange
from leadcenter.agents.notifier import PresenceOf
from leadcenter.events import Publisher
from leadcenter.statemachine import Conflict, IllegalMove, Machine, Move, Transition

__all__ = ["MACHINE", "Availability", "Conflict", "IllegalMove", "can"]

AVAILABLE, ON_CALL, WRAP_UP, MISSED, OFFLINE = (
    ("available", ""),
    ("unavailable", "on_call"),
    ("unavailable", "wrap_up"),
    ("unavailable", "missed"),
    ("offline", ""),
)
# (status, reason) -> {event: (status, reason)}
TRANSITIONS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    AVAILABLE: {"take_call": ON_CALL, "miss_call": MISSED, "go_offline": OFFLINE},
    ON_CALL: {"end_call": WRAP_UP, "go_offline": OFFLINE},
    WRAP_UP: {"rejoin": AVAILABLE, "take_call": ON_CALL, "go_offline": OFFLINE},
    MISSED: {"go_available": AVAILABLE, "take_call": ON_CALL, "go_offline": OFFLINE},
    OFFLINE: {"go_available": AVAILABLE, "sign_on": AVAILABLE},
}


def _record(transition: Transition) -> None:
    (from_status, from_reason), (to_status, to_reason) = transition.before, transition.after
    AgentStatusChange.create(
        agent=transition.row,
        event=transition.event,
        from_status=from_status,
        from_reason=from_reason,
        to_status=to_status,
        to_reason=to_reason,
        at=transition.at,
    )


MACHINE: Machine[Agent] = Machine(
    "agent",
    Agent,
    ("status", "status_reason"),
    {(state, event): Move(to) for state, moves in TRANSITIONS.items() for event, to in moves.items()},
    _record,
    stamp="status_changed_at",
)


def can(agent: Agent, event: str) -> bool:
    return MACHINE.can(agent, event)


class Availability:
    """Moves agents and publishes each move (agent.status_changed, with the agent as the API shows them)."""

    def __init__(self, bus: Publisher, presence_of: PresenceOf):
        self.bus, self.presence_of = bus, presence_of

    def move(self, agent: Agent, event: str, at: dt.datetime) -> Transition[Agent]:
        """IllegalMove from the agent's state; Conflict when it changed since the agent was read."""
        transition = MACHINE.move(agent, event, at)
        notifier.status_changed(self.bus, agent, self.presence_of)
        return transition

    def choose(self, agent: Agent, status: str, at: dt.datetime) -> Transition[Agent] | None:
        """The agent picked Available or Offline in the app: the event that means (Available in wrap-up = rejoin);
        None when they are so already."""
        if status == agent.status and not agent.status_reason:
            return None
        if status == "offline":
            return self.move(agent, "go_offline", at)
        return self.move(agent, "rejoin" if agent.status_reason == "wrap_up" else "go_available", at)
