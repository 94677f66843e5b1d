"""Several nodes on one PostgreSQL database (cluster.py): two nodes' buses in one process, each with its own
listener connection, over a real server (the tests' throw-away PostgreSQL, whatever the lane's engine)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import itertools
import threading

import psycopg2
import pytest
from support import eventually

from leadcenter import cluster, db
from leadcenter.catalogue import Viewer
from leadcenter.errors import ApiError
from leadcenter.events import Event, EventBus
from leadcenter.web.auth import WINDOW, SharedAttemptLimiter
from leadcenter.web.stream import Hub

T0 = dt.datetime(2026, 3, 2, 9, 30, 0, 123456)
WAIT = 10.0  # seconds: every wait of these tests is bounded by it
_names = itertools.count()


@pytest.fixture
def url(postgresql_cluster, worker_id):
    return postgresql_cluster.create_database(f"cluster_{worker_id}_{next(_names)}")


@pytest.fixture
def handle(url):
    database = db.open_postgresql(url)
    cluster.create_tables(database)
    yield database
    database.close()


class Node:
    """One node's bus, relay and listener; ``seen``: the events its subscriber for every node's events got,
    ``ran``: those its domain subscriber got."""

    def __init__(self, url: str, handle, *, handlers=None, on_gap=lambda: None, tick=lambda: None, **listener):
        self.bus = EventBus(lambda: T0)
        self.node = cluster.new_node_id()
        self.relay = cluster.EventRelay(handle, self.bus, self.node)
        self.seen: list[Event] = []
        self.ran: list[Event] = []
        self.bus.subscribe("*", self.ran.append)
        self.bus.subscribe("*", self.seen.append, everywhere=True)
        self.bus.subscribe("*", self.relay.send)
        self.listener = cluster.Listener(
            url, {cluster.EVENTS_CHANNEL: self.relay.received, **(handlers or {})}, on_gap=on_gap, tick=tick, **listener
        )

    def __enter__(self) -> Node:
        self.bus.start()
        self.relay.start()
        self.listener.start()
        assert self.listener.connected.wait(WAIT)
        return self

    def __exit__(self, *exc) -> None:
        self.listener.stop()
        self.bus.stop()
        self.relay.stop()


def wait_for(condition, seconds: float = WAIT) -> bool:
    return eventually(condition, seconds)


def test_an_event_reaches_the_other_node_whole_in_order_and_runs_no_domain_subscriber_there(url, handle):
    large = "x" * 20_000  # past NOTIFY's 8000 bytes: through cluster_event
    with Node(url, handle) as one, Node(url, handle) as two:
        one.bus.publish("interaction.updated", company_id=1, at=T0, day=T0.date(), note="first")
        one.bus.publish("interaction.updated", company_id=1, note=large, ids={3}, raw=b"\x00\x01")
        one.bus.publish("interaction.updated", company_id=1, note="third")
        assert wait_for(lambda: len(two.seen) == 3)
        first, second, third = two.seen
        assert first.data == {"company_id": 1, "at": T0, "day": T0.date(), "note": "first"}
        assert first.at == T0
        assert second.data == {"company_id": 1, "note": large, "ids": [3], "raw": b"\x00\x01"}
        assert third.data["note"] == "third"
        assert [e.seq for e in two.seen] == [1, 2, 3]  # numbered in the receiving node's own sequence
        assert two.ran == []  # the recorder, the pause keeper... ran on node one
        assert one.bus.wait_idle(WAIT)
        assert len(one.seen) == len(one.ran) == 3  # node one's own events, once each, not back from the others
        two.bus.publish("lead.updated", company_id=1, lead={"id": 5})
        assert wait_for(lambda: len(one.seen) == 4)
        assert one.seen[-1].name == "lead.updated" and len(one.ran) == 3


class SlowServer:
    """The database as the relay uses it, answering a NOTIFY only once ``answer`` is set."""

    def __init__(self):
        self.answer = threading.Event()
        self.sent: list[str] = []
        self.threads: set[str] = set()

    def execute_sql(self, sql, params):
        self.threads.add(threading.current_thread().name)
        assert self.answer.wait(WAIT)
        self.sent.append(params[1])

    def close(self):
        pass


def test_the_relay_notifies_from_its_own_thread_so_the_node_s_own_subscribers_never_wait_on_the_server():
    bus, server = EventBus(lambda: T0), SlowServer()
    relay = cluster.EventRelay(server, bus, "n1")
    ran: list[Event] = []
    bus.subscribe("*", relay.send)
    bus.subscribe("*", ran.append)
    bus.start()
    relay.start()
    try:
        for n in range(3):
            bus.publish("interaction.updated", company_id=1, n=n)
        assert wait_for(lambda: len(ran) == 3)  # the server has not answered the first NOTIFY yet
        assert server.sent == []
    finally:
        server.answer.set()
        bus.stop()
        relay.stop()  # sends what is queued first
    assert [cluster.loads(payload)["data"]["n"] for payload in server.sent] == [0, 1, 2]
    assert server.threads == {"cluster-relay"}


def test_a_node_listening_again_after_losing_its_connection_says_events_may_have_been_missed(url, handle):
    gaps = threading.Event()
    with Node(url, handle) as one, Node(url, handle, on_gap=gaps.set) as two:
        two.listener.break_connection()
        assert gaps.wait(WAIT)
        assert wait_for(two.listener.connected.is_set)
        one.bus.publish("lead.updated", company_id=1, lead={"id": 5})
        assert wait_for(lambda: len(two.seen) == 1)


def test_after_a_gap_the_hub_closes_its_streams_and_a_reconnection_gets_a_reset():
    hub = Hub()
    hub.fan_out(Event("lead.updated", {"company_id": 1, "lead": {"id": 1}}, 1, T0))
    woken = threading.Event()
    subscription, _ = hub.attach(Viewer(1, "admin", None), wake=woken.set)
    hub.lost_events()
    assert woken.is_set() and subscription.lagging and hub.streams() == 0
    _, opening = hub.attach(Viewer(1, "admin", None), since=1, stream_id=hub.stream_id)
    assert '"stream.reset"' in opening[1] and "missed" in opening[1]


class Verbs:
    """A controller node's verb server with handlers that record what they were asked."""

    def __init__(self, url: str, handle):
        self.asked: list[tuple] = []
        self.server = cluster.VerbServer(handle, {"hangup": self.hangup, "queue_entries": self.entries})
        self.listener = cluster.Listener(
            url,
            {cluster.VERBS_CHANNEL: self.server.asked},
            on_connected=self.server.on_connected,
            tick=self.server.tick,
            name="verbs",
        )
        self.server.wake = self.listener.wake

    def hangup(self, channel_id: str, reason: str = "normal") -> concurrent.futures.Future:
        self.asked.append((channel_id, reason))
        future: concurrent.futures.Future = concurrent.futures.Future()
        if channel_id == "gone":
            future.set_exception(RuntimeError("No such channel"))
        else:
            future.set_result(None)
        return future

    def entries(self, queue: str) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result([("lead-1", 1), ("lead-2", 2)])
        return future


def remote(handle, clock=None) -> cluster.RemoteTelephony:
    methods = frozenset({"hangup", "queue_entries", "redirect"})
    kwargs = {"monotonic": clock} if clock else {}
    return cluster.RemoteTelephony(handle, cluster.new_node_id(), methods, {"RuntimeError": RuntimeError}, **kwargs)


def test_a_web_nodes_verb_is_carried_out_once_by_the_controller_node(url, handle):
    verbs = Verbs(url, handle)
    web = remote(handle)
    listener = cluster.Listener(url, {cluster.DONE_CHANNEL: web.done}, tick=web.tick, name="web")
    verbs.listener.start()
    listener.start()
    try:
        assert verbs.listener.connected.wait(WAIT) and listener.connected.wait(WAIT)
        assert web.connected
        assert web.submit(web.hangup("lead-1", reason="busy")).result(WAIT) is None
        assert web.submit(web.queue_entries("team1")).result(WAIT) == [["lead-1", 1], ["lead-2", 2]]
        with pytest.raises(RuntimeError, match="No such channel"):
            web.submit(web.hangup("gone")).result(WAIT)
        assert verbs.asked == [("lead-1", "busy"), ("gone", "normal")]
        states = handle.execute_sql("SELECT state FROM cluster_verb ORDER BY id").fetchall()
        assert states == [("done",), ("done",), ("done",)]
        with pytest.raises(AttributeError):
            web.start  # noqa: B018 - only the verbs named may be forwarded
    finally:
        listener.stop()
        verbs.listener.stop()


def test_without_a_controller_node_a_verb_fails_at_once_and_nothing_is_asked(handle, postgresql_cluster, worker_id):
    # A controller of another database on the same server is not this installation's.
    other = psycopg2.connect(postgresql_cluster.create_database(f"other_{worker_id}_{next(_names)}"))
    other.autocommit = True
    other.cursor().execute("SELECT pg_advisory_lock(%s, %s)", cluster.CONTROLLER_LOCK)
    web = remote(handle)
    future = web.submit(web.hangup("lead-1"))
    with pytest.raises(cluster.ControllerUnavailable):
        future.result(0)
    assert handle.execute_sql("SELECT count(*) FROM cluster_verb").fetchone() == (0,)
    assert not web.connected and web.status()["controller"] is False
    other.close()


def test_a_verb_nobody_takes_is_withdrawn_and_never_done_late(url, handle):
    holder = psycopg2.connect(url)  # a controller node that holds the lock but never answers
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s, %s)", cluster.CONTROLLER_LOCK)
    now = [0.0]
    web = remote(handle, clock=lambda: now[0])
    try:
        future = web.submit(web.hangup("lead-1"))
        web.tick()
        assert not future.done()
        now[0] = cluster.TAKE_SECONDS
        web.tick()
        with pytest.raises(cluster.ControllerUnavailable):
            future.result(0)
        assert handle.execute_sql("SELECT state FROM cluster_verb").fetchone() == ("expired",)
        verbs = Verbs(url, handle)
        verbs.server.asked("1")  # the controller, late: the verb is not done
        assert verbs.asked == []
    finally:
        holder.close()


def test_one_node_leads_a_standby_waits_and_takes_over_when_the_leaders_connection_ends(url, handle):
    lost = threading.Event()
    leader = cluster.Leadership(url, on_lost=lost.set)
    assert leader.take()
    leader.watch()
    standing_by, led = threading.Event(), threading.Event()
    standby = cluster.Leadership(url, on_lost=lambda: None)
    waiting = threading.Thread(target=lambda: standby.take(standing_by.set) and led.set(), daemon=True)
    waiting.start()
    try:
        assert standing_by.wait(WAIT)
        assert not led.wait(cluster.LEADER_TRY_SECONDS * 3)  # the lock is held: it stands by
        # The leader's connection ends as a killed process's does (the server ends its backend): the standby leads,
        # and the old leader, which can no longer know, is told to stop.
        handle.execute_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            cluster.LEADER_LOCK,
        )
        assert led.wait(WAIT)
        assert lost.wait(WAIT)
    finally:
        leader.stop()
        standby.stop()
        waiting.join(WAIT)


def test_a_standby_stopped_while_it_waits_does_not_lead(url):
    leader = cluster.Leadership(url, on_lost=lambda: None)
    assert leader.take()
    standby = cluster.Leadership(url, on_lost=lambda: None)
    outcome: list[bool] = []
    waiting = threading.Thread(target=lambda: outcome.append(standby.take()), daemon=True)
    waiting.start()
    standby.stop()
    waiting.join(WAIT)
    assert outcome == [False]
    leader.stop()


def test_the_sign_in_throttle_counts_every_nodes_failures(handle):
    now = [1_000_000.0]
    one, two = (SharedAttemptLimiter(handle, clock=lambda: now[0]) for _ in range(2))  # two nodes' apps
    limits = {"pair:alice@a.example|198.51.100.7": 5, "account:alice@a.example": 20}
    for node in (one, two, one, two):  # a second apart
        node.failed(limits)
        node.check(limits)
        now[0] += 1
    one.failed(limits)  # the fifth, wherever it came
    for node in (one, two):
        with pytest.raises(ApiError) as refused:
            node.check(limits)
        assert refused.value.error == "too-many-attempts"
        assert refused.value.headers["Retry-After"] == str(int(WINDOW) - 4)  # until the first leaves the window
    now[0] += WINDOW - 4 + 0.5  # the first failure has left the window, on every node
    two.check(limits)
    one.failed(limits)
    with pytest.raises(ApiError):
        two.check(limits)
    one.forget("pair:alice@a.example|198.51.100.7")  # she signed in: her own failures go, the account's stay
    two.check(limits)
    assert handle.execute_sql(
        "SELECT count(*) FROM cluster_sign_in_failure WHERE key = 'account:alice@a.example'"
    ).fetchone() == (5,)
