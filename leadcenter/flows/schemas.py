"""What the call flow endpoints accept and answer (the step shapes are the flows service's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, RootModel

from leadcenter.accounts.schemas import Name, changes_of
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.flows.services import Step, Steps
from leadcenter.wire import Schema, UtcDateTime


class NewFlow(Schema):
    name: Name
    record: bool = False
    announce_recording: bool = Field(False, description="tell the caller the call is recorded (with record)")
    steps: Steps = Field(description="tried in order until one connects the call")


class _FlowEdit(NewFlow):
    version: int = Field(
        description="the flow's version the change was made to (FlowOut.version): an older one is refused (409 "
        "changed: someone else saved meanwhile); leave it out to overwrite whatever is there"
    )


if TYPE_CHECKING:  # to the checker: the model's fields, each of which may be left out
    FlowChanges = _FlowEdit
else:
    FlowChanges = changes_of(_FlowEdit, "FlowChanges", "Only the fields sent change; steps replaces all the steps.")


class Restore(Schema):
    version: int | None = Field(None, description="the flow's current version, as for a change")


class FlowOut(Schema):
    id: int
    name: str
    record: bool
    announce_recording: bool
    steps: list[Step]
    version: int = Field(description="counts the saves; send it back with a change")
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, flow: CallFlow) -> FlowOut:
        return cls(
            id=flow.id,
            name=flow.name,
            record=flow.record,
            announce_recording=flow.announce_recording,
            steps=flow.steps,
            version=flow.version,
            created_at=flow.created_at,
        )


class FlowVersionOut(Schema):
    version: int
    name: str
    record: bool
    announce_recording: bool
    steps: list[Step] = Field(description="as the flow's steps were then")
    saved_by: str | None = Field(description="the email of who saved it; null for an API key or the command line")
    saved_at: UtcDateTime

    @classmethod
    def from_row(cls, row: FlowVersion) -> FlowVersionOut:
        return cls(
            version=row.version,
            name=row.name,
            record=row.record,
            announce_recording=row.announce_recording,
            steps=row.steps,
            saved_by=row.saved_by.email if row.saved_by is not None else None,
            saved_at=row.created_at,
        )


class FlowVersionList(RootModel[list[FlowVersionOut]]):
    pass


class FlowSoundOut(Schema):
    name: str = Field(description="what greeting and IVR steps name it by (sound)")
    url: str
    seconds: float


class FlowSoundList(RootModel[list[FlowSoundOut]]):
    pass


class FlowList(RootModel[list[FlowOut]]):
    pass


class FlowSoundName(Schema):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="lower-case letters, digits and '-'")
