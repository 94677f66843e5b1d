"""Due times kept in the database (a text waiting in Incoming, a chat nobody answered) are found by a sweep run
every second on a thread of its own: one sweeper per domain that has such timers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Sweeper:
    """Runs ``sweep`` every ``every`` seconds, from ``start()`` until ``stop()``; a failed round (a database hiccup)
    is logged and the next one runs."""

    def __init__(self, name: str, sweep: Callable[[], object], every: float):
        self.name, self.sweep, self.every = name, sweep, every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping.wait(self.every):  # Event.wait times on the monotonic clock
            try:
                self.sweep()
            except Exception:  # keep the timers running
                log.exception("%s: a sweep failed", self.name)
