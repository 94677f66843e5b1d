"""The SQLite handle: transactions of this process take their turn on a lock before BEGIN IMMEDIATE, so that many
threads writing at once hand the write lock over at once instead of sleeping in SQLite's busy handler; the lock is
given back however a transaction ends. And prepared selects (the SQL built once, run with new values)."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
from peewee import IntegerField

from leadcenter import db
from leadcenter.accounts.models import Company, Membership, User

THREADS = 16
EACH = 25
# What the concurrent-writer tests prove is that no increment is lost, whatever the machine's speed: a writer waits
# for its turn as long as the test's own bound, not the app's 5 s (400 turns in a row under the shifted clock on a
# busy machine once left one waiting longer).
TURN_WAIT_MS = 60_000


class Counter(db.BaseModel):
    value = IntegerField(default=0)


@pytest.fixture
def counters(tmp_path):
    database = db.open_sqlite(str(tmp_path / "counters.sqlite3"))
    database.bind([Counter])
    database.create_tables([Counter])
    Counter.create()
    yield database
    database.close()


def _increment(database) -> None:
    with database.atomic():  # a read, then a write: as the app's transactions are
        row = Counter.get_by_id(1)
        Counter.update(value=row.value + 1).where(Counter.id == 1).execute()


def test_threads_writing_at_once_each_commit_and_none_is_lost(counters, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", TURN_WAIT_MS)
    start = threading.Barrier(THREADS)

    def writer(_) -> None:
        try:
            start.wait(10)
            for _ in range(EACH):
                _increment(counters)
        finally:
            counters.close()  # this thread's connection

    with concurrent.futures.ThreadPoolExecutor(THREADS) as threads:
        list(threads.map(writer, range(THREADS), timeout=60))
    assert Counter.get_by_id(1).value == THREADS * EACH
    assert counters._writer.acquire(0)  # given back


def test_a_transaction_that_fails_gives_the_lock_back(counters):
    with pytest.raises(ZeroDivisionError), counters.atomic():
        Counter.update(value=5).execute()
        _ = 1 / 0
    assert Counter.get_by_id(1).value == 0  # rolled back
    other = concurrent.futures.ThreadPoolExecutor(1)
    other.submit(_increment, counters).result(timeout=10)  # another thread gets its turn
    other.shutdown()
    assert Counter.get_by_id(1).value == 1
    with counters.atomic(), counters.atomic():  # nested: one turn, a savepoint inside
        _increment(counters)
    assert Counter.get_by_id(1).value == 2 and counters._writer.acquire(0)


def test_a_writer_that_waits_past_the_busy_timeout_is_told_the_database_is_locked(counters, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    counters._writer.acquire(1)  # another thread's long transaction
    try:
        with pytest.raises(db.OperationalError, match="database is locked"), counters.atomic():
            pass
    finally:
        counters._writer.release()
    _increment(counters)
    assert Counter.get_by_id(1).value == 1


# -- prepared selects: the SQL built once, run with new values -------------------------------------------------------


def _users_of(company_id: int, email: str):
    return (
        Membership.select(Membership.id, Membership.role, User.id, User.email)
        .join(User)
        .where(Membership.company == company_id, User.email == email)
        .order_by(Membership.id)
        .limit(1)
    )


def test_a_prepared_select_answers_as_its_query_would_for_any_values(database):
    first, second = Company.create(name="First"), Company.create(name="Second")
    ada = User.create(email="ada@first.example", name="Ada", password_hash="x")
    bob = User.create(email="bob@second.example", name="Bob", password_hash="x")
    Membership.create(user=ada, company=first, role="admin")
    Membership.create(user=bob, company=second, role="agent")
    prepared = db.Prepared(_users_of, -1, "stand-in email")
    for company, user, role in ((first, ada, "admin"), (second, bob, "agent")):
        row = prepared.first(company.id, user.email)
        assert (row.role, row.user.id, row.user.email) == (role, user.id, user.email)
        assert row.id == _users_of(company.id, user.email).first().id
    assert prepared.first(first.id, bob.email) is None  # another company's user
    with pytest.raises(ValueError, match="stand-in"):  # a value the query leaves out cannot be bound
        db.Prepared(lambda company_id, email: _users_of(company_id, "ada@first.example"), -1, "x").first(first.id, "y")


def test_rows_by_ids_are_the_same_for_one_id_prepared_as_for_several(database):
    companies = [Company.create(name=name) for name in ("First", "Second", "Third")]
    for n, company in enumerate(companies):
        for i in range(n + 1):
            user = User.create(email=f"u{n}{i}@x.example", name=f"U{n}{i}", password_hash="x")
            Membership.create(user=user, company=company, role="agent")
    memberships = db.ByIds(
        lambda match: (
            Membership.select(Membership, User.email)
            .join(User)
            .where(match(Membership.company))
            .order_by(Membership.id)
        )
    )

    def emails(ids):
        return [m.user.email for m in memberships.rows(ids)]

    assert emails([companies[1].id]) == ["u10@x.example", "u11@x.example"]  # one id: the prepared SQL
    assert emails([companies[2].id]) == ["u20@x.example", "u21@x.example", "u22@x.example"]  # again, other value
    assert emails([c.id for c in companies[:2]]) == ["u00@x.example", "u10@x.example", "u11@x.example"]
    assert emails([]) == [] and emails([-5]) == []
    assert [c.name for c in db.ByIds.of_model(Company).rows([companies[2].id])] == ["Third"]


# -- the writers' lock: taken in the order asked for ---------------------------------------------------------------


def _queued(lock: db.TurnLock, n: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if len(lock._waiting) == n:
            return True
        time.sleep(0.001)
    return False


def test_the_writers_lock_goes_to_the_writers_in_the_order_they_asked():
    lock, order = db.TurnLock(), []
    assert lock.acquire(1)

    def writer(name: str) -> None:
        assert lock.acquire(5)
        order.append(name)
        lock.release()

    threads = []
    for n, name in enumerate("abcde", 1):
        threads.append(threading.Thread(target=writer, args=(name,)))
        threads[-1].start()
        assert _queued(lock, n)  # each asks after the one before
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list("abcde")
    assert lock.acquire(0.01)  # free again
    lock.release()


def test_a_writer_that_waits_too_long_gives_up_and_is_passed_over():
    lock = db.TurnLock()
    assert lock.acquire(1)
    assert not lock.acquire(0.05)  # timed out while held
    assert not lock._waiting
    got = []
    late = threading.Thread(target=lambda: got.append(lock.acquire(5)))
    late.start()
    assert _queued(lock, 1)
    lock.release()  # handed to the one still waiting
    late.join(5)
    assert got == [True] and not lock.acquire(0.01)


# -- PostgreSQL: the same rule, by one advisory lock (the tests' real server) ----------------------------------------

_databases = iter(range(1_000_000))


@pytest.fixture
def pg_counters(postgresql_cluster):
    database = db.open_postgresql(postgresql_cluster.create_database(f"counters_{next(_databases)}"))
    database.bind([Counter])
    database.create_tables([Counter])
    Counter.create()
    yield database
    database.close()


def test_on_postgresql_read_then_write_transactions_and_lone_writes_at_once_lose_nothing(pg_counters, monkeypatch):
    """Transactions that read then write, and single UPDATEs outside any transaction (which on SQLite wait for the
    same write lock), from many threads at once: every increment counts, as on SQLite."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", TURN_WAIT_MS)
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        try:
            start.wait(10)
            for _ in range(EACH):
                if n % 4:
                    _increment(pg_counters)
                else:  # a lone statement: it takes its turn too
                    Counter.update(value=Counter.value + 1).where(Counter.id == 1).execute()
        finally:
            pg_counters.close()

    with concurrent.futures.ThreadPoolExecutor(THREADS) as threads:
        list(threads.map(writer, range(THREADS), timeout=120))
    assert Counter.get_by_id(1).value == THREADS * EACH


def test_on_postgresql_a_writer_that_waits_past_the_busy_timeout_is_told_the_database_is_locked(
    pg_counters, postgresql_cluster, monkeypatch
):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 100)
    holder = db.open_postgresql(pg_counters.database)  # another process's (or node's) long transaction
    holder.connect()
    holder.execute_sql("BEGIN; SELECT pg_advisory_xact_lock(%s)", (db.WRITERS_LOCK,))
    try:
        with pytest.raises(db.OperationalError, match="database is locked"), pg_counters.atomic():
            pass
        assert not pg_counters.in_transaction()
    finally:
        holder.execute_sql("ROLLBACK")
        holder.close()
    _increment(pg_counters)  # the turn is had again, on the same connection
    assert Counter.get_by_id(1).value == 1


def test_text_is_compared_and_sorted_by_code_point_on_either_engine(database):
    """SQLite's BINARY collation; on PostgreSQL the text columns are COLLATE "C" whatever the database's locale (the
    tests' server's is en-US, where "a" sorts before "B"), so lists sorted by name and the leads' prefix search (a
    range scan up to prefix + U+FFFF) answer alike."""
    names = ["b", "B", "a", "Ä", "a-z", "az", "_x"]
    company = Company.create(name="Sorted")
    for name in names:
        User.create(email=f"{names.index(name)}@sorted.example", name=name, password_hash="x")
    assert [u.name for u in User.select().order_by(User.name)] == sorted(names)
    assert {u.name for u in User.select().where(User.name >= "a", User.name < "a" + "\uffff")} == {"a", "a-z", "az"}
    assert company.id


def test_text_with_a_nul_character_is_stored_on_either_engine(database):
    """What comes from outside (an SMS in UCS-2, a visitor's chat frame, a caller's name) may hold a NUL: SQLite
    stores it; PostgreSQL cannot, and stores U+FFFD in its place, rather than the write failing and the text being
    lost. Searching for the text as it came finds it on either engine."""
    user = User.create(email="nul@example.com", name="before\x00after", password_hash="x")
    stored = User.get_by_id(user.id).name
    assert stored == ("before\ufffdafter" if db.is_postgresql() else "before\x00after")
    assert User.get(User.name == "before\x00after").id == user.id
    User.update(name="again\x00").where(User.id == user.id).execute()
    assert User.get_by_id(user.id).name.startswith("again")
