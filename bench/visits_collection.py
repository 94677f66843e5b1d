"""Website visits (issue 13): the snippet's collection endpoint under load, and what matching a call to the visitor
session that held its pool number adds to ring to screen.

The real system as bench/ring_to_screen.py runs it (`leadcenter run`, the demo company, AGENTS agents' event
streams), with the demo's chat widget allowed on ORIGIN, the site number set, and a pool of POOL tracking numbers on
the demo trunk and flow. In one run:

1. collection: VISITORS visitors arrive over SECONDS, NEW_PER_SECOND a second (each one's first view asks for a pool
   number: a new session), and the visitors already there view further pages, VIEWS_PER_SECOND views a second in
   all, each request sent at its time whatever the others are doing (open loop, as browsers would). Per request:
   the time to its answer, client side; afterwards, every view sent must be a stored page view (none lost);
2. ring to screen: CALLS calls to a plain tracking number, then CALLS calls to pool numbers that sessions hold (the
   call is matched to the session and its attribution written before it is offered), alternately in two rounds
   each, so the machine's noise falls on both alike; the difference of their p50 and p99 is what the match adds.

The collection rates per address and per company are raised for this run (every request comes from 127.0.0.1):
the output says so.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.ring_to_screen import AGENTS, CALL_SECONDS, AgentStreams, _grow_team, ring, ring_to_screen
from bench.stats import summary

ORIGIN = "http://shop.example"
SITE_NUMBER = "+14045550100"
POOL = 60  # tracking numbers in the pool: fewer than the visitors, so the fallback is answered too
FALLBACK = "+14045550101"  # the demo's Website line
VISITORS = 1000
SECONDS = 20
NEW_PER_SECOND = VISITORS // SECONDS  # 50 pool number requests a second
VIEWS_PER_SECOND = 200  # page views a second in all (the new visitors' first views included)
# Before the run, another company's site gets 2 s of views (100 visitors), not counted: a server fresh from its
# start took its first second to warm up (each request thread's first database connection, first calls), which
# alone made the run's p99 (about 100 ms, against 5 ms after it).
WARM_UP = [(k / VIEWS_PER_SECOND, k % 100) for k in range(2 * VIEWS_PER_SECOND)]
CONNECTIONS = 64  # the load generator's connections (keep-alive): browsers of many visitors behind them
CALLS = 40  # calls per series and round
CPS = 10
GOAL_COLLECT_P99_MS = 10.0
GOAL_MATCH_MS = 5.0
RATES = {
    "LEADCENTER_HTTP_COLLECT_PER_ADDRESS_PER_MINUTE": "1000000",
    "LEADCENTER_HTTP_COLLECT_PER_COMPANY_PER_MINUTE": "1000000",
}


POOL_PREFIX = "+1678555"  # the pool's numbers (an area code of their own: no caller number of the run is one)


def _pool_number(n: int) -> str:
    return f"{POOL_PREFIX}{n:04d}"


def _set_up() -> str:
    """The demo company's widget allowed on ORIGIN, its site number, and a pool of POOL numbers routed like the
    demo's lines (trunk, flow), the Website line its fallback. Returns the widget's public key."""
    from leadcenter.accounts.models import Company
    from leadcenter.chats.models import ChatWidget
    from leadcenter.chats.services import Chats
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.visits.models import NumberPool, VisitSettings

    company = Company.get()
    widget = Chats.widget_of(company)
    ChatWidget.update(allowed_origins=ORIGIN).where(ChatWidget.id == widget.id).execute()
    VisitSettings.create(company=company, site_number=SITE_NUMBER)
    line = TrackingNumber.get(TrackingNumber.number == FALLBACK)
    pool = NumberPool.create(company=company, name="Website visitors", fallback_number=line)
    for n in range(POOL):
        TrackingNumber.create(
            company=company,
            number=_pool_number(n),
            name=f"Pool {n}",
            source="Website",
            trunk=line.trunk,
            flow=line.flow,
            pool_id=pool.id,
        )
    return ChatWidget.get_by_id(widget.id).public_key


def _warm_up_site() -> str:
    """Another company's site (no pool), whose views warm the server up before the run (its request threads'
    database connections, the code's first calls) without holding any of the measured pool's numbers."""
    from leadcenter.accounts.models import Company
    from leadcenter.chats.models import ChatWidget
    from leadcenter.chats.services import Chats
    from leadcenter.visits.models import VisitSettings

    company = Company.create(name="Warm-up")
    widget = Chats.widget_of(company)
    ChatWidget.update(allowed_origins=ORIGIN).where(ChatWidget.id == widget.id).execute()
    VisitSettings.create(company=company, site_number=SITE_NUMBER)
    return ChatWidget.get_by_id(widget.id).public_key


def _schedule() -> list[tuple[float, int]]:
    """(when, visitor) of every view: each second NEW_PER_SECOND new visitors' first views and the rest of
    VIEWS_PER_SECOND by visitors already there, spread evenly, the new visitors among them (every fourth view: packed
    at the start of each second, their pool requests alone came at four times their rate)."""
    views: list[tuple[float, int]] = []
    arrived = 0
    every = VIEWS_PER_SECOND // NEW_PER_SECOND
    for second in range(SECONDS):
        firsts = iter(range(arrived, arrived + NEW_PER_SECOND))
        arrived += NEW_PER_SECOND
        returning = iter((second * 7919 + k * 104729) % arrived for k in range(VIEWS_PER_SECOND - NEW_PER_SECOND))
        batch = [next(firsts) if k % every == 0 else next(returning) for k in range(VIEWS_PER_SECOND)]
        views += [(second + k / len(batch), visitor) for k, visitor in enumerate(batch)]
    return views


class _Connections:
    """CONNECTIONS keep-alive HTTP/1.1 connections to the server, each used by one request at a time. Plain asyncio
    streams, not an HTTP client library: the load generator shares the server's two cores, and httpx spent about as
    much CPU per request as the server did, which measured the generator as much as the server."""

    def __init__(self, url: str):
        address = httpx.URL(url)
        self.host, self.port = address.host, address.port
        self.idle: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self) -> _Connections:
        for _ in range(CONNECTIONS):
            self.idle.put_nowait(await asyncio.open_connection(self.host, self.port))
        return self

    async def __aexit__(self, *exc) -> None:
        while not self.idle.empty():
            self.idle.get_nowait()[1].close()

    async def post(self, path: str, body: bytes, headers: dict[str, object]) -> tuple[int, bytes]:
        reader, writer = await self.idle.get()
        try:
            fields = {"Host": f"{self.host}:{self.port}", "Content-Length": len(body), **headers}
            head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
            writer.write(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
            return int(status_line.split()[1]), await reader.readexactly(length)
        finally:
            self.idle.put_nowait((reader, writer))


async def _collect(url: str, key: str, schedule: list[tuple[float, int]]) -> dict:
    """Send the schedule's views; per request its latency, what each visitor was told, and the refusals."""
    keys: dict[int, str | None] = {}
    numbers: dict[int, str] = {}
    latencies: list[float] = []
    settled: list[float] = []  # the latencies of the views sent after the first second
    refused: list[int] = []
    first_sent: dict[int, asyncio.Event] = {}
    headers = {"Origin": ORIGIN, "Content-Type": "text/plain;charset=UTF-8"}
    async with _Connections(url) as connections:

        async def view(visitor: int, n: int) -> None:
            if visitor in first_sent:
                await first_sent[visitor].wait()  # a page after the first carries the key the first got back
            else:
                first_sent[visitor] = asyncio.Event()
            body = {
                "visitor": keys.get(visitor),
                "kind": "view",
                "page": {
                    "url": f"{ORIGIN}/page/{n}?utm_source=google&utm_medium=cpc&utm_campaign=bench&gclid=g{visitor}",
                    "title": f"Page {n}",
                    "referrer": "https://www.google.com/",
                },
                "privacy": False,
            }
            began = time.monotonic()
            status, answer = await connections.post(f"/s/{key}/collect", json.dumps(body).encode(), headers)
            latencies.append((time.monotonic() - began) * 1000)
            if began - start >= 1.0:
                settled.append(latencies[-1])
            if status != 200:
                refused.append(status)
            else:
                told = json.loads(answer)
                keys.setdefault(visitor, told["visitor"])
                numbers[visitor] = told["numbers"].get(SITE_NUMBER, SITE_NUMBER)
            first_sent[visitor].set()

        start = time.monotonic()
        tasks = []
        for n, (at, visitor) in enumerate(schedule):
            delay = start + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(view(visitor, n)))
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        took = time.monotonic() - start
    return {
        "latencies": latencies,
        "settled": settled,
        "refused": refused,
        "numbers": numbers,
        "sent": len(tasks),
        "seconds": took,
    }


def _calls(did_of, series: int) -> list:
    """CALLS calls at CPS, caller numbers of their own (series 4.., clear of ring_to_screen's)."""
    from sipp import Call

    return [
        Call(did_of(n), f"+140455{4 + series}{n:04d}", duration=CALL_SECONDS, delay=n / CPS, expect_answer=None)
        for n in range(CALLS)
    ]


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from harness import System
    from sipp import SippCaller

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        emails = _grow_team(system)
        key, warm_up = _set_up(), _warm_up_site()
        system.start_asterisk()
        print(f"  collection rates raised for this run: {', '.join(f'{k}={v}' for k, v in RATES.items())}")
        system.start_controller(**RATES)
        caller = SippCaller(Path(data) / "callers")

        async def measure():
            await _collect(system.url, warm_up, WARM_UP)
            collected = await _collect(system.url, key, _schedule())
            held = sorted({number for number in collected["numbers"].values() if number.startswith(POOL_PREFIX)})
            series = {"plain": lambda n: FALLBACK, "pool": lambda n: held[n % len(held)]}
            invites: dict[str, dict[str, float]] = {"plain": {}, "pool": {}}
            failed = 0
            async with AgentStreams(system.url, emails) as streams:
                for round_ in range(2):
                    for k, (name, did_of) in enumerate(series.items()):
                        sent, lost = await ring(system, caller, _calls(did_of, 2 * round_ + k))
                        invites[name].update(sent)
                        failed += lost
                return collected, held, invites, failed, streams.created

        try:
            collected, held, invites, failed, created = asyncio.run(measure())
        finally:
            system.stop_controller()
            system.stop_asterisk()
        from leadcenter.accounts.models import Company
        from leadcenter.visits.models import PageView, VisitSession

        warm_up_company = Company.get(Company.name == "Warm-up")
        stored = PageView.select().join(VisitSession).where(VisitSession.company != warm_up_company).count()
        rings = {name: ring_to_screen(created, sent, AGENTS) for name, sent in invites.items()}
    return _report(collected, held, stored, rings, failed)


def _report(collected: dict, held: list[str], stored: int, rings: dict, failed: int) -> dict:
    figures = summary(collected["latencies"], "ms")
    settled = summary(collected["settled"], "ms")
    shown_pool = sum(1 for number in collected["numbers"].values() if number.startswith(POOL_PREFIX))
    plain, pool = rings["plain"]["figures"], rings["pool"]["figures"]
    added = {q: round(pool[q] - plain[q], 1) for q in ("p50", "p99")}
    result = {
        "visitors": VISITORS,
        "views_per_second": VIEWS_PER_SECOND,
        "pool_number_requests_per_second": NEW_PER_SECOND,
        "views_sent": collected["sent"],
        "views_stored": stored,
        "refused": dict(Counter(collected["refused"])),  # status -> how many
        "send_seconds": round(collected["seconds"], 1),
        "collect": figures,
        "collect_after_the_first_second": settled,  # the pool has filled from empty by then
        "pool_size": POOL,
        "visitors_shown_a_pool_number": shown_pool,
        "pool_numbers_called": len(held),
        "ring_plain": rings["plain"],
        "ring_pool": rings["pool"],
        "match_adds_ms": added,
        "calls_failed": failed,
        "goals": {"collect_p99_ms": GOAL_COLLECT_P99_MS, "match_adds_ms": GOAL_MATCH_MS},
    }
    print(
        f"  collection: {collected['sent']} views in {collected['seconds']:.1f} s ({VIEWS_PER_SECOND}/s, "
        f"{NEW_PER_SECOND} pool number requests/s, {VISITORS} visitors): p50 {figures['p50']} ms, p99 "
        f"{figures['p99']} ms (goal {GOAL_COLLECT_P99_MS}), after the first second p50 {settled['p50']} ms, p99 "
        f"{settled['p99']} ms; stored {stored} of {collected['sent']}, refused "
        f"{result['refused'] or 'none'}; {shown_pool} visitors shown a pool number ({POOL} in the pool)\n"
        f"  ring to screen, plain number: p50 {plain['p50']} ms, p99 {plain['p99']} ms; pool number matched to its "
        f"session: p50 {pool['p50']} ms, p99 {pool['p99']} ms; the match adds p50 {added['p50']} ms, p99 "
        f"{added['p99']} ms (goal {GOAL_MATCH_MS}); failed calls {failed}"
    )
    return result
