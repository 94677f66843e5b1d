"""Website chat (issue 12): CHATTING + IDLE website visitors connected at once, with AGENTS agents' event streams.

The real system as bench/ring_to_screen.py runs it (`leadcenter run`, the demo company, its Sales team grown to
AGENTS agents signed in, each with its event stream open), with the demo's chat widget routed to the Sales team and
allowed on ORIGIN. In one run:

1. ring to screen without visitors (bench/ring_to_screen.py's calls and figures);
2. IDLE visitor sockets open (hello only: a page that loaded the widget): the server's RSS before and after;
3. CHATTING visitors open and start a chat each; agents respond to RESPONDED of them (agent n % AGENTS), the others
   wait in Incoming;
4. for TALK_SECONDS each chatting visitor says something every SAY_SECONDS and the responding agent replies in each
   responded chat every REPLY_SECONDS (`POST /interactions/{id}/messages`), while the same calls ring again: ring to
   screen with the visitors;
5. the visitors gone, ring to screen once more (how much the machine's own noise moves it).

The visitors run in a process of their own (forked before any event loop starts), as pages on other machines would,
so that the agents' side (50 streams receiving every event of the company) does not delay what they note. Both
processes note times with ``time.time()``, the same clock. Visitor -> agent: from the ``say`` sent to
``message.received`` on the stream of the responding agent (a responded chat) or of each agent whose Incoming holds
the chat (a waiting one). Agent -> visitor: from the POST sent to the ``message`` frame on the visitor's socket.

The visitor sockets' capacity limits are raised for this run (LIMITS: all visitors come from 127.0.0.1, and the
per-address limit is 20), and each visitor stays within the message rate limit (10 in 10 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import websockets

from bench import results_dir, ring_to_screen
from bench.ring_to_screen import AGENTS, AgentStreams, calls_of, ring
from bench.stats import summary

CHATTING, IDLE = 200, 300
RESPONDED = 100  # of the chatting visitors' chats, those an agent responds to; the rest wait in Incoming
SAY_SECONDS = 8.0  # each chatting visitor says something this often (the rate limit allows one a second)
REPLY_SECONDS = 8.0  # the agent replies this often in each responded chat
TALK_SECONDS = ring_to_screen.SECONDS + ring_to_screen.CALL_SECONDS + 3  # the calls' whole time
DRAIN_SECONDS = 3.0  # the last messages on their way
OPENING = 25  # visitor sockets being opened at once
ORIGIN = "http://shop.example"
GOAL_MS = 100.0
# Every visitor comes from 127.0.0.1: the per-address limit (20) is raised, and the company's and the server's
# (1000, 4000) with it so that the run never depends on them.
LIMITS = {
    "LEADCENTER_HTTP_VISITOR_SOCKETS_PER_ADDRESS": str(CHATTING + IDLE + 100),
    "LEADCENTER_HTTP_VISITOR_SOCKETS_PER_COMPANY": str(CHATTING + IDLE + 100),
    "LEADCENTER_HTTP_VISITOR_SOCKETS_MAX": str(CHATTING + IDLE + 100),
}
ASK_SECONDS = 180.0  # the longest the agents' side waits for the visitors' process to answer


def _set_up_widget() -> str:
    """The demo company's chat widget: allowed on ORIGIN, chats to the Sales team, no pre-chat field required, a
    response timeout longer than the run (no chat is missed meanwhile). Returns its public key."""
    from leadcenter.accounts.models import Company
    from leadcenter.chats.models import ChatWidget
    from leadcenter.chats.services import Chats
    from leadcenter.teams.models import Team

    company = Company.get()
    widget = Chats.widget_of(company)
    ChatWidget.update(
        allowed_origins=ORIGIN,
        team=Team.get(Team.company == company, Team.name == "Sales"),
        prechat=json.dumps({"name": "optional", "phone": "off", "email": "off"}),
        response_timeout_seconds=3600,
    ).where(ChatWidget.id == widget.id).execute()
    return widget.public_key


# -- the visitors' process -------------------------------------------------------------------------------------


class _Visitors:
    """The visitors' sockets, in their own process and event loop; told what to do over ``conn``."""

    def __init__(self, conn: Connection, url: str, key: str):
        self.conn = conn
        self.ws_url = url.replace("http://", "ws://") + f"/api/v1/visitor?key={key}"
        self.sockets: dict[int, Any] = {}
        self.readers: list[asyncio.Task] = []
        self.welcomed: dict[int, asyncio.Future] = {}
        self.started: dict[str, asyncio.Future] = {}  # a start's body -> its message frame's interaction id
        self.said: dict[str, float] = {}  # a say's body -> when it was sent
        self.heard: dict[str, float] = {}  # an agent's message's body -> when its frame arrived
        self.errors: list[dict] = []
        self.closed = 0  # sockets the server closed

    async def serve(self) -> None:
        for _ in range(10):  # idle, chats, talk, close
            command, *args = await asyncio.to_thread(_receive, self.conn)
            if command == "close":
                break
            answer = await getattr(self, command)(*args)
            self.conn.send(answer)
        for socket in self.sockets.values():
            await socket.close()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.conn.send({"closed_by_server": self.closed})

    async def idle(self) -> int:
        await self._open(range(CHATTING, CHATTING + IDLE))
        return len(self.sockets)

    async def chats(self) -> dict[int, int]:
        """The chatting visitors' sockets, each starting a chat: visitor -> its interaction id."""
        await self._open(range(CHATTING))
        loop = asyncio.get_running_loop()
        for n in range(CHATTING):
            self.started[f"v{n} start"] = loop.create_future()
        for n in range(CHATTING):
            frame = {"type": "start", "name": f"Visitor {n}", "body": f"v{n} start", "client_id": f"v{n}-start"}
            await self.sockets[n].send(json.dumps(frame))
        ids = await asyncio.wait_for(asyncio.gather(*self.started.values()), 60)
        return dict(enumerate(ids))

    async def talk(self, t0: float, seconds: float) -> dict:
        """Each chatting visitor says something every SAY_SECONDS from t0 (spread over the interval)."""

        async def visitor(n: int) -> None:
            for k in range(int(seconds / SAY_SECONDS)):
                await asyncio.sleep(t0 + (n / CHATTING + k) * SAY_SECONDS - time.time())
                body = f"v{n} m{k}"
                self.said[body] = time.time()
                await self.sockets[n].send(json.dumps({"type": "say", "body": body, "client_id": f"v{n}-{k}"}))

        await asyncio.gather(*(visitor(n) for n in range(CHATTING)))
        await asyncio.sleep(t0 + seconds + DRAIN_SECONDS - time.time())
        return {"said": self.said, "heard": self.heard, "errors": self.errors[:20], "error_count": len(self.errors)}

    async def _open(self, visitors: range) -> None:
        opening = asyncio.Semaphore(OPENING)
        loop = asyncio.get_running_loop()

        async def open_one(n: int) -> None:
            async with opening:
                socket = await websockets.connect(self.ws_url, additional_headers={"Origin": ORIGIN}, max_queue=None)
                self.sockets[n] = socket
                self.welcomed[n] = loop.create_future()
                self.readers.append(asyncio.create_task(self._read(n, socket)))
                page = {"url": f"{ORIGIN}/pricing", "title": "Pricing", "referrer": "https://www.google.com/"}
                await socket.send(json.dumps({"type": "hello", "visitor": None, "page": page}))
                await asyncio.wait_for(self.welcomed[n], 30)

        await asyncio.gather(*(open_one(n) for n in visitors))

    async def _read(self, n: int, socket) -> None:
        try:
            async for text in socket:
                at = time.time()
                frame = json.loads(text)
                kind = frame["type"]
                if kind == "message":
                    message = frame["message"]
                    if message["direction"] == "outbound":
                        self.heard[message["body"]] = at
                    elif (started := self.started.get(message["body"])) is not None and not started.done():
                        started.set_result(message["interaction_id"])
                elif kind == "welcome":
                    self.welcomed[n].set_result(frame)
                elif kind == "error":
                    self.errors.append(frame)
        except websockets.ConnectionClosed:
            self.closed += 1


def _receive(conn: Connection, timeout: float = ASK_SECONDS) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer over the pipe in {timeout} s")
    return conn.recv()


def _visitors_process(conn: Connection, url: str, key: str) -> None:
    asyncio.run(_Visitors(conn, url, key).serve())


# -- the agents' side ------------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ask(conn: Connection, *command: Any) -> Any:
    conn.send(command)
    return await asyncio.to_thread(_receive, conn)


def _cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of the controller, this process (the agents' side) and the visitors' process."""
    return {name: _cpu_seconds(pid) for name, pid in pids.items()}


def _cpu_since(before: dict[str, float], pids: dict[str, int]) -> dict[str, float]:
    return {name: round(seconds - before[name], 1) for name, seconds in _cpu_now(pids).items()}


async def _measure(system, emails: list[str], caller, conn: Connection, visitors_pid: int) -> dict:
    pid = system.controller.pid
    pids = {"controller": pid, "agents_side": os.getpid(), "visitors_side": visitors_pid}
    # a visitor's message -> (agent, when it arrived, when the server published it) on each stream
    received: dict[str, list[tuple[int, float, float]]] = {}

    def watch(agent: int, name: str, frame: str, at: float) -> None:
        if name == "message.received":
            event = json.loads(frame)
            published = dt.datetime.fromisoformat(event["at"]).timestamp()
            received.setdefault(event["data"]["message"]["body"], []).append((agent, at, published))

    out: dict[str, Any] = {"received": received, "invites": {}, "failed": {}, "cpu_seconds": {}}

    async def ring_series(name: str, series: int) -> None:
        cpu = _cpu_now(pids)
        out["invites"][name], out["failed"][name] = await ring(system, caller, calls_of(series))
        out["cpu_seconds"][name] = _cpu_since(cpu, pids)

    async with AgentStreams(system.url, emails, watch) as streams:
        out["created"] = streams.created
        await ring_series("without", 0)
        await asyncio.sleep(2)
        out["rss_before_kib"] = _rss_kib(pid)
        out["idle_open"] = await _ask(conn, "idle")
        await asyncio.sleep(2)
        out["rss_after_kib"] = _rss_kib(pid)
        chats: dict[int, int] = await _ask(conn, "chats")
        out["chats"] = chats
        out["responders"] = {n: n % AGENTS for n in range(RESPONDED)}

        async def respond(n: int) -> None:
            client = streams.clients[n % AGENTS]
            (await client.post(f"/api/v1/interactions/{chats[n]}/respond")).raise_for_status()

        await asyncio.gather(*(respond(n) for n in range(RESPONDED)))
        out["rss_chats_kib"] = _rss_kib(pid)
        t0 = time.time() + 1.0
        conn.send(("talk", t0, TALK_SECONDS))
        replies: dict[str, tuple[float, float, int]] = {}  # body -> (sent, answered, status)

        async def reply(n: int) -> None:
            client = streams.clients[n % AGENTS]
            for k in range(int(TALK_SECONDS / REPLY_SECONDS)):
                await asyncio.sleep(t0 + (n / RESPONDED + k + 0.5) * REPLY_SECONDS - time.time())
                body = f"a{n} r{k}"
                sent = time.time()
                answer = await client.post(f"/api/v1/interactions/{chats[n]}/messages", json={"body": body})
                replies[body] = (sent, time.time(), answer.status_code)

        talking = asyncio.gather(*(reply(n) for n in range(RESPONDED)))
        cpu = _cpu_now(pids)
        await ring_series("with", 1)
        await talking
        out["talk"] = await asyncio.to_thread(_receive, conn)
        out["cpu_seconds"]["talk_and_ring"] = _cpu_since(cpu, pids)
        out["replies"] = replies
        out["visitors_closed"] = await _ask(conn, "close")
        await asyncio.sleep(2)
        await ring_series("after", 2)
    return out


def _figures(measured: dict) -> dict:
    """The latencies from what both sides noted."""
    said, heard, received = measured["talk"]["said"], measured["talk"]["heard"], measured["received"]
    responders = measured["responders"]
    to_responder, to_waiting, missing, elsewhere = [], [], 0, 0
    to_published, published_to_stream = [], []  # the two halves: the say stored and published, then fanned out
    for body, sent in said.items():
        visitor = int(body[1:].split()[0])
        arrivals = {agent: (at, published) for agent, at, published in received.get(body, ())}
        if visitor in responders:
            agent = responders[visitor]
            expected = [agent] if agent in arrivals else []
            missing += 1 - len(expected)
            elsewhere += len(arrivals) - len(expected)
        else:
            expected = list(arrivals)
            missing += AGENTS - len(arrivals)
        latencies = [(arrivals[agent][0] - sent) * 1000 for agent in expected]
        (to_responder if visitor in responders else to_waiting).extend(latencies)
        if expected:
            to_published.append((arrivals[expected[0]][1] - sent) * 1000)
        published_to_stream += [(arrivals[agent][0] - arrivals[agent][1]) * 1000 for agent in expected]
    to_visitor, replies_missing, replies_failed, post_ms = [], 0, 0, []
    for body, (sent, answered, status) in measured["replies"].items():
        post_ms.append((answered - sent) * 1000)
        if not 200 <= status < 300:
            replies_failed += 1
        elif body in heard:
            to_visitor.append((heard[body] - sent) * 1000)
        else:
            replies_missing += 1
    return {
        "visitor_to_agent": summary(to_responder + to_waiting, "ms"),
        "visitor_to_agent_responded": summary(to_responder, "ms"),
        "visitor_to_agent_waiting": summary(to_waiting, "ms"),
        "visitor_to_agent_say_to_published": summary(to_published, "ms"),
        "visitor_to_agent_published_to_stream": summary(published_to_stream, "ms"),
        "visitor_messages": len(said),
        "visitor_deliveries_missing": missing,
        "responded_delivered_to_other_agents": elsewhere,
        "agent_to_visitor": summary(to_visitor, "ms"),
        "agent_post": summary(post_ms, "ms"),
        "agent_messages": len(measured["replies"]),
        "agent_messages_failed": replies_failed,
        "agent_deliveries_missing": replies_missing,
    }


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from harness import System
    from sipp import SippCaller

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        emails = ring_to_screen._grow_team(system)
        key = _set_up_widget()
        system.start_asterisk()
        print(f"  visitor socket limits raised for this run: {', '.join(f'{k}={v}' for k, v in LIMITS.items())}")
        system.start_controller(**LIMITS)
        caller = SippCaller(Path(data) / "callers")
        # Forked before any event loop or thread starts here; it only talks to the server and over the pipe.
        conn, theirs = multiprocessing.get_context("fork").Pipe()
        visitors = multiprocessing.get_context("fork").Process(
            target=_visitors_process, args=(theirs, system.url, key), daemon=True
        )
        visitors.start()
        try:
            measured = asyncio.run(_measure(system, emails, caller, conn, visitors.pid))
        finally:
            visitors.join(10)
            if visitors.is_alive():
                visitors.kill()
            system.stop_controller()
            system.stop_asterisk()
            shutil.copy(system.controller_log, results_dir() / "chat-controller.log")
        rings = {
            name: ring_to_screen.ring_to_screen(measured["created"], invites, AGENTS)
            for name, invites in measured["invites"].items()
        }
    # Every sample, for looking into where the time goes (what arrived when, on which side).
    (results_dir() / "chat-samples.json").write_text(json.dumps(measured))
    return _report(measured, rings)


def _report(measured: dict, rings: dict) -> dict:
    figures = _figures(measured)
    rss_growth = measured["rss_after_kib"] - measured["rss_before_kib"]
    result = {
        "agents": AGENTS,
        "visitors_chatting": CHATTING,
        "visitors_idle": IDLE,
        "chats_responded": RESPONDED,
        "say_every_seconds": SAY_SECONDS,
        "reply_every_seconds": REPLY_SECONDS,
        "talk_seconds": TALK_SECONDS,
        "limits_raised": LIMITS,
        **figures,
        "visitor_errors": measured["talk"]["error_count"],
        "visitor_sockets_closed_by_server": measured["visitors_closed"]["closed_by_server"],
        "ring_to_screen": {
            name: {**one["figures"], "missing": one["missing"], "calls_failed": measured["failed"][name]}
            for name, one in rings.items()
        },
        "controller_cpu_seconds": measured["cpu_seconds"],
        "rss_kib": {
            "before_idle": measured["rss_before_kib"],
            "after_idle": measured["rss_after_kib"],
            "after_chats": measured["rss_chats_kib"],
        },
        "memory_per_idle_visitor_kib": round(rss_growth / IDLE, 1),
        "goal_p99_ms": GOAL_MS,
    }
    for name in (
        "visitor_to_agent",
        "visitor_to_agent_responded",
        "visitor_to_agent_waiting",
        "visitor_to_agent_say_to_published",
        "visitor_to_agent_published_to_stream",
        "agent_to_visitor",
        "agent_post",
    ):
        f = figures[name]
        print(f"  {name.replace('_', ' ')}: p50 {f.get('p50')} ms, p99 {f.get('p99')} ms (n={f['n']})")
    print(
        f"  missing: {figures['visitor_deliveries_missing']} visitor->agent, {figures['agent_deliveries_missing']} "
        f"agent->visitor; agent POSTs failed {figures['agent_messages_failed']}; visitor errors "
        f"{result['visitor_errors']}"
    )
    for name, shown in result["ring_to_screen"].items():
        print(
            f"  ring to screen {name} visitors: p50 {shown['p50']} ms, p99 {shown['p99']} ms (n={shown['n']}, "
            f"missing {shown['missing']}, failed calls {shown['calls_failed']})"
        )
    print(
        f"  controller RSS {measured['rss_before_kib']} -> {measured['rss_after_kib']} KiB with {IDLE} idle "
        f"visitors: {result['memory_per_idle_visitor_kib']} KiB each; CPU s {measured['cpu_seconds']}"
    )
    return result
