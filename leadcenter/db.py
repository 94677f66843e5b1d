"""The database handle, the model base class and the schema version.

Models bind to ``database`` (a proxy) and the composition root binds the proxy to SQLite at start-up
(``:memory:`` in unit tests). Timestamps are stored as UTC.
"""

from __future__ import annotations

import logging
import threading

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


class SerialisedSqliteDatabase(SqliteDatabase):
    """SQLite whose transactions, within this process, take their turn on a lock before ``BEGIN IMMEDIATE``.

    SQLite's own wait for its write lock (the busy handler) polls, sleeping longer between tries as it waits (up
    to 100 ms a try): with a few dozen request threads writing at once (the site's visit collection at 200 views/s),
    a writer slept for seconds while the lock it waited for was held a millisecond at a time. A lock hands over at
    once. Other processes (the CLI) still meet the busy handler. A thread that waits past the busy timeout gets
    SQLite's own "database is locked" (the API's 503 ``busy``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer = threading.Lock()
        self._holder = threading.local()

    def begin(self, lock_type=None):
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
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
