"""An outbound message's delivery as a state machine, moved by what the SMSC answers:

    queued --accept--> sent --deliver--> delivered
    queued --fail--> failed      sent --fail--> failed

``accept``: every part has a submit_sm_resp OK; ``deliver``: every part has a DELIVRD receipt; ``fail``: one part
was refused for good or had a negative receipt (the reason is kept). A machine of the one shape (statemachine.py):
each move sets its companion timestamp (sent_at, delivered_at, failed_at) with a compare-and-set, is stored as a
MessageTransition and logged; the outbox publishes it as ``message.<status>`` once committed; any other move raises
IllegalMove and changes nothing. Inbound messages are ``received`` and never move.
"""

from __future__ import annotations

import datetime as dt

from leadcenter.interactions.models import Message
from leadcenter.statemachine import IllegalMove, Machine, Move, Transition
from leadcenter.texts.models import MessageTransition

__all__ = ["MACHINE", "IllegalMove", "settle"]


def _stamps(column: str):
    return lambda message, at: {column: at}


TRANSITIONS: dict[tuple[str, str], Move] = {
    ("queued", "accept"): Move(("sent",), _stamps("sent_at")),
    ("sent", "deliver"): Move(("delivered",), _stamps("delivered_at")),
    ("queued", "fail"): Move(("failed",), _stamps("failed_at")),
    ("sent", "fail"): Move(("failed",), _stamps("failed_at")),
}


def _record(transition: Transition) -> None:
    MessageTransition.create(
        message=transition.row,
        event=transition.event,
        from_status=transition.before[0],
        to_status=transition.after[0],
        reason=transition.changed.get("status_reason", ""),
        at=transition.at,
    )


MACHINE: Machine[Message] = Machine(
    "message",
    Message,
    ("status",),
    {((status,), event): move for (status, event), move in TRANSITIONS.items()},
    _record,
)


def settle(message: Message, part_statuses: list[str], at: dt.datetime, reason: str = "") -> list[str]:
    """Move the message to what its parts say now; returns the statuses it passed through (to publish)."""
    if message.status in ("delivered", "failed"):
        return []
    if "failed" in part_statuses:
        MACHINE.move(message, "fail", at, **({"status_reason": reason} if reason else {}))
        return ["failed"]
    passed = []
    if all(status in ("sent", "delivered") for status in part_statuses) and MACHINE.can(message, "accept"):
        MACHINE.move(message, "accept", at)
        passed.append("sent")
    if all(status == "delivered" for status in part_statuses) and MACHINE.can(message, "deliver"):
        MACHINE.move(message, "deliver", at)
        passed.append("delivered")
    return passed
