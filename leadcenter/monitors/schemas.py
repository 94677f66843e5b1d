from __future__ import annotations

from pydantic import Field

from leadcenter.monitors.models import Mode, Monitor
from leadcenter.pbx.names import Device
from leadcenter.wire import Schema, UtcDateTime


class MonitorOut(Schema):
    id: int
    interaction_id: int
    supervisor: int  # the user listening
    agent_id: int | None  # the agent on the call
    mode: Mode  # listen: nobody hears the supervisor; whisper: only the agent does; barge: the agent and the lead do
    device: Device  # the supervisor's device it rings
    state: str  # active (from the moment the device is rung) | ended
    started_at: UtcDateTime
    ended_at: UtcDateTime | None

    @classmethod
    def from_row(cls, monitor: Monitor) -> MonitorOut:
        return cls(
            id=monitor.id,
            interaction_id=monitor.interaction_id,
            supervisor=monitor.supervisor_id,
            agent_id=monitor.agent_id,
            mode=monitor.mode,
            device=monitor.device,
            state=monitor.state,
            started_at=monitor.started_at,
            ended_at=monitor.ended_at,
        )


class NewMonitor(Schema):
    mode: Mode = "listen"
    device: Device | None = Field(None, description="the caller's device to ring; default: their ring device")


class MonitorChange(Schema):
    mode: Mode
