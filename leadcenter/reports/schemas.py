"""What the KPIs and report series API accepts and answers. Each figure's description is its definition
(docs/kpis.md says the same in words)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from leadcenter.interactions.schemas import ReportQuery
from leadcenter.reports.services import SHORT_ABANDON_SECONDS
from leadcenter.wire import INT_RANGE, Schema

PERIOD = (
    "Every figure is of the interactions that began in the period (since's first second to until's last, days and "
    "hours in the company's time zone, as report.csv's); durations are whole seconds between the times as "
    "report.csv writes them."
)


class KpiQuery(ReportQuery):
    """report.csv's period (the same days, so that the figures agree with it), for a team or an agent."""

    team_id: int | None = Field(
        None,
        ge=1,
        le=INT_RANGE[1],
        description="one team: its queue's calls (service level, speed of answer, abandonment, missed, the hour "
        "series) and what its members handled now (handle time, outbound, conversations, the channel, agent and "
        "attribution series)",
    )
    agent_id: int | None = Field(
        None,
        ge=1,
        le=INT_RANGE[1],
        description="one agent: what they handled; their missed calls are the offers they let ring out",
    )


class ChannelQuery(KpiQuery):
    interval: Literal["day", "week", "month"] = Field("day", description="weeks begin on Monday")


class AttributionQuery(KpiQuery):
    group: Literal["source", "medium", "campaign", "keywords", "landing_page"] = "source"


class Period(Schema):
    since: dt.date
    until: dt.date = Field(description="included")
    time_zone: str = Field(description="the days' and hours' time zone: the company's (UTC if this server lacks it)")
    team_id: int | None
    agent_id: int | None


class QueueKpis(Schema):
    """Inbound calls that entered a team's queue (the first queue they entered) and have ended."""

    offered: int = Field(description="queue calls that began in the period and have ended (whatever the outcome)")
    short_abandons: int = Field(
        description=f"queue calls the caller hung up within {SHORT_ABANDON_SECONDS} s of calling, before anyone "
        "answered: counted apart, and left out of the service level and the abandonment rate"
    )
    answered: int = Field(description="queue calls an agent answered")
    answered_within_threshold: int = Field(
        description="queue calls answered at most N seconds after the call began, N the team's "
        "service_level_seconds (default 20)"
    )
    service_level_seconds: list[int] = Field(description="the thresholds N of the teams counted")
    service_level: float | None = Field(
        description="answered_within_threshold / (offered - short_abandons), 0..1; null with no calls"
    )
    average_speed_of_answer_seconds: float | None = Field(
        description="mean of answered_at - started_at over the answered queue calls (seconds, 1 decimal)"
    )
    abandoned: int = Field(
        description=f"queue calls the caller hung up before anyone answered, after {SHORT_ABANDON_SECONDS} s or more"
    )
    abandonment_rate: float | None = Field(description="abandoned / (offered - short_abandons), 0..1")


class MissedKpis(Schema):
    missed: int = Field(
        description="inbound calls (any, queued or not) that ended with nobody answering and no message left, not "
        "hung up by the caller while waiting (outcome missed); for an agent: the calls offered to them that they let "
        "ring out"
    )
    voicemail: int = Field(description="inbound calls that ended in a voicemail message (outcome voicemail)")


class HandlingKpis(Schema):
    """Calls an agent talked on (inbound answered, outbound the lead picked up) that have ended."""

    handled: int
    average_talk_seconds: float | None = Field(description="mean of talk_seconds - hold_seconds")
    average_hold_seconds: float | None = Field(
        description="mean of hold_seconds: the time either side held the call (from Asterisk's Hold/Unhold)"
    )
    wrapped_up: int = Field(description="handled calls followed by a wrap-up that has ended")
    average_wrap_up_seconds: float | None = Field(
        description="the wrap-ups' seconds (from the agent's move into wrap-up at the call's end to their next "
        "status change) / handled"
    )
    average_handle_time_seconds: float | None = Field(
        description="AHT: average talk + average hold + average wrap-up = (sum of talk_seconds + wrap-ups) / handled"
    )


class OutboundKpis(Schema):
    attempts: int = Field(description="calls agents placed")
    connects: int = Field(description="placed calls the lead picked up")
    connect_rate: float | None = Field(description="connects / attempts")


class ConversationKpis(Schema):
    """Inbound texts or chats. An episode is each time one came into Incoming: its first message, and each time the
    lead wrote again after it had concluded (reopen)."""

    episodes: int
    responded: int = Field(description="episodes an agent sent a message in")
    average_first_response_seconds: float | None = Field(
        description="mean time from the episode's start to the first message an agent sent (automatic replies "
        "do not count)"
    )
    resolved: int = Field(
        description="episodes whose next move to Recent was as answered (Close text, End Chat, idle after replies)"
    )
    average_resolution_seconds: float | None = Field(description="mean time from the episode's start to that move")


class KpisOut(Schema):
    period: Period
    queue: QueueKpis
    missed: MissedKpis
    handling: HandlingKpis
    outbound: OutboundKpis
    texts: ConversationKpis
    chats: ConversationKpis


class ChannelRow(Schema):
    period: dt.date = Field(description="the interval's first day")
    channel: str = Field(description="call, text, chat, voicemail, form, visit")
    interactions: int = Field(description="interactions of the channel that began in the interval")
    answered: int = Field(description="of those, answered or taken by an agent")


class ChannelSeries(Schema):
    period: Period
    interval: str
    rows: list[ChannelRow]


class AttributionRow(Schema):
    value: str = Field(description="the source, medium, campaign, keywords or landing page ('' when unknown)")
    interactions: int
    qualified: int = Field(description="marked qualified by an agent")
    classified: int = Field(description="marked qualified or unqualified")
    qualified_rate: float | None = Field(description="qualified / classified")
    value_cents: int = Field(description="the sum of the values agents entered")


class AttributionSeries(Schema):
    period: Period
    group: str
    rows: list[AttributionRow]


class AgentRow(Schema):
    agent_id: int
    agent_name: str
    handled: int = Field(description="interactions the agent answered or took, ended")
    calls_handled: int
    average_handle_time_seconds: float | None = Field(description="as handling.average_handle_time_seconds")
    qualified: int


class AgentSeries(Schema):
    period: Period
    rows: list[AgentRow]


class HourRow(Schema):
    weekday: int = Field(ge=1, le=7, description="1 Monday .. 7 Sunday")
    hour: int = Field(ge=0, le=23)
    interactions: int = Field(description="inbound interactions that began in that hour")
    calls: int


class HourSeries(Schema):
    period: Period
    rows: list[HourRow]


class MissedRow(Schema):
    hour: int = Field(ge=0, le=23)
    calls: int = Field(description="inbound calls that began in that hour")
    missed: int
    voicemail: int
    abandoned: int
    short_abandons: int


class MissedSeries(Schema):
    period: Period
    rows: list[MissedRow]


MAX_RECIPIENTS = 20


class WeeklySummaryChanges(Schema):
    """The weekly summary email: each Monday (the company's time zone), the week that ended to the recipients."""

    enabled: bool = Field(description="on: the first summary is of the next week that ends")
    recipients: list[str] = Field(max_length=MAX_RECIPIENTS, description="email addresses")

    @field_validator("recipients")
    @classmethod
    def addresses(cls, recipients: list[str]) -> list[str]:
        out: list[str] = []
        for given in recipients:
            address = given.strip().lower()
            local, at, domain = address.partition("@")
            if (
                not (local and at and "." in domain)
                or len(address) > 254
                or not address.isprintable()
                or " " in address
            ):
                raise ValueError(f"not an email address: {given[:60]}")
            if address not in out:
                out.append(address)
        return out


class WeeklySummaryOut(Schema):
    enabled: bool
    recipients: list[str]
    last_week: dt.date | None = Field(
        description="the Monday of the last week summarised (sent, or done when turned on); null: none yet"
    )
    time_zone: str = Field(description="the company's: weeks run from Monday 00:00 to Monday 00:00 there")
    email_on: bool = Field(description="this server sends email ([smtp] host set); without it nothing goes out")
