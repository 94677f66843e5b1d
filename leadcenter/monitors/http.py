"""Listen, whisper, barge: a supervisor steps into an agent's live call of their own company on their own device.

Who may is the company's setting (Company.monitor_roles, set by its admins); another company's call, like a
monitor of another company, answers 404 as one that does not exist (and Asterisk's spy group would refuse it
anyway: services.py).
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import RootModel

from leadcenter.errors import not_found
from leadcenter.interactions.models import Interaction
from leadcenter.monitors import services
from leadcenter.monitors.models import Monitor
from leadcenter.monitors.schemas import MonitorChange, MonitorOut, NewMonitor
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import scoped

bp = Blueprint("monitors", __name__, url_prefix="/api/v1")


class MonitorList(RootModel[list[MonitorOut]]):
    pass


def _monitors() -> services.Monitors:
    return ports.controller().monitors


@endpoint(
    bp,
    "POST",
    "/interactions/<int:interaction_id>/monitor",
    role="supervisor",
    body=NewMonitor,
    response=MonitorOut,
    status=201,
    summary="Listen to, whisper to or barge into an agent's live call: my own phone (browser softphone or desk "
    "phone) rings, and once picked up it is in the call in that mode",
)
def start_monitor(principal: Principal, interaction_id: int, body: NewMonitor):
    interaction = scoped(Interaction, interaction_id, principal, "interaction")
    monitor = _monitors().start(principal, principal.role, interaction, body.mode, body.device)
    return MonitorOut.from_row(monitor)


@endpoint(
    bp,
    "PATCH",
    "/monitors/<int:monitor_id>",
    role="supervisor",
    body=MonitorChange,
    response=MonitorOut,
    summary="Switch a monitor's mode during the call: listen (nobody hears me), whisper (only the agent does), "
    "barge (the agent and the lead do)",
)
def change_monitor(principal: Principal, monitor_id: int, body: MonitorChange):
    monitor = _own(principal, monitor_id)
    return MonitorOut.from_row(_monitors().change(principal, principal.role, monitor, body.mode))


@endpoint(bp, "DELETE", "/monitors/<int:monitor_id>", role="supervisor", summary="Stop monitoring: my phone hangs up")
def stop_monitor(principal: Principal, monitor_id: int):
    _monitors().stop(principal, _own(principal, monitor_id))


@endpoint(
    bp, "GET", "/monitors", role="supervisor", response=MonitorList, summary="The company's monitors going on now"
)
def list_monitors(principal: Principal):
    return MonitorList([MonitorOut.from_row(m) for m in services.live(principal.company)])


def _own(principal: Principal, monitor_id: int) -> Monitor:
    """One of the caller's own monitors: another supervisor's is theirs to change or stop (404, as another
    company's)."""
    monitor = scoped(Monitor, monitor_id, principal, "monitor")
    if principal.user is None or monitor.supervisor_id != principal.user.id:
        raise not_found("monitor")
    return monitor
