"""Where the web layer's limits on clients are kept: the public endpoints' request rates (``Rates``) and the
websockets' capacity (capacity.py).

One node (SQLite, or a single PostgreSQL node) keeps them in its memory: ``Limits``. Several nodes on one PostgreSQL
database (cluster.py) keep them in the database, so that they hold for the installation and a client spread over N
nodes by a load balancer gets one allowance, not N: ``SharedLimits`` (docs/architecture.md, "Several nodes"). The
composition root picks one and hands it to ``create_app``.

A shared rate costs a request one statement (an upsert of the key's row); a shared websocket place costs its
opening one transaction and its closing one statement, and each node refreshes its own sockets' rows every
HEARTBEAT_SECONDS (the cluster listener's tick): the rows of a node that died stop counting ALIVE_SECONDS after its
last heartbeat. Times are the wall clock's (the nodes' clocks kept in step, as for the sign-in throttle).

When the database does not answer, the shared limits refuse (fail closed): a request gets 503
``database-unavailable`` with Retry-After, a websocket is closed with 1013 (try again later). Either would have
needed the database next anyway.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from peewee import Database, DatabaseError, InterfaceError

from leadcenter.errors import ApiError
from leadcenter.web.capacity import ALIVE_SECONDS, Capacity, SharedCapacity

log = logging.getLogger(__name__)

MAX_KEYS = 100_000  # in-memory rate counters kept: beyond it the idle ones go
PRUNE_SECONDS = 60.0  # how often a node deletes the shared rate rows that are full again (equal to no row)


class Rates:
    """Token buckets per key, refilled at ``per_minute`` a minute up to ``per_minute`` (monotonic time: setting the
    wall clock neither frees nor blocks anyone)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._buckets: dict[Any, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: Any) -> float:
        """0 when the key may go on (one token taken), else the seconds until it may."""
        now = self.clock()
        rate = self.per_minute / 60
        with self._lock:
            tokens, when = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - when) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / rate
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > MAX_KEYS:  # a spray of addresses: the full (idle) buckets go
                for idle in [k for k, (t, w) in self._buckets.items() if t + (now - w) * rate >= self.per_minute]:
                    del self._buckets[idle]
        return 0.0


# The same bucket as one number per key, so that one upsert takes a token (GCRA, the generic cell rate algorithm):
# ``due`` is when the bucket would be full again. A request at ``now`` goes on when max(due, now) + step is at most
# a minute ahead (step = 60 / per_minute: a full bucket lets per_minute through at once, then one per step), and
# moves ``due`` there; else the row is left as it was and the wait is by how much it would pass the minute. The
# second SELECT reads the table as it was before the statement: the row the refused upsert left as it was.
_TAKE = """WITH taken AS (
    INSERT INTO cluster_rate AS r (key, due) VALUES (%s, %s)
    ON CONFLICT (key) DO UPDATE SET due = GREATEST(r.due, %s) + %s WHERE GREATEST(r.due, %s) + %s <= %s
    RETURNING 0.0 AS wait)
SELECT wait FROM taken
UNION ALL
SELECT GREATEST(due, %s) + %s - %s FROM cluster_rate WHERE key = %s AND NOT EXISTS (SELECT 1 FROM taken)"""


class SharedRates(Rates):
    """The same rates for every node: each key's bucket is a row of ``cluster_rate``, its key prefixed by the
    limit's ``name`` (rows that are full again are deleted by ``SharedLimits.tick``)."""

    def __init__(self, database: Database, name: str, per_minute: int, clock: Callable[[], float] = time.time):
        super().__init__(per_minute, clock)
        self.database, self.name = database, name

    def take(self, key: Any) -> float:
        now, step, row_key = self.clock(), 60 / self.per_minute, f"{self.name}:{key}"
        horizon = now + 60
        try:
            row = self.database.execute_sql(
                _TAKE, (row_key, now + step, now, step, now, step, horizon, now, step, horizon, row_key)
            ).fetchone()
        except (DatabaseError, InterfaceError) as exc:
            raise _unavailable(self.name, exc) from None
        return max(0.0, row[0]) if row is not None else 0.0


def _unavailable(name: str, exc: Exception) -> ApiError:
    """Fail closed: without the database nobody goes on uncounted."""
    log.warning("the %s limit could not be read: %s", name, exc)
    return ApiError(
        "database-unavailable", "the database did not answer: try again in a moment", headers={"Retry-After": "5"}
    )


class Window:
    """At most ``limit`` per key in any ``seconds`` (the times of each key's recent ones: monotonic)."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self._times: dict[Any, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: Any) -> bool:
        """Whether one more goes within the window (counted when it does)."""
        now = self.clock()
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and now - times[0] >= self.seconds:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def forget(self, key: Any) -> None:
        """The key is gone (a visitor's last page closed): its times go with it."""
        with self._lock:
            self._times.pop(key, None)


# The same window as one row per key: the times within it, kept and appended to in one upsert when fewer than the
# limit are, else left as they were (nothing returned). ``until``: when the row says nothing any more.
_TAKE_WINDOW = """INSERT INTO cluster_window AS w (key, times, until) VALUES (%s, ARRAY[%s::float8], %s)
ON CONFLICT (key) DO UPDATE SET times = ARRAY(SELECT t FROM unnest(w.times) t WHERE t > %s) || %s::float8, until = %s
WHERE cardinality(ARRAY(SELECT t FROM unnest(w.times) t WHERE t > %s)) < %s
RETURNING 1"""


class SharedWindow(Window):
    """The same window for every node: a row of ``cluster_window`` per key, prefixed by the limit's ``name``
    (rows past their ``until`` are deleted by ``SharedLimits.tick``)."""

    def __init__(
        self, database: Database, name: str, limit: int, seconds: float, clock: Callable[[], float] = time.time
    ):
        super().__init__(limit, seconds, clock)
        self.database, self.name = database, name

    def take(self, key: Any) -> bool:
        now, row_key = self.clock(), f"{self.name}:{key}"
        since, until = now - self.seconds, now + self.seconds
        try:
            cursor = self.database.execute_sql(
                _TAKE_WINDOW, (row_key, now, until, since, now, until, since, self.limit)
            )
        except (DatabaseError, InterfaceError) as exc:
            raise _unavailable(self.name, exc) from None
        return cursor.fetchone() is not None

    def forget(self, key: Any) -> None:
        """Another node may hold the key's pages still: the row stays until it is past."""


class Limits:
    """One node's limits, in its memory."""

    def rates(self, name: str, per_minute: int) -> Rates:
        """The rate ``name`` (its keys apart from every other rate's)."""
        return Rates(per_minute)

    def window(self, name: str, limit: int, seconds: float) -> Window:
        """The window ``name``: at most ``limit`` a key in any ``seconds``."""
        return Window(limit, seconds)

    def capacity(self, pool: str, per_principal: int, per_company: int, ceiling: int) -> Capacity:
        """The websocket pool ``pool`` (the agents' or the visitors')."""
        return Capacity(per_principal, per_company, ceiling)

    def tick(self) -> None:
        """Called often (at least every HEARTBEAT_SECONDS) on a thread that may use the database."""


class SharedLimits(Limits):
    """The installation's limits, shared by every node through the database (PostgreSQL); ``node`` is this node's
    id (cluster.py)."""

    def __init__(self, database: Database, node: str, clock: Callable[[], float] = time.time):
        self.database, self.node, self.clock = database, node, clock
        self._capacities: list[SharedCapacity] = []
        self._pruned = -math.inf  # the first tick deletes what was left

    def rates(self, name: str, per_minute: int) -> Rates:
        return SharedRates(self.database, name, per_minute, self.clock)

    def window(self, name: str, limit: int, seconds: float) -> Window:
        return SharedWindow(self.database, name, limit, seconds, self.clock)

    def capacity(self, pool: str, per_principal: int, per_company: int, ceiling: int) -> Capacity:
        capacity = SharedCapacity(self.database, self.node, pool, per_principal, per_company, ceiling, self.clock)
        self._capacities.append(capacity)
        return capacity

    def tick(self) -> None:
        for capacity in self._capacities:
            capacity.heartbeat()
        now = self.clock()
        if now - self._pruned >= PRUNE_SECONDS:
            self._pruned = now
            self.database.execute_sql("DELETE FROM cluster_rate WHERE due < %s", (now,))
            self.database.execute_sql("DELETE FROM cluster_window WHERE until < %s", (now,))
            self.database.execute_sql("DELETE FROM cluster_websocket WHERE seen_at < %s", (now - ALIVE_SECONDS,))
