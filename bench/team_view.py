"""Team View update latency (issue 15): from the moment Asterisk says an agent's phone changed to the frame that
changes that agent's row on a supervisor's event stream, with AGENTS agents answering on desk phones and CPS new
calls a second.

The real system as the integration tests run it (Asterisk from the sid root, `leadcenter run`, the demo company),
with the demo's Sales team grown to AGENTS agents, each ringing on a SIPp desk phone that answers after
ANSWER_SECONDS; the team's wrap-up ends by itself at once, so each agent is offered calls again about a second after
their last. CPS calls a second for SECONDS, each hanging up CALL_SECONDS after its INVITE (the flow's recording
notice, ringing, ~2 s of talk). One supervisor has the event stream open (the Team View's).

Latency of a row: each ``agent.presence_changed`` frame to ``ringing`` or ``on_call`` carries ``presence_since``:
for ringing, the timestamp of Asterisk's AgentCalled or DeviceStateChange, whichever came first (AMI, manager.conf
timestampevents); for on a call, the answer's (the call's AMI event). Latency = the frame's arrival at the
supervisor's client - that moment (one machine, one clock). Also timed: the snapshot (GET /api/v1/team-view) with
AGENTS agents, before and during the calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import httpx

from bench.stats import summary
from bench.system import demo_system, follow_events, integration_helpers

AGENTS = 50
CPS = 10
SECONDS = 20
# The demo flow plays its 4.3 s recording notice before the queue: 7 s after its INVITE a caller has talked ~2 s.
CALL_SECONDS = 7
ANSWER_SECONDS = 0.5
PASSWORD = "bench password 1"
SUPERVISOR = "bench-supervisor@acme.example"
GOAL_P99_MS = 100.0
SNAPSHOT_EVERY = 5  # seconds between two snapshots during the calls
MEASURED = ("ringing", "on_call")


def _floor(system) -> list[int]:
    """AGENTS agents in the demo's Sales team ringing on desk phones, its wrap-up automatic and immediate, and a
    supervisor; returns the agents' ids."""
    from leadcenter import clock, db
    from leadcenter.accounts.models import Company
    from leadcenter.accounts.services import add_member, create_user
    from leadcenter.agents.models import Agent
    from leadcenter.agents.services import create_agent
    from leadcenter.teams.models import Team, TeamMember

    db.bind(db.open_sqlite(str(system.settings.database_path)))
    company = Company.get()
    team = Team.get(Team.company == company, Team.name == "Sales")
    team.wrap_up_seconds, team.ring_out = 0, "available"
    team.save()
    for n in range(AGENTS - Agent.select().where(Agent.company == company).count()):
        user = create_user(f"bench{n}@acme.example", f"Bench Agent {n:02d}", PASSWORD)
        add_member(user, company, "agent")
        agent = create_agent(company, user, devices=("desk",), ring_device="desk", now=clock.system())
        TeamMember.create(team=team, agent=agent)
    Agent.update(ring_device="desk").where(Agent.company == company).execute()
    add_member(create_user(SUPERVISOR, "Bench Supervisor", PASSWORD), company, "supervisor")
    return [a.id for a in Agent.select(Agent.id).where(Agent.company == company).order_by(Agent.id)]


def _since(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


class SupervisorStream:
    """The supervisor signed in with one event stream open, for ``async with``: ``latencies`` (ms) of the frames
    that move a row to a measured presence, ``frames`` how many agent.presence_changed came by presence; ``client``
    the signed-in session."""

    def __init__(self, url: str):
        self.url = url
        self.client = httpx.AsyncClient(base_url=url, timeout=30)
        self.latencies: list[tuple[str, float, float]] = []  # (presence, arrival, latency in ms)
        self.frames: dict[str, int] = {}
        self.resets = 0  # stream.reset: the stream lagged and lost events
        self._done, self._open = asyncio.Event(), asyncio.Event()
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> SupervisorStream:
        csrf = (await self.client.get("/api/v1/session")).json()["csrf_token"]
        answer = await self.client.post(
            "/api/v1/session", json={"email": SUPERVISOR, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
        )
        answer.raise_for_status()
        self._task = asyncio.create_task(self._stream())
        opened = asyncio.create_task(self._open.wait())
        await asyncio.wait([opened, self._task], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(self, *exc) -> None:
        self._done.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=exc[0] is not None)
        await self.client.aclose()

    async def _stream(self) -> None:
        await follow_events(self.url, self.client, self._open.set, self._done, self._on_frame)

    def _on_frame(self, frame: str, at: float) -> None:
        if '"stream.reset"' in frame:
            self.resets += 1
        if '"agent.presence_changed"' not in frame:
            return
        agent = json.loads(frame)["data"]["agent"]
        self.frames[agent["presence"]] = self.frames.get(agent["presence"], 0) + 1
        if agent["presence"] in MEASURED:
            self.latencies.append((agent["presence"], at, (at - _since(agent["presence_since"])) * 1000))

    async def snapshot_ms(self) -> float:
        began = time.perf_counter()
        answer = await self.client.get("/api/v1/team-view")
        answer.raise_for_status()
        assert len(answer.json()["agents"]) == AGENTS
        return (time.perf_counter() - began) * 1000


def _calls() -> list:
    from sipp import Call

    return [
        Call("+14045550100", f"+1404557{n:04d}", duration=CALL_SECONDS, delay=n / CPS, expect_answer=None)
        for n in range(CPS * SECONDS)
    ]


def run() -> dict:
    integration_helpers()
    from harness import wait_for
    from sipp import SippCaller, SippPhone, free_udp_port

    with demo_system(_floor) as (system, data, agent_ids):
        phones = []
        calls = _calls()
        caller = SippCaller(data / "callers")

        def available() -> bool:
            with httpx.Client(base_url=system.url, timeout=10) as client:
                csrf = client.get("/api/v1/session").json()["csrf_token"]
                client.post(
                    "/api/v1/session", json={"email": SUPERVISOR, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
                ).raise_for_status()
                agents = client.get("/api/v1/agents").json()
            return sum(1 for a in agents if a["presence"] == "available") == AGENTS

        async def measure():
            async with SupervisorStream(system.url) as supervisor:
                quiet = [await supervisor.snapshot_ms() for _ in range(20)]
                handle = await asyncio.to_thread(
                    caller.start_calls, calls, asterisk_port=system.sip_port, local_port=system.trunk_port
                )
                busy = []  # a supervisor opening the page now and then (each snapshot costs the controller's CPU)
                for _ in range(SECONDS // SNAPSHOT_EVERY):
                    busy.append(await supervisor.snapshot_ms())
                    await asyncio.sleep(SNAPSHOT_EVERY)
                results = await asyncio.to_thread(handle.wait_all, SECONDS + CALL_SECONDS + 60)
                await asyncio.sleep(2)  # the last frames on their way
                frames = {**supervisor.frames, "stream.reset": supervisor.resets}
                return supervisor.latencies, frames, quiet, busy, results

        try:
            for agent_id in agent_ids:
                username, password = system.sip_account(agent_id)
                phone = SippPhone(
                    username,
                    password,
                    system.sip_port,
                    free_udp_port(4),
                    answer_after=ANSWER_SECONDS,
                    workdir=data / "phones" / username,
                )
                phones.append(phone.start())
            wait_for(available, 30, interval=0.5, what=f"all {AGENTS} agents available")
            latencies, frames, quiet, busy, results = asyncio.run(measure())
        finally:
            for phone in phones:
                phone.stop()
    answered = sum(1 for r in results if r.answered)
    figures = summary([ms for _, _, ms in latencies], "ms")
    first = min((at for _, at, _ in latencies), default=0)
    result = {
        "agents": AGENTS,
        "calls_per_second": CPS,
        "calls": len(calls),
        "calls_answered": answered,
        "presence_frames": frames,
        "row_latency": figures,
        **{f"row_latency_{shown}": summary([ms for p, _, ms in latencies if p == shown], "ms") for shown in MEASURED},
        # the tail by when it came: each 5 s of the run
        "row_latency_by_5s": {
            f"{n * 5}-{n * 5 + 5}s": summary([ms for _, at, ms in latencies if n * 5 <= at - first < n * 5 + 5], "ms")
            for n in range(SECONDS // 5 + 2)
        },
        "snapshot_quiet": summary(quiet, "ms"),
        "snapshot_during_calls": summary(busy, "ms"),
        "goal_p99_ms": GOAL_P99_MS,
    }
    print(
        f"  team view, {AGENTS} agents, {CPS} calls/s: row latency p50 {figures.get('p50')} ms, p99 "
        f"{figures.get('p99')} ms (n={figures['n']}, {answered}/{len(calls)} calls answered); snapshot p50 "
        f"{result['snapshot_quiet'].get('p50')} ms quiet, {result['snapshot_during_calls'].get('p50')} ms during calls"
    )
    return result
