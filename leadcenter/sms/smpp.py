"""One SMPP bind (bind_transceiver) kept up with smpplib, with windowed submit_sm.

smpplib is a blocking socket with no threads, locks, window or reconnect of its own (see the SMPP notes in the
architecture doc), so this class supplies them:

- one session thread connects, binds, then reads PDUs and dispatches them itself (not ``listen()``, whose
  default handlers raise inside the loop, never answer an SMSC's unbind and never return);
- ``submit`` may be called from any thread: every write goes through one lock, sequence numbers come from one
  locked generator kept across reconnects (a late response from an old bind can never match a new request),
  and at most ``window`` submit_sm are outstanding, matched to their responses by sequence number;
- a response is checked for its status (smpplib reports error responses like successes);
- a deliver_sm is answered only after the listener returned (it stores the message first); if the listener
  fails, the answer is a temporary error so the SMSC delivers it again; one it refuses for good
  (``DeliveryRefused``: for no number we serve) gets the listener's permanent error, never an acknowledgement;
- an enquire_link goes out after ``enquire_link_seconds`` of silence, and the watchdog drops the connection
  when anything we asked stays unanswered with nothing heard for ``response_timeout_seconds`` (a half-open
  socket is found, not waited on forever);
- on any loss the outstanding submits are handed back (``unanswered``) and the bind is retried with backoff.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from leadcenter.clock import Clock, system
from leadcenter.config import SmppSettings

log = logging.getLogger(__name__)

ESM_UDHI = 0x40
ESM_RECEIPT = 0x04  # esm_class of a deliver_sm that is an SMSC delivery receipt
# Statuses that mean "not now": the part is submitted again after a backoff.
RETRY_STATUSES = {smpplib.consts.SMPP_ESME_RTHROTTLED, smpplib.consts.SMPP_ESME_RMSGQFUL}
TEMPORARY_APP_ERROR = smpplib.consts.SMPP_ESME_RX_T_APPN
INVALID_DESTINATION = smpplib.consts.SMPP_ESME_RINVDSTADR  # a text for no number we serve
# message_state values (SMPP 3.4, 5.3.2.35; 9 is SMPP 5.0's) as the stat words of receipt texts; a value outside
# them reads as UNKNOWN. 0 (none given, or 5.0's SCHEDULED) defers to the receipt text's stat.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
    9: "SKIPPED",
}
READ_POLL = 0.2  # seconds the session thread waits for the socket before looking at its timers
# Successful submit_sm_resp, and delivery receipts, are handed to the listener in batches of up to this many (one
# database write each): a batch ends when the socket has nothing more to read. Accepted submits are handed over
# before any deliver_sm is (a receipt must find its part's message_id written); receipts are answered only once
# their batch is stored. Inbound texts are stored and answered one by one.
BATCH = 500


class NotBound(Exception):
    pass


class DeliveryRefused(Exception):
    """Raised by a listener for a deliver_sm it will never take (a text for a number nobody here serves): the
    answer is ``status``, a permanent error, so the SMSC knows it was not delivered (it may bounce it to the
    sender) and does not send it again."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status = status


@dataclass(frozen=True)
class Submission:
    key: int  # the caller's id for this part (the outbox part id): results are reported under it
    source: str  # E.164
    destination: str  # E.164
    data_coding: int
    short_message: bytes  # UDH included when udhi
    udhi: bool


@dataclass(frozen=True)
class Delivery:
    """A deliver_sm: a text from a phone (MO) or a delivery receipt."""

    source: str  # E.164 where the TON says international
    destination: str
    data_coding: int
    udhi: bool
    short_message: bytes
    receipt_for: str | None = None  # the SMSC message_id a receipt is about
    receipt_state: str | None = None  # DELIVRD, UNDELIV, ... (see MESSAGE_STATES)
    receipt_error: str = ""
    # The addresses' type of number as the SMSC sent them (1: international; 0: unknown; 2: national; 5:
    # alphanumeric): the domain reads an address without one in its numbers' regions.
    source_ton: int = 1
    destination_ton: int = 1


class Listener(Protocol):
    def accepted(self, results: list[tuple[int, str]]) -> None: ...  # (key, message_id) of submit_sm_resp OK

    def refused(self, key: int, status: int) -> None: ...  # submit_sm_resp or generic_nack with an error

    def unanswered(self, keys: list[int]) -> None: ...  # the connection ended before their responses

    def text(self, delivery: Delivery) -> None: ...  # store an inbound text; raise to have the SMSC retry later

    def receipts(self, deliveries: list[Delivery]) -> None: ...  # store receipts; raise: the SMSC retries them


class LockedSequence:
    """smpplib's sequence generator interface, safe across threads and kept across reconnects."""

    MAX = 0x7FFFFFFF

    def __init__(self):
        self._lock = threading.Lock()
        self._sequence = 0

    @property
    def sequence(self) -> int:
        return self._sequence

    def next_sequence(self) -> int:
        with self._lock:
            self._sequence = self._sequence % self.MAX + 1
            return self._sequence


def e164(address: str, ton: int) -> str:
    """An SMPP address as E.164 where it is an international number (TON 1 carries no '+')."""
    address = address.strip()
    if ton == 1 and address.isdigit():
        return "+" + address
    return address


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of a receipt's text: ``id:123 sub:001 dlvrd:001 submit date:... stat:DELIVRD err:000 text:``."""
    fields = {}
    for word in text.split(" "):
        name, _, value = word.partition(":")
        if value and name in ("id", "stat", "err"):
            fields[name] = value
    return fields


@dataclass
class Counters:
    binds: int = 0
    submitted: int = 0
    accepted: int = 0
    refused: int = 0
    throttled: int = 0
    unanswered: int = 0
    received: int = 0
    receipts: int = 0
    refused_deliveries: int = 0


class SmppLink:
    def __init__(self, settings: SmppSettings, listener: Listener, name: str = "smsc", clock: Clock = system):
        self.settings = settings
        self.clock = clock
        self.listener = listener
        self.name = name
        self.sequence = LockedSequence()
        self.counters = Counters()
        self.state = "stopped"  # stopped | connecting | bound | disconnected
        self.bound_since: dt.datetime | None = None
        self.last_error = ""
        self._client: smpplib.client.Client | None = None
        self._send_lock = threading.Lock()
        self._window = threading.Condition()
        self._pending: dict[int, tuple[int, float]] = {}  # sequence -> (key, sent at)
        self._enquiry: float | None = None  # when our unanswered enquire_link went out
        self._last_heard = 0.0
        self._last_sent = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._accepted: list[tuple[int, str]] = []  # read, not yet handed to the listener
        self._receipts: list[tuple[object, Delivery]] = []  # (deliver_sm, receipt) read, not yet stored/answered

    # -- life cycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"smpp-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Unbind politely, close, and hand back what is outstanding."""
        self._stopping.set()
        client = self._client
        if client is not None and self.state == "bound":
            with contextlib.suppress(smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
                self._send(smpplib.smpp.make_pdu("unbind", client=client))
        with self._window:
            self._window.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._lost("stopped")  # what is still outstanding goes back to the outbox
        self.state = "stopped"

    def status(self) -> dict:
        with self._window:
            outstanding = len(self._pending)
        return {
            "name": self.name,
            "state": self.state,
            "host": self.settings.host,
            "port": self.settings.port,
            "bound_since": self.bound_since.isoformat() + "Z" if self.bound_since else None,
            "window": self.settings.window,
            "outstanding": outstanding,
            "last_error": self.last_error,
            **dataclasses.asdict(self.counters),
        }

    @property
    def bound(self) -> bool:
        return self.state == "bound"

    # -- verbs (any thread) ------------------------------------------------------------------------------------
    def submit(self, submission: Submission, wait: float = 1.0) -> None:
        """Send a submit_sm once the window has room (waiting up to ``wait`` s). Raises NotBound when there is no
        bind or no room came: the caller keeps the part and tries again. The result comes to the listener."""
        s = self.settings
        deadline = time.monotonic() + wait
        with self._window:
            while self.bound and len(self._pending) >= s.window:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NotBound("the window stayed full")
                self._window.wait(left)
            client = self._client
            if not self.bound or client is None:
                raise NotBound(f"{self.name} is {self.state}")
            pdu = smpplib.smpp.make_pdu(
                "submit_sm",
                client=client,
                source_addr_ton=s.source_ton,
                source_addr_npi=s.source_npi,
                source_addr=submission.source.lstrip("+"),
                dest_addr_ton=s.dest_ton,
                dest_addr_npi=s.dest_npi,
                destination_addr=submission.destination.lstrip("+"),
                esm_class=ESM_UDHI if submission.udhi else 0,
                data_coding=submission.data_coding,
                registered_delivery=1,
                short_message=submission.short_message,
                # The same reference on a repeat lets an SMSC recognise it (outbox ids are the keys).
                user_message_reference=submission.key & 0xFFFF,
            )
            self._pending[pdu.sequence] = (submission.key, time.monotonic())
        try:
            self._send(pdu, client)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as exc:
            self._lost(f"send failed: {exc!r}")  # the session thread sees the dead socket and reconnects
            return
        self.counters.submitted += 1

    # -- the session thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            self.state = "connecting"
            try:
                self._bind()
                backoff = 1.0
                self._read_until_lost()
            except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a listener failing (the database) must not end texting: start afresh
                log.exception("SMPP %s: session failed", self.name)
                self._lost(f"{type(exc).__name__}: {exc}")
            finally:
                self._close()
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, float(max(1, self.settings.reconnect_max_seconds)))
        self._close()

    def _bind(self) -> None:
        s = self.settings
        client = smpplib.client.Client(
            s.host,
            s.port,
            timeout=max(1, s.response_timeout_seconds),
            sequence_generator=self.sequence,
            logger_name=f"smpplib.{self.name}",
            allow_unknown_opt_params=True,
        )
        self._client = client
        client.connect()
        client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # windowed: no Nagle delays
        client.bind_transceiver(system_id=s.system_id, password=s.password, system_type=s.system_type)
        now = time.monotonic()
        self._last_heard = self._last_sent = now
        self._enquiry = None
        self.counters.binds += 1
        self.bound_since = self.clock()
        self.last_error = ""
        with self._window:
            self.state = "bound"
            self._window.notify_all()
        log.info("SMPP %s: bound to %s:%s as %s", self.name, s.host, s.port, s.system_id)

    def _read_until_lost(self) -> None:
        client = self._client
        assert client is not None  # _bind set it, and only this thread closes it
        while not self._stopping.is_set() and self.bound:
            waiting = self._accepted or self._receipts
            readable, _, _ = select.select([client._socket], [], [], 0 if waiting else READ_POLL)
            if not readable:
                self._hand_over()
                self._watch()
                continue
            pdu = client.read_pdu()
            self._last_heard = time.monotonic()
            if not self._dispatch(pdu):
                self._hand_over()
                return
            if len(self._accepted) >= BATCH or len(self._receipts) >= BATCH:
                self._hand_over()

    def _hand_over(self) -> None:
        self._hand_over_accepted()
        self._hand_over_receipts()

    def _hand_over_accepted(self) -> None:
        if self._accepted:
            batch, self._accepted = self._accepted, []
            self.listener.accepted(batch)

    def _hand_over_receipts(self) -> None:
        if not self._receipts:
            return
        batch, self._receipts = self._receipts, []
        try:
            self.listener.receipts([receipt for _, receipt in batch])
            status = smpplib.consts.SMPP_ESME_ROK
            self.counters.receipts += len(batch)
        except Exception:  # not stored: a temporary error makes the SMSC deliver them again later
            log.exception("SMPP %s: could not store %s receipt(s)", self.name, len(batch))
            self.counters.refused_deliveries += len(batch)
            status = TEMPORARY_APP_ERROR
        for pdu, _ in batch:
            self._respond(pdu, "deliver_sm_resp", status)

    def _dispatch(self, pdu) -> bool:
        """Act on one PDU; False when the session ends (the SMSC unbound)."""
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            self._answered(pdu)
        elif command == "deliver_sm":
            self._deliver(pdu)
        elif command == "enquire_link":
            self._respond(pdu, "enquire_link_resp")
        elif command == "enquire_link_resp":
            self._enquiry = None
        elif command == "unbind":
            self._respond(pdu, "unbind_resp")
            self._lost("the SMSC unbound")
            return False
        elif command == "unbind_resp":
            return False
        else:
            log.warning("SMPP %s: ignoring %s", self.name, command)
        return True

    def _answered(self, pdu) -> None:
        with self._window:
            entry = self._pending.pop(pdu.sequence, None)
            self._window.notify_all()
        if entry is None:
            log.warning("SMPP %s: %s for unknown sequence %s", self.name, pdu.command, pdu.sequence)
            return
        key = entry[0]
        status = int(pdu.status)
        if pdu.command == "submit_sm_resp" and status == smpplib.consts.SMPP_ESME_ROK:
            message_id = pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else str(pdu.message_id)
            self.counters.accepted += 1
            self._accepted.append((key, message_id))
            return
        if status == smpplib.consts.SMPP_ESME_ROK:  # a generic_nack without a status still refuses the PDU
            status = smpplib.consts.SMPP_ESME_RSYSERR
        if status in RETRY_STATUSES:
            self.counters.throttled += 1
        else:
            self.counters.refused += 1
        self.listener.refused(key, status)

    def _deliver(self, pdu) -> None:
        self._hand_over_accepted()
        delivery = self._delivery(pdu)
        if delivery.receipt_for is not None:
            self._receipts.append((pdu, delivery))
            return
        self._hand_over_receipts()  # in the order they came
        try:
            self.listener.text(delivery)
        except DeliveryRefused as refused:  # never to be taken: the SMSC is told, not left believing it delivered
            log.warning(
                "SMPP %s: refused a text from %s to %s (status 0x%02x): %s",
                self.name,
                delivery.source,
                delivery.destination,
                refused.status,
                refused,
            )
            self.counters.refused_deliveries += 1
            self._respond(pdu, "deliver_sm_resp", refused.status)
            return
        except Exception:  # not stored: a temporary error makes the SMSC deliver it again later
            log.exception("SMPP %s: could not store a text from %s", self.name, delivery.source)
            self.counters.refused_deliveries += 1
            self._respond(pdu, "deliver_sm_resp", TEMPORARY_APP_ERROR)
            return
        self.counters.received += 1
        self._respond(pdu, "deliver_sm_resp")

    @staticmethod
    def _text(value) -> str:
        if value is None:
            return ""
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    def _delivery(self, pdu) -> Delivery:
        esm_class = int(pdu.esm_class or 0)
        short_message = pdu.short_message or b""
        if isinstance(short_message, str):
            short_message = short_message.encode("latin-1")
        source_ton, destination_ton = int(pdu.source_addr_ton or 0), int(pdu.dest_addr_ton or 0)
        base = Delivery(
            source=e164(self._text(pdu.source_addr), source_ton),
            destination=e164(self._text(pdu.destination_addr), destination_ton),
            data_coding=int(pdu.data_coding or 0),
            udhi=bool(esm_class & ESM_UDHI),
            short_message=short_message,
            source_ton=source_ton,
            destination_ton=destination_ton,
        )
        if esm_class & 0x3C != ESM_RECEIPT:
            return base
        fields = parse_receipt_text(short_message.decode("latin-1"))
        message_id = self._text(pdu.receipted_message_id) or fields.get("id", "")
        state = (
            MESSAGE_STATES.get(int(pdu.message_state), "UNKNOWN")
            if pdu.message_state
            else fields.get("stat", "UNKNOWN")
        )
        return dataclasses.replace(
            base, receipt_for=message_id, receipt_state=state, receipt_error=fields.get("err", "")
        )

    def _respond(self, pdu, command: str, status: int = smpplib.consts.SMPP_ESME_ROK) -> None:
        response = smpplib.smpp.make_pdu(command, client=self._client, status=status)
        response.sequence = pdu.sequence
        self._send(response)

    def _watch(self) -> None:
        """enquire_link when idle; drop a connection that stopped answering."""
        now = time.monotonic()
        with self._window:
            oldest = min((sent for _, sent in self._pending.values()), default=None)
        waiting_since = min(t for t in (oldest, self._enquiry) if t is not None) if (oldest or self._enquiry) else None
        if (
            waiting_since is not None
            and now - max(waiting_since, self._last_heard) > self.settings.response_timeout_seconds
        ):
            raise smpplib.exceptions.ConnectionError(
                f"no answer for {self.settings.response_timeout_seconds} s: the connection is dead"
            )
        idle = now - max(self._last_heard, self._last_sent)
        if self._enquiry is None and idle >= self.settings.enquire_link_seconds:
            self._enquiry = now
            self._send(smpplib.smpp.make_pdu("enquire_link", client=self._client))

    def _send(self, pdu, client=None) -> None:
        client = client or self._client
        with self._send_lock:
            client.send_pdu(pdu)
            self._last_sent = time.monotonic()

    def _lost(self, why: str) -> None:
        """The bind is gone: outstanding submits go back to the caller, the session thread reconnects."""
        self._receipts = []  # unanswered: the SMSC delivers them again
        try:
            self._hand_over_accepted()  # accepted before the loss: sent, not to be submitted again
        except Exception:
            log.exception("SMPP %s: could not record accepted submits", self.name)
        with self._window:
            was_bound = self.state == "bound"
            self.state = "disconnected"
            keys = [key for key, _ in self._pending.values()]
            self._pending.clear()
            self._window.notify_all()
        if was_bound or why != self.last_error:
            log.warning("SMPP %s: %s", self.name, why)
        self.last_error = why
        self.bound_since = None
        if keys:
            self.counters.unanswered += len(keys)
            self.listener.unanswered(keys)

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client._socket is not None:
            with contextlib.suppress(OSError):
                client._socket.close()
            client._socket = None
            client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
