"""Rows read at every public request, remembered for a moment: a company's site configuration is read by each page
view of each visitor (several hundred a second on a busy site) and changes a few times a year.

A ``Recent`` keeps what ``load(key)`` answered for ``seconds`` (monotonic time: setting the wall clock neither
keeps nor drops anything); the process that makes a change forgets the key at once, and a change made elsewhere (the
CLI, another node) shows within ``seconds``. What it keeps is shared between threads: read it, never change it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")

SECONDS = 1.0  # how stale a remembered row may be
MAX_KEYS = 10_000  # beyond this many keys the oldest half goes (a scan of unknown keys)


class Recent(Generic[Key, Value]):
    def __init__(self, seconds: float = SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._kept: dict[Key, tuple[float, Value]] = {}  # key -> (read at, value), oldest first
        self._lock = threading.Lock()

    def get(self, key: Key, load: Callable[[Key], Value]) -> Value:
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        value = load(key)  # outside the lock: two threads may both read, the last one's answer stays
        with self._lock:
            self._kept.pop(key, None)
            self._kept[key] = (now, value)
            if len(self._kept) > MAX_KEYS:
                for old in list(self._kept)[: MAX_KEYS // 2]:
                    del self._kept[old]
        return value

    def forget(self, key: Key | None = None) -> None:
        """Read ``key`` afresh next time (every key when None)."""
        with self._lock:
            if key is None:
                self._kept.clear()
            else:
                self._kept.pop(key, None)
