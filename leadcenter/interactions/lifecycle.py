"""The interaction state machine: incoming -> active -> recent, with transitions named after events.

Each transition sets its companion timestamp, is stored as an InteractionTransition and logged; a move the table
does not allow raises IllegalTransition and changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from leadcenter.db import utcnow
from leadcenter.interactions.models import Interaction, InteractionTransition

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "missed", "abandoned", "declined", "voicemail", "timed_out")


@dataclass(frozen=True)
class Move:
    to_status: str
    outcome: str | None = None  # set when the move concludes the interaction


TRANSITIONS: dict[tuple[str, str], Move] = {
    ("incoming", "answer"): Move("active"),
    ("incoming", "abandon"): Move("recent", "abandoned"),
    ("incoming", "miss"): Move("recent", "missed"),
    ("incoming", "take_voicemail"): Move("recent", "voicemail"),
    ("incoming", "time_out"): Move("recent", "timed_out"),
    ("active", "end"): Move("recent", "answered"),
    # An outbound call is active from the moment it is placed; nobody picking up concludes it as missed.
    ("active", "go_unanswered"): Move("recent", "missed"),
}


class IllegalTransition(Exception):
    def __init__(self, interaction: Interaction, event: str):
        super().__init__(f"interaction {interaction.id}: no '{event}' from '{interaction.status}'")
        self.interaction = interaction
        self.event = event


def can(interaction: Interaction, event: str) -> bool:
    return (interaction.status, event) in TRANSITIONS


def apply(interaction: Interaction, event: str, at=None) -> Interaction:
    """Move ``interaction`` by ``event``, save it and record the transition."""
    move = TRANSITIONS.get((interaction.status, event))
    if move is None:
        raise IllegalTransition(interaction, event)
    at = at or utcnow()
    from_status = interaction.status
    interaction.status = move.to_status
    interaction.status_changed_at = at
    if event == "answer":
        interaction.answered_at = at
    if move.to_status == "recent":
        interaction.outcome = move.outcome
        interaction.ended_at = at
        if interaction.answered_at is not None:
            interaction.talk_seconds = max(0, round((at - interaction.answered_at).total_seconds()))
    with interaction._meta.database.atomic():
        interaction.save()
        InteractionTransition.create(interaction=interaction, event=event, from_status=from_status,
                                     to_status=move.to_status, outcome=move.outcome, at=at)
    log.info("interaction %s: %s -> %s by %s%s", interaction.id, from_status, move.to_status, event,
             f" ({move.outcome})" if move.outcome else "")
    return interaction
