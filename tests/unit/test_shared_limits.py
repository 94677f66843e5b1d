"""Several nodes count their clients together (web/limits.py, web/capacity.py): two nodes' web apps over one real
PostgreSQL database (the tests' throw-away server, whatever the lane's engine) hold a website visitor (their visits
and their chat messages), a company, a user or API key to one allowance, not one per node; a company cannot take
another's websockets through another node; a node that dies frees its websockets within ALIVE_SECONDS; and when the
database does not answer, the limits refuse."""

from __future__ import annotations

import pytest
from support import close_code, eventually, frames, live_controller, open_socket
from test_visits import SHOP, VIEW, post

from leadcenter import db
from leadcenter.errors import ApiError
from leadcenter.web import auth
from leadcenter.web.app import create_app
from leadcenter.web.capacity import ALIVE_SECONDS, HEARTBEAT_SECONDS, Refused, SharedCapacity
from leadcenter.web.limits import Limits, SharedLimits, SharedRates


@pytest.fixture
def database(postgresql_database):
    """PostgreSQL, whatever the lane's engine (the migrations made the cluster's tables)."""
    return postgresql_database


class Clock:
    """The nodes' wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def two_nodes(database, clock, pool="agents", per_principal=3, per_company=5, ceiling=8):
    return [SharedCapacity(database, node, pool, per_principal, per_company, ceiling, clock) for node in ("one", "two")]


# -- the site's rates ----------------------------------------------------------------------------------------------


@pytest.fixture
def sites(tmp_path, world):
    """Companies A's and B's sites' widgets and a stand-in controller with small collection rates."""
    env = {
        "LEADCENTER_HTTP_COLLECT_PER_ADDRESS_PER_MINUTE": "5",
        "LEADCENTER_HTTP_COLLECT_PER_COMPANY_PER_MINUTE": "8",
    }
    with live_controller(tmp_path / "asterisk", env) as controller:
        widgets = {}
        for key, origin in (("a", SHOP), ("b", "https://b.example")):
            widget = controller.chats.widget_of(world[key]["company"])
            widget.allowed_origins = origin
            widget.save()
            widgets[key] = (widget.public_key, origin)
        yield controller, widgets


def test_a_visitor_spread_over_two_nodes_is_held_to_one_rate_and_a_company_to_one(database, sites, clock):
    controller, widgets = sites
    nodes = [create_app(controller, SharedLimits(database, node, clock)).test_client() for node in ("one", "two")]
    key, origin = widgets["a"]

    def collect(n: int, address: str, site=(key, origin)):
        return post(nodes[n % 2], site[0], VIEW, site[1], address)

    # One address, its requests alternating between the nodes: 5 a minute in all, and each node refuses the sixth.
    assert [collect(n, "198.51.100.1").status_code for n in range(6)] == [200] * 5 + [429]
    refused = collect(7, "198.51.100.1")
    assert refused.status_code == 429 and refused.get_json()["error"] == "too-many-visits"
    assert 1 <= int(refused.headers["Retry-After"]) <= 12  # one token comes back every 60 / 5 s
    # The company's 8 a minute, over both nodes (5 counted already), whatever the address.
    assert [collect(n, f"198.51.100.{n}").status_code for n in range(2, 6)] == [200, 200, 200, 429]
    assert collect(1, "198.51.100.9", widgets["b"]).status_code == 200  # another company's site is served
    clock.now += 12  # one token back for the address and for the company
    assert [collect(n, "198.51.100.1").status_code for n in (0, 1)] == [200, 429]
    clock.now += 60  # full again
    assert [collect(n, "198.51.100.1").status_code for n in range(5)] == [200] * 5


def test_in_each_nodes_memory_the_same_visitor_would_get_a_rate_per_node(database, sites):
    """What the shared rates are for: with the in-memory ones, two nodes let twice the rate through."""
    controller, widgets = sites
    nodes = [create_app(controller, Limits()).test_client() for _ in range(2)]
    key, origin = widgets["a"]
    statuses = [post(nodes[n % 2], key, VIEW, origin, "198.51.100.1").status_code for n in range(12)]
    assert statuses == [200] * 10 + [429] * 2  # 5 a node for the address (and the company's 8 a node)


def test_a_full_bucket_is_the_same_as_no_row_and_is_deleted(database, clock):
    rates = SharedRates(database, "test", 60, clock)
    limits = SharedLimits(database, "one", clock)
    assert [rates.take("k") for _ in range(60)] == [0.0] * 60
    assert rates.take("k") == pytest.approx(1.0)
    clock.now += 61
    limits.tick()
    assert database.execute_sql("SELECT count(*) FROM cluster_rate").fetchone()[0] == 0
    assert [rates.take("k") for _ in range(60)] == [0.0] * 60  # as new


def test_a_visitors_messages_over_two_nodes_are_held_to_one_window(database, clock):
    one, two = (SharedLimits(database, node, clock).window("visitor_messages", 10, 10.0) for node in ("one", "two"))
    assert [(one, two)[n % 2].take(7) for n in range(11)] == [True] * 10 + [False]
    assert not one.take(7) and two.take(8)  # another visitor has a window of their own
    clock.now += 5
    assert not two.take(7)  # ten within the last 10 s, whichever node counted them
    clock.now += 5.5
    assert [(one, two)[n % 2].take(7) for n in range(11)] == [True] * 10 + [False]
    clock.now += 11
    SharedLimits(database, "three", clock).tick()  # the rows past their window are deleted
    assert database.execute_sql("SELECT count(*) FROM cluster_window").fetchone()[0] == 0


# -- the websockets' capacity ----------------------------------------------------------------------------------------


def test_a_principal_and_a_company_spread_over_two_nodes_are_held_to_one_limit(database, clock):
    one, two = two_nodes(database, clock)
    held = [one.take(1, ("user", 7)), two.take(1, ("user", 7)), one.take(1, ("user", 7))]
    for node in (one, two):
        with pytest.raises(Refused, match="user or API key already holds 3"):
            node.take(1, ("user", 7))
    two.release(held[1])  # its row is deleted on the deleter thread
    assert eventually(lambda: two.held(1) == 2)
    one.take(1, ("user", 7))
    two.take(1, ("user", 8))
    two.take(1, ("user", 8))
    for node in (one, two):
        with pytest.raises(Refused, match="company already holds 5"):
            node.take(1, ("user", 9))
    assert two.take(2, ("user", 20))  # another company is not concerned
    assert (one.held(1), two.held(1), one.held()) == (5, 5, 6)


def test_a_company_cannot_take_another_companys_share_through_another_node(database, clock):
    one, two = two_nodes(database, clock, per_principal=10, per_company=10, ceiling=6)
    reclaimed = []
    for n in range(6):  # company 1 fills the installation through node one
        one.take(1, f"user-{n}", on_reclaim=lambda n=n: reclaimed.append(n))
    with pytest.raises(Refused, match="capacity"):
        two.take(1, "user-9")
    two.take(2, "agent")  # company 2, on node two, below its share: company 1's newest gives way ...
    assert (two.held(1), two.held(2), two.held()) == (5, 1, 6) and reclaimed == []
    clock.now += HEARTBEAT_SECONDS
    one.heartbeat()  # ... closed by its node at its next heartbeat
    assert reclaimed == [5]
    two.take(2, "agent")
    two.take(2, "agent")  # company 2 holds its share now, 6 // 2
    one.heartbeat()  # within HEARTBEAT_SECONDS of the last: nothing asked of the database
    assert reclaimed == [5]
    clock.now += HEARTBEAT_SECONDS
    one.heartbeat()
    assert sorted(reclaimed) == [3, 4, 5]
    for node in (one, two):
        with pytest.raises(Refused, match="capacity"):
            node.take(2, "agent")


def test_a_node_that_dies_frees_its_websockets_within_alive_seconds(database, clock):
    one, two = two_nodes(database, clock)
    for n in range(5):
        one.take(1, f"user-{n}")
    # Node one stops (killed: no release, no heartbeat); node two goes on beating for its own.
    mine = two.take(2, "user-b")
    clock.now += ALIVE_SECONDS - 1
    two.heartbeat()
    with pytest.raises(Refused, match="company already holds 5"):
        two.take(1, "user-a")
    clock.now += 1.5
    two.take(1, "user-a")  # node one's five no longer count
    assert (two.held(1), two.held(2)) == (1, 1)
    clock.now += ALIVE_SECONDS
    two.heartbeat()  # node two's beats keep its own counted ...
    assert (two.held(1), two.held(2)) == (1, 1)
    SharedLimits(database, "three", clock).tick()  # ... and any node deletes the dead rows
    rows = database.execute_sql("SELECT node, count(*) FROM cluster_websocket GROUP BY node").fetchall()
    assert rows == [("two", 2)]
    two.release(mine)


def test_a_node_taken_for_dead_closes_the_websockets_whose_rows_were_deleted(database, clock):
    one, two = two_nodes(database, clock)
    closed = []
    one.take(1, "user-a", on_reclaim=lambda: closed.append("a"))
    clock.now += ALIVE_SECONDS + 1  # node one's beats did not reach the database for that long
    SharedLimits(database, "two", clock).tick()
    one.heartbeat()
    assert closed == ["a"]  # its client reconnects and is counted again


def test_a_heartbeat_does_not_wait_for_the_writers_turn(database, clock):
    """Its UPDATE moves only its node's rows' times: it must not hold every writer of the installation up (nor
    wait behind them) for as long as it takes with thousands of websockets open."""
    import threading

    one, _ = two_nodes(database, clock)
    closed = []
    one.take(1, "user-a", on_reclaim=lambda: closed.append("a"))
    turn_taken, done = threading.Event(), threading.Event()

    def writer() -> None:  # another transaction holding the writers' lock until the heartbeat is done
        with database.atomic():
            database.execute_sql("SELECT 1")
            turn_taken.set()
            done.wait(10)
        database.close()

    holder = threading.Thread(target=writer)
    holder.start()
    try:
        assert turn_taken.wait(10)
        clock.now += HEARTBEAT_SECONDS
        one.heartbeat()
        assert database.execute_sql("SELECT seen_at FROM cluster_websocket").fetchone()[0] == clock.now
    finally:
        done.set()
        holder.join(10)
    assert closed == []


def test_without_the_database_websockets_and_visits_are_refused(clock):
    unreachable = db.open_postgresql("postgresql://127.0.0.1:1/nowhere?connect_timeout=2")
    capacity = SharedCapacity(unreachable, "one", "visitors", 3, 5, 8, clock)
    with pytest.raises(Refused, match="cannot count websockets"):
        capacity.take(1, ("address", "198.51.100.1"))
    rates = SharedRates(unreachable, "visit_rates/address", 5, clock)
    with pytest.raises(ApiError) as refused:
        rates.take("198.51.100.1")
    assert refused.value.error == "database-unavailable" and refused.value.status == 503
    with pytest.raises(ApiError, match="did not answer"):
        SharedLimits(unreachable, "one", clock).window("visitor_messages", 10, 10.0).take(7)


# -- over two nodes' real web servers --------------------------------------------------------------------------------


def test_an_api_key_refused_at_its_limit_on_the_second_node_is_told_why(tmp_path, database, world):
    from support import Serving

    env = {"LEADCENTER_HTTP_WEBSOCKETS_PER_PRINCIPAL": "3"}
    _, key = auth.new_api_key(world["b"]["company"], "dashboard", None)
    headers = {"Authorization": f"Bearer {key}"}
    with (
        live_controller(tmp_path / "one", env) as first,
        live_controller(tmp_path / "two", env) as second,
        Serving(first.settings, create_app(first, SharedLimits(database, "one"))) as one,
        Serving(second.settings, create_app(second, SharedLimits(database, "two"))) as two,
        open_socket(one.http, "/api/v1/events", origin=None, headers=headers) as a,
        open_socket(one.http, "/api/v1/events", origin=None, headers=headers) as b,
        open_socket(two.http, "/api/v1/events", origin=None, headers=headers) as c,
    ):
        assert [frames(ws, 1)[0]["event"] for ws in (a, b, c)] == ["stream.hello"] * 3
        with open_socket(two.http, "/api/v1/events", origin=None, headers=headers) as one_too_many:
            code, reason = close_code(one_too_many)
        assert (code, reason) == (1013, "this user or API key already holds 3 websockets")
        c.close()
        assert eventually(lambda: database.execute_sql("SELECT count(*) FROM cluster_websocket").fetchone()[0] == 2)
        with open_socket(two.http, "/api/v1/events", origin=None, headers=headers) as again:
            assert frames(again, 1)[0]["event"] == "stream.hello"
