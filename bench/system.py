"""The real system as the integration tests run it (tests/integration/harness.py), for a benchmark: a temporary data
directory with the demo company, the suite's own preparation, Asterisk from the sid root and `leadcenter run`, both
stopped however the benchmark ends; and an event stream followed as a browser tab would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import websockets

OnFrame = Callable[[str, float], None]
INTEGRATION = Path(__file__).resolve().parent.parent / "tests" / "integration"


def integration_helpers() -> None:
    """Make the integration tests' helpers (harness, sipp, cluster_nodes) and the tests' own (postgresql)
    importable, as pytest does for the tests."""
    for helpers in (INTEGRATION.parent, INTEGRATION):
        if str(helpers) not in sys.path:
            sys.path.insert(0, str(helpers))


@contextlib.contextmanager
def demo_system(prepare: Callable[[Any], Any]) -> Iterator[tuple[Any, Path, Any]]:
    """(the system, its data directory, what ``prepare(system)`` returned: it runs on the seeded demo before the
    start)."""
    integration_helpers()
    from harness import System

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        prepared = prepare(system)
        system.start_asterisk()
        try:
            system.start_controller()
            yield system, Path(data), prepared
        finally:
            system.stop_controller()
            system.stop_asterisk()


async def follow_events(
    url: str, client: httpx.AsyncClient, opened: Callable[[], None], done: asyncio.Event, on_frame: OnFrame
) -> None:
    """The event stream of ``client`` (signed in): ``opened()`` once its hello came, then ``on_frame(frame, at)``
    for each frame (``at``: its arrival, wall clock, as Asterisk's timestamps are) until ``done`` is set."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    ws_url = url.replace("http://", "ws://") + "/api/v1/events"
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie, "Origin": url}, max_queue=None) as ws:
        hello = json.loads(await ws.recv())
        assert hello["event"] == "stream.hello", hello
        opened()
        while not done.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            at = time.time()
            assert isinstance(frame, str)
            on_frame(frame, at)
