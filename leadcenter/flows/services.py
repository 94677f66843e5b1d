"""Call flow steps: their shapes, the check that what they name exists in the flow's company, and who names what.

A flow is saved only when ``asterisk_config`` can render it: every team and agent a step names belongs to the flow's
company. Deleting what a flow names is refused (``flows_naming``) so that a saved flow stays renderable; one bad flow
would otherwise stop the configuration of every company from being rendered.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, WrapValidator, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent, current_agents
from leadcenter.dialplans.services import usable_by
from leadcenter.flows.models import CallFlow
from leadcenter.teams.models import Team, TeamMember

MAX_STEPS = 20
MAX_RING_AGENTS = 50
Timeout = Annotated[int, Field(ge=5, le=3600, description="seconds")]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueStep(_Step):
    """Offer the call to a team's queue."""

    type: Literal["queue"]
    team: int
    timeout: Timeout = 300


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
                    loc=problem["loc"][:1] + problem["loc"][2:] if len(problem["loc"]) > 1 else problem["loc"],
                )
                for problem in exc.errors()
            ],
        ) from None


Step = Annotated[QueueStep | RingAgentsStep | VoicemailStep | CustomStep, Field(discriminator="type")]
Steps = Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS), WrapValidator(_untagged_paths)]
_STEPS = TypeAdapter(Steps)


class InvalidSteps(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{path}: {problem}" for path, problem in fields.items()))
        self.fields = fields  # "steps.<index>.<field>" -> what is wrong


def checked_steps(company: Company, steps: list) -> list[dict]:
    """The steps as stored (``CallFlow.steps``) when their shapes are valid and every team and agent they name
    belongs to ``company``; raises InvalidSteps naming each problem otherwise."""
    try:
        parsed = _STEPS.validate_python(steps)
    except ValidationError as exc:
        raise InvalidSteps(
            {".".join(["steps", *map(str, problem["loc"])]): problem["msg"] for problem in exc.errors()}
        ) from None
    teams = {t.id for t in Team.select(Team.id).where(Team.company == company)}
    agents = {a.id for a in current_agents(company).select(Agent.id)}
    problems = {}
    for index, step in enumerate(parsed):
        where = f"steps.{index}"
        if isinstance(step, QueueStep) and step.team not in teams:
            problems[f"{where}.team"] = f"no team {step.team} in this company"
        elif isinstance(step, RingAgentsStep):
            for position, agent in enumerate(step.agents):
                if agent not in agents:
                    problems[f"{where}.agents.{position}"] = f"no agent {agent} in this company"
        elif isinstance(step, VoicemailStep) and step.agent is not None and step.agent not in agents:
            problems[f"{where}.agent"] = f"no agent {step.agent} in this company"
        elif isinstance(step, CustomStep) and usable_by(company.id, step.context) is None:
            problems[f"{where}.context"] = f"no custom context {step.context} for this company"
    if problems:
        raise InvalidSteps(problems)
    return [step.model_dump(exclude_none=True) for step in parsed]


def flows_naming(company: Company, *, team: int | None = None, agent: int | None = None) -> list[CallFlow]:
    """The company's flows with a step that names this team or this agent."""

    def names(step: dict) -> bool:
        if team is not None and step.get("type") == "queue" and step.get("team") == team:
            return True
        return agent is not None and (agent in step.get("agents", ()) or step.get("agent") == agent)

    return [
        flow
        for flow in CallFlow.select().where(CallFlow.company == company).order_by(CallFlow.id)
        if any(names(step) for step in flow.steps)
    ]


def audience(flow: CallFlow) -> set[int]:
    """The agents a flow offers its calls to: its queue steps' team members and its ring-agents steps' agents.
    They, while not Offline, see the flow's calls in Incoming."""
    agents = {agent_id for step in flow.steps if step.get("type") == "ring_agents" for agent_id in step["agents"]}
    teams = [step["team"] for step in flow.steps if step.get("type") == "queue"]
    if teams:
        agents |= {m.agent_id for m in TeamMember.select(TeamMember.agent).where(TeamMember.team.in_(teams))}
    return agents


def flows_offering_to(agent: Agent) -> list[int]:
    """Ids of the company's flows whose calls are offered to ``agent``."""
    return [
        flow.id for flow in CallFlow.select().where(CallFlow.company == agent.company_id) if agent.id in audience(flow)
    ]
