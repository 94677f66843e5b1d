"""Texting: send and receive SMS as the tracking numbers, in one thread per lead and tracking number.

Verbs: ``send`` (an agent's text, stored in the outbox before anything goes out), ``receive`` (a deliver_sm
from the SMSC: reassembled, the lead found or created, the thread put in Incoming), ``respond`` and ``close``
(the agent's Respond and Close text), ``sweep`` (the 12-hour Incoming timers and the Active conversations' idle
timers), and the opt-out keywords.

Events (``noun.verb``): ``interaction.created`` / ``interaction.updated`` (the thread's lifecycle; a thread that
lands in Incoming is published ``for_agents`` its tracking number's flow offers work to, as calls are),
``message.queued`` / ``message.received`` (and the outbox's ``message.sent`` / ``delivered`` / ``failed``),
``consent.changed`` (opt-out, opt-in).

The timers are due times stored on the thread, set from its status by ``_set_timers``: Incoming waits
``incoming_timeout`` for a Respond (``waiting_until``, then ``time_out``), Active closes itself after ``idle_timeout``
without a message either way (``idle_until``, then ``go_idle``). They are swept against an injectable clock: a
restart loses no timer, and a timer fires once, because the move to Recent and resetting the due times are one
transaction and the lifecycle refuses a second move.
"""

from __future__ import annotations

import datetime as dt
import logging

from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.errors import ApiError
from leadcenter.events import Publisher
from leadcenter.interactions import lifecycle, notifier
from leadcenter.interactions.models import Interaction, Message
from leadcenter.interactions.services import incoming_for
from leadcenter.leads.models import Lead, LeadPhone
from leadcenter.leads.services import find_or_create_by_number, lead_number
from leadcenter.phones import InvalidNumber, read_untyped, to_e164
from leadcenter.sms import encoding
from leadcenter.sms.smpp import INVALID_DESTINATION, Delivery, DeliveryRefused
from leadcenter.texts import notifier as text_events
from leadcenter.texts.models import InboundPart, TextConsent, TextThread
from leadcenter.texts.outbox import Outbox
from leadcenter.timers import Sweeper
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.services import announce, attribute

log = logging.getLogger(__name__)

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT"}
OPT_IN_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP"}
SWEEP_SECONDS = 1.0


class TextRefused(ApiError):
    """A send that must not happen, refused as the API answers it; ``field`` is the field at fault, if one is."""

    def __init__(self, error_id: str, message: str, field: str | None = None):
        super().__init__(error_id, message, {field: message} if field else None)


def keyword(body: str) -> str:
    """The message as a keyword: upper case, spaces collapsed ("opt  out" -> "OPT OUT")."""
    return " ".join(body.split()).upper()


def opted_out(company_id: int, number: str) -> bool:
    latest = (
        TextConsent.select(TextConsent.action)
        .where(TextConsent.company == company_id, TextConsent.number == number)
        .order_by(TextConsent.at.desc(), TextConsent.id.desc())
        .first()
    )
    return latest is not None and latest.action == "opt_out"


def opt_outs(company_id: int) -> list[TextConsent]:
    """The numbers opted out of the company's texts now (each number's latest consent is an opt-out), newest
    first."""
    latest: dict[str, TextConsent] = {}
    for row in (
        TextConsent.select()
        .where(TextConsent.company == company_id)
        .order_by(TextConsent.number, TextConsent.at, TextConsent.id)
    ):
        latest[row.number] = row
    return sorted((r for r in latest.values() if r.action == "opt_out"), key=lambda r: (r.at, r.id), reverse=True)


def thread_of(interaction: Interaction) -> TextThread | None:
    return TextThread.get_or_none(TextThread.interaction == interaction)


class Texts:
    def __init__(
        self,
        bus: Publisher,
        outbox: Outbox,
        served_numbers: frozenset[str] | None,
        clock: Clock,
        incoming_timeout: dt.timedelta = dt.timedelta(hours=12),
        idle_timeout: dt.timedelta | None = dt.timedelta(hours=24),
        enabled: bool = True,
    ):
        """``served_numbers``: the tracking numbers an SMSC sends for (None: all of them); ``idle_timeout``: None
        keeps Active conversations open until Close text."""
        self.bus = bus
        self.outbox = outbox
        self.served_numbers = served_numbers
        self.incoming_timeout = incoming_timeout
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.enabled = enabled
        self.timers = Sweeper("texts-timers", self.sweep, SWEEP_SECONDS)  # the Incoming and idle timers

    # -- sending ---------------------------------------------------------------------------------------------
    def can_text_from(self, number: TrackingNumber) -> bool:
        return number.texting and self.enabled and (self.served_numbers is None or number.number in self.served_numbers)

    def check(self, company: Company, number: TrackingNumber, to: str, body: str) -> tuple[str, encoding.Encoded]:
        """The recipient as E.164 and the encoded text, or TextRefused: nothing is stored or sent."""
        if not body.strip():
            raise TextRefused("empty-text", "the message is empty", "body")
        encoded = encoding.encode(body)
        if len(encoded.parts) > encoding.MAX_PARTS:
            raise TextRefused(
                "text-too-long",
                f"the message needs {len(encoded.parts)} parts; at most {encoding.MAX_PARTS} can be sent",
                "body",
            )
        try:
            recipient = to_e164(to, company.default_region)
        except InvalidNumber as exc:
            raise TextRefused("invalid-number", str(exc), "to") from None
        if not self.can_text_from(number):
            raise TextRefused(
                "texting-unavailable",
                f"texting is off for {number.number}"
                if not number.texting
                else f"no SMSC is configured to send as {number.number}",
                "tracking_number_id",
            )
        if opted_out(company.id, recipient):
            raise TextRefused(
                "opted-out",
                f"{recipient} has opted out of texts from {company.name} (they can text START to opt back in)",
                "to",
            )
        return recipient, encoded

    def send(self, company: Company, agent: Agent | None, number: TrackingNumber, to: str, body: str) -> Message:
        """An agent's text: stored (thread, message, outbox parts) in one transaction, then submitted."""
        recipient, encoded = self.check(company, number, to, body)
        with database.atomic():
            lead = find_or_create_by_number(company, recipient, self.clock())
            thread, created = self._thread(company, lead, number, recipient, direction="outbound", agent=agent)
            interaction = thread.interaction
            moved = False
            if not created and agent is not None:
                moved = self._agent_writes(thread, agent)
            if moved or interaction.status == "active":
                self._set_timers(thread, self.clock())
            message = self._queue(interaction, agent, recipient, number.number, body, encoded)
        notifier.changed(self.bus, interaction, created)  # moved, or at least its newest message
        self._announce_queued(message, interaction)
        return message

    def _agent_writes(self, thread: TextThread, agent: Agent) -> bool:
        """Writing in a thread takes it: Respond from Incoming, a new conversation from Recent."""
        interaction = thread.interaction
        event = {"incoming": "respond", "recent": "write"}.get(interaction.status)
        if event is None:
            return False
        lifecycle.move(interaction, event, self.clock(), agent=agent)
        return True

    def _queue(
        self,
        interaction: Interaction,
        agent: Agent | None,
        recipient: str,
        sender: str,
        body: str,
        encoded: encoding.Encoded,
    ) -> Message:
        message = Message.create(
            interaction=interaction,
            direction="outbound",
            body=body,
            agent=agent,
            status="queued",
            created_at=self.clock(),
        )
        self.outbox.queue(message, sender, recipient, encoded)
        return message

    def _announce_queued(self, message: Message, interaction: Interaction) -> None:
        self.outbox.wake()
        text_events.message(self.bus, interaction.company_id, message)

    def reply(self, interaction: Interaction, agent: Agent | None, body: str) -> Message:
        """A text in an existing thread, to the lead's number, from the thread's tracking number."""
        thread = thread_of(interaction)
        if thread is None:
            raise TextRefused("not-a-text-thread", "this interaction is not a text conversation")
        return self.send(interaction.company, agent, thread.tracking_number, interaction.lead_number, body)

    # -- the thread ------------------------------------------------------------------------------------------
    def _thread(
        self, company: Company, lead: Lead, number: TrackingNumber, lead_phone: str, direction: str, agent: Agent | None
    ) -> tuple[TextThread, bool]:
        thread = (
            TextThread.select(TextThread, Interaction)
            .join(Interaction)
            .where(TextThread.lead == lead, TextThread.tracking_number == number)
            .first()
        )
        if thread is not None:
            if thread.interaction.lead_number != lead_phone:
                thread.interaction.lead_number = lead_phone
                thread.interaction.save()
            return thread, False
        now = self.clock()
        status = "incoming" if direction == "inbound" else "active"
        interaction = Interaction.create(
            company=company,
            lead=lead,
            kind="text",
            direction=direction,
            tracking_number=number,
            lead_number=lead_phone,
            status=status,
            started_at=now,
            status_changed_at=now,
            source=number.source,
            agent=agent if direction == "outbound" else None,
            answered_at=now if direction == "outbound" else None,
        )
        thread = TextThread.create(
            company=company, lead=lead, tracking_number=number, interaction=interaction, created_at=now
        )
        return thread, True

    # -- receiving (the SMPP session thread: return only once stored) ---------------------------------------
    def receive(self, delivery: Delivery) -> Message | None:
        """Store an inbound text (or a part of one); DeliveryRefused when it is for no tracking number, so the SMSC
        is told (never acknowledged and dropped)."""
        number = self._addressed(delivery)
        if number is None or not number.texting:
            raise DeliveryRefused(
                INVALID_DESTINATION,
                f"{delivery.destination} (type of number {delivery.destination_ton}) is not a tracking number here",
            )
        sender = self._sender(delivery, number.company)
        data = self._reassembled(delivery, sender, number.number)
        if data is None:
            return None  # a part of a longer text: stored, waiting for the others
        try:
            body = encoding.decode(data, delivery.data_coding)
        except encoding.UndecodableText as exc:
            log.warning(
                "text from %s to %s could not be decoded (%s): kept as an empty message",
                delivery.source,
                delivery.destination,
                exc,
            )
            body = ""
        return self.receive_text(number, sender, body)

    @staticmethod
    def _addressed(delivery: Delivery) -> TrackingNumber | None:
        """The tracking number a text is addressed to. International addresses (TON 1) are E.164 already; digits
        without a type of number (TON 0, as many SMSCs send, or 2, national) are read in the tracking numbers'
        regions, then as international without the '+'."""
        destination = delivery.destination
        if destination.startswith("+"):
            candidates = [destination]
        elif delivery.destination_ton == 1:
            candidates = ["+" + destination]
        else:
            regions = [
                c.default_region
                for c in Company.select(Company.default_region)
                .join(TrackingNumber)
                .distinct()
                .order_by(Company.default_region)
            ]
            candidates = read_untyped(destination, regions)
        found = {n.number: n for n in TrackingNumber.select().where(TrackingNumber.number.in_(candidates))}
        return next((found[c] for c in candidates if c in found), None)

    @staticmethod
    def _sender(delivery: Delivery, company: Company) -> str:
        """The lead's number: digits without a type of number read in the company's region first, then as
        international without the '+'; an alphanumeric sender as it came."""
        if delivery.source_ton != 1 and not delivery.source.startswith("+"):
            readings = read_untyped(delivery.source, [company.default_region])
            if readings:
                return readings[0]
        return lead_number(delivery.source, company)

    def _reassembled(self, delivery: Delivery, source: str, destination: str) -> bytes | None:
        """The whole user data once every part is in (parts stored as they come, joined as bytes)."""
        if not delivery.udhi:
            return delivery.short_message
        concatenation, data = encoding.split_udh(delivery.short_message)
        if concatenation is None or concatenation.total <= 1:
            return data
        key = (
            (InboundPart.source == source)
            & (InboundPart.destination == destination)
            & (InboundPart.reference == concatenation.reference)
        )
        with database.atomic():
            (
                InboundPart.insert(
                    source=source,
                    destination=destination,
                    reference=concatenation.reference,
                    total=concatenation.total,
                    number=concatenation.number,
                    data_coding=delivery.data_coding,
                    user_data=data,
                    received_at=self.clock(),
                )
                .on_conflict_ignore()
                .execute()
            )  # the SMSC repeating a part we stored
            parts = list(InboundPart.select().where(key).order_by(InboundPart.number))
            if len({p.number for p in parts}) < concatenation.total:
                return None
            InboundPart.delete().where(key).execute()
        return b"".join(bytes(p.user_data) for p in parts)

    def receive_text(self, number: TrackingNumber, sender: str, body: str) -> Message:
        company = number.company
        phone = lead_number(sender, company)
        now = self.clock()
        with database.atomic():
            lead = find_or_create_by_number(company, phone, now)
            thread, created = self._thread(company, lead, number, phone, direction="inbound", agent=None)
            interaction = thread.interaction
            attribution = attribute(interaction, now, number=number) if created else None
            if interaction.status == "recent":  # the lead writes again: the thread waits in Incoming once more
                lifecycle.move(interaction, "reopen", now)
            self._set_timers(thread, now)
            message = Message.create(
                interaction=interaction, direction="inbound", body=body, status="received", created_at=now
            )
            replies = self._keywords(company, lead, phone, body, now)
            queued = [
                self._queue(interaction, None, phone, number.number, text, encoding.encode(text)) for text in replies
            ]
        notifier.changed(self.bus, interaction, created)  # moved, or at least its newest message
        announce(self.bus, attribution)
        # One waiting in Incoming: told to the agents it waits for; otherwise to everyone (it may be on screen).
        text_events.message(
            self.bus, company.id, message, incoming_for(interaction) if interaction.status == "incoming" else None
        )
        for reply in queued:
            self._announce_queued(reply, interaction)
        return message

    def _keywords(self, company: Company, lead: Lead, phone: str, body: str, now) -> list[str]:
        """Opt-out, opt-in and HELP: the consent recorded, and the automatic replies to queue."""
        word = keyword(body)
        if word in HELP_WORDS:
            return [
                company.text_help_reply
                or f"{company.name}: reply STOP to stop receiving texts, START to receive them again."
            ]
        if word in OPT_OUT_WORDS | OPT_IN_WORDS:
            action = "opt_out" if word in OPT_OUT_WORDS else "opt_in"
            if opted_out(company.id, phone) == (action == "opt_out"):
                return []  # already so: one confirmation only
            TextConsent.create(company=company, number=phone, lead=lead, action=action, keyword=word, at=now)
            text_events.consent_changed(self.bus, company.id, lead.id, phone, action)
            if action == "opt_out":
                return [
                    (
                        f"You are unsubscribed from {company.name} texts and will receive no more. "
                        "Reply START to resubscribe."
                    )
                ]
            return [f"You are resubscribed to {company.name} texts. Reply STOP to unsubscribe."]
        return []

    def set_consent(self, company: Company, phone: str, action: str, keyword: str) -> TextConsent | None:
        """An admin opts a number (E.164) out of the company's texts or back in, recorded as the lead's own STOP or
        START would be (``keyword`` says who); None when it is so already. In the caller's transaction."""
        if opted_out(company.id, phone) == (action == "opt_out"):
            return None
        lead = (
            Lead.select()
            .join(LeadPhone)
            .where(LeadPhone.company == company, LeadPhone.number == phone, Lead.merged_into.is_null())
            .first()
        )
        row = TextConsent.create(
            company=company, number=phone, lead=lead, action=action, keyword=keyword, at=self.clock()
        )
        text_events.consent_changed(self.bus, company.id, lead.id if lead else None, phone, action)
        return row

    # -- the agent's verbs -----------------------------------------------------------------------------------
    def respond(self, interaction: Interaction, agent: Agent) -> Interaction:
        """Respond: the waiting thread becomes the agent's Active conversation (IllegalTransition otherwise)."""
        thread = thread_of(interaction)
        with database.atomic():
            lifecycle.move(interaction, "respond", self.clock(), agent=agent)
            if thread is not None:
                self._set_timers(thread, self.clock())
        notifier.changed(self.bus, interaction)
        return interaction

    def close(self, interaction: Interaction) -> Interaction:
        """Close text: the active conversation goes to Recent (IllegalTransition otherwise)."""
        thread = thread_of(interaction)
        with database.atomic():
            lifecycle.move(interaction, "close", self.clock())
            if thread is not None:
                self._set_timers(thread, self.clock())
        notifier.changed(self.bus, interaction)
        return interaction

    # -- the timers ------------------------------------------------------------------------------------------
    def _set_timers(self, thread: TextThread, now) -> None:
        """The thread's due times from its status now (a new message in it starts them again)."""
        status = thread.interaction.status
        thread.waiting_until = now + self.incoming_timeout if status == "incoming" else None
        thread.idle_until = now + self.idle_timeout if status == "active" and self.idle_timeout else None
        thread.save()

    def sweep(self) -> int:
        """Fire the due timers: a thread nobody responded to times out of Incoming, a conversation nobody wrote in
        goes idle out of Active; returns how many moved to Recent."""
        now = self.clock()
        count = 0
        for due, event in ((TextThread.waiting_until, "time_out"), (TextThread.idle_until, "go_idle")):
            for row in list(TextThread.select(TextThread.id).where(due <= now)):
                with database.atomic():
                    thread = TextThread.get_or_none(TextThread.id == row.id, due <= now)
                    if thread is None:
                        continue
                    interaction = thread.interaction
                    moved = lifecycle.can(interaction, event)
                    if moved:
                        lifecycle.move(interaction, event, now)
                    self._set_timers(thread, now)
                if moved:
                    count += 1
                    notifier.changed(self.bus, interaction)
        return count
