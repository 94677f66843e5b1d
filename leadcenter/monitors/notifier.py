"""The monitors domain's events (catalogue.py): the monitor as the REST API returns it, to the company's supervisors,
and to the agent on the call when the company tells agents they are monitored."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.monitors.models import Monitor
from leadcenter.monitors.schemas import MonitorOut


def changed(bus: Publisher, monitor: Monitor, verb: str) -> None:
    told = [monitor.agent_id] if monitor.company.monitor_notice and monitor.agent_id is not None else []
    catalogue.MONITOR_EVENTS[verb].publish(
        bus,
        company_id=monitor.company_id,
        monitor=MonitorOut.from_row(monitor).model_dump(mode="json"),
        for_agents=told,
    )
