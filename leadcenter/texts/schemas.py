"""What the texts API accepts and answers."""

from __future__ import annotations

from pydantic import Field, RootModel

from leadcenter.interactions.models import Message
from leadcenter.sms import encoding
from leadcenter.texts.models import TextConsent
from leadcenter.wire import Schema, Text, UtcDateTime

# Enough for MAX_PARTS parts of GSM-7; the parts limit itself is checked after encoding.
BODY_LIMIT = encoding.LIMITS[encoding.GSM7][1] * encoding.MAX_PARTS


class NewText(Schema):
    """The interaction panel's texting form: To, Message, Tracking Number (the sender)."""

    to: str = Field(min_length=1, max_length=40)
    body: Text = Field(min_length=1, max_length=BODY_LIMIT)
    tracking_number_id: int


class Draft(Schema):
    body: Text = Field(max_length=BODY_LIMIT)


class DraftOut(Schema):
    """What the composer shows under the message box."""

    encoding: str  # gsm7 | ucs2
    parts: int
    characters: int  # septets (gsm7) or UTF-16 code units (ucs2)
    characters_left: int  # before another part is needed
    max_parts: int


class MessageOut(Schema):
    id: int
    interaction_id: int
    direction: str
    body: Text
    status: str  # received (inbound); queued, sent, delivered, failed (outbound)
    status_reason: str
    agent_id: int | None
    created_at: UtcDateTime
    sent_at: UtcDateTime | None
    delivered_at: UtcDateTime | None
    failed_at: UtcDateTime | None

    @classmethod
    def from_row(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            interaction_id=message.interaction_id,
            direction=message.direction,
            body=message.body,
            status=message.status,
            status_reason=message.status_reason,
            agent_id=message.agent_id,
            created_at=message.created_at,
            sent_at=message.sent_at,
            delivered_at=message.delivered_at,
            failed_at=message.failed_at,
        )


class MessageList(RootModel[list[MessageOut]]):
    pass


class OptOutOut(Schema):
    """A number opted out of the company's texts: by the lead's STOP (the keyword they sent) or by an admin."""

    number: str  # E.164
    lead_id: int | None
    keyword: str = Field(description="what the lead texted (STOP, UNSUBSCRIBE...), or ADMIN: an admin opted it out")
    at: UtcDateTime

    @classmethod
    def from_row(cls, row: TextConsent) -> OptOutOut:
        return cls(number=row.number, lead_id=row.lead_id, keyword=row.keyword, at=row.at)


class OptOutList(RootModel[list[OptOutOut]]):
    pass


class NewOptOut(Schema):
    number: str = Field(min_length=1, max_length=40, description="read in the company's region; stored as E.164")


class SmscOut(Schema):
    """An SMPP bind the installation texts through, as the company sees it."""

    name: str
    state: str = Field(description="bound, connecting, disconnected or stopped")
    bound_since: str | None
    last_error: str | None
    numbers: list[str] = Field(description="the company's tracking numbers it sends for")


class SmscList(RootModel[list[SmscOut]]):
    pass
