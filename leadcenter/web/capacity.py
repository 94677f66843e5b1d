"""Who may hold how many long-lived websockets (event streams and softphone relays, counted together).

Each open websocket costs a file descriptor, memory and its share of the event fan-out. One global cap alone let
one API key holding 240 streams refuse every other company's agents (issue 10, 4.3). The rules, checked when a
websocket opens, in this order:

- a principal (a user, all of their sessions together, or an API key) holds at most ``per_principal``;
- a company holds at most ``per_company``;
- the server holds at most ``ceiling``. When it is full, a company that holds less than its fair share (the ceiling
  divided by the companies holding websockets, the asking one included) still gets in: the newest websocket of the
  company furthest over its share is reclaimed (its handler closes it with 1013 and its client retries). So however
  many users or keys a company has, it can never take another company's share.

A refusal is a ``Refused`` with a reason for the client; the handlers close with 1013 (try again later), and the
agent app and JsSIP retry with backoff.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Hashable


class Refused(Exception):
    """No room: the message says which limit, for the close reason (at most 123 bytes)."""


@dataclass(eq=False)
class Hold:
    """One open websocket's place; ``on_reclaim`` is called (from any thread) when it must make room."""
    company_id: int
    principal: Hashable
    on_reclaim: Callable[[], None]


class Capacity:
    def __init__(self, per_principal: int, per_company: int, ceiling: int):
        self.per_principal, self.per_company, self.ceiling = per_principal, per_company, ceiling
        self._lock = threading.Lock()
        self._companies: dict[int, list[Hold]] = {}  # the companies holding any, each one's holds oldest first
        self._principals: Counter = Counter()
        self._total = 0

    def take(self, company_id: int, principal: Hashable, on_reclaim: Callable[[], None] = lambda: None) -> Hold:
        hold = Hold(company_id, principal, on_reclaim)
        with self._lock:
            if self._principals[principal] >= self.per_principal:
                raise Refused(f"this user or API key already holds {self.per_principal} websockets")
            held = len(self._companies.get(company_id, ()))
            if held >= self.per_company:
                raise Refused(f"this company already holds {self.per_company} websockets")
            reclaimed = None
            if self._total >= self.ceiling:
                share = self.ceiling // len(self._companies.keys() | {company_id})
                if held >= share:
                    raise Refused("the server is at capacity; retry later")
                # Someone else is over their share (the others hold more than the ceiling less ours): the newest
                # websocket of the company furthest over gives way.
                reclaimed = max(self._companies.values(), key=len).pop()
                self._forget(reclaimed)
            self._companies.setdefault(company_id, []).append(hold)
            self._principals[principal] += 1
            self._total += 1
        if reclaimed is not None:
            reclaimed.on_reclaim()
        return hold

    def release(self, hold: Hold) -> None:
        """The websocket closed (a reclaimed hold is already gone: nothing happens)."""
        with self._lock:
            held = self._companies.get(hold.company_id, [])
            if hold in held:
                held.remove(hold)
                self._forget(hold)

    def _forget(self, hold: Hold) -> None:
        self._total -= 1
        self._principals[hold.principal] -= 1
        if not self._principals[hold.principal]:
            del self._principals[hold.principal]
        if not self._companies[hold.company_id]:
            del self._companies[hold.company_id]

    def held(self, company_id: int | None = None) -> int:
        with self._lock:
            return self._total if company_id is None else len(self._companies.get(company_id, []))
