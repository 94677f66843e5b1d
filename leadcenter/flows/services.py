"""Call flow steps: their shapes, the check that what they name exists in the flow's company, and who names what.

A flow is saved only when ``asterisk_config`` can render it: every team and agent a step names belongs to the flow's
company. Deleting what a flow names is refused (``flows_naming``) so that a saved flow stays renderable; one bad flow
would otherwise stop the configuration of every company from being rendered.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadcenter.accounts.models import Company, User
from leadcenter.agents.models import Agent, current_agents
from leadcenter.dialplans.services import usable_by
from leadcenter.flows.models import CallFlow, FlowVersion
from leadcenter.teams.models import Team, TeamMember
from leadcenter.trunks.models import Trunk

MAX_STEPS = 20  # in one list of steps (the flow's, or a branch's)
MAX_ALL_STEPS = 100  # in the whole flow, branches included
MAX_RING_AGENTS = 50
MAX_HOLIDAYS = 60
Timeout = Annotated[int, Field(ge=5, le=3600, description="seconds")]
# A sound the company uploaded for its flows (PUT /flow-sounds/<name>): greetings and IVR prompts.
SoundName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="an uploaded flow sound")]
E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +14045550123")]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", description="HH:MM")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Digit = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueStep(_Step):
    """Offer the call to a team's queue."""

    type: Literal["queue"]
    team: int
    timeout: Timeout | None = Field(None, description="seconds; left out: the team's maximum wait")


class RingAgentsStep(_Step):
    """Ring these agents at once (those Available when the configuration is rendered)."""

    type: Literal["ring_agents"]
    agents: list[int] = Field(min_length=1, max_length=MAX_RING_AGENTS)
    timeout: Timeout = 30

    @field_validator("agents")
    @classmethod
    def each_once(cls, agents: list[int]) -> list[int]:
        if len(set(agents)) != len(agents):
            raise ValueError("an agent is listed twice")
        return agents


class VoicemailStep(_Step):
    """Take a message: in the agent's mailbox, or the company's when no agent is named."""

    type: Literal["voicemail"]
    agent: int | None = None


class GreetingStep(_Step):
    """Play one of the company's flow sounds to the caller, then go on."""

    type: Literal["greeting"]
    sound: SoundName


class ForwardStep(_Step):
    """Ring an external number through a trunk; the callee sees the tracking number that was called."""

    type: Literal["forward"]
    number: E164
    trunk: int
    timeout: Timeout = 30


class HangupStep(_Step):
    """End the call."""

    type: Literal["hangup"]


class Branch(_Step):
    """Where a business-hours step or an IVR choice sends the call: its own steps (then, unless one of them ended
    the call, the call goes on with the steps after the branching step), or another flow of the company."""

    steps: list[Step] = Field(default=[], max_length=MAX_STEPS)
    flow: int | None = Field(None, description="another flow the call goes to instead of steps")

    @model_validator(mode="after")
    def steps_or_flow(self) -> Branch:
        if self.flow is not None and self.steps:
            raise ValueError("a branch has steps or goes to a flow, not both")
        return self


class OpeningHours(_Step):
    days: list[Day] = Field(min_length=1, max_length=7)
    open: ClockTime
    close: ClockTime

    @model_validator(mode="after")
    def opens_before_closing(self) -> OpeningHours:
        if self.open >= self.close:
            raise ValueError("open must be before close (for hours past midnight, add the next day's row)")
        return self


class HoursStep(_Step):
    """Business hours in the company's time zone: the open branch during the weekly hours except on holidays,
    else the closed branch."""

    type: Literal["hours"]
    weekly: list[OpeningHours] = Field(max_length=21)
    holidays: list[date] = Field(default=[], max_length=MAX_HOLIDAYS)
    open: Branch = Field(default_factory=Branch)
    closed: Branch = Field(default_factory=Branch)


class IvrStep(_Step):
    """A menu: play the prompt and wait for one key; each key of ``digits`` has its branch. No key within
    ``timeout`` seconds, or a key the menu does not have, replays the menu up to ``attempts`` times, then takes
    ``no_input`` or ``invalid``."""

    type: Literal["ivr"]
    sound: SoundName | None = None
    digits: dict[Digit, Branch] = Field(min_length=1)
    timeout: int = Field(5, ge=1, le=30, description="seconds to wait for a key")
    attempts: int = Field(3, ge=1, le=5)
    no_input: Branch = Field(default_factory=Branch)
    invalid: Branch = Field(default_factory=Branch)


class CustomStep(_Step):
    """Send the call into a custom dialplan context the installation owner wrote (custom-<context>, at s,1)."""

    type: Literal["custom"]
    context: str = Field(max_length=40)


def _untagged_paths(steps, validate):
    """Pydantic puts the step type in error paths (``0.queue.timeout``); a client knows a step by its index."""
    try:
        return validate(steps)
    except ValidationError as exc:
        raise ValidationError.from_exception_data(
            exc.title,
            [
                InitErrorDetails(
                    type=PydanticCustomError(problem["type"], problem["msg"]),
                    input=problem["input"],
                    loc=_untagged(problem["loc"]),
                )
                for problem in exc.errors()
            ],
        ) from None


def _untagged(loc: tuple) -> tuple:
    # A step's type follows its index in a list of steps (at any depth: steps.0.digits.1.steps.0.queue.team).
    return tuple(part for i, part in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and part in STEP_TYPES))


# The step types: another one is a class above, a member here and its line in asterisk_config / pbx.render.
Step = Annotated[
    QueueStep
    | RingAgentsStep
    | VoicemailStep
    | GreetingStep
    | HoursStep
    | IvrStep
    | ForwardStep
    | HangupStep
    | CustomStep,
    Field(discriminator="type"),
]
STEP_TYPES = {get_args(c.model_fields["type"].annotation)[0] for c in get_args(get_args(Step)[0])}
Branch.model_rebuild()
HoursStep.model_rebuild()
IvrStep.model_rebuild()
Steps = Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS), WrapValidator(_untagged_paths)]
_STEPS = TypeAdapter(Steps)


def branches(step: dict) -> list[tuple[str, dict]]:
    """A stored step's branches with their paths below the step (``digits.1``, ``open``)."""
    if step.get("type") == "hours":
        return [(side, step[side]) for side in ("open", "closed") if side in step]
    if step.get("type") == "ivr":
        found = [(f"digits.{digit}", branch) for digit, branch in step.get("digits", {}).items()]
        return found + [(side, step[side]) for side in ("no_input", "invalid") if side in step]
    return []


def walk(steps: list[dict], path: str = "steps"):
    """Every step of a stored list, branches included, depth first, with its path (``steps.0.digits.1.steps.2``)."""
    for index, step in enumerate(steps):
        where = f"{path}.{index}"
        yield where, step
        for below, branch in branches(step):
            yield from walk(branch.get("steps", []), f"{where}.{below}.steps")


class InvalidSteps(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{path}: {problem}" for path, problem in fields.items()))
        self.fields = fields  # "steps.<index>.<field>" -> what is wrong


def checked_steps(company: Company, steps: list, sounds: set[str] | None = None) -> list[dict]:
    """The steps as stored (``CallFlow.steps``) when their shapes are valid and every team, agent, trunk, flow and
    sound they name belongs to ``company`` (``sounds``: its uploaded flow sounds; None: not checked); raises
    InvalidSteps naming each problem otherwise."""
    try:
        parsed = _STEPS.validate_python(steps)
    except ValidationError as exc:
        raise InvalidSteps(
            {".".join(["steps", *map(str, problem["loc"])]): problem["msg"] for problem in exc.errors()}
        ) from None
    stored = [step.model_dump(mode="json", exclude_none=True) for step in parsed]
    found = list(walk(stored))
    if len(found) > MAX_ALL_STEPS:
        raise InvalidSteps({"steps": f"a flow has at most {MAX_ALL_STEPS} steps, branches included"})
    teams = {t.id for t in Team.select(Team.id).where(Team.company == company)}
    agents = {a.id for a in current_agents(company).select(Agent.id)}
    trunks = {t.id for t in Trunk.select(Trunk.id).where(Trunk.company == company)}
    flows = {f.id for f in CallFlow.select(CallFlow.id).where(CallFlow.company == company)}
    problems = {}
    for where, step in found:
        kind = step["type"]
        if kind == "queue" and step["team"] not in teams:
            problems[f"{where}.team"] = f"no team {step['team']} in this company"
        elif kind == "ring_agents":
            for position, agent in enumerate(step["agents"]):
                if agent not in agents:
                    problems[f"{where}.agents.{position}"] = f"no agent {agent} in this company"
        elif kind == "voicemail" and step.get("agent") is not None and step["agent"] not in agents:
            problems[f"{where}.agent"] = f"no agent {step['agent']} in this company"
        elif kind == "forward" and step["trunk"] not in trunks:
            problems[f"{where}.trunk"] = f"no trunk {step['trunk']} in this company"
        elif kind == "custom" and usable_by(company.id, step["context"]) is None:
            problems[f"{where}.context"] = f"no custom context {step['context']} for this company"
        if sounds is not None and step.get("sound") is not None and step["sound"] not in sounds:
            problems[f"{where}.sound"] = f"no flow sound {step['sound']!r}: upload it first"
        for below, branch in branches(step):
            if branch.get("flow") is not None and branch["flow"] not in flows:
                problems[f"{where}.{below}.flow"] = f"no flow {branch['flow']} in this company"
    if problems:
        raise InvalidSteps(problems)
    return stored


def flows_naming(
    company: Company,
    *,
    team: int | None = None,
    agent: int | None = None,
    trunk: int | None = None,
    flow: int | None = None,
) -> list[CallFlow]:
    """The company's flows with a step (at any depth) that names this team, agent or trunk, or a branch that goes
    to this flow."""

    def names(step: dict) -> bool:
        if team is not None and step.get("type") == "queue" and step.get("team") == team:
            return True
        if trunk is not None and step.get("type") == "forward" and step.get("trunk") == trunk:
            return True
        if flow is not None and any(branch.get("flow") == flow for _, branch in branches(step)):
            return True
        return agent is not None and (agent in step.get("agents", ()) or step.get("agent") == agent)

    return [
        row
        for row in CallFlow.select().where(CallFlow.company == company).order_by(CallFlow.id)
        if row.id != flow and any(names(step) for _, step in walk(row.steps))
    ]


def audience(flow: CallFlow) -> set[int]:
    """The agents a flow offers its calls to: its queue steps' team members and its ring-agents steps' agents (in
    every branch). They, while not Offline, see the flow's calls in Incoming."""
    steps = [step for _, step in walk(flow.steps)]
    agents = {agent_id for step in steps if step.get("type") == "ring_agents" for agent_id in step["agents"]}
    teams = [step["team"] for step in steps if step.get("type") == "queue"]
    if teams:
        agents |= set(TeamMember.select(TeamMember.agent).where(TeamMember.team.in_(teams)).scalars())
    return agents


def flows_offering_to(agent: Agent) -> list[int]:
    """Ids of the company's flows whose calls are offered to ``agent``."""
    return [
        flow.id for flow in CallFlow.select().where(CallFlow.company == agent.company_id) if agent.id in audience(flow)
    ]


def keep_version(flow: CallFlow, saved_by: User | None) -> FlowVersion:
    """Keep the flow as it is now saved (its ``version``) among its versions."""
    return FlowVersion.create(
        flow=flow,
        version=flow.version,
        name=flow.name,
        steps_json=flow.steps_json,
        record=flow.record,
        announce_recording=flow.announce_recording,
        saved_by=saved_by,
    )


def flow_columns(row: FlowVersion | CallFlow) -> dict:
    """What a version restores: the flow's name, steps and recording choices."""
    return {
        "name": row.name,
        "steps": row.steps,
        "record": row.record,
        "announce_recording": row.announce_recording,
    }
