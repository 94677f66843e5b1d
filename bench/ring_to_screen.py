"""Ring to screen (issue 4): from a caller's INVITE to ``interaction.created`` on the websocket of every agent
its flow offers calls to, with AGENTS agents connected and CPS new calls a second.

The real system as the integration tests run it (Asterisk from the sid root, `leadcenter run`, the demo company),
with the demo's Sales team grown to AGENTS agents, each signed in with one event stream open (the browser tab).
No agent phone is registered: every call waits in the queue for CALL_SECONDS and hangs up, so the flow, the
recording set-up, the database and the fan-out all run while the rate holds. SIPp logs the time just before it
sends each INVITE; the benchmark's websocket clients note when each event arrives (same clock, same machine).

The machinery (``AgentStreams``, ``ring``, ``ring_to_screen``) is shared with the chat suite (bench/chat_visitors.py),
which measures the same with website visitors connected.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from bench.stats import summary
from bench.system import demo_system, follow_events, integration_helpers

AGENTS = 50
CPS = 10
SECONDS = 20
CALL_SECONDS = 4
PASSWORD = "bench password 1"
GOAL_MS = 100.0


def _grow_team(system) -> list[str]:
    """AGENTS agents in the demo's Sales team (the demo's own two included); returns the emails to sign in with."""
    from leadcenter import clock, db
    from leadcenter.accounts.models import Company, User
    from leadcenter.accounts.services import add_member, create_user, set_password
    from leadcenter.agents.models import Agent
    from leadcenter.agents.services import create_agent
    from leadcenter.teams.models import Team, TeamMember

    db.bind(system.open_database())  # SQLite, or the PostgreSQL of several nodes (bench/ring_through_nodes.py)
    company = Company.get()
    team = Team.get(Team.company == company, Team.name == "Sales")
    emails = []
    for agent in Agent.select().where(Agent.company == company):
        set_password(agent.user, PASSWORD)
        agent.user.save()
        emails.append(agent.user.email)
    for n in range(AGENTS - len(emails)):
        user = create_user(f"bench{n}@acme.example", f"Bench Agent {n}", PASSWORD)
        add_member(user, company, "agent")
        TeamMember.create(team=team, agent=create_agent(company, user, now=clock.system()))
        emails.append(user.email)
    assert User.select().count() >= AGENTS
    return emails


def event_name(frame: str) -> str:
    """The event a stream frame carries (``{"seq":N,"event":"...",...}``), without decoding the whole frame."""
    start = frame.find('"event":"') + 9
    return frame[start : frame.find('"', start)]


# What a suite watches besides interaction.created: (agent index, event name, frame, arrival time) -> None
Watcher = Callable[[int, str, str, float], None]


class AgentStreams:
    """The agents signed in, each with one event stream open (the browser tab), for ``async with``. ``created``
    holds, per interaction, when its ``interaction.created`` arrived on each stream; ``clients`` are the agents'
    signed-in sessions (CSRF header set), for what they do meanwhile; ``watch`` sees every other frame."""

    def __init__(self, url: str, emails: list[str], watch: Watcher | None = None):
        self.url, self.emails, self.watch = url, emails, watch
        self.created: dict[int, list[float]] = {}
        self.clients: list[httpx.AsyncClient] = []
        self._ready, self._done, self._connected = asyncio.Event(), asyncio.Event(), 0
        self._streams: list[asyncio.Task] = []

    async def __aenter__(self) -> AgentStreams:
        signing_in = asyncio.Semaphore(4)
        self.clients = [httpx.AsyncClient(base_url=self.url, timeout=30) for _ in self.emails]
        self._streams = [asyncio.create_task(self._stream(n, email, signing_in)) for n, email in enumerate(self.emails)]
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait([ready, *self._streams], timeout=120, return_when=asyncio.FIRST_COMPLETED)
        for stream in self._streams:
            if stream.done():
                stream.result()  # a stream that failed to open says why
        if not self._ready.is_set():
            raise TimeoutError(f"only {self._connected} of {len(self.emails)} agents' streams opened in 120 s")
        return self

    async def __aexit__(self, *exc) -> None:
        self._done.set()
        await asyncio.gather(*self._streams, return_exceptions=exc[0] is not None)
        for client in self.clients:
            await client.aclose()

    async def _stream(self, n: int, email: str, signing_in: asyncio.Semaphore) -> None:
        client = self.clients[n]
        # Password hashing is deliberately slow: sign the agents in a few at a time, as they would arrive at work.
        async with signing_in:
            csrf = (await client.get("/api/v1/session")).json()["csrf_token"]
            answer = await client.post(
                "/api/v1/session", json={"email": email, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
            )
            answer.raise_for_status()
            client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]

        def opened() -> None:
            self._connected += 1
            if self._connected == len(self.emails):
                self._ready.set()

        def on_frame(frame: str, at: float) -> None:
            name = event_name(frame)
            if name == "interaction.created":
                self.created.setdefault(json.loads(frame)["data"]["interaction"]["id"], []).append(at)
            elif self.watch is not None:
                self.watch(n, name, frame, at)

        await follow_events(self.url, client, opened, self._done, on_frame)


def calls_of(series: int) -> list:
    """The calls of one measurement: CPS a second for SECONDS, from numbers of their own (``series`` 0-3)."""
    return calls_from([f"+140455{6 + series}{n:04d}" for n in range(CPS * SECONDS)])


def calls_from(numbers: list[str]) -> list:
    """A call from each of ``numbers`` (distinct: a call's events are found by its number), CPS a second."""
    from sipp import Call

    return [
        Call("+14045550100", number, duration=CALL_SECONDS, delay=n / CPS, expect_answer=None)
        for n, number in enumerate(numbers)
    ]


async def ring(system, caller, calls: list) -> tuple[dict[str, float], int]:
    """Place ``calls`` (the streams being open) and wait for them and for their last events: when each caller
    number's INVITE was sent, and how many calls failed."""

    def place_calls():
        return caller.start_calls(calls, asterisk_port=system.sip_port, local_port=system.trunk_port)

    handle = await asyncio.to_thread(place_calls)
    results = await asyncio.to_thread(handle.wait_all, SECONDS + CALL_SECONDS + 60)
    await asyncio.sleep(2)  # the last events on their way
    invites = {
        call.caller_number: float(next(e[1] for e in result.events if e[0] == "INVITE"))
        for call, result in zip(calls, results, strict=True)
        if any(e[0] == "INVITE" for e in result.events)
    }
    return invites, sum(1 for r in results if not r.answered)


def ring_to_screen(created: dict[int, list[float]], invites: dict[str, float], agents: int) -> dict:
    """The figures of one measurement, from the database (run after the controller stopped: which caller number
    each interaction has) and what the streams noted."""
    from leadcenter.interactions.models import Interaction

    lead_numbers = dict(Interaction.select(Interaction.id, Interaction.lead_number).tuples())
    latencies, missing = [], 0
    for interaction_id, number in lead_numbers.items():
        if number not in invites:
            continue
        seen = created.get(interaction_id, [])
        missing += agents - len(seen)
        latencies += [(at - invites[number]) * 1000 for at in seen]
    return {"figures": summary(latencies, "ms"), "missing": missing}


def run() -> dict:
    integration_helpers()
    from sipp import SippCaller

    with demo_system(_grow_team) as (system, data, emails):
        calls = calls_of(0)
        caller = SippCaller(data / "callers")

        async def measure():
            async with AgentStreams(system.url, emails) as streams:
                return streams.created, *await ring(system, caller, calls)

        created, invites, failed = asyncio.run(measure())
        measured = ring_to_screen(created, invites, AGENTS)
    missing, figures = measured["missing"], measured["figures"]
    result = {
        "agents": AGENTS,
        "calls_per_second": CPS,
        "calls": len(calls),
        "calls_failed": failed,
        "deliveries_missing": missing,
        "ring_to_screen": figures,
        "goal_p99_ms": GOAL_MS,
    }
    print(
        f"  ring to screen, {AGENTS} agents, {CPS} calls/s: p50 {figures['p50']} ms, p99 {figures['p99']} ms "
        f"(n={figures['n']}, missing {missing}, failed calls {failed})"
    )
    return result
