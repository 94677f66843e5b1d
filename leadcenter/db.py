"""The database handle, the model base class, and the SQL that differs between the two engines.

Models bind to ``database`` (a proxy) and the composition root binds the proxy at start-up to SQLite (the default:
a file in the data directory; ``:memory:`` in unit tests) or to PostgreSQL (``[database] url``). Timestamps are
stored as UTC (TIMESTAMP without time zone on PostgreSQL).

Both engines run every query and every transaction rule the same way:

- Transactions are serialised, as SQLite's one writer lock serialises them: the code reads, then writes what it
  read (an agent's state, a call's interaction, a counter) in ``database.atomic()`` and counts on nobody writing in
  between. SQLite's ``BEGIN IMMEDIATE`` takes the database's write lock at the start; on PostgreSQL each
  transaction takes one transaction-scoped advisory lock first (``WRITERS_LOCK``), which every node and process of
  the installation shares, and a statement written outside a transaction takes it too (see
  ``SerialisedPostgresqlDatabase``).
- SQL that differs (dates, epoch seconds, weekdays) is written here, once per engine (``local_day`` and the rest).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self

from peewee import (
    SQL,
    AutoField,
    Database,
    DatabaseError,
    DatabaseProxy,
    DateTimeField,
    Expression,
    Model,
    NodeList,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    fn,
)

from leadcenter import clock

log = logging.getLogger(__name__)

database = DatabaseProxy()


class BaseModel(Model):
    id: AutoField[int]  # the primary key peewee adds, which its type stubs do not declare

    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def by_id(cls, row_id: int | None) -> Self | None:
        """The row with this id, or None: ``get_or_none(cls.id == row_id)`` with its SQL built once (``Prepared``:
        about a fifth of the time, 0.08 against 0.4 ms for an interaction; the event dispatcher reads rows by id
        dozens of times a call)."""
        if row_id is None:
            return None
        prepared = _BY_ID.get(cls)
        if prepared is None:
            prepared = _BY_ID.setdefault(
                cls, Prepared(lambda stand_in: cls.select().where(cls.id == stand_in), -1_000_003)
            )
        return prepared.first(row_id)


_BY_ID: dict[type, Prepared] = {}  # model -> its by_id query


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
        return next(self.rows(*values), None)

    def rows(self, *values: Any) -> Iterator[Any]:
        """The rows for these values."""
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
        return iter(query._get_cursor_wrapper(db.execute_sql(sql, bound)))


class ByIds:
    """A select of the rows that refer to some ids: ``build(match)`` makes it, ``match(column)`` being the condition
    that the column holds one of them. For one id its SQL is built once (``Prepared``: one interaction published,
    the event dispatcher's hot path, reads half a dozen of these); for several (a page), built for them."""

    STAND_IN = -1_000_005

    def __init__(self, build: Callable[[Callable[[Any], Any]], Any]):
        self.build = build
        self._one = Prepared(lambda stand_in: build(lambda column: column == stand_in), self.STAND_IN)

    @classmethod
    def of_model(cls, model: Any) -> ByIds:
        """The rows of ``model`` with these ids."""
        return cls(lambda match: model.select().where(match(model.id)))

    def rows(self, ids: Iterable[int]) -> Iterable[Any]:
        wanted = list(ids)
        if len(wanted) == 1:
            return self._one.rows(wanted[0])
        return self.build(lambda column: column.in_(wanted)) if wanted else []


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


# The key of the PostgreSQL advisory lock every transaction takes (any number: the installation's database is its own).
WRITERS_LOCK = 0x1EAD_CE17
# PostgreSQL's error for a lock not had within lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"


class SerialisedPostgresqlDatabase(PostgresqlDatabase):
    """PostgreSQL whose transactions take their turn, as SQLite's do: one at a time, in the order they asked.

    Each transaction begins with ``pg_advisory_xact_lock(WRITERS_LOCK)`` (released at COMMIT or ROLLBACK, after
    its writes are visible), so a transaction that reads then writes sees every earlier transaction's writes and
    nobody else's in between: what SQLite's BEGIN IMMEDIATE gives the code, which was written for it. A statement
    outside a transaction that writes runs in a transaction of its own, so it too waits its turn (on SQLite it waits
    for the same write lock). The alternatives were weighed: SERIALIZABLE would fail a transaction that met another
    with "could not serialize" and every caller would have to retry; row locks (SELECT ... FOR UPDATE) would have
    to be found and kept right in every read-then-write of the code, and a missing one is a lost update that no
    test sees. One lock costs the concurrency SQLite never had, and holds across every node and process of the
    installation (the in-process turn lock of SQLite only orders this process's threads).

    The lock is waited for up to the busy timeout, like SQLite's; past it, "database is locked" (the API's 503
    ``busy``)."""

    def begin(self, isolation_level=None):
        # One round trip: BEGIN, the wait's limit, the turn.
        try:
            super().execute_sql(
                "BEGIN; SET LOCAL lock_timeout = %s; SELECT pg_advisory_xact_lock(%s)", (BUSY_TIMEOUT_MS, WRITERS_LOCK)
            )
        except DatabaseError as exc:
            with contextlib.suppress(DatabaseError):  # a connection that broke has no transaction left
                super().execute_sql("ROLLBACK")
            driver_error = exc.__cause__ or exc.__context__  # psycopg2's, which peewee's error was raised over
            if getattr(driver_error, "pgcode", None) == LOCK_NOT_AVAILABLE:
                raise OperationalError(f"database is locked: no turn within {BUSY_TIMEOUT_MS} ms") from exc
            raise

    def create_tables(self, models, **options):
        super().create_tables(models, **options)
        for model in models:
            self.as_sqlite_text(model)

    def as_sqlite_text(self, model, *fields) -> None:
        """Text columns (of ``fields``, by default all the model's) as SQLite's: TEXT, as a CharField's max_length
        is no limit there (what one engine stores the other does: a long landing page, a carrier's caller name),
        compared and sorted by code point as SQLite's BINARY collation does, whatever the database's locale (the
        leads' prefix search is a range scan that counts on it, and lists sorted by name sort alike)."""
        texts = [f.column_name for f in fields or model._meta.sorted_fields if f.field_type in ("VARCHAR", "TEXT")]
        if texts:
            columns = ", ".join(f'ALTER COLUMN "{c}" TYPE {POSTGRESQL_TEXT}' for c in texts)
            self.execute_sql(f'ALTER TABLE "{model._meta.table_name}" {columns}')

    def execute_sql(self, sql, params=None):
        params = _storable(params)
        if self.in_transaction() or _first_word(sql) in READS_AND_TRANSACTION_CONTROL:
            return super().execute_sql(sql, params)
        with self.atomic():
            return super().execute_sql(sql, params)


def execute_without_turn(database: Database, sql: str, params=None):
    """On PostgreSQL, a write that does not wait for (nor hold up) the writers' turn: for the rows only one thread
    writes and nobody reads then writes on them (the websockets' heartbeat, web/capacity.py), which must not stop
    every other writer for as long as it takes."""
    return PostgresqlDatabase.execute_sql(database, sql, params)


# A text column on PostgreSQL (see as_sqlite_text).
POSTGRESQL_TEXT = 'TEXT COLLATE "C"'
# Statements that neither write nor need a transaction of their own.
READS_AND_TRANSACTION_CONTROL = frozenset({"SELECT", "SHOW", "BEGIN", "COMMIT", "ROLLBACK", "SET"})


def _storable(params):
    """PostgreSQL's text cannot hold a NUL character (psycopg2 refuses the whole statement), SQLite's can: a NUL that
    came in from outside (an SMS in UCS-2, a visitor's chat frame, a caller's name in SIP) becomes U+FFFD, the
    replacement character, rather than the write failing and the message being lost. The API refuses NUL itself."""
    if not params or not any(isinstance(p, str) and "\x00" in p for p in params):
        return params
    return [p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params]


def _first_word(sql: str) -> str:
    match = re.match(r"\s*([A-Za-z]+)", sql)
    return match.group(1).upper() if match else ""


def open_postgresql(url: str) -> PostgresqlDatabase:
    """The PostgreSQL database at ``url`` (postgresql://...; a unix socket: postgresql:///name?host=/dir)."""
    return SerialisedPostgresqlDatabase(url)


def open_database(url: str, sqlite_path: str) -> Database:
    """The installation's database: PostgreSQL when ``url`` names one, else the SQLite file ``sqlite_path``."""
    return open_postgresql(url) if url else open_sqlite(sqlite_path)


def bind(db) -> None:
    database.initialize(db)


def is_postgresql(db: Database | None = None) -> bool:
    """Whether ``db`` (by default the bound one) is PostgreSQL."""
    if db is None or isinstance(db, DatabaseProxy):
        db = database.obj
    return isinstance(db, PostgresqlDatabase)


# -- SQL that differs between the engines: each written once per engine, chosen by the bound database -----------------


def _shifted(moment, minutes: int):
    """PostgreSQL: the moment (a timestamp, or a YYYY-MM-DD text) ``minutes`` later."""
    return NodeList((fn.CAST(NodeList((moment, SQL("AS TIMESTAMP")))), SQL(f"+ INTERVAL '{int(minutes)} minutes'")))


def local_day(moment, minutes: int = 0):
    """The day (YYYY-MM-DD text) of a UTC moment ``minutes`` ahead of UTC (a zone's offset)."""
    if is_postgresql():
        return fn.to_char(_shifted(moment, minutes), "YYYY-MM-DD").coerce(False)
    return fn.date(moment, f"{int(minutes):+d} minutes").coerce(False)


def local_hour(moment, minutes: int = 0):
    """The hour (00-23 text) of a UTC moment ``minutes`` ahead of UTC."""
    if is_postgresql():
        return fn.to_char(_shifted(moment, minutes), "HH24").coerce(False)
    return fn.strftime("%H", moment, f"{int(minutes):+d} minutes").coerce(False)


def iso_weekday(moment, minutes: int = 0):
    """The ISO weekday (1 = Monday .. 7 = Sunday) of a moment or a YYYY-MM-DD day, ``minutes`` ahead of UTC."""
    if is_postgresql():
        return fn.CAST(NodeList((fn.date_part("isodow", _shifted(moment, minutes)), SQL("AS INTEGER"))))
    # strftime's %w is 0 = Sunday; peewee's % would be GLOB, hence the Expression.
    sunday_first = fn.strftime("%w", moment, f"{int(minutes):+d} minutes").cast("INTEGER")
    return Expression(sunday_first + 6, "%", 7) + 1


def week_start(day):
    """The Monday (YYYY-MM-DD text) of the week a YYYY-MM-DD day is in."""
    if is_postgresql():
        return fn.to_char(fn.date_trunc("week", fn.CAST(NodeList((day, SQL("AS DATE"))))), "YYYY-MM-DD")
    return fn.date(day, "weekday 0", "-6 days")  # on to the Sunday (or stays), six days back is its Monday


def epoch_seconds(moment):
    """Whole seconds from 1970 to a UTC moment, its fraction dropped (as report.csv writes times)."""
    if is_postgresql():
        return fn.CAST(NodeList((fn.floor(fn.date_part("epoch", moment)), SQL("AS BIGINT"))))
    return fn.strftime("%s", moment).cast("INTEGER")
