"""Live queue figures for the agents' and supervisors' screens: callers waiting, the longest wait, and how many of
the team's agents are in each presence (agents/presence.py: available, on a call, in wrap-up, missed a call,
unreachable, offline), counted from the device state Asterisk reports for each member. Published as
``queue.updated``; the last figures of each team are kept for a screen that opens meanwhile (``GET /queues``)."""

from __future__ import annotations

import datetime as dt

from leadcenter.agents.models import Agent
from leadcenter.agents.presence import PRESENCES, presence
from leadcenter.clock import Clock
from leadcenter.events import Bus, Event
from leadcenter.pbx import names
from leadcenter.teams import notifier
from leadcenter.teams.models import Team


def agent_state(agent: Agent, member: dict) -> str:
    """The agent's presence, with the device state of the queue member (in a call counts, whatever the device)."""
    return presence(agent, "INUSE" if member["in_call"] else member["device_state"])


class QueueBoard:
    """``queue.status`` (telephony: one Asterisk queue now) -> ``queue.updated`` for the team's company."""

    def __init__(self, bus: Bus, clock: Clock):
        self.bus = bus
        self.clock = clock
        self._latest: dict[int, tuple[dict, dt.datetime]] = {}  # team id -> (figures, when), as last published
        bus.subscribe("queue.status", self.on_status)

    def on_status(self, event: Event) -> None:
        team_id = names.parse_queue(event.data["queue"])
        team = Team.get_or_none(Team.id == team_id) if team_id is not None else None
        if team is None:
            return
        members = {m["agent_id"]: m for m in event.data["members"] if m["agent_id"]}
        agents = Agent.select().where(Agent.id.in_(list(members) or [0]))
        counts = dict.fromkeys(PRESENCES, 0)
        states = {}
        for agent in agents:
            states[agent.id] = agent_state(agent, members[agent.id])
            counts[states[agent.id]] += 1
        figures = dict(
            team_id=team.id,
            team_name=team.name,
            callers_waiting=event.data["waiting"],
            longest_wait_seconds=event.data["longest_wait_seconds"],
            agents=counts,
            agent_states={str(agent_id): state for agent_id, state in sorted(states.items())},
        )
        measured_at = self.clock()
        self._latest[team.id] = (figures, measured_at)
        notifier.queue_updated(self.bus, team.company_id, figures, measured_at)

    def figures(self, teams: list[Team]) -> list[tuple[dict, dt.datetime | None]]:
        """Each team's last figures and when they were measured (nobody waiting and no time before Asterisk has
        reported the team's queue); the name is the team's name now."""
        out = []
        for team in teams:
            figures, at = self._latest.get(
                team.id,
                (
                    dict(
                        callers_waiting=0, longest_wait_seconds=0, agents=dict.fromkeys(PRESENCES, 0), agent_states={}
                    ),
                    None,
                ),
            )
            out.append(({**figures, "team_id": team.id, "team_name": team.name}, at))
        return out
