"""Reconnect delays: quick after a first failure, doubling up to a ceiling, reset once connected."""

from __future__ import annotations


class Backoff:
    def __init__(self, first: float = 0.25, ceiling: float = 4.0):
        self.first = first
        self.ceiling = ceiling
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.ceiling, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first
