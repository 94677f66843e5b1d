"""Call legs: each party's time on a lead's call besides the lead, and who is responsible for the call.

The interaction's ``agent`` is the agent who joined last and is still on: when an agent joins a call already Active
(a transfer, a conference), it moves to them, classification and all; when its agent leaves and another agent is
still on, it moves to the one who joined last; when nobody is, it stays theirs (they hung up: the call ends) unless
they handed it on (a transfer into a queue, to a number, to a colleague still ringing): then it is nobody's until an
agent joins. Each change publishes ``interaction.updated`` (the interaction with its
legs) and an internal ``call.leg_joined`` / ``call.leg_left``, on which the recorder moves the agents' availability
(on a call; wrap-up when they leave it).
"""

from __future__ import annotations

import datetime as dt

from peewee import IntegrityError

from leadcenter.agents.models import Agent
from leadcenter.db import Prepared, database
from leadcenter.events import Publisher
from leadcenter.interactions import notifier
from leadcenter.interactions.models import CallLeg, CallTransfer, Interaction

__all__ = ["CallLeg", "CallTransfer", "handed_on", "joined", "left", "open_legs"]


# The leg on a channel: its SQL built once (looked up as each party joins and leaves).
_LEG_OF_CHANNEL = Prepared(lambda channel_id: CallLeg.select().where(CallLeg.channel_id == channel_id), "?ch")


def joined(
    bus: Publisher,
    interaction: Interaction,
    channel_id: str,
    at: dt.datetime,
    *,
    agent: Agent | None = None,
    number: str = "",
) -> CallLeg:
    """The party on ``channel_id`` began talking with the lead; the same channel again returns its leg unchanged."""
    existing = _LEG_OF_CHANNEL.first(channel_id)
    if existing is not None:
        return existing
    try:
        with database.atomic():
            leg = CallLeg.create(
                interaction=interaction, agent=agent, number=number, channel_id=channel_id, joined_at=at
            )
            if agent is not None and interaction.agent_id != agent.id:
                interaction.agent = agent
                interaction.save(only=[Interaction.agent])
    except IntegrityError:  # the same channel, told twice at once
        return CallLeg.get(CallLeg.channel_id == channel_id)
    notifier.changed(bus, interaction)
    bus.publish(
        "call.leg_joined",
        interaction_id=interaction.id,
        channel_id=channel_id,
        agent_id=agent.id if agent is not None else None,
        at=at,
    )
    return leg


def left(bus: Publisher, channel_id: str, at: dt.datetime) -> CallLeg | None:
    """The party on ``channel_id`` left the call; None if no leg has that channel or it had already left."""
    with database.atomic():
        leg = _LEG_OF_CHANNEL.first(channel_id)
        if leg is None or leg.left_at is not None:
            return None
        leg.left_at = max(at, leg.joined_at)
        if not CallLeg.update(left_at=leg.left_at).where(CallLeg.id == leg.id, CallLeg.left_at.is_null()).execute():
            return None
        interaction = Interaction.get_by_id(leg.interaction_id)
        if leg.agent_id is not None and interaction.agent_id == leg.agent_id:
            staying = [other for other in open_legs(interaction) if other.agent_id not in (None, leg.agent_id)]
            if staying:
                interaction.agent_id = staying[-1].agent_id
                interaction.save(only=[Interaction.agent])
            elif handed_on(interaction, leg.agent_id):  # into a queue, to a number, ringing a colleague: nobody's
                interaction.agent_id = None
                interaction.save(only=[Interaction.agent])
    notifier.changed(bus, interaction)
    bus.publish(
        "call.leg_left",
        interaction_id=interaction.id,
        channel_id=channel_id,
        agent_id=leg.agent_id,
        at=leg.left_at,
    )
    return leg


def handed_on(interaction: Interaction, agent_id: int) -> bool:
    """The agent moved the call on (a transfer of theirs that has not failed, nor been cancelled): their leaving is
    no hang-up. Bringing someone into a conference is not handing the call on: the last agent of a conference who
    leaves ends the call (dialplans/conference.conf) and is its agent to the end."""
    return (
        CallTransfer.select()
        .where(
            CallTransfer.interaction == interaction,
            CallTransfer.from_agent == agent_id,
            CallTransfer.outcome.not_in(["failed", "cancelled"]),
            CallTransfer.kind != "conference",
        )
        .exists()
    )


def open_legs(interaction: Interaction) -> list[CallLeg]:
    """The parties on the call now, in the order they joined."""
    return list(
        CallLeg.select()
        .where(CallLeg.interaction == interaction, CallLeg.left_at.is_null())
        .order_by(CallLeg.joined_at, CallLeg.id)
    )


def add_hold(channel_id: str, seconds: int) -> None:
    """A hold of the call while this party was on it: theirs too."""
    CallLeg.update(hold_seconds=CallLeg.hold_seconds + seconds).where(CallLeg.channel_id == channel_id).execute()
