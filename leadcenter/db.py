"""The database handle, the model base class and the schema version.

Models bind to ``database`` (a proxy) and the composition root binds the proxy to SQLite at start-up
(``:memory:`` in unit tests). Timestamps are stored as UTC.
"""

from __future__ import annotations

import logging

from peewee import AutoField, DatabaseProxy, DateTimeField, Model, SqliteDatabase

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


def open_sqlite(path: str) -> SqliteDatabase:
    # busy_timeout first, so that switching to WAL waits for other connections instead of failing.
    # Transactions begin IMMEDIATE: a transaction that reads, then writes while another connection writes, gets
    # SQLITE_BUSY at once (its snapshot is stale; the busy timeout cannot help), which under a few calls a second
    # lost interactions. Taking the write lock at BEGIN makes it wait its turn instead.
    return SqliteDatabase(
        path,
        pragmas=(
            ("busy_timeout", 5000),
            ("journal_mode", "wal"),
            ("foreign_keys", 1),
            ("synchronous", "normal"),
        ),
        check_same_thread=False,
        lock_type="IMMEDIATE",
    )


def bind(db) -> None:
    database.initialize(db)
