"""Monitoring: a supervisor listens to an agent's live call, whispers to the agent, or barges in (both hear them),
on their own browser softphone or desk phone, switching mode as the call goes on.

Asterisk does it (dialplans/monitor.conf): the supervisor's device is originated into lc-monitor, where ChanSpy
spies on the agent's channel of the call, only within the supervisor's own company's spy group; a mode change sends
that channel back into lc-monitor (AMI Redirect) with the new mode. Web threads ask (the verbs run on the telephony
loop); the end is seen from Asterisk (the device channel's hangup: the supervisor hung up, the call ended, or the
API stopped it), and after a controller restart from the channels Asterisk still has. Every start, mode change and
end is in the audit log, and published to the company's supervisors (and to the agent when the company tells them).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from leadcenter.accounts.models import ROLE_RANK, ApiKey, Company, User
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.audit.services import Actor, record
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.errors import ApiError
from leadcenter.events import Bus, Event
from leadcenter.interactions.models import Interaction
from leadcenter.monitors import notifier
from leadcenter.monitors.models import Monitor
from leadcenter.monitors.schemas import MonitorOut
from leadcenter.pbx import names
from leadcenter.telephony.service import VERB_WAIT, carried_out

log = logging.getLogger(__name__)


Verb = TypeVar("Verb")


class MonitorVerbs(Protocol[Verb]):
    """What monitoring asks of the telephony layer (telephony/service.py)."""

    def spy(self, channel_id: str, endpoint: str, call_channel_id: str, mode: str, group: str) -> Verb: ...

    def redirect(self, channel: str, context: str, extension: str) -> Verb: ...

    def hangup(self, channel_id: str, reason: str = ...) -> Verb: ...

    def submit(self, verb: Verb) -> concurrent.futures.Future: ...


@dataclass(frozen=True)
class Supervisor:
    """The audit log's actor for an end nobody asked for over the API (the phone hung up, the call ended)."""

    company: Company
    user: User | None
    api_key: ApiKey | None = None


def may_monitor(company: Company, role: str) -> bool:
    """Whether the company's setting lets this role monitor its calls."""
    return company.monitor_roles != "none" and ROLE_RANK[role] >= ROLE_RANK[company.monitor_roles]


def live(company: Company) -> list[Monitor]:
    return list(Monitor.select().where(Monitor.company == company, Monitor.state == "active").order_by(Monitor.id))


def _dump(monitor: Monitor) -> dict:
    return MonitorOut.from_row(monitor).model_dump(mode="json")


def _summary(monitor: Monitor) -> str:
    agent = monitor.agent.display_name if monitor.agent else "an agent"
    return f"{monitor.mode}: {agent}'s call with {monitor.interaction.lead_number}"


class Monitors:
    def __init__(self, bus: Bus, telephony: MonitorVerbs[Any], clock: Clock):
        self.bus, self.telephony, self.clock = bus, telephony, clock
        bus.subscribe("call.monitor_ended", self.on_channel_ended)
        bus.subscribe("telephony.synced", self.on_synced)

    def start(self, actor: Actor, role: str, interaction: Interaction, mode: str, device: str | None) -> Monitor:
        """Ring the supervisor's device into the call in ``mode``. Refused (ApiError) unless the company lets the
        role monitor, the call is answered and live, and the supervisor has an agent profile with that device."""
        company, user = actor.company, actor.user
        if not may_monitor(company, role):
            raise ApiError("monitoring-not-allowed", f"{company.name} does not let a {role} monitor calls")
        if interaction.kind != "call":
            raise ApiError("not-a-call", "only a call is monitored")
        if interaction.status != "active" or interaction.answered_at is None or not interaction.channel_id:
            raise ApiError("not-active", "the call is not answered and in progress")
        own = Agent.get_or_none(Agent.user == user, Agent.company == company) if user is not None else None
        if own is None:
            raise ApiError("no-phone", "monitoring rings your own phone: you need an agent profile in the company")
        device = device or own.ring_device
        if not SipCredential.get_or_none(
            SipCredential.agent == own, SipCredential.device == device, SipCredential.enabled
        ):
            raise ApiError("no-phone", f"you have no {device} device to listen on")
        if own.id == interaction.agent_id:
            raise ApiError("own-call", "the call is your own")
        now = self.clock()
        with database.atomic():
            monitor = Monitor.create(
                company=company,
                interaction=interaction,
                supervisor=user,
                agent=interaction.agent_id,
                device=device,
                mode=mode,
                channel_id=names.monitor_channel_id(uuid.uuid4().hex),
                started_at=now,
                created_at=now,
            )
        verb = self.telephony.spy(
            monitor.channel_id,
            names.interface(device, own.id),
            interaction.channel_id,
            mode,
            names.spy_group(company.id),
        )
        if not carried_out(self.telephony, verb, f"monitor {monitor.id} not started"):
            monitor.delete_instance()
            raise ApiError(
                "monitor-not-started", "Asterisk could not ring your phone into the call (is it connected?); try again"
            )
        monitor = Monitor.get_by_id(monitor.id)  # its device may have hung up already (then it is ended)
        record(actor, "started", "monitor", monitor.id, None, _dump(monitor), _summary(monitor))
        notifier.changed(self.bus, monitor, "started")
        return monitor

    def change(self, actor: Actor, role: str, monitor: Monitor, mode: str) -> Monitor:
        """Switch the mode during the call: ChanSpy starts again on the same call with the new options."""
        if not may_monitor(actor.company, role):
            raise ApiError("monitoring-not-allowed", f"{actor.company.name} does not let a {role} monitor calls")
        if monitor.state != "active":
            raise ApiError("monitor-ended", "the monitor has ended")
        if mode == monitor.mode:
            return monitor
        if not carried_out(
            self.telephony,
            self.telephony.redirect(monitor.channel_id, names.MONITOR_CONTEXT, mode),
            f"monitor {monitor.id} mode",
        ):
            raise ApiError("monitor-ended", "Asterisk no longer has the monitor's call")
        before = _dump(monitor)
        monitor.mode = mode
        monitor.save()
        record(actor, "updated", "monitor", monitor.id, before, _dump(monitor), _summary(monitor))
        notifier.changed(self.bus, monitor, "updated")
        return monitor

    def stop(self, actor: Actor, monitor: Monitor) -> Monitor:
        """Hang up the supervisor's device: the monitor ends at once (its hangup, when seen, finds it ended)."""
        if monitor.state == "active":
            self.telephony.submit(self.telephony.hangup(monitor.channel_id))
            self._end(actor, monitor, "stopped")
        return monitor

    def on_channel_ended(self, event: Event) -> None:
        """The supervisor's device hung up, or ChanSpy ended with the agent's call."""
        monitor = Monitor.get_or_none(Monitor.channel_id == event.data["channel_id"], Monitor.state == "active")
        if monitor is not None:
            self._end(Supervisor(monitor.company, monitor.supervisor), monitor, "hung up")

    def on_synced(self, event: Event) -> None:
        """After a restart (or any resync): a monitor whose device channel Asterisk no longer has has ended. One
        started just before the read may not have its channel yet: it is left to its own hangup."""
        if "monitors" not in event.data:  # a resync that did not read the channels says nothing of them
            return
        up = set(event.data["monitors"])
        settled = event.data["read_at"] - dt.timedelta(seconds=VERB_WAIT)
        # Of several Asterisk nodes, the one that resynced has the monitors of its calls only.
        for monitor in (
            Monitor.select()
            .join(Interaction)
            .where(
                Monitor.state == "active",
                Monitor.started_at < settled,
                Interaction.node == event.data.get("node", ""),
            )
        ):
            if monitor.channel_id not in up:
                self._end(Supervisor(monitor.company, monitor.supervisor), monitor, "gone")

    def _end(self, actor: Actor, monitor: Monitor, how: str) -> None:
        before = _dump(monitor)
        updated = (
            Monitor.update(state="ended", ended_at=self.clock())
            .where(Monitor.id == monitor.id, Monitor.state == "active")
            .execute()
        )
        if not updated:  # ended meanwhile (stopped over the API, then its hangup came)
            return
        monitor = Monitor.get_by_id(monitor.id)
        record(actor, "ended", "monitor", monitor.id, before, _dump(monitor), f"{_summary(monitor)} ({how})")
        notifier.changed(self.bus, monitor, "ended")
