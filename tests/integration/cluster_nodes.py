"""Several nodes of one installation (docs/architecture.md, "Several nodes"), for tests/integration/test_nodes.py and
the benchmarks that cross nodes (bench/ring_through_nodes.py, bench/failover.py): a throw-away PostgreSQL server
(tests/postgresql.py), the installation on SECOND_PORTS over it with its Asterisk and node 1 (`leadcenter run`, the
controller), node 2 (`leadcenter run --web-only`), and node 3, a second `leadcenter run` standing by."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import postgresql
from harness import LEADCENTER, SECOND_PORTS, System, healthz, run_installation, wait_for

NODE_2_PORTS = {"LEADCENTER_HTTP_PORT": "28081", "LEADCENTER_HTTP_HTTPS_PORT": "28444"}
NODE_3_PORTS = {"LEADCENTER_HTTP_PORT": "28082", "LEADCENTER_HTTP_HTTPS_PORT": "28445"}


class Node:
    """Another `leadcenter run` (``options``: ``--web-only``) of ``system``'s installation on ``ports``."""

    def __init__(self, system: System, ports: dict[str, str], *options: str):
        self.env = {**system.env, **ports}
        self.url = f"http://127.0.0.1:{ports['LEADCENTER_HTTP_PORT']}"
        self.log = system.settings.data_dir / f"node-{ports['LEADCENTER_HTTP_PORT']}.log"
        self.system, self.options = system, options
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.launch()
        wait_for(lambda: self.health()[0] == 200, 30, what=f"the node's /healthz to be 200:\n{self.log_tail()}")

    def launch(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*LEADCENTER, "run", *self.options],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def health(self) -> tuple[int, dict]:
        return healthz(self.url)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:]) if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(20)
            self.process = None

    def sign_in(self, email: str) -> httpx.Client:
        """A session on this node (``system.sign_in`` against its URL)."""
        url, self.system.url = self.system.url, self.url
        try:
            return self.system.sign_in(email)
        finally:
            self.system.url = url


@contextlib.contextmanager
def two_nodes(data_dir: Path, prepare: Callable[[System], object] = lambda system: None) -> Iterator[tuple]:
    """(the system, whose controller is node 1; node 2, a web node) running over a new PostgreSQL server, the demo
    company seeded and ``prepare(system)`` run on it before the start (this process's database bound to it); all
    stopped however the block ends."""
    with postgresql.Cluster() as cluster, contextlib.ExitStack() as stack:
        system = System(data_dir, ports=SECOND_PORTS, database_url=cluster.create_database("lc"))
        system.cli("demo")
        prepare(system)
        run_installation(system, stack)
        node_2 = Node(system, NODE_2_PORTS, "--web-only")
        node_2.start()
        stack.callback(node_2.stop)
        yield system, node_2


@contextlib.contextmanager
def standing_by(system: System) -> Iterator[Node]:
    """Node 3, a second `leadcenter run`: it stands by (serving nothing) while node 1 leads. At the end node 3 is
    stopped and node 1 leads again (started again if it was killed)."""
    standby = Node(system, NODE_3_PORTS)
    standby.launch()
    try:
        wait_for(lambda: "standing by" in standby.log_tail(), 30, what=f"node 3 to stand by:\n{standby.log_tail()}")
        assert standby.health()[0] == 0  # no web app, no controller while it stands by
        yield standby
    finally:
        standby.stop()
        if system.controller is None:  # killed
            system.start_controller()


def leads_after(standby: Node, killed_at: float) -> float:
    """Seconds from the kill (``killed_at``, monotonic) until node 3 leads: it holds the lock, connected to Asterisk
    and resynchronised (/healthz 200)."""
    wait_for(
        lambda: standby.health()[0] == 200 and standby.health()[1]["asterisk"]["synced_at"],
        30,
        what=f"node 3 to lead:\n{standby.log_tail()}",
    )
    return time.monotonic() - killed_at
