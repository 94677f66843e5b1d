"""Domain events: named ``noun.verb``, published from any thread, delivered in order on one dispatcher thread.

Publishing never blocks the publisher (the telephony loop thread publishes on every AMI event); subscribers run
one after another on the dispatcher thread, so a subscriber sees events in the order they happened. A failing
subscriber is logged with its traceback and does not stop the others.

The subscribers that only hand events on (the event streams' fan-out, the cluster relay) are ``immediate``: called
on the publishing thread as the event is numbered, so the agents' screens never wait for the domains' reactions to
the events queued before it (a call's next events, whose reactions query the database: the dispatcher held a new
call's ``interaction.created`` back 12 ms at the median, 30 at p90, behind them).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from leadcenter.clock import Clock, system

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    data: dict
    seq: int
    at: dt.datetime  # when it was published (naive UTC)


Subscriber = Callable[[Event], None]

# An event published on another node of the installation (cluster.py), queued as (event, remote).
Delivery = tuple[Event, bool]


class Publisher(Protocol):
    """What a domain that only publishes needs of the bus (unit tests hand in one that records)."""

    def publish(self, name: str, **data: Any) -> object: ...


class Bus(Publisher, Protocol):
    """What a domain that also listens needs of the bus."""

    def subscribe(self, pattern: str, subscriber: Subscriber, *, everywhere: bool = False) -> None: ...


class EventBus:
    """The node's bus. On several nodes (cluster.py) the other nodes' events are published here too, as remote
    events: they reach only the subscribers that said ``everywhere`` (the event streams' fan-out, which serves this
    node's clients whichever node an event happened on); the others (the domains' reactions: recording a call,
    pausing an agent, queueing an email) ran on the node that published it and must not run twice."""

    def __init__(self, clock: Clock = system) -> None:
        self.clock = clock
        self._subscribers: list[tuple[str, Subscriber, bool, bool]] = []
        # (event name, immediate) -> its subscribers
        self._matching: dict[tuple[str, bool], list[tuple[Subscriber, bool]]] = {}
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0

    def subscribe(
        self, pattern: str, subscriber: Subscriber, *, everywhere: bool = False, immediate: bool = False
    ) -> None:
        """Deliver events whose name matches ``pattern`` (shell-style: ``call.*``, ``*``): this node's, and with
        ``everywhere`` the other nodes' too. On the dispatcher thread; with ``immediate``, on the publisher's thread
        as the event is numbered (in the events' order): for a subscriber that only hands the event on, and must
        then never block nor publish."""
        self._subscribers.append((pattern, subscriber, everywhere, immediate))
        self._matching.clear()

    def _subscribed(self, name: str, immediate: bool) -> list[tuple[Subscriber, bool]]:
        """The subscribers whose pattern matches ``name``, in the order they subscribed (worked out once a name: an
        event goes through dozens of patterns otherwise, dozens of times a call)."""
        matching = self._matching.get((name, immediate))
        if matching is None:
            matching = self._matching[(name, immediate)] = [
                (subscriber, everywhere)
                for pattern, subscriber, everywhere, right_away in self._subscribers
                if right_away == immediate and fnmatch.fnmatchcase(name, pattern)
            ]
        return matching

    def publish(self, name: str, **data) -> Event:
        return self._queued(name, data, None, remote=False)

    def publish_remote(self, name: str, data: dict, at: dt.datetime) -> Event:
        """An event another node published (at ``at``), numbered in this node's sequence."""
        return self._queued(name, data, at, remote=True)

    def _queued(self, name: str, data: dict, at: dt.datetime | None, remote: bool) -> Event:
        with self._seq_lock:
            event = Event(name, data, next(self._seq), self.clock() if at is None else at)
            self._deliver_to(self._subscribed(name, immediate=True), event, remote)
            with self._idle:
                self._pending += 1
            self._queue.put((event, remote))
        return event

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every published event has been delivered (tests, orderly shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            self.deliver(*delivery)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def deliver(self, event: Event, remote: bool = False) -> None:
        """To the subscribers that are not immediate (the dispatcher's part)."""
        outer, _delivery.deferred = getattr(_delivery, "deferred", None), {}
        try:
            self._deliver_to(self._subscribed(event.name, immediate=False), event, remote)
        finally:
            deferred, _delivery.deferred = _delivery.deferred, outer
            for publish in deferred.values():
                _guarded(publish, event, publish)

    @staticmethod
    def _deliver_to(subscribers: list[tuple[Subscriber, bool]], event: Event, remote: bool) -> None:
        for subscriber, everywhere in subscribers:
            if everywhere or not remote:
                _guarded(subscriber, event, functools.partial(subscriber, event))


# The publications deferred to the end of the event being delivered on this thread (publish_once).
_delivery = threading.local()


def publish_once(key: Hashable, publish: Callable[[], None]) -> None:
    """Call ``publish`` now; or, while this thread delivers an event (a subscriber's reaction), once when that
    delivery ends, however many times it is asked with the same ``key`` meanwhile (the first ``publish`` asked runs).

    For a notifier whose event carries a resource read from the database when it is published: a reaction that
    changes a call three times (its answer, its agent's leg, a transfer reached) publishes it once, as it ended up,
    rather than three events each subscriber and every browser applies in turn."""
    deferred = getattr(_delivery, "deferred", None)
    if deferred is None:
        publish()
    else:
        deferred.setdefault(key, publish)


def _guarded(what: Callable, event: Event, call: Callable[[], None]) -> None:
    """A failing subscriber (or publication) is logged and does not stop the others."""
    try:
        call()
    except Exception:
        log.exception("subscriber %s failed on %s #%s", getattr(what, "__qualname__", what), event.name, event.seq)
