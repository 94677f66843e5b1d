"""The durable outbox: parts stored first, then submitted over the SMPP link, their fate written back.

Each part is an OutboxPart row: ``queued`` -> ``submitting`` (taken by the pump, in one write) -> ``sent``
(submit_sm_resp OK, message_id kept) -> ``delivered`` / ``failed`` (receipt), or back to ``queued`` with a later
``next_attempt_at`` when the SMSC throttles (0x58, 0x14) or the bind drops before the answer, or ``failed`` with
the reason for a permanent refusal. A controller that stops mid-send leaves parts ``submitting``; ``recover``
queues them again at the next start, so nothing is dropped; they carry the same outbox id as
``user_message_reference``.

With several SMSCs, each link sends the parts whose sender (the tracking number) it is configured for; a link
configured for no numbers sends the parts no other link claims.

``listener(name)`` is a link's listener, so the SMSC's answers and deliveries are handled on that link's session
thread, and each deliver_sm is acknowledged only once ``on_text`` (or the write of its batch of receipts) has
returned.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import NamedTuple

import smpplib.consts
from peewee import fn

from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.events import Publisher
from leadcenter.interactions.models import Message
from leadcenter.sms import encoding
from leadcenter.sms.smpp import Delivery, NotBound, SmppLink, Submission
from leadcenter.texts import delivery as delivery_states
from leadcenter.texts import notifier as text_events
from leadcenter.texts.models import OutboxPart

log = logging.getLogger(__name__)

BATCH = 200  # parts taken from the database at once
IDLE_POLL = 0.25  # seconds the pump sleeps when nothing woke it (it also looks for parts whose backoff ended)
# A part still ``submitting`` this long after it was taken lost its answer to a failure the link survived (the
# watchdog drops a bind whose answers stop after smpp.response_timeout_seconds, handing its parts back sooner).
STUCK_SECONDS = 120.0
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # seconds of backoff after throttling, doubling per attempt
NOT_FINAL = ("ACCEPTD", "ENROUTE", "SCHEDULED")  # receipt states that are not an outcome yet


def retry_delay(attempts: int) -> float:
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts - 1))


def status_text(status: int) -> str:
    return f"0x{status:08x} {smpplib.consts.DESCRIPTIONS.get(status, 'unknown error')}"


class Settled(NamedTuple):
    """A message's delivery moved (to ``status``): told once its transaction is committed."""

    company_id: int
    message: Message
    status: str


class Outbox:
    def __init__(self, bus: Publisher, on_text, clock: Clock):
        """``on_text(delivery)`` stores an inbound text (not a receipt); it runs before the SMSC is answered."""
        self.bus = bus
        self.on_text = on_text
        self.clock = clock
        self.routes: list[tuple[SmppLink, frozenset[str] | None]] = []  # each link and the senders it serves
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------------------------------
    def attach(self, link: SmppLink, numbers: frozenset[str] | None) -> None:
        """Send over ``link`` the parts from these tracking numbers (None: from those no other link names)."""
        self.routes.append((link, numbers))

    def listener(self, smsc: str) -> SmscListener:
        """What the link to SMSC ``smsc`` reports to."""
        return SmscListener(self, smsc)

    def recover(self, taken_before=None) -> int:
        """Queue again the parts taken for submitting that never heard back: at start-up all of them (a previous
        run stopped mid-send); while running, those taken before ``taken_before`` (their answer was lost to a
        failure the link survived, e.g. the database refusing a write-back)."""
        stuck = OutboxPart.status == "submitting"
        if taken_before is not None:
            stuck &= OutboxPart.submitted_at < taken_before
        count = OutboxPart.update(status="queued", next_attempt_at=self.clock()).where(stuck).execute()
        if count:
            log.warning("outbox: %s part(s) taken for submitting never heard back: queued again", count)
        return count

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sms-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """New parts were queued (or a bind came up): submit now rather than at the next poll."""
        self._wake.set()

    def backlog(self) -> dict[str, int]:
        rows = (
            OutboxPart.select(OutboxPart.status, fn.COUNT(OutboxPart.id).alias("count"))
            .where(OutboxPart.status.in_(["queued", "submitting"]))
            .group_by(OutboxPart.status)
        )
        return {row.status: row.count for row in rows}

    # -- queueing (any thread, inside the caller's transaction) ------------------------------------------------
    def queue(self, message: Message, source: str, destination: str, encoded: encoding.Encoded) -> list[OutboxPart]:
        total = len(encoded.parts)
        reference = message.id & 0xFF
        now = self.clock()
        return [
            OutboxPart.create(
                message=message,
                company=message.interaction.company_id,
                number=number,
                total=total,
                reference=reference,
                data_coding=encoded.data_coding,
                user_data=data,
                source=source,
                destination=destination,
                queued_at=now,
                next_attempt_at=now,
            )
            for number, data in enumerate(encoded.parts, 1)
        ]

    # -- the pump thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        checked = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(IDLE_POLL)
            self._wake.clear()
            try:
                if time.monotonic() - checked > STUCK_SECONDS:
                    checked = time.monotonic()
                    self.recover(taken_before=self.clock() - dt.timedelta(seconds=STUCK_SECONDS))
                busy = True
                while busy and not self._stopping.is_set():
                    busy = False
                    for link, numbers in self.routes:
                        if link.bound and (batch := self._take(BATCH, numbers)):
                            busy = True
                            self._submit_all(link, batch)
            except Exception:  # a database hiccup must not end the pump: log, and try again at the next poll
                log.exception("outbox: pump failed; retrying")

    def _senders(self, numbers: frozenset[str] | None):
        """The condition on a part's sender for the link serving ``numbers``."""
        if numbers is not None:
            return OutboxPart.source.in_(sorted(numbers))
        claimed = sorted(n for _, served in self.routes if served is not None for n in served)
        return OutboxPart.source.not_in(claimed) if claimed else OutboxPart.source.is_null(False)

    def _take(self, limit: int, numbers: frozenset[str] | None = None) -> list[OutboxPart]:
        now = self.clock()
        with database.atomic():
            parts = list(
                OutboxPart.select()
                .where(OutboxPart.status == "queued", OutboxPart.next_attempt_at <= now, self._senders(numbers))
                .order_by(OutboxPart.id)
                .limit(limit)
            )
            if parts:
                (
                    OutboxPart.update(status="submitting", attempts=OutboxPart.attempts + 1, submitted_at=now)
                    .where(OutboxPart.id.in_([p.id for p in parts]))
                    .execute()
                )
        return parts

    def _submit_all(self, link: SmppLink, parts: list[OutboxPart]) -> None:
        for index, part in enumerate(parts):
            short_message = (
                part.user_data
                if part.total == 1
                else (encoding.udh(part.reference, part.total, part.number) + bytes(part.user_data))
            )
            submission = Submission(
                key=part.id,
                source=part.source,
                destination=part.destination,
                data_coding=part.data_coding,
                short_message=bytes(short_message),
                udhi=part.total > 1,
            )
            try:
                link.submit(submission, wait=max(1.0, float(link.settings.response_timeout_seconds)))
            except NotBound:
                self._back_to_queue([p.id for p in parts[index:]], self.clock())
                return

    def _back_to_queue(self, ids: list[int], at) -> None:
        (
            OutboxPart.update(status="queued", next_attempt_at=at)
            .where(OutboxPart.id.in_(ids), OutboxPart.status == "submitting")
            .execute()
        )

    # -- what the links report (on their session threads) -----------------------------------------------------
    def accepted(self, results: list[tuple[int, str]], smsc: str) -> None:
        """submit_sm_resp OK for these (part id, SMSC message_id): one transaction for the whole batch."""
        now = self.clock()
        events = []
        with database.atomic():
            parts = {
                p.id: p
                for p in OutboxPart.select().where(
                    OutboxPart.id.in_([key for key, _ in results]), OutboxPart.status == "submitting"
                )
            }
            for key, message_id in results:
                part = parts.get(key)
                if part is None:
                    continue
                (
                    OutboxPart.update(status="sent", smsc=smsc, smsc_message_id=message_id, sent_at=now, error="")
                    .where(OutboxPart.id == key)
                    .execute()
                )
                events += self._settle(part, "sent", smsc_message_id=message_id)
        self._publish(events)

    def refused(self, key: int, status: int) -> None:
        part = OutboxPart.get_or_none(OutboxPart.id == key)
        if part is None or part.status != "submitting":
            return
        if status in (smpplib.consts.SMPP_ESME_RTHROTTLED, smpplib.consts.SMPP_ESME_RMSGQFUL):
            at = self.clock() + dt.timedelta(seconds=retry_delay(part.attempts))
            (
                OutboxPart.update(status="queued", next_attempt_at=at, error=status_text(status))
                .where(OutboxPart.id == key)
                .execute()
            )
            return
        with database.atomic():
            (
                OutboxPart.update(status="failed", error=status_text(status), done_at=self.clock())
                .where(OutboxPart.id == key)
                .execute()
            )
            events = self._settle(part, "failed", f"refused by the SMSC: {status_text(status)}")
        self._publish(events)

    def unanswered(self, keys: list[int]) -> None:
        self._back_to_queue(keys, self.clock())
        self.wake()

    def receipts(self, deliveries: list[Delivery], smsc: str) -> None:
        """Each part's final state from its receipt, in one transaction (the SMSC is answered after it)."""
        final = [r for r in deliveries if r.receipt_state not in NOT_FINAL]
        events = []
        now = self.clock()
        with database.atomic():
            parts = {
                p.smsc_message_id: p
                for p in OutboxPart.select().where(
                    OutboxPart.smsc == smsc,
                    OutboxPart.smsc_message_id.in_([r.receipt_for for r in final]),
                    OutboxPart.status == "sent",
                )
            }
            for receipt in final:
                part = parts.pop(receipt.receipt_for, None)
                if part is None:
                    log.warning(
                        "receipt for unknown or settled message_id %s (%s)", receipt.receipt_for, receipt.receipt_state
                    )
                    continue
                state = receipt.receipt_state or "UNKNOWN"
                outcome = "delivered" if state == "DELIVRD" else "failed"
                reason = (
                    ""
                    if outcome == "delivered"
                    else state + (f" (error {receipt.receipt_error})" if receipt.receipt_error else "")
                )
                OutboxPart.update(status=outcome, error=reason, done_at=now).where(OutboxPart.id == part.id).execute()
                events += self._settle(part, outcome, reason and f"not delivered: {reason}")
        self._publish(events)

    def _settle(
        self, part: OutboxPart, part_status: str, reason: str = "", smsc_message_id: str | None = None
    ) -> list[Settled]:
        """Move the part's message to what its parts say now that this part is ``part_status`` (in the caller's
        transaction); what to publish once that transaction is committed."""
        message = Message.get(Message.id == part.message_id)
        if part.total == 1:
            statuses = [part_status]
        else:
            statuses = [p.status for p in OutboxPart.select(OutboxPart.status).where(OutboxPart.message == message)]
        if smsc_message_id is not None and part.number == 1:  # the SMSC knows a message by its first part's id
            message.external_id = smsc_message_id
            message.save(only=[Message.external_id])
        moves = delivery_states.settle(message, statuses, self.clock(), reason)
        return [Settled(part.company_id, message, status) for status in moves]

    def _publish(self, settled: list[Settled]) -> None:
        for company_id, message, status in settled:
            text_events.message(self.bus, company_id, message, status=status)


class SmscListener:
    """The listener of the link to one SMSC (see smpp.Listener): the outbox's handling, told which SMSC it is."""

    def __init__(self, outbox: Outbox, smsc: str):
        self.outbox, self.smsc = outbox, smsc

    def accepted(self, results: list[tuple[int, str]]) -> None:
        self.outbox.accepted(results, self.smsc)

    def refused(self, key: int, status: int) -> None:
        self.outbox.refused(key, status)

    def unanswered(self, keys: list[int]) -> None:
        self.outbox.unanswered(keys)

    def text(self, delivery: Delivery) -> None:
        self.outbox.on_text(delivery)

    def receipts(self, deliveries: list[Delivery]) -> None:
        self.outbox.receipts(deliveries, self.smsc)
