from __future__ import annotations

from peewee import BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField

from leadcenter.accounts.models import Company
from leadcenter.db import BaseModel, TimestampedModel
from leadcenter.interactions.models import Interaction, Message
from leadcenter.leads.models import Lead
from leadcenter.tracking_numbers.models import TrackingNumber


class TextThread(TimestampedModel):
    """The one text conversation of a lead with a tracking number: an interaction of kind text that goes
    incoming -> active -> recent and is reopened by the lead's next text."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    lead = ForeignKeyField(Lead, on_delete="CASCADE")
    lead_id: IntegerField[int]  # the related row's id
    tracking_number = ForeignKeyField(TrackingNumber, on_delete="CASCADE")
    tracking_number_id: IntegerField[int]  # the related row's id
    interaction = ForeignKeyField(Interaction, unique=True, on_delete="CASCADE")
    interaction_id: IntegerField[int]  # the related row's id
    # The durable Incoming timer: when set, the thread times out (to Recent) at this moment unless answered.
    waiting_until = DateTimeField(null=True, index=True)
    # The durable Active timer: when set, the conversation goes to Recent at this moment unless somebody writes
    # first (an agent who forgot Close text must not keep the lead's next text from everyone's Incoming).
    idle_until = DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("lead", "tracking_number"), True),)


PART_STATUSES = ("queued", "submitting", "sent", "delivered", "failed")


class OutboxPart(BaseModel):
    """The durable outbox: one row per SMS part of an outbound message, stored before anything is sent.

    Its id is the idempotency key: a part is submitted only from ``queued`` after being marked ``submitting``
    in the same step that takes it, and it leaves ``submitting`` only with the SMSC's answer. Parts found
    ``submitting`` at start-up (the controller stopped between the submit and its response) are submitted
    again with the same id as ``user_message_reference`` and the same UDH, so an SMSC that drops repeats
    recognises them.
    """

    message = ForeignKeyField(Message, backref="parts", on_delete="CASCADE")
    message_id: IntegerField[int]  # the related row's id
    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    number = IntegerField()  # from 1
    total = IntegerField()
    reference = IntegerField()  # the concatenation reference shared by the message's parts
    data_coding = IntegerField()
    user_data = BlobField()  # without the UDH
    source = CharField()  # E.164, the tracking number
    destination = CharField()  # E.164, the lead
    status = CharField(default="queued")
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    smsc = CharField(null=True)  # the name of the SMSC that accepted it (its message_ids are its own)
    smsc_message_id = CharField(null=True)
    error = CharField(default="")
    queued_at = DateTimeField()
    submitted_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    done_at = DateTimeField(null=True)
    count: int  # not a column: what Outbox.backlog's grouped query selects besides

    class Meta:
        indexes = ((("status", "next_attempt_at"), False), (("smsc", "smsc_message_id"), False))


class InboundPart(BaseModel):
    """A received part of a concatenated inbound text, kept until all its parts are in (then they are joined as
    bytes and decoded). Stored before the deliver_sm is acknowledged; a part the SMSC repeats is stored once."""

    source = CharField()
    destination = CharField()
    reference = IntegerField()
    total = IntegerField()
    number = IntegerField()
    data_coding = IntegerField()
    user_data = BlobField()
    received_at = DateTimeField()

    class Meta:
        indexes = ((("source", "destination", "reference", "number"), True),)


CONSENT_ACTIONS = ("opt_out", "opt_in")


class TextConsent(BaseModel):
    """Every opt-out and opt-in of a number with a company, for audit; the latest one is in force."""

    company = ForeignKeyField(Company, on_delete="CASCADE")
    company_id: IntegerField[int]  # the related row's id
    number = CharField()  # E.164
    lead = ForeignKeyField(Lead, null=True, on_delete="SET NULL")
    lead_id: IntegerField[int | None]  # the related row's id
    action = CharField(choices=[(a, a) for a in CONSENT_ACTIONS])
    keyword = CharField()  # what the lead texted
    at = DateTimeField()

    class Meta:
        indexes = ((("company", "number", "at"), False),)


class MessageTransition(BaseModel):
    """Every move of an outbound message's delivery (see delivery.py), with the reason of a failure."""

    message = ForeignKeyField(Message, backref="transitions", on_delete="CASCADE")
    message_id: IntegerField[int]  # the related row's id
    event = CharField()
    from_status = CharField()
    to_status = CharField()
    reason = CharField(default="")
    at = DateTimeField()
