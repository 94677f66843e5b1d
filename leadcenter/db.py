"""The database handle, the model base class and the schema version.

Models bind to ``database`` (a proxy) and the composition root binds the proxy to SQLite at start-up
(``:memory:`` in unit tests). Timestamps are stored as UTC.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

from peewee import AutoField, DatabaseProxy, DateTimeField, Model, OperationalError, SqliteDatabase

from leadcenter import clock

log = logging.getLogger(__name__)

database = DatabaseProxy()


class BaseModel(Model):
    id: AutoField[int]  # the primary key peewee adds, which its type stubs do not declare

    class Meta:
        database = database
        legacy_table_names = False


class TimestampedModel(BaseModel):
    # When the row was written, for the record (see clock.py: the one default that reads the clock itself).
    created_at = DateTimeField(default=clock.system)


BUSY_TIMEOUT_MS = 5000


class TurnLock:
    """A lock taken in the order it was asked for: the holder hands it to the longest waiter. A plain lock lets the
    thread that releases it take it straight back, so under a burst of writers one of them could wait past the
    busy timeout while the others went round again."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over as the wait ran out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # still held: now by that waiter
            else:
                self._held = False


class SerialisedSqliteDatabase(SqliteDatabase):
    """SQLite whose transactions, within this process, take their turn on a lock before ``BEGIN IMMEDIATE``.

    SQLite's own wait for its write lock (the busy handler) polls, sleeping longer between tries as it waits (up
    to 100 ms a try): with a few dozen request threads writing at once (the site's visit collection at 200 views/s),
    a writer slept for seconds while the lock it waited for was held a millisecond at a time. A lock hands over at
    once, in the order the writers came (``TurnLock``). Other processes (the CLI) still meet the busy handler. A
    thread that waits past the busy timeout gets SQLite's own "database is locked" (the API's 503 ``busy``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer = TurnLock()
        self._holder = threading.local()

    def begin(self, lock_type=None):
        if not self._writer.acquire(BUSY_TIMEOUT_MS / 1000):
            raise OperationalError("database is locked")
        try:
            super().begin(lock_type)
        except BaseException:
            self._writer.release()
            raise
        self._holder.held = True

    def commit(self):
        try:
            return super().commit()
        finally:
            self._release()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._release()

    def _release(self) -> None:
        if getattr(self._holder, "held", False):
            self._holder.held = False
            self._writer.release()


class Prepared:
    """A select whose SQL is built once per database engine and run again with new values: building a query's SQL
    from peewee's expression tree costs more than SQLite's answer to it, and a public endpoint's hot path (the
    site's visit collection, hundreds a second) runs one query shape again and again.

    ``build(*stand_ins)`` makes the query; each stand-in is a value of the right type that appears nowhere else in
    the query, so its places in the parameter list are found and the real values (as the database stores them: ids,
    not rows) go there. Rows come back as the query would give them (models, with their joins)."""

    def __init__(self, build: Callable[..., Any], *stand_ins: Any):
        self.build, self.stand_ins = build, stand_ins
        self._made: dict[type, tuple[Any, str, list, list[int | None]]] = {}

    def first(self, *values: Any) -> Any:
        """The first row for these values (None without one)."""
        db = database.obj
        made = self._made.get(type(db))
        if made is None:
            query = self.build(*self.stand_ins)
            sql, params = query.sql()
            slots = [next((i for i, s in enumerate(self.stand_ins) if p == s), None) for p in params]
            if set(slots) - {None} != set(range(len(self.stand_ins))):
                raise ValueError(f"a stand-in of {self.build.__qualname__} is missing from its SQL")
            made = self._made.setdefault(type(db), (query, sql, params, slots))
        query, sql, params, slots = made
        bound = [values[slot] if slot is not None else param for param, slot in zip(params, slots, strict=True)]
        # peewee's own way from a cursor to rows: the query's cursor wrapper (read-only use of the query).
        return next(iter(query._get_cursor_wrapper(db.execute_sql(sql, bound))), None)


def open_sqlite(path: str) -> SqliteDatabase:
    # busy_timeout first, so that switching to WAL waits for other connections instead of failing.
    # Transactions begin IMMEDIATE: a transaction that reads, then writes while another connection writes, gets
    # SQLITE_BUSY at once (its snapshot is stale; the busy timeout cannot help), which under a few calls a second
    # lost interactions. Taking the write lock at BEGIN makes it wait its turn instead.
    return SerialisedSqliteDatabase(
        path,
        pragmas=(
            ("busy_timeout", BUSY_TIMEOUT_MS),
            ("journal_mode", "wal"),
            ("foreign_keys", 1),
            ("synchronous", "normal"),
        ),
        check_same_thread=False,
        lock_type="IMMEDIATE",
    )


def bind(db) -> None:
    database.initialize(db)
