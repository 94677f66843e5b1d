"""Controller overhead (issue 4): the highest rate of calls a second that the full system carries with no failed
call, divided by the highest rate the same Asterisk and dialplan carry with no controller attached. Goal: >= 0.9.

Set-up: the demo company whose Sales team is AGENTS agents on desk phones (one SIPp phone answering for all of
them, registered once per agent, echoing the audio), the demo flow (recording, queue, voicemail). Each call: a
SIPp caller speaks for TALK_SECONDS after an agent answers, then hangs up. A rate step places STEP_SECONDS of
calls at that rate, then waits for the system to be idle.

A step fails if SIPp counts a failed call or fewer calls reached an agent's phone than were placed; with the
controller attached, also if a call's interaction did not conclude as answered with its agent. With the controller,
agents go to wrap-up after each call (the product's behaviour) and the benchmark rejoins them at once through the
API, as an agent pressing "Rejoin the Queue" would; bare Asterisk has no wrap-up. Rates go up in RATES until the
first failure; the last rate that passed is the figure.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench import results_dir

AGENTS = 200
TALK_SECONDS = 3
STEP_SECONDS = 15
RATES = (10, 14, 18, 22, 26, 30, 34)
PASSWORD = "bench password 1"
GOAL = 0.9


def _desk_agents(system) -> list[tuple[str, str, str, int]]:
    """AGENTS agents ringing on desk phones replace the demo's Sales team: (email, sip user, sip password, id)."""
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
    for n in range(AGENTS):
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


def _calls_up(system) -> int:
    shown = re.search(r"^(\d+) active call", system.instance.rx("core show channels count") or "", re.M)
    return int(shown.group(1)) if shown else -1


def _step(system, caller_cls, call_cls, phone, rate: int, first_number: int, full: bool) -> dict:
    from leadcenter.interactions.models import Interaction

    count = rate * STEP_SECONDS
    numbers = [f"+1404557{first_number + n:04d}" for n in range(count)]
    calls = [
        call_cls("+14045550100", number, duration=TALK_SECONDS + 1, delay=n / rate) for n, number in enumerate(numbers)
    ]
    answered_before = phone.answered_count
    caller = caller_cls(Path(system.settings.data_dir) / f"caller-{rate}-{int(full)}")
    began = time.monotonic()
    results = caller.start_calls(calls, asterisk_port=system.sip_port, local_port=system.trunk_port).wait_all(
        STEP_SECONDS + TALK_SECONDS + 60
    )
    # SIPp's own count of failed calls (timeouts, unexpected messages) and calls Asterisk never answered.
    failed = (results[0].failed if results else 0) + sum(1 for r in results if not r.answered)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _calls_up(system):
        time.sleep(0.5)
    reached_agents = phone.answered_count - answered_before
    unrecorded = 0
    if full:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            concluded = (
                Interaction.select()
                .where(
                    Interaction.lead_number.in_(numbers),
                    Interaction.outcome == "answered",
                    Interaction.agent.is_null(False),
                )
                .count()
            )
            if concluded == count:
                break
            time.sleep(0.5)
        unrecorded = count - concluded
        if unrecorded:
            found = {i.lead_number: i for i in Interaction.select().where(Interaction.lead_number.in_(numbers))}
            for number in numbers:
                row = found.get(number)
                if row is None or row.outcome != "answered" or row.agent_id is None:
                    print(
                        f"    {number}: "
                        + (
                            "no interaction"
                            if row is None
                            else f"interaction {row.id} {row.status}/{row.outcome} agent {row.agent_id}"
                        )
                    )
    ok = failed == 0 and reached_agents == count and unrecorded == 0
    outcome = {
        "rate": rate,
        "calls": count,
        "failed": failed,
        "reached_agents": reached_agents,
        "interactions_missing": unrecorded,
        "seconds": round(time.monotonic() - began, 1),
        "ok": ok,
    }
    print(f"  {'full system' if full else 'bare Asterisk'} at {rate} calls/s: {outcome}")
    return outcome


def _highest(system, caller_cls, call_cls, phone, full: bool, numbering: list) -> tuple[int, list]:
    best, steps = 0, []
    for rate in RATES:
        outcome = _step(system, caller_cls, call_cls, phone, rate, numbering[0], full)
        numbering[0] += outcome["calls"]
        steps.append(outcome)
        if not outcome["ok"]:
            break
        best = rate
    return best, steps


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from harness import System
    from sipp import Call, SippCaller, SippPhone

    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        agents = _desk_agents(system)
        system.start_asterisk()
        system.start_controller()
        phone = SippPhone(
            "agents",
            "",
            system.sip_port,
            registers=False,
            answer_after=0.2,
            lifetime=3600,
            workdir=Path(data) / "agents",
        )
        # Every agent's desk phone is this one SIPp phone: each registers from its port (Asterisk calls a phone
        # where its REGISTER came from), before the phone takes the port.
        for _, username, password, _ in agents:
            SippPhone(
                username, password, system.sip_port, phone.port, expires=3600, workdir=Path(data) / "register"
            ).register()
        phone.start()
        numbering = [0]
        try:
            rejoiner = Rejoiner(system.url, agents)
            try:
                full, full_steps = _highest(system, SippCaller, Call, phone, True, numbering)
            finally:
                rejoiner.close()
            system.stop_controller()  # Asterisk keeps running the same dialplan, with nobody listening
            # Kept for a look when a step failed (bench/results/ is not committed).
            (results_dir() / "overhead-controller.log").write_bytes(system.controller_log.read_bytes())
            bare, bare_steps = _highest(system, SippCaller, Call, phone, False, numbering)
        finally:
            phone.stop()
            if system.controller is not None:
                system.stop_controller()
            system.stop_asterisk()
    ratio = round(full / bare, 3) if bare else None
    result = {
        "agents": AGENTS,
        "talk_seconds": TALK_SECONDS,
        "step_seconds": STEP_SECONDS,
        "full_system_max_cps": full,
        "bare_asterisk_max_cps": bare,
        "ratio": ratio,
        "goal": GOAL,
        "rates_tried_up_to": RATES[-1],
        "steps": full_steps + bare_steps,
    }
    print(f"  highest rate with no failed call: full system {full}/s, bare Asterisk {bare}/s, ratio {ratio}")
    return result
