"""Teams: their members and the chats they get; the automatic end of wrap-up; and the live queue figures.

The queue board: live queue figures for the agents' and supervisors' screens: callers waiting, the longest wait, and
how many of the team's agents are in each presence (agents/presence.py: available, ringing, on a call, in wrap-up,
missed a call, unreachable, offline), counted from the device state Asterisk reports for each member, and today's
service level and abandonment of its queue (the company's day; reports/services.py's definitions: one of each).
Published as ``queue.updated``; the last figures of each team are kept for a screen that opens meanwhile
(``GET /queues``). Today's figures change when one of the queue's calls concludes (``interaction.updated``): they are
worked out again then, and at the first figures of a new day.

The wrap-up timer: an agent in wrap-up after a call of a team with automatic wrap-up (``wrap_up_seconds``) rejoins
by themselves that many seconds after the call ended, as if they had pressed Rejoin the Queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from leadcenter.agents import availability
from leadcenter.agents.availability import Availability
from leadcenter.agents.models import Agent, current_agents
from leadcenter.agents.presence import PRESENCES, most_present, presence
from leadcenter.chats.models import ChatWidget
from leadcenter.chats.services import Chats
from leadcenter.clock import Clock
from leadcenter.errors import invalid
from leadcenter.events import Bus, Event
from leadcenter.interactions.models import Interaction
from leadcenter.pbx import names
from leadcenter.reports import services as reports
from leadcenter.statemachine import Conflict, IllegalMove
from leadcenter.teams import notifier
from leadcenter.teams.models import Team, TeamMember
from leadcenter.timers import Sweeper

log = logging.getLogger(__name__)

WRAP_UP_SWEEP_SECONDS = 1.0


def set_members(team: Team, agent_ids: list[int] | None, penalties: dict[int, int]) -> None:
    """Make these agents the team's members, in this order (None: the members stay as they are); members who stay
    keep their penalty unless ``penalties`` (agent id -> penalty, members only) sets it."""
    if agent_ids is not None:
        known = {a.id for a in current_agents(team.company).where(Agent.id.in_(agent_ids)).select(Agent.id)}
        unknown = {
            f"members.{index}": f"no agent {agent_id} in this company"
            for index, agent_id in enumerate(agent_ids)
            if agent_id not in known
        }
        if unknown:
            raise invalid(unknown)
        TeamMember.delete().where(TeamMember.team == team, TeamMember.agent.not_in(agent_ids)).execute()
        staying = {m.agent_id: m for m in TeamMember.select().where(TeamMember.team == team)}
        for position, agent_id in enumerate(agent_ids):
            if agent_id in staying:
                TeamMember.update(position=position).where(TeamMember.id == staying[agent_id].id).execute()
            else:
                TeamMember.create(team=team, agent=agent_id, position=position)
    members = {m.agent_id: m for m in TeamMember.select().where(TeamMember.team == team)}
    strangers = {
        f"penalties.{agent_id}": "not a member of this team" for agent_id in penalties if agent_id not in members
    }
    if strangers:
        raise invalid(strangers)
    for agent_id, penalty in penalties.items():
        TeamMember.update(penalty=penalty).where(TeamMember.id == members[agent_id].id).execute()


# What a team's resource sets beside its own columns: its members (with their penalties) and its chats.
EXTRAS = ("members", "penalties", "chats")


def extras(changes: dict) -> Callable[[Team], None]:
    """Takes the members, penalties and chats out of a request's changes (the rest are the team's columns); the
    returned function applies them once the team has its id, in the same transaction."""
    members, penalties, chats = (changes.pop(name, None) for name in EXTRAS)

    def apply(team: Team) -> None:
        if members is not None or penalties is not None:
            set_members(team, members, penalties or {})
        if chats is not None:
            route_chats(team, chats)

    return apply


def route_chats(team: Team, chats: bool) -> None:
    """The company's website chats go to this team (its chat widget's team), or, when the team had them and no
    longer wants them, to every agent of the company again."""
    widget = Chats.widget_of(team.company)
    if chats:
        ChatWidget.update(team=team).where(ChatWidget.id == widget.id).execute()
    elif widget.team_id == team.id:
        ChatWidget.update(team=None).where(ChatWidget.id == widget.id).execute()


def wrap_up_seconds(agent: Agent) -> int | None:
    """How long the agent's wrap-up lasts; None: until they rejoin. The team whose queue their last call came from
    decides; a call that reached them otherwise (a ring-agents step, Answer in Incoming) ends automatically only
    when every team of theirs does, after the longest of those teams' wrap-ups."""
    last = (
        Interaction.select(Interaction.team)
        .where(Interaction.agent == agent, Interaction.kind == "call", Interaction.direction == "inbound")
        .order_by(Interaction.id.desc())
        .first()
    )
    if last is not None and last.team_id is not None:
        team = Team.get_or_none(Team.id == last.team_id)
        return team.wrap_up_seconds if team is not None else None
    seconds = [
        t.wrap_up_seconds for t in Team.select(Team.wrap_up_seconds).join(TeamMember).where(TeamMember.agent == agent)
    ]
    automatic = [s for s in seconds if s is not None]
    return max(automatic) if automatic and len(automatic) == len(seconds) else None


class WrapUpTimer:
    """Ends the wrap-up of agents whose team rejoins them automatically (a sweep every second on its own thread,
    ``wrap-up-timer``). The due time follows from when their wrap-up began (``status_changed_at``), so nothing is
    stored and a restarted controller ends the wrap-ups due meanwhile at its first sweep."""

    def __init__(self, availability: Availability, clock: Clock):
        self.availability = availability
        self.clock = clock
        self.timers = Sweeper("wrap-up-timer", self.sweep, WRAP_UP_SWEEP_SECONDS)

    def sweep(self) -> int:
        """Rejoin every agent whose automatic wrap-up is over; returns how many."""
        now = self.clock()
        rejoined = 0
        for agent in Agent.select().where(Agent.status == "unavailable", Agent.status_reason == "wrap_up"):
            seconds = wrap_up_seconds(agent)
            if seconds is None or agent.status_changed_at + dt.timedelta(seconds=seconds) > now:
                continue
            try:
                if availability.can(agent, "rejoin"):
                    self.availability.move(agent, "rejoin", now)
                    rejoined += 1
            except (Conflict, IllegalMove):  # they moved meanwhile (took a call, went Offline): theirs stands
                log.info("agent %s moved before their wrap-up ended", agent.id)
        return rejoined


def agent_state(agent: Agent, member: dict) -> str:
    """The agent's presence, with the device state of the queue member (in a call counts, whatever the device)."""
    return presence(agent, "INUSE" if member["in_call"] else member["device_state"])


class QueueToday:
    """A team's queue calls of today (the company's day) so far, as sums kept call by call: counted once from the
    database (and again for a new day or a new service level), then each call added as it concludes, so that a busy
    day's last call costs what its first did. ``figures()``: the KPIs' queue figures (reports/services.py)."""

    def __init__(self, team: Team, now: dt.datetime):
        zone = reports.time_zone(team.company)
        self.day = reports.local_date(now, zone)
        self.service_level_seconds = team.service_level_seconds
        self.scope = reports.scope_of_days(team.company, self.day, self.day, zone)
        by_call = reports.team_queue_sums_by_call(team.company, team, self.scope.since, self.scope.until)
        self.counted = set(by_call)
        self.sums = tuple(map(sum, zip(*by_call.values(), strict=True))) if by_call else (0,) * len(reports.QUEUE)

    def current(self, team: Team, now: dt.datetime) -> bool:
        zone = reports.time_zone(team.company)
        return self.day == reports.local_date(now, zone) and self.service_level_seconds == team.service_level_seconds

    def add(self, team: Team, call_id: int) -> bool:
        """The call, if it is one of today's queue calls not counted yet; whether the figures changed."""
        if call_id in self.counted:
            return False
        for call, sums in reports.team_queue_sums_by_call(
            team.company, team, self.scope.since, self.scope.until, call_id
        ).items():
            self.counted.add(call)
            self.sums = tuple(a + b for a, b in zip(self.sums, sums, strict=True))
            return True
        return False

    def figures(self) -> dict:
        figures = reports.team_queue_figures(self.sums, self.service_level_seconds)
        return dict(
            day=self.day.isoformat(),
            offered=figures["offered"],
            answered=figures["answered"],
            answered_within_threshold=figures["answered_within_threshold"],
            service_level_seconds=self.service_level_seconds,
            service_level=figures["service_level"],
            abandoned=figures["abandoned"],
            short_abandons=figures["short_abandons"],
            abandonment_rate=figures["abandonment_rate"],
        )


class QueueBoard:
    """``queue.status`` (telephony: the team's queue now, on each Asterisk node) -> ``queue.updated`` for the team's
    company, every node's as one; and again with today's figures when one of the queue's calls concludes."""

    def __init__(self, bus: Bus, clock: Clock):
        self.bus = bus
        self.clock = clock
        self._latest: dict[int, tuple[dict, dt.datetime]] = {}  # team id -> (figures, when), as last published
        self._today: dict[int, QueueToday] = {}  # team id -> its queue calls of today
        self._today_lock = threading.Lock()  # the dispatcher adds calls; a web thread may read the figures
        self._by_node: dict[int, dict[str, dict]] = {}  # team id -> Asterisk node -> its queue's last status
        bus.subscribe("queue.status", self.on_status)
        bus.subscribe("telephony.lost", self.on_link_lost)
        bus.subscribe("interaction.updated", self.on_interaction)

    def today(self, team: Team) -> dict:
        """The team's figures of today (counted again when the day or the service level is not the kept ones')."""
        with self._today_lock:
            return self._kept_today(team).figures()

    def _kept_today(self, team: Team) -> QueueToday:
        now = self.clock()
        kept = self._today.get(team.id)
        if kept is None or not kept.current(team, now):
            kept = self._today[team.id] = QueueToday(team, now)
        return kept

    def on_interaction(self, event: Event) -> None:
        """A queue's call concluded: added to its team's figures of today, published with its last figures."""
        shown = event.data["interaction"]
        if shown["kind"] != "call" or shown["status"] != "recent":
            return
        row = Interaction.by_id(shown["id"])
        team = Team.get_or_none(Team.id == row.queue_team_id) if row and row.queue_team_id is not None else None
        if team is None:
            return
        with self._today_lock:
            kept = self._today.get(team.id)
            if kept is not None and kept.current(team, self.clock()):
                changed = kept.add(team, shown["id"])
            else:  # counted with this call, if it is today's
                kept, changed = self._kept_today(team), True
            today = kept.figures()
        if changed and team.id in self._latest:
            figures, measured_at = self._latest[team.id]
            figures = {**figures, "today": today}
            self._latest[team.id] = (figures, measured_at)
            notifier.queue_updated(self.bus, team.company_id, figures, measured_at)

    def on_status(self, event: Event) -> None:
        team_id = names.parse_queue(event.data["queue"])
        team = Team.get_or_none(Team.id == team_id) if team_id is not None else None
        if team is not None:
            self._by_node.setdefault(team.id, {})[event.data.get("node", "")] = event.data
            self._publish_status(team)

    def on_link_lost(self, event: Event) -> None:
        """An Asterisk node is gone: its callers no longer wait (its queues' last status no longer counts)."""
        node = event.data.get("node")
        if node is None:  # one Asterisk: its next status says what is left
            return
        for team_id in [t for t, statuses in self._by_node.items() if statuses.pop(node, None) is not None]:
            team = Team.get_or_none(Team.id == team_id)
            if team is not None:
                self._publish_status(team)

    def _publish_status(self, team: Team) -> None:
        """The team's queue on every Asterisk node as one: callers waiting on any, the longest wait, each agent as
        the node that says most of them (a member is in a call on one node and idle on the other)."""
        statuses = list(self._by_node.get(team.id, {}).values())
        members: dict[int, list[dict]] = {}
        for status in statuses:
            for member in status["members"]:
                if member["agent_id"]:
                    members.setdefault(member["agent_id"], []).append(member)
        agents = Agent.select().where(Agent.id.in_(list(members) or [0]))
        counts = dict.fromkeys(PRESENCES, 0)
        states = {}
        for agent in agents:
            on_nodes = members[agent.id]
            merged = {
                "in_call": any(m["in_call"] for m in on_nodes),
                "device_state": most_present(m["device_state"] for m in on_nodes),
            }
            states[agent.id] = agent_state(agent, merged)
            counts[states[agent.id]] += 1
        figures = dict(
            team_id=team.id,
            team_name=team.name,
            callers_waiting=sum(status["waiting"] for status in statuses),
            longest_wait_seconds=max((status["longest_wait_seconds"] for status in statuses), default=0),
            agents=counts,
            agent_states={str(agent_id): state for agent_id, state in sorted(states.items())},
            today=self.today(team),
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
            out.append(({**figures, "team_id": team.id, "team_name": team.name, "today": self.today(team)}, at))
        return out
