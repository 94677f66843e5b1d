"""What the call flow endpoints accept and answer (the step shapes are the flows service's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, RootModel

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.flows.models import CallFlow
from leadcenter.flows.services import Step, Steps
from leadcenter.wire import Schema, UtcDateTime


class NewFlow(Schema):
    name: Name
    record: bool = False
    announce_recording: bool = Field(False, description="tell the caller the call is recorded (with record)")
    steps: Steps = Field(description="tried in order until one connects the call")


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    FlowChanges = NewFlow
else:
    FlowChanges = changes_of(NewFlow, "FlowChanges", "Only the fields sent change; steps replaces all the steps.")


class FlowOut(Schema):
    id: int
    name: str
    record: bool
    announce_recording: bool
    steps: list[Step]
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, flow: CallFlow) -> FlowOut:
        return cls(
            id=flow.id,
            name=flow.name,
            record=flow.record,
            announce_recording=flow.announce_recording,
            steps=flow.steps,
            created_at=flow.created_at,
        )


class FlowList(RootModel[list[FlowOut]]):
    pass
