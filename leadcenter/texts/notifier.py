"""The texts domain's events (catalogue.py): a message as the API returns it, and a number's consent."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.interactions.models import Message
from leadcenter.texts.schemas import MessageOut

MESSAGE_EVENTS = {
    "received": catalogue.MESSAGE_RECEIVED,
    "queued": catalogue.MESSAGE_QUEUED,
    "sent": catalogue.MESSAGE_SENT,
    "delivered": catalogue.MESSAGE_DELIVERED,
    "failed": catalogue.MESSAGE_FAILED,
}


def message(
    bus: Publisher, company_id: int, message: Message, for_agents: list[int] | None = None, status: str | None = None
) -> None:
    """message.<status> (the message's own by default): a message received, stored to go out, or moved by what the
    SMSC said; it carries the message as it is now."""
    extra = {} if for_agents is None else {"for_agents": for_agents}
    MESSAGE_EVENTS[status or message.status].publish(
        bus,
        company_id=company_id,
        interaction_id=message.interaction_id,
        message=MessageOut.from_row(message).model_dump(mode="json"),
        **extra,
    )


def consent_changed(bus: Publisher, company_id: int, lead_id: int | None, number: str, action: str) -> None:
    catalogue.CONSENT_CHANGED.publish(bus, company_id=company_id, lead_id=lead_id, number=number, action=action)
