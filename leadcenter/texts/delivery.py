"""An outbound message's delivery as a state machine, moved by what the SMSC answers:

    queued --accept--> sent --deliver--> delivered
    queued --fail--> failed      sent --fail--> failed

``accept``: every part has a submit_sm_resp OK; ``deliver``: every part has a DELIVRD receipt; ``fail``: one part
was refused for good or had a negative receipt (the reason is kept). Each move sets its companion timestamp
(sent_at, delivered_at, failed_at), is logged, and is published as ``message.<status>``; any other move raises
IllegalMove and changes nothing. Inbound messages are ``received`` and never move.
"""
from __future__ import annotations

import datetime as dt
import logging

from leadcenter.interactions.models import Message

log = logging.getLogger(__name__)

TRANSITIONS: dict[tuple[str, str], str] = {
    ("queued", "accept"): "sent",
    ("sent", "deliver"): "delivered",
    ("queued", "fail"): "failed",
    ("sent", "fail"): "failed",
}
TIMESTAMPS = {"sent": "sent_at", "delivered": "delivered_at", "failed": "failed_at"}


class IllegalMove(Exception):
    def __init__(self, message: Message, event: str):
        super().__init__(f"message {message.id}: no '{event}' from '{message.status}'")


def can(message: Message, event: str) -> bool:
    return (message.status, event) in TRANSITIONS


def apply(message: Message, event: str, at: dt.datetime, reason: str = "") -> Message:
    to_status = TRANSITIONS.get((message.status, event))
    if to_status is None:
        raise IllegalMove(message, event)
    from_status = message.status
    message.status = to_status
    setattr(message, TIMESTAMPS[to_status], at)
    if reason:
        message.status_reason = reason
    message.save()
    log.info("message %s: %s -> %s by %s%s", message.id, from_status, to_status, event,
             f" ({reason})" if reason else "")
    return message


def settle(message: Message, part_statuses: list[str], at: dt.datetime, reason: str = "") -> list[str]:
    """Move the message to what its parts say now; returns the statuses it passed through (to publish)."""
    if message.status in ("delivered", "failed"):
        return []
    passed = []
    if "failed" in part_statuses:
        apply(message, "fail", at, reason)
        return ["failed"]
    if all(status in ("sent", "delivered") for status in part_statuses) and can(message, "accept"):
        apply(message, "accept", at)
        passed.append("sent")
    if all(status == "delivered" for status in part_statuses) and can(message, "deliver"):
        apply(message, "deliver", at)
        passed.append("delivered")
    return passed
