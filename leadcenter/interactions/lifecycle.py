"""The interaction state machine: incoming -> active -> recent, with transitions named after events.

Conversations (texts, chats, chat forms) also go recent -> incoming when the lead writes again (``reopen``) and
recent -> active when an agent writes first (``write``): one thread per lead and tracking number.

A machine of the one shape (statemachine.py): each move sets its companion timestamps with a compare-and-set (two
agents pressing Respond together: one wins, the other gets Conflict), is stored as an InteractionTransition and
logged; a move the table does not allow raises IllegalTransition and changes nothing. The caller publishes the
change (interactions/notifier.py) once the move is committed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from leadcenter.interactions.models import Interaction, InteractionTransition
from leadcenter.statemachine import Conflict, Machine, Move, Transition
from leadcenter.statemachine import IllegalMove as IllegalTransition

__all__ = ["CONVERSATIONS", "MACHINE", "OUTCOMES", "Conflict", "IllegalTransition", "can", "move"]

OUTCOMES = ("answered", "missed", "abandoned", "declined", "voicemail", "timed_out", "callback")
# The kinds whose words are messages: Respond takes one, Close concludes it (a chat's offline form too: an agent
# takes it to get back to the visitor, then closes it).
CONVERSATIONS = ("text", "chat", "form")


def _answers(interaction: Interaction, at: dt.datetime) -> dict[str, Any]:
    """An agent took the interaction. An outbound call (a queue callback's, which waits in Incoming for an agent) is
    answered when the lead picks up, later."""
    return {} if interaction.direction == "outbound" else {"answered_at": at}


def _concludes(outcome: str):
    def sets(interaction: Interaction, at: dt.datetime) -> dict[str, Any]:
        talk = (
            None if interaction.answered_at is None else max(0, round((at - interaction.answered_at).total_seconds()))
        )
        return {"outcome": outcome, "ended_at": at, "talk_seconds": talk}

    return sets


def _goes_on(answers: bool):
    """A concluded conversation goes on: its conclusion no longer holds (and, when an agent writes, they take it)."""

    def sets(interaction: Interaction, at: dt.datetime) -> dict[str, Any]:
        return {
            "outcome": None,
            "ended_at": None,
            "talk_seconds": None,
            "agent": None,
            **({"answered_at": at} if answers else {}),
        }

    return sets


def _conversations(interaction: Interaction) -> bool:
    return interaction.kind in CONVERSATIONS


def _move(to: str, sets=None, conversations_only: bool = False) -> Move:
    return Move((to,), sets, _conversations if conversations_only else None)


TRANSITIONS: dict[tuple[str, str], Move] = {
    ("incoming", "answer"): _move("active", _answers),
    ("incoming", "abandon"): _move("recent", _concludes("abandoned")),
    ("incoming", "miss"): _move("recent", _concludes("missed")),
    ("incoming", "take_voicemail"): _move("recent", _concludes("voicemail")),
    # The caller pressed 1 in a queue to be called back: the callback's own call follows (callbacks/).
    ("incoming", "ask_callback"): _move("recent", _concludes("callback")),
    ("incoming", "time_out"): _move("recent", _concludes("timed_out")),
    ("active", "end"): _move("recent", _concludes("answered")),
    # An outbound call is active from the moment it is placed; nobody picking up concludes it as missed.
    ("active", "go_unanswered"): _move("recent", _concludes("missed")),
    # Conversations: Respond takes a waiting one, Close text concludes it, the lead's next text reopens it.
    ("incoming", "respond"): _move("active", _answers, conversations_only=True),
    ("active", "close"): _move("recent", _concludes("answered"), conversations_only=True),
    ("active", "go_idle"): _move("recent", _concludes("answered"), conversations_only=True),  # nobody wrote for long
    ("recent", "reopen"): _move("incoming", _goes_on(answers=False), conversations_only=True),
    ("recent", "write"): _move("active", _goes_on(answers=True), conversations_only=True),
}


def _record(transition: Transition) -> None:
    InteractionTransition.create(
        interaction=transition.row,
        event=transition.event,
        from_status=transition.before[0],
        to_status=transition.after[0],
        outcome=transition.changed.get("outcome"),
        at=transition.at,
    )


MACHINE: Machine[Interaction] = Machine(
    "interaction",
    Interaction,
    ("status",),
    {((status,), event): move for (status, event), move in TRANSITIONS.items()},
    _record,
    stamp="status_changed_at",
)


def can(interaction: Interaction, event: str) -> bool:
    return MACHINE.can(interaction, event)


def move(interaction: Interaction, event: str, at: dt.datetime, **also: Any) -> Transition[Interaction]:
    """Move ``interaction`` by ``event`` (``also``: more columns written with the move, e.g. who took it)."""
    return MACHINE.move(interaction, event, at, **also)
