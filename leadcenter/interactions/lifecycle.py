"""The interaction state machine: incoming -> active -> recent, with transitions named after events.

Conversations (texts, chats) also go recent -> incoming when the lead writes again (``reopen``) and
recent -> active when an agent writes first (``write``): one thread per lead and tracking number.

Each transition sets its companion timestamp, is stored as an InteractionTransition and logged; a move the table
does not allow raises IllegalTransition and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from leadcenter.interactions.models import Interaction, InteractionTransition

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "missed", "abandoned", "declined", "voicemail", "timed_out")


CONVERSATIONS = ("text", "chat")


@dataclass(frozen=True)
class Move:
    to_status: str
    outcome: str | None = None  # set when the move concludes the interaction
    answers: bool = False  # sets answered_at: an agent took the interaction
    kinds: tuple[str, ...] | None = None  # None: every kind


TRANSITIONS: dict[tuple[str, str], Move] = {
    ("incoming", "answer"): Move("active", answers=True),
    ("incoming", "abandon"): Move("recent", "abandoned"),
    ("incoming", "miss"): Move("recent", "missed"),
    ("incoming", "take_voicemail"): Move("recent", "voicemail"),
    ("incoming", "time_out"): Move("recent", "timed_out"),
    ("active", "end"): Move("recent", "answered"),
    # An outbound call is active from the moment it is placed; nobody picking up concludes it as missed.
    ("active", "go_unanswered"): Move("recent", "missed"),
    # Conversations: Respond takes a waiting one, Close text concludes it, the lead's next text reopens it.
    ("incoming", "respond"): Move("active", answers=True, kinds=CONVERSATIONS),
    ("active", "close"): Move("recent", "answered", kinds=CONVERSATIONS),
    ("active", "go_idle"): Move("recent", "answered", kinds=CONVERSATIONS),  # nobody wrote for a long while
    ("recent", "reopen"): Move("incoming", kinds=CONVERSATIONS),
    ("recent", "write"): Move("active", answers=True, kinds=CONVERSATIONS),
}


class IllegalTransition(Exception):
    def __init__(self, interaction: Interaction, event: str):
        super().__init__(f"interaction {interaction.id}: no '{event}' from '{interaction.status}'")
        self.interaction = interaction
        self.event = event


def _move(interaction: Interaction, event: str) -> Move | None:
    move = TRANSITIONS.get((interaction.status, event))
    if move is None or (move.kinds is not None and interaction.kind not in move.kinds):
        return None
    return move


def can(interaction: Interaction, event: str) -> bool:
    return _move(interaction, event) is not None


def apply(interaction: Interaction, event: str, at: dt.datetime) -> Interaction:
    """Move ``interaction`` by ``event``, save it and record the transition."""
    move = _move(interaction, event)
    if move is None:
        raise IllegalTransition(interaction, event)
    from_status = interaction.status
    interaction.status = move.to_status
    interaction.status_changed_at = at
    if from_status == "recent":  # a conversation goes on: its previous conclusion no longer holds
        interaction.outcome = interaction.ended_at = interaction.talk_seconds = None
        interaction.agent = None
    if move.answers:
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
