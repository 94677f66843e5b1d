"""Several nodes on one PostgreSQL database: events reach every node, verbs reach the controller node.

Lead Center on PostgreSQL may run as one controller node (``leadcenter run``: Asterisk's AMI/ARI, the timers, the
outboxes, and the web app) beside any number of web nodes (``leadcenter run --web-only``: the web app only). They
talk through the database engine's own messaging, LISTEN/NOTIFY, and a table or two; nothing here runs on SQLite.

- **Events.** ``EventRelay.send`` is a subscriber of this node's bus for every event it publishes: it NOTIFYs
  ``lc_events`` with the event (name, data, time, the node that published it). Every node's ``Listener`` (one
  dedicated connection, one thread waiting in ``select``) hands the other nodes' events to its bus as remote events,
  which reach only the subscribers that asked for every node's events (the websocket hubs): the domain subscribers
  already ran on the node that published it. NOTIFY's payload is at most 8000 bytes; a larger event is stored in
  ``cluster_event`` and the notification carries its id (rows are pruned after ``EVENT_ROW_MINUTES``). One node
  notifies from one thread of its own (``cluster-relay``, its own connection), in the order its dispatcher handed
  them over, and PostgreSQL delivers one session's notifications in the order they were committed: a node's events
  arrive everywhere in the order it published them. The dispatcher only queues them: a round trip to the server
  per event would hold up every event behind it on this node (a call's ring reaching the screens, the first).
- **Verbs.** A web node has no telephony loop: ``RemoteTelephony`` stands in for the telephony layer with the same
  interface (``telephony.submit(telephony.hangup(...))`` gives a future), and a verb becomes a ``cluster_verb`` row
  and a NOTIFY on ``lc_verbs``. The controller node's ``VerbServer`` claims the row (asked -> taken, one UPDATE, so
  a verb is done once), hands the verb to its telephony loop, and writes the outcome (taken -> done) with a NOTIFY
  on ``lc_verbs_done``, which resolves the web node's future. A verb nobody took within ``TAKE_SECONDS`` is
  withdrawn (asked -> expired, so it is never done late) and its future fails with ``ControllerUnavailable``.
- **The controller's presence.** The controller node's listener connection holds a session advisory lock
  (``CONTROLLER_LOCK``) as long as it is connected; a web node asks ``pg_locks`` whether anybody holds it before
  asking a verb, and answers the request 503 ``controller-unavailable`` at once when nobody does.
- **Leadership.** On PostgreSQL every `leadcenter run` takes ``LEADER_LOCK`` (``Leadership``) before it builds the
  controller; a second one stands by until the leader's connection ends (its process died), then starts as a
  controller does after a restart (it resynchronises from Asterisk and the database).
- **A lost listener connection.** Notifications sent while a node was not listening are lost to it: when its
  listener connects again, ``on_gap`` runs (the composition root makes the websocket hub reset its streams, so the
  browsers reload over REST) and the verb server looks for verbs asked meanwhile.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import select
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import psycopg2
import psycopg2.extensions
from peewee import Database

from leadcenter.events import Event, EventBus

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "lc_events"
VERBS_CHANNEL = "lc_verbs"
DONE_CHANNEL = "lc_verbs_done"
# NOTIFY takes at most 8000 bytes; a larger event goes through cluster_event.
NOTIFY_LIMIT = 7900
EVENT_ROW_MINUTES = 10  # a stored event is read within milliseconds by the nodes listening; kept this long
# The controller node's advisory lock (two-key form: it shows in pg_locks as classid, objid).
CONTROLLER_LOCK = (0x1EAD_CE17, 1)
TAKE_SECONDS = 3.0  # a verb the controller has not taken by then is withdrawn: ControllerUnavailable
FORGET_SECONDS = 60.0  # a taken verb whose outcome never came is given up after this long
WAIT_TICK = 0.25  # the listener's longest wait between looks at its timers
RECONNECT_FIRST, RECONNECT_MOST = 0.2, 5.0  # the listener's backoff between tries to connect again

TABLES = (
    """CREATE TABLE IF NOT EXISTS cluster_event (
        id BIGSERIAL PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
        payload TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS cluster_verb (
        id BIGSERIAL PRIMARY KEY, asked_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
        node TEXT NOT NULL, method TEXT NOT NULL, arguments TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'asked', outcome TEXT, error TEXT, error_kind TEXT)""",
    "CREATE INDEX IF NOT EXISTS cluster_verb_state ON cluster_verb (state, id)",
    # The sign-in throttle's failures, counted by every node (web/auth.py: SharedAttemptLimiter).
    """CREATE TABLE IF NOT EXISTS cluster_sign_in_failure (
        key TEXT COLLATE "C" NOT NULL, at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cluster_sign_in_failure_key ON cluster_sign_in_failure (key, at)",
    "CREATE INDEX IF NOT EXISTS cluster_sign_in_failure_at ON cluster_sign_in_failure (at)",
    # The visitors' and forms' rates, one row per key: when its bucket is next empty (web/limits.py: SharedRates).
    """CREATE TABLE IF NOT EXISTS cluster_rate (
        key TEXT COLLATE "C" PRIMARY KEY, due DOUBLE PRECISION NOT NULL)""",
    # The visitors' chat message rates: each key's times within its window (web/limits.py: SharedWindow).
    """CREATE TABLE IF NOT EXISTS cluster_window (
        key TEXT COLLATE "C" PRIMARY KEY, times DOUBLE PRECISION[] NOT NULL, until DOUBLE PRECISION NOT NULL)""",
    # The open websockets of every node, each refreshed by its node's heartbeat (web/capacity.py: SharedCapacity).
    """CREATE TABLE IF NOT EXISTS cluster_websocket (
        id BIGSERIAL PRIMARY KEY, pool TEXT COLLATE "C" NOT NULL, node TEXT COLLATE "C" NOT NULL,
        company_id BIGINT NOT NULL, principal TEXT COLLATE "C" NOT NULL, seen_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cluster_websocket_company ON cluster_websocket (pool, company_id)",
    "CREATE INDEX IF NOT EXISTS cluster_websocket_principal ON cluster_websocket (pool, principal)",
)
VERB_ROW_MINUTES = 60  # done or withdrawn verbs are deleted after this long


def create_tables(database: Database) -> None:
    """The cluster's own tables, on PostgreSQL only (several nodes need it): made by the migrations
    (migrations.py, version 24, and a new database's schema). Each statement may run again."""
    with database.atomic():
        for statement in TABLES:
            database.execute_sql(statement)


# -- the payload codec: JSON with the values events carry that JSON has not -------------------------------------


def _tagged(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)  # as the event stream would write it


def _untagged(value: dict) -> Any:
    if len(value) == 1:
        ((key, text),) = value.items()
        if key == "$dt":
            return dt.datetime.fromisoformat(text)
        if key == "$date":
            return dt.date.fromisoformat(text)
        if key == "$time":
            return dt.time.fromisoformat(text)
        if key == "$bytes":
            return base64.b64decode(text)
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, default=_tagged, separators=(",", ":"))


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_untagged)


# -- the listener -----------------------------------------------------------------------------------------------


class Listener:
    """One dedicated connection LISTENing on channels, and the thread that waits on it (``select``): each
    notification's payload goes to its channel's handler, on this thread, in the order they came. ``tick`` runs at
    least every WAIT_TICK seconds and whenever ``wake`` is called. When the connection breaks it connects again,
    waiting longer between tries (up to RECONNECT_MOST seconds), and calls ``on_gap`` once it listens again."""

    def __init__(
        self,
        url: str,
        handlers: Mapping[str, Callable[[str], None]],
        *,
        on_connected: Callable[[Any], None] = lambda connection: None,
        on_gap: Callable[[], None] = lambda: None,
        tick: Callable[[], None] = lambda: None,
        name: str = "cluster-listener",
    ):
        self.url, self.handlers = url, dict(handlers)
        self.on_connected, self.on_gap, self.tick = on_connected, on_gap, tick
        self.connected = threading.Event()  # set while listening
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._connection: Any = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.wake()
        self._thread.join(timeout)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # closed at stop, or the pipe is full (a wake is pending anyway)
            os.write(self._wake_write, b"w")

    def break_connection(self) -> None:
        """Close the listening connection as a network failure would (tests of the reconnection)."""
        connection = self._connection
        if connection is not None:
            connection.close()
        self.wake()

    def _run(self) -> None:
        delay, first = RECONNECT_FIRST, True
        while not self._stopping.is_set():
            try:
                self._connection = self._connect()
                self.connected.set()  # after the assignment: break_connection then finds the connection
                delay = RECONNECT_FIRST
                if not first:
                    self.on_gap()
                first = False
                self._listen(self._connection)
            except (psycopg2.Error, OSError) as exc:
                if self._stopping.is_set():
                    break
                log.warning("cluster listener: %s; connecting again in %.1f s", str(exc).strip(), delay)
            finally:
                self.connected.clear()
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
            self._stopping.wait(delay)
            delay = min(delay * 2, RECONNECT_MOST)

    def _connect(self) -> Any:
        connection = psycopg2.connect(self.url)
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with connection.cursor() as cursor:
            for channel in self.handlers:
                cursor.execute(f"LISTEN {channel}")
        self.on_connected(connection)
        return connection

    def _listen(self, connection: Any) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([connection, self._wake_read], [], [], WAIT_TICK)
            if self._wake_read in ready:
                os.read(self._wake_read, 4096)
            if connection.closed:
                raise psycopg2.InterfaceError("the listening connection was closed")
            connection.poll()
            while connection.notifies:
                notification = connection.notifies.pop(0)
                handler = self.handlers.get(notification.channel)
                try:
                    if handler is not None:
                        handler(notification.payload)
                except Exception:
                    log.exception("cluster listener: the handler of %s failed", notification.channel)
            try:
                self.tick()
            except Exception:
                log.exception("cluster listener: its tick failed")


# -- events -----------------------------------------------------------------------------------------------------


class EventRelay:
    """This node's events to the others (``send``, a subscriber of this node's bus, queues them for the relay
    thread, which NOTIFYs them in order) and theirs to this node's bus (``received``, the listener's handler of
    EVENTS_CHANNEL)."""

    def __init__(self, database: Database, bus: EventBus, node: str):
        self.database, self.bus, self.node = database, bus, node
        self._outbox: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="cluster-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``), then stop."""
        self._outbox.put(None)
        self._thread.join(timeout)

    def send(self, event: Event) -> None:
        self._outbox.put(dumps({"node": self.node, "name": event.name, "data": event.data, "at": event.at}))

    def _run(self) -> None:
        try:
            while (payload := self._outbox.get()) is not None:
                try:
                    self._notify(payload)
                except Exception:  # the server unreachable: the other nodes reset their streams once it is back
                    log.exception("cluster: an event was not sent to the other nodes")
        finally:
            self.database.close()

    def _notify(self, payload: str) -> None:
        if len(payload.encode()) <= NOTIFY_LIMIT:
            self.database.execute_sql("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, payload))
            return
        with self.database.atomic():  # the row and its notification are committed together
            self.database.execute_sql(
                "DELETE FROM cluster_event WHERE created_at < (now() AT TIME ZONE 'UTC') - %s * INTERVAL '1 minute'",
                (EVENT_ROW_MINUTES,),
            )
            (row_id,) = self.database.execute_sql(
                "INSERT INTO cluster_event (payload) VALUES (%s) RETURNING id", (payload,)
            ).fetchone()
            self.database.execute_sql(
                "SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, dumps({"node": self.node, "row": row_id}))
            )

    def received(self, payload: str) -> None:
        message = loads(payload)
        if message["node"] == self.node:
            return  # this node's own: delivered here when it was published
        if "row" in message:
            row = self.database.execute_sql(
                "SELECT payload FROM cluster_event WHERE id = %s", (message["row"],)
            ).fetchone()
            if row is None:
                log.error("cluster: stored event %s is gone (pruned?): not delivered", message["row"])
                return
            message = loads(row[0])
        self.bus.publish_remote(message["name"], message["data"], message["at"])


# -- verbs ------------------------------------------------------------------------------------------------------


class ControllerUnavailable(TimeoutError):
    """No controller node took the verb: nothing was done."""


class ForwardedVerb(NamedTuple):
    method: str
    args: tuple
    kwargs: dict


def controller_present(database: Database) -> bool:
    """Whether a controller node is connected now (it holds CONTROLLER_LOCK)."""
    row = database.execute_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
        "AND objsubid = 2 AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",  # another's is not ours
        (CONTROLLER_LOCK[0] & 0xFFFFFFFF, CONTROLLER_LOCK[1]),
    ).fetchone()
    return bool(row[0])


class RemoteTelephony:
    """The telephony layer as a web node has it: each verb is a ForwardedVerb, which ``submit`` asks the controller
    node to carry out; the future gets its outcome. ``methods``: the verbs that may be forwarded; ``errors``: the
    exception classes the controller's refusals are raised again as, by name."""

    def __init__(
        self,
        database: Database,
        node: str,
        methods: frozenset[str],
        errors: Mapping[str, Callable[[str], Exception]],
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.database, self.node, self.methods, self.errors = database, node, methods, errors
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[concurrent.futures.Future, float]] = {}  # verb id -> (future, asked at)

    def __getattr__(self, method: str) -> Callable[..., ForwardedVerb]:
        if method not in self.methods:
            raise AttributeError(method)
        return lambda *args, **kwargs: ForwardedVerb(method, args, kwargs)

    def submit(self, verb: ForwardedVerb) -> concurrent.futures.Future:
        """Ask the controller node. When none is connected the future has failed already (ControllerUnavailable):
        nothing is asked, so nothing is done later; the web app answers such a failure 503."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        if not controller_present(self.database):
            future.set_exception(ControllerUnavailable(f"no controller node is connected: {verb.method} not done"))
            return future
        with self.database.atomic():
            (verb_id,) = self.database.execute_sql(
                "INSERT INTO cluster_verb (node, method, arguments) VALUES (%s, %s, %s) RETURNING id",
                (self.node, verb.method, dumps({"args": verb.args, "kwargs": verb.kwargs})),
            ).fetchone()
            with self._lock:
                self._waiting[verb_id] = (future, self.monotonic())
            self.database.execute_sql("SELECT pg_notify(%s, %s)", (VERBS_CHANNEL, str(verb_id)))
        return future

    def status(self) -> dict:
        return {"state": "forwarded to the controller node", "controller": controller_present(self.database)}

    @property
    def connected(self) -> bool:
        return controller_present(self.database)

    def done(self, payload: str) -> None:
        """The listener's handler of DONE_CHANNEL: a verb's outcome is in its row."""
        message = json.loads(payload)
        if message["node"] != self.node:
            return
        with self._lock:
            waiting = self._waiting.pop(message["id"], None)
        if waiting is None:
            return
        future = waiting[0]
        row = self.database.execute_sql(
            "SELECT outcome, error, error_kind FROM cluster_verb WHERE id = %s", (message["id"],)
        ).fetchone()
        outcome, error, error_kind = row if row is not None else (None, "the verb's row is gone", None)
        if error is None:
            future.set_result(loads(outcome) if outcome is not None else None)
        else:
            future.set_exception(self.errors.get(error_kind or "", ControllerUnavailable)(error))

    def tick(self) -> None:
        """Withdraw the verbs nobody took within TAKE_SECONDS; give up those taken but unanswered for too long."""
        now = self.monotonic()
        with self._lock:
            late = [(i, f, now - at) for i, (f, at) in self._waiting.items() if now - at >= TAKE_SECONDS]
        for verb_id, future, waited in late:
            withdrawn = self.database.execute_sql(
                "UPDATE cluster_verb SET state = 'expired' WHERE id = %s AND state = 'asked' RETURNING id", (verb_id,)
            ).fetchone()
            if withdrawn is None and waited < FORGET_SECONDS:
                continue  # taken: its outcome will come
            with self._lock:
                self._waiting.pop(verb_id, None)
            if not future.done():
                future.set_exception(ControllerUnavailable(f"no controller node carried out verb {verb_id}"))


class VerbServer:
    """The controller node's side: claims the verbs the web nodes ask and carries them out with ``handlers`` (a
    verb's name -> a function starting it, which returns a future: the telephony loop's, the reconfiguration's).
    Outcomes are written back from the listener's thread (``tick``), never from the loop that carried them out."""

    def __init__(self, database: Database, handlers: Mapping[str, Callable[..., concurrent.futures.Future]]):
        self.database, self.handlers = database, dict(handlers)
        self.wake: Callable[[], None] = lambda: None  # the listener's, once it runs
        self._pruned_at: float | None = None
        self._finished: queue.SimpleQueue[tuple[int, str, concurrent.futures.Future]] = queue.SimpleQueue()

    def asked(self, payload: str) -> None:
        """The listener's handler of VERBS_CHANNEL: a verb's id."""
        self._take(int(payload))

    def on_connected(self, connection: Any) -> None:
        """Hold the controller's lock for this session (web nodes see it in pg_locks) and look for verbs asked
        while nobody listened."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", CONTROLLER_LOCK)
            if not cursor.fetchone()[0]:
                log.error("another controller node is connected to this database: both carry out the web nodes' verbs")
            cursor.execute("SELECT id FROM cluster_verb WHERE state = 'asked' ORDER BY id")
            pending = [row[0] for row in cursor.fetchall()]
        for verb_id in pending:
            self._take(verb_id)

    def _take(self, verb_id: int) -> None:
        row = self.database.execute_sql(
            "UPDATE cluster_verb SET state = 'taken' WHERE id = %s AND state = 'asked' "
            "RETURNING node, method, arguments",
            (verb_id,),
        ).fetchone()
        if row is None:
            return  # another taker's, or withdrawn
        node, method, arguments = row
        handler = self.handlers.get(method)
        try:
            if handler is None:
                raise ValueError(f"no such verb: {method}")
            given = loads(arguments)
            future = handler(*given["args"], **given["kwargs"])
        except Exception as exc:  # noqa: BLE001 - whatever refused the verb is its outcome, sent back to the asker
            future = concurrent.futures.Future()
            future.set_exception(exc)
        future.add_done_callback(lambda done: self._finish(verb_id, node, done))

    def _finish(self, verb_id: int, node: str, future: concurrent.futures.Future) -> None:
        self._finished.put((verb_id, node, future))  # any thread (the telephony loop): written back by tick
        self.wake()

    def tick(self) -> None:
        if self._pruned_at is None or time.monotonic() - self._pruned_at > VERB_ROW_MINUTES * 60:
            self._pruned_at = time.monotonic()
            self.prune()
        while True:
            try:
                verb_id, node, future = self._finished.get_nowait()
            except queue.Empty:
                break
            error = future.exception()
            with self.database.atomic():
                self.database.execute_sql(
                    "UPDATE cluster_verb SET state = 'done', outcome = %s, error = %s, error_kind = %s WHERE id = %s",
                    (
                        dumps(future.result()) if error is None else None,
                        None if error is None else (str(error) or type(error).__name__),
                        None if error is None else type(error).__name__,
                        verb_id,
                    ),
                )
                self.database.execute_sql(
                    "SELECT pg_notify(%s, %s)", (DONE_CHANNEL, json.dumps({"node": node, "id": verb_id}))
                )

    def prune(self) -> None:
        self.database.execute_sql(
            "DELETE FROM cluster_verb WHERE state IN ('done', 'expired') "
            "AND asked_at < (now() AT TIME ZONE 'UTC') - %s * INTERVAL '1 minute'",
            (VERB_ROW_MINUTES,),
        )


# -- leadership -------------------------------------------------------------------------------------------------

# Which `leadcenter run` drives Asterisk: the one whose dedicated connection holds this session advisory lock.
LEADER_LOCK = (0x1EAD_CE17, 2)
LEADER_TRY_SECONDS = 0.5  # a standby asks for the lock this often
LEADER_CHECK_SECONDS = 1.0  # the leader checks this often that its lock's connection still answers


class Leadership:
    """One controller node drives Asterisk; the others stand by. The lock is a session advisory lock on a connection
    of its own, so PostgreSQL releases it the moment the leader's process dies (kill -9: the kernel closes its
    socket, the server's backend ends with it) and a standby's next try takes it. A leader whose connection stops
    answering (the server restarted, the network between them broke) can no longer be sure nobody took over: it
    calls ``on_lost`` (the composition root stops the process; its supervisor starts it again, as a standby)."""

    def __init__(self, url: str, on_lost: Callable[[], None]):
        self.url, self.on_lost = url, on_lost
        self._connection: Any = None
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    def take(self, standing_by: Callable[[], None] = lambda: None) -> bool:
        """Wait until this node holds the lock (``standing_by`` is called once if it must wait); False when
        ``stop`` was called meanwhile."""
        told = False
        while not self._stopping.is_set():
            try:
                if self._try():
                    return True
            except psycopg2.Error as exc:
                log.warning("leadership: %s; trying again", str(exc).strip())
                self._close()
            if not told:
                standing_by()
                told = True
            self._stopping.wait(LEADER_TRY_SECONDS)
        return False

    def _try(self) -> bool:
        if self._connection is None:
            self._connection = psycopg2.connect(self.url)
            self._connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", LEADER_LOCK)
            return bool(cursor.fetchone()[0])

    def watch(self) -> None:
        """From now on, check the lock's connection every LEADER_CHECK_SECONDS (a thread)."""
        self._watch = threading.Thread(target=self._run_watch, name="leadership", daemon=True)
        self._watch.start()

    def _run_watch(self) -> None:
        while not self._stopping.wait(LEADER_CHECK_SECONDS):
            try:
                with self._connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except psycopg2.Error as exc:
                if self._stopping.is_set():
                    return
                log.critical("leadership lost (%s): stopping this controller", str(exc).strip())
                self.on_lost()
                return

    def stop(self) -> None:
        """Give the lock up (a standby takes it within LEADER_TRY_SECONDS)."""
        self._stopping.set()
        if self._watch is not None:
            self._watch.join(LEADER_CHECK_SECONDS * 2)
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg2.Error):
                self._connection.close()
            self._connection = None


def new_node_id() -> str:
    return uuid.uuid4().hex[:12]
