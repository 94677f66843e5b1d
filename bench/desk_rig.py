"""The rig of the call-load benchmarks (overhead, capacity): the demo company whose Sales team is N agents on desk
phones (one SIPp phone answering for all of them, registered once per agent, echoing the audio), the demo flow
(recording, queue, voicemail), SIPp carriers calling its tracking number; with the controller attached, the agents
in the app press "Rejoin the Queue" as soon as they go to wrap-up.

A batch of calls passes when SIPp counts no failed call and every call reached an agent's phone; with the
controller, also when every call's interaction concluded as answered with its agent (and, when asked, with its
recording on disk). Each batch reads the CPU time the controller's process (every thread) and Asterisk spent per
call: a cost the machine's load barely moves, where rates and ceilings do.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench import results_dir

PASSWORD = "bench password 1"
TRACKING_NUMBER = "+14045550100"


def _desk_agents(system, count: int) -> list[tuple[str, str, str, int]]:
    """``count`` agents ringing on desk phones replace the demo's Sales team: (email, sip user, sip password, id)."""
    from leadcenter import clock, db
    from leadcenter.accounts.models import Company
    from leadcenter.accounts.services import add_member, create_user
    from leadcenter.agents.models import SipCredential
    from leadcenter.agents.services import create_agent
    from leadcenter.teams.models import Team, TeamMember

    db.bind(db.open_sqlite(str(system.settings.database_path)))
    company = Company.get()
    team = Team.get(Team.company == company, Team.name == "Sales")
    TeamMember.delete().where(TeamMember.team == team).execute()
    agents = []
    for n in range(count):
        user = create_user(f"desk{n}@acme.example", f"Desk Agent {n}", PASSWORD)
        add_member(user, company, "agent")
        agent = create_agent(company, user, devices=("desk",), ring_device="desk", now=clock.system())
        TeamMember.create(team=team, agent=agent)
        credential = SipCredential.get(SipCredential.agent == agent)
        agents.append((user.email, credential.username, credential.password, agent.id))
    return agents


class Rejoiner:
    """The agents in the app: each signed in; when one goes to wrap-up, they press Rejoin the Queue at once."""

    def __init__(self, url: str, agents: list[tuple[str, str, str, int]]):
        self.url = url
        self.clients: dict[int, httpx.Client] = {}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # password hashing is slow on purpose
            for agent_id, client in zip(
                [a[3] for a in agents], pool.map(self._sign_in, [a[0] for a in agents]), strict=True
            ):
                self.clients[agent_id] = client
        self.rejoined = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(8)
        self._open = True
        first = next(iter(self.clients.values()))
        cookie = "; ".join(f"{name}={value}" for name, value in first.cookies.items())
        self._socket = connect(
            url.replace("http://", "ws://") + "/api/v1/events", additional_headers={"Cookie": cookie, "Origin": url}
        )
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _sign_in(self, email: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        csrf = client.get("/api/v1/session").json()["csrf_token"]
        answer = client.post(
            "/api/v1/session", json={"email": email, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
        )
        answer.raise_for_status()
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client

    def _listen(self) -> None:
        while self._open:
            try:
                event = json.loads(self._socket.recv(timeout=1))
            except TimeoutError:
                continue
            except ConnectionClosed:  # the run is over
                return
            agent = event.get("data", {}).get("agent", {})
            if event["event"] == "agent.status_changed" and agent.get("status_reason") == "wrap_up":
                self._pool.submit(self._rejoin, agent["id"])

    def _rejoin(self, agent_id: int) -> None:
        client = self.clients.get(agent_id)
        if client is not None and client.patch("/api/v1/me/agent", json={"status": "available"}).status_code == 200:
            self.rejoined += 1

    def close(self) -> None:
        self._open = False
        self._socket.close()
        self._pool.shutdown()
        for client in self.clients.values():
            client.close()


def cpu_seconds(pid: int | None) -> float:
    """The CPU time (user + system, every thread) a process has spent so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


RIG_RTP_PORTS = 10_000  # room for 2,500 calls at once (the tests' installation has 1,000 ports)


class Rig:
    """The system with ``agents`` desk agents, Asterisk and the controller up, the agents' phone answering."""

    def __init__(self, data: Path, agents: int):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
        from harness import PORTS, System
        from sipp import Call, SippCaller, SippPhone

        self.call_cls, self.caller_cls = Call, SippCaller
        self.data = data
        # Each call holds two RTP sessions (the caller's leg and the agent's), four ports: a range of 1,000 (the
        # tests' installation's, and make run's 10000-10999) is full at 250 calls at once, whatever the CPU. The rig
        # measures the machine, not that setting.
        rtp_end = int(PORTS["LEADCENTER_ASTERISK_RTP_START"]) + RIG_RTP_PORTS - 1
        self.system = System(data, ports={**PORTS, "LEADCENTER_ASTERISK_RTP_END": str(rtp_end)})
        self.system.cli("demo")
        self.agents = _desk_agents(self.system, agents)
        self.system.start_asterisk()
        self.system.start_controller()
        self.phone = SippPhone(
            "agents",
            "",
            self.system.sip_port,
            registers=False,
            answer_after=0.2,
            lifetime=4 * 3600,
            workdir=data / "agents",
        )
        # Every agent's desk phone is this one SIPp phone: each registers from its port (Asterisk calls a phone
        # where its REGISTER came from), before the phone takes the port.
        for _, username, password, _ in self.agents:
            SippPhone(
                username, password, self.system.sip_port, self.phone.port, expires=7200, workdir=data / "register"
            ).register()
        self.phone.start()
        self.rejoiner: Rejoiner | None = Rejoiner(self.system.url, self.agents)
        self._batches = 0
        self._numbers = 0

    @property
    def full(self) -> bool:
        return self.system.controller is not None

    def detach_controller(self, log_name: str) -> None:
        """Stop the controller: Asterisk keeps running the same dialplan, with nobody listening. Its log is kept in
        bench/results/ (not committed) for a look when a batch failed."""
        assert self.rejoiner is not None
        self.rejoiner.close()
        self.rejoiner = None
        self.system.stop_controller()
        (results_dir() / log_name).write_bytes(self.system.controller_log.read_bytes())

    def calls_up(self) -> int:
        shown = re.search(r"^(\d+) active call", self.system.instance.rx("core show channels count") or "", re.M)
        return int(shown.group(1)) if shown else -1

    def place(self, count: int, rate: float, duration: float, *, recorded: bool = False, label: str = "") -> dict:
        """Place ``count`` calls at ``rate`` a second, each hanging up ``duration`` s after its INVITE; wait until
        the system is idle and judge the batch (module docstring)."""
        self._batches += 1
        numbers = [f"+1404{7_000_000 + self._numbers + n}" for n in range(count)]  # +1 404 700-...
        self._numbers += count
        calls = [
            self.call_cls(TRACKING_NUMBER, number, duration=duration, delay=n / rate)
            for n, number in enumerate(numbers)
        ]
        full = self.full
        answered_before = self.phone.answered_count
        caller = self.caller_cls(self.data / f"caller-{self._batches}")
        pids = (self.system.controller.pid if full else None, self.system.instance.pid())
        cpu_before = [cpu_seconds(pid) for pid in pids]
        began = time.monotonic()
        results = caller.start_calls(
            calls, asterisk_port=self.system.sip_port, local_port=self.system.trunk_port
        ).wait_all(count / rate + duration + 60)
        # SIPp's own count of failed calls (timeouts, unexpected messages) and calls Asterisk never answered.
        failed = (results[0].failed if results else 0) + sum(1 for r in results if not r.answered)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.calls_up():
            time.sleep(0.5)
        reached_agents = self.phone.answered_count - answered_before
        missing = self._unconcluded(numbers, recorded) if full else []
        controller_cpu, asterisk_cpu = (cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True))
        outcome = {
            "calls": count,
            "rate": rate,
            "failed": failed,
            "reached_agents": reached_agents,
            "interactions_missing": len(missing),
            "seconds": round(time.monotonic() - began, 1),
            "controller_cpu_ms_per_call": round(1000 * controller_cpu / count, 2) if full else None,
            "asterisk_cpu_ms_per_call": round(1000 * asterisk_cpu / count, 2),
            "ok": failed == 0 and reached_agents == count and not missing,
        }
        print(f"  {'full system' if full else 'bare Asterisk'} {label}: {outcome}")
        for line in missing[:20]:
            print(f"    {line}")
        return outcome

    def _unconcluded(self, numbers: list[str], recorded: bool) -> list[str]:
        """The calls whose interaction did not conclude as answered with an agent (and a recording on disk), after a
        bounded wait: one line each."""
        from leadcenter.interactions.models import Interaction

        def problems() -> list[str]:
            found = {i.lead_number: i for i in Interaction.select().where(Interaction.lead_number.in_(numbers))}
            out = []
            for number in numbers:
                row = found.get(number)
                if row is None:
                    out.append(f"{number}: no interaction")
                elif row.outcome != "answered" or row.agent_id is None:
                    out.append(f"{number}: interaction {row.id} {row.status}/{row.outcome} agent {row.agent_id}")
                elif recorded and not (row.recording and (self.system.settings.data_dir / row.recording).is_file()):
                    out.append(f"{number}: interaction {row.id} has no recording on disk ({row.recording})")
            return out

        deadline = time.monotonic() + 15
        while (missing := problems()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return missing

    def close(self) -> None:
        if self.rejoiner is not None:
            self.rejoiner.close()
        self.phone.stop()
        if self.system.controller is not None:
            self.system.stop_controller()
        self.system.stop_asterisk()


def step_up(levels, batch) -> tuple[int, list]:
    """Run ``batch(level)`` for each level in turn until one fails: the last level that passed (0: none) and every
    batch's outcome."""
    best, steps = 0, []
    for level in levels:
        outcome = batch(level)
        steps.append(outcome)
        if not outcome["ok"]:
            break
        best = level
    return best, steps


@contextlib.contextmanager
def rig(agents: int) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        up = Rig(Path(data), agents)
        try:
            yield up
        finally:
            up.close()
