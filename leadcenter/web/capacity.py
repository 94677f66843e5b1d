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
agent app and JsSIP retry with backoff. ``take`` may use the database (``SharedCapacity``): the handlers call it in
a request thread.

``Capacity`` counts one node's websockets in its memory; ``SharedCapacity`` counts every node's, as rows of the
database (several nodes on PostgreSQL: limits.py says which the composition root picks).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Hashable

from peewee import Database, DatabaseError, InterfaceError

from leadcenter.db import execute_without_turn

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 3.0  # how often a node says which of its websockets are still open (SharedCapacity)
ALIVE_SECONDS = 20.0  # a websocket whose node has not said so for this long no longer counts


class Refused(Exception):
    """No room: the message says which limit, for the close reason (at most 123 bytes)."""


@dataclass(eq=False)
class Hold:
    """One open websocket's place; ``on_reclaim`` is called (from any thread) when it must make room. ``place``:
    its row's id when the database counts it."""

    company_id: int
    principal: Hashable
    on_reclaim: Callable[[], None]
    place: int = 0


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
            held = len(self._companies.get(company_id, ()))
            reclaimed = None
            others = len(self._companies.keys() - {company_id})
            if self._must_make_room(self._principals[principal], held, self._total, others):
                reclaimed = max(self._companies.values(), key=len).pop()
                self._forget(reclaimed)
            self._companies.setdefault(company_id, []).append(hold)
            self._principals[principal] += 1
            self._total += 1
        if reclaimed is not None:
            reclaimed.on_reclaim()
        return hold

    def _must_make_room(self, principal_held: int, company_held: int, total: int, others: int) -> bool:
        """Whether one more websocket of a principal and a company holding these (of ``total``; ``others``: how many
        other companies hold any) may open: Refused when not; True when it may once the newest websocket of the
        company furthest over its share gives way."""
        if principal_held >= self.per_principal:
            raise Refused(f"this user or API key already holds {self.per_principal} websockets")
        if company_held >= self.per_company:
            raise Refused(f"this company already holds {self.per_company} websockets")
        if total < self.ceiling:
            return False
        if company_held >= self.ceiling // (others + 1):
            raise Refused("the server is at capacity; retry later")
        # Someone else is over their share (the others hold more than the ceiling less ours).
        return True

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


class SharedCapacity(Capacity):
    """The same rules over every node's websockets of one ``pool`` (the agents' or the visitors'): each open one is
    a row of ``cluster_websocket`` (its node, company and principal, and when its node last said it is open).

    - ``take`` counts the rows that are alive and adds one, in one transaction, which takes the writers' lock
      (db.py) first: two nodes' takes run one after the other and never both get the last place. When a company
      below its share needs room, the row of the newest websocket of the company furthest over is deleted; its
      node closes it at its next heartbeat (at once when it is this node's).
    - ``release`` forgets the place at once and deletes its row on a thread of its own (the handlers call it on the
      web server's loop, which must not wait for the database).
    - ``heartbeat`` (every HEARTBEAT_SECONDS, the cluster listener's tick) refreshes this node's rows in one UPDATE;
      a row that is gone was reclaimed (or this node was taken for dead) and its websocket is closed. A node that
      died stops its rows' refreshes: they no longer count ALIVE_SECONDS later, and are deleted (limits.py).
    """

    def __init__(
        self,
        database: Database,
        node: str,
        pool: str,
        per_principal: int,
        per_company: int,
        ceiling: int,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(per_principal, per_company, ceiling)
        self.database, self.node, self.pool, self.clock = database, node, pool, clock
        self._open: dict[int, Hold] = {}  # this node's open websockets, by row id
        self._beaten = -math.inf
        self._released: list[int] = []  # rows to delete
        self._deleting = False  # whether a thread is deleting them

    def take(self, company_id: int, principal: Hashable, on_reclaim: Callable[[], None] = lambda: None) -> Hold:
        hold = Hold(company_id, principal, on_reclaim)
        now = self.clock()
        try:
            with self.database.atomic():
                reclaimed = self._make_room(company_id, str(principal), now)
                (hold.place,) = self.database.execute_sql(
                    "INSERT INTO cluster_websocket (pool, node, company_id, principal, seen_at) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (self.pool, self.node, company_id, str(principal), now),
                ).fetchone()
        except (DatabaseError, InterfaceError) as exc:  # fail closed: nobody may open what cannot be counted
            log.warning("a websocket of company %s not counted: %s", company_id, exc)
            raise Refused("the server cannot count websockets now; retry later") from None
        with self._lock:
            self._open[hold.place] = hold
            ours = self._open.pop(reclaimed, None) if reclaimed is not None else None
        if ours is not None:
            ours.on_reclaim()
        return hold

    def _make_room(self, company_id: int, principal: str, now: float) -> int | None:
        """In the take's transaction: Refused, or None, or the id of the row deleted to make room."""
        alive = now - ALIVE_SECONDS
        principal_held, company_held, total, others = self.database.execute_sql(
            "SELECT count(*) FILTER (WHERE principal = %s), count(*) FILTER (WHERE company_id = %s), count(*), "
            "count(DISTINCT company_id) FILTER (WHERE company_id <> %s) "
            "FROM cluster_websocket WHERE pool = %s AND seen_at >= %s",
            (principal, company_id, company_id, self.pool, alive),
        ).fetchone()
        if not self._must_make_room(principal_held, company_held, total, others):
            return None
        (place,) = self.database.execute_sql(
            "SELECT id FROM cluster_websocket WHERE pool = %s AND seen_at >= %s AND company_id = ("
            "SELECT company_id FROM cluster_websocket WHERE pool = %s AND seen_at >= %s "
            "GROUP BY company_id ORDER BY count(*) DESC, company_id LIMIT 1) ORDER BY id DESC LIMIT 1",
            (self.pool, alive, self.pool, alive),
        ).fetchone()
        self.database.execute_sql("DELETE FROM cluster_websocket WHERE id = %s", (place,))
        return place

    def release(self, hold: Hold) -> None:
        with self._lock:
            if self._open.pop(hold.place, None) is None:
                return  # reclaimed: its row is gone already
            self._released.append(hold.place)
            if self._deleting:
                return
            self._deleting = True
        threading.Thread(target=self._delete, name=f"websockets-{self.pool}", daemon=True).start()

    def _delete(self) -> None:
        """A thread while released rows wait: deletes them (a row it could not delete stops counting by itself),
        then ends, closing its connection."""
        try:
            while True:
                with self._lock:
                    places, self._released = self._released, []
                    if not places:
                        self._deleting = False
                        return
                try:
                    self.database.execute_sql("DELETE FROM cluster_websocket WHERE id = ANY(%s)", (places,))
                except Exception as exc:
                    log.warning("closed websockets' rows stay until they are no longer alive: %s", exc)
        finally:
            self.database.close()

    def heartbeat(self) -> None:
        """This node's open websockets are open still: at most every HEARTBEAT_SECONDS, one UPDATE."""
        now = self.clock()
        if now - self._beaten < HEARTBEAT_SECONDS:
            return
        self._beaten = now
        with self._lock:
            places = list(self._open)
        if not places:
            return
        kept = {
            row[0]
            for row in execute_without_turn(
                self.database,
                "UPDATE cluster_websocket SET seen_at = %s WHERE id = ANY(%s) RETURNING id",
                (now, places),
            )
        }
        with self._lock:
            gone = [hold for place in places if place not in kept and (hold := self._open.pop(place, None))]
        for hold in gone:
            hold.on_reclaim()

    def held(self, company_id: int | None = None) -> int:
        """Every node's open websockets (of ``company_id``)."""
        company = "" if company_id is None else " AND company_id = %s"
        return self.database.execute_sql(
            f"SELECT count(*) FROM cluster_websocket WHERE pool = %s AND seen_at >= %s{company}",
            (self.pool, self.clock() - ALIVE_SECONDS, *([] if company_id is None else [company_id])),
        ).fetchone()[0]
