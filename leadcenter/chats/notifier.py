"""The chats domain's events (catalogue.py). Agents learn of chats from the interactions' and messages' events (the
interaction carries its chat: the page, the visitor gone or not) and from ``chat.visitor_typing``; what a visitor's
widget is told goes as ``chat.visitor_frame`` (internal) to the visitor websocket (web/visitors.py), which sends
the frame to every page of that visitor's that is open."""

from __future__ import annotations

from typing import Any

from leadcenter import catalogue
from leadcenter.events import Publisher
from leadcenter.interactions.models import Interaction, Message
from leadcenter.texts.schemas import MessageOut


def to_visitor(bus: Publisher, company_id: int, visitor_id: int, frame: dict[str, Any]) -> None:
    """A frame for every open page of the visitor (``{"type": ..., ...}``: web/visitors.py's protocol)."""
    bus.publish("chat.visitor_frame", company_id=company_id, visitor_id=visitor_id, frame=frame)


def to_company_visitors(bus: Publisher, company_id: int, frame: dict[str, Any]) -> None:
    """A frame for every open page of every visitor of the company."""
    bus.publish("chat.visitor_frame", company_id=company_id, visitor_id=None, frame=frame)


def message_to_visitor(bus: Publisher, company_id: int, visitor_id: int, message: Message) -> None:
    to_visitor(
        bus,
        company_id,
        visitor_id,
        {"type": "message", "message": MessageOut.from_row(message).model_dump(mode="json")},
    )


def visitor_typing(bus: Publisher, interaction: Interaction, for_agents: list[int] | None) -> None:
    """The visitor is typing: told to the agent handling the chat, or to those whose Incoming holds it."""
    extra = {} if for_agents is None else {"for_agents": for_agents}
    catalogue.CHAT_VISITOR_TYPING.publish(
        bus, company_id=interaction.company_id, interaction_id=interaction.id, **extra
    )
