"""Ring to screen (issue 4): from a caller's INVITE to ``interaction.created`` on the websocket of every agent
its flow offers calls to, with AGENTS agents connected and CPS new calls a second.

The real system as the integration tests run it (Asterisk from the sid root, `leadcenter run`, the demo company),
with the demo's Sales team grown to AGENTS agents, each signed in with one event stream open (the browser tab).
No agent phone is registered: every call waits in the queue for CALL_SECONDS and hangs up, so the flow, the
recording set-up, the database and the fan-out all run while the rate holds. SIPp logs the time just before it
sends each INVITE; the benchmark's websocket clients note when each event arrives (same clock, same machine).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from bench.stats import summary

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

    db.bind(db.open_sqlite(str(system.settings.database_path)))
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


async def _agent_stream(
    url: str,
    email: str,
    arrivals: dict,
    ready: asyncio.Event,
    done: asyncio.Event,
    counter: list,
    signing_in: asyncio.Semaphore,
) -> None:
    # Password hashing is deliberately slow: sign the agents in a few at a time, as they would arrive at work.
    async with signing_in, httpx.AsyncClient(base_url=url, timeout=30) as client:
        csrf = (await client.get("/api/v1/session")).json()["csrf_token"]
        answer = await client.post(
            "/api/v1/session", json={"email": email, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
        )
        answer.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    ws_url = url.replace("http://", "ws://") + "/api/v1/events"
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": cookie, "Origin": url}, max_queue=None
    ) as socket:
        hello = json.loads(await socket.recv())
        assert hello["event"] == "stream.hello", hello
        counter[0] += 1
        if counter[0] == AGENTS:
            ready.set()
        while not done.is_set():
            try:
                frame = await asyncio.wait_for(socket.recv(), 1.0)
            except TimeoutError:
                continue
            at = time.time()
            event = json.loads(frame)
            if event["event"] == "interaction.created":
                arrivals.setdefault(event["data"]["interaction"]["id"], []).append(at)


async def _measure(system, emails: list[str], place_calls) -> tuple[dict, object]:
    arrivals: dict[int, list[float]] = {}
    ready, done, counter, signing_in = asyncio.Event(), asyncio.Event(), [0], asyncio.Semaphore(4)
    streams = [
        asyncio.create_task(_agent_stream(system.url, email, arrivals, ready, done, counter, signing_in))
        for email in emails
    ]
    await asyncio.wait_for(ready.wait(), 120)
    handle = await asyncio.to_thread(place_calls)
    results = await asyncio.to_thread(handle.wait_all, SECONDS + CALL_SECONDS + 60)
    await asyncio.sleep(2)  # the last events on their way
    done.set()
    await asyncio.gather(*streams)
    return arrivals, results


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from harness import System
    from sipp import Call, SippCaller

    from leadcenter.interactions.models import Interaction

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        emails = _grow_team(system)
        system.start_asterisk()
        system.start_controller()
        calls = [
            Call("+14045550100", f"+1404556{n:04d}", duration=CALL_SECONDS, delay=n / CPS, expect_answer=None)
            for n in range(CPS * SECONDS)
        ]
        caller = SippCaller(Path(data) / "callers")

        def place_calls():
            return caller.start_calls(calls, asterisk_port=system.sip_port, local_port=system.trunk_port)

        try:
            arrivals, results = asyncio.run(_measure(system, emails, place_calls))
        finally:
            system.stop_controller()
            system.stop_asterisk()
        invites = {
            f"+1404556{n:04d}": float(next(e[1] for e in result.events if e[0] == "INVITE"))
            for n, result in enumerate(results)
            if any(e[0] == "INVITE" for e in result.events)
        }
        lead_numbers = dict(Interaction.select(Interaction.id, Interaction.lead_number).tuples())
    latencies, missing = [], 0
    for interaction_id, number in lead_numbers.items():
        if number not in invites:
            continue
        seen = arrivals.get(interaction_id, [])
        missing += AGENTS - len(seen)
        latencies += [(at - invites[number]) * 1000 for at in seen]
    failed = sum(1 for r in results if not r.answered)
    result = {
        "agents": AGENTS,
        "calls_per_second": CPS,
        "calls": len(calls),
        "calls_failed": failed,
        "deliveries_missing": missing,
        "ring_to_screen": summary(latencies, "ms"),
        "goal_p99_ms": GOAL_MS,
    }
    figures = result["ring_to_screen"]
    print(
        f"  ring to screen, {AGENTS} agents, {CPS} calls/s: p50 {figures['p50']} ms, p99 {figures['p99']} ms "
        f"(n={figures['n']}, missing {missing}, failed calls {failed})"
    )
    return result
