"""Several nodes (issue 17, item 2): what crossing nodes through PostgreSQL costs.

Two nodes' buses, relays and listeners in this process over a throw-away PostgreSQL server (tests/postgresql.py,
on a unix socket): the delay from ``publish`` on one node to delivery on the other, events sent one at a time and
in a burst (an interaction event's size, ~1.5 kB, and a 20 kB one through ``cluster_event``), and a web node's verb
carried out by the controller node (submit to the future's result, the verb itself doing nothing).
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from pathlib import Path

from bench.stats import summary
from leadcenter import cluster, db
from leadcenter.events import EventBus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import postgresql  # the tests' throw-away server (tests/ is not a package)

ONE_AT_A_TIME = 300
BURST = 2000
LARGE = 100
VERBS = 300
WAIT = 30.0  # seconds: the bound of every wait


class Receiver:
    def __init__(self, expected: int):
        self.delays: list[float] = []
        self.expected = expected
        self.done = threading.Event()

    def __call__(self, event) -> None:
        self.delays.append(time.monotonic() - event.data["sent"])
        if len(self.delays) >= self.expected:
            self.done.set()


def _node(url: str, handle, handlers=None, **listener):
    bus = EventBus()
    relay = cluster.EventRelay(handle, bus, cluster.new_node_id())
    bus.subscribe("*", relay.send)
    listening = cluster.Listener(url, {cluster.EVENTS_CHANNEL: relay.received, **(handlers or {})}, **listener)
    return bus, listening


def _events(url: str, handle) -> dict:
    sender, sender_listener = _node(url, handle)
    receiver_bus, receiver_listener = _node(url, handle)
    figures = {}
    for listening in (sender_listener, receiver_listener):
        listening.start()
        assert listening.connected.wait(WAIT)
    receivers: list[Receiver] = []  # the current measurement's
    receiver_bus.subscribe("*", lambda event: receivers[-1](event), everywhere=True)
    sender.start()
    receiver_bus.start()
    body = {"notes": "n" * 1200, "lead": {"id": 1, "name": "Pat"}}
    try:
        for name, count, pause, size in (
            ("one_at_a_time", ONE_AT_A_TIME, 0.005, body),
            ("burst", BURST, 0.0, body),
            ("large_20kB", LARGE, 0.005, {"notes": "n" * 20_000}),
        ):
            receiver = Receiver(count)
            receivers.append(receiver)
            began = time.monotonic()
            for _ in range(count):
                sender.publish("interaction.updated", company_id=1, sent=time.monotonic(), **size)
                if pause:
                    time.sleep(pause)
            assert receiver.done.wait(WAIT), f"{name}: {len(receiver.delays)} of {count} arrived"
            figures[name] = {**summary(receiver.delays), "events_per_s": round(count / (time.monotonic() - began))}
    finally:
        sender.stop()
        receiver_bus.stop()
        sender_listener.stop()
        receiver_listener.stop()
    return figures


def _verbs(url: str, handle) -> dict:
    def nothing() -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(None)
        return future

    server = cluster.VerbServer(handle, {"nothing": nothing})
    serving = cluster.Listener(
        url, {cluster.VERBS_CHANNEL: server.asked}, on_connected=server.on_connected, tick=server.tick
    )
    server.wake = serving.wake
    web = cluster.RemoteTelephony(handle, cluster.new_node_id(), frozenset({"nothing"}), {})
    asking = cluster.Listener(url, {cluster.DONE_CHANNEL: web.done}, tick=web.tick)
    for listening in (serving, asking):
        listening.start()
        assert listening.connected.wait(WAIT)
    took = []
    try:
        for _ in range(VERBS):
            began = time.monotonic()
            web.submit(web.nothing()).result(WAIT)
            took.append(time.monotonic() - began)
    finally:
        asking.stop()
        serving.stop()
    return summary(took)


def run() -> dict:
    with postgresql.Cluster() as server:
        url = server.create_database("cluster_bench")
        handle = db.open_postgresql(url)
        cluster.create_tables(handle)
        try:
            figures = _events(url, handle)
            figures["verb_round_trip"] = _verbs(url, handle)
        finally:
            handle.close()
    for name, figure in figures.items():
        print(f"  {name}: {figure}")
    return figures
