"""The real system for integration tests: Asterisk (from the cached sid root) and `leadcenter run`, started
from the CLI as an operator would, on test ports, with the demo company, in a fresh data directory.

`make test` runs pytest in a private network namespace; the ports below differ from the defaults as well, so
the suite also runs beside a `make run` without one.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from peewee import Database

from leadcenter import config, db, demo
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.interactions.models import Interaction
from leadcenter.pbx.process import Instance

sys.path.insert(0, str(Path(__file__).parents[1] / "smsc"))
from peer import PASSWORD as SMSC_PASSWORD
from peer import SYSTEM_ID as SMSC_SYSTEM_ID

LEADCENTER = [sys.executable, "-m", "leadcenter"]
ADS_LINE = "+14045550100"  # the demo's "Google Ads line"; its flow queues to Alice's and Bob's team

PORTS = {
    "LEADCENTER_HTTP_PORT": "18080",
    "LEADCENTER_HTTP_HTTPS_PORT": "18443",
    "LEADCENTER_ASTERISK_AMI_PORT": "15038",
    "LEADCENTER_ASTERISK_HTTP_PORT": "18088",
    "LEADCENTER_ASTERISK_SIP_PORT": "15060",
    "LEADCENTER_ASTERISK_SIP_TLS_PORT": "15061",
    "LEADCENTER_ASTERISK_RTP_START": "21000",
    "LEADCENTER_ASTERISK_RTP_END": "21999",
    "LEADCENTER_DEMO_TRUNK_PORT": "15070",
    # Browser softphones: Asterisk never offers a loopback ICE candidate, so the test namespace gets an inert
    # interface (see add_ice_interface) whose address Asterisk advertises as 127.0.0.1.
    "LEADCENTER_ASTERISK_ICE_HOST_CANDIDATES": "198.18.0.1=>127.0.0.1",
    "LEADCENTER_SMPP_PORT": "12775",
}

# A second installation beside the suite's (`leadcenter run` as make run starts it, a restored backup): ports of its
# own, so both run at once.
SECOND_PORTS = {
    "LEADCENTER_HTTP_PORT": "28080",
    "LEADCENTER_HTTP_HTTPS_PORT": "28443",
    "LEADCENTER_ASTERISK_AMI_PORT": "25038",
    "LEADCENTER_ASTERISK_HTTP_PORT": "28088",
    "LEADCENTER_ASTERISK_SIP_PORT": "25060",
    "LEADCENTER_ASTERISK_SIP_TLS_PORT": "25061",
    "LEADCENTER_ASTERISK_RTP_START": "22000",
    "LEADCENTER_ASTERISK_RTP_END": "22099",
    "LEADCENTER_DEMO_TRUNK_PORT": "25070",
    "LEADCENTER_SMPP_PORT": "22775",
}

# A third, for an installation restored beside the second (test_postgresql.py's backup).
THIRD_PORTS = {
    "LEADCENTER_HTTP_PORT": "38080",
    "LEADCENTER_HTTP_HTTPS_PORT": "38443",
    "LEADCENTER_ASTERISK_AMI_PORT": "35038",
    "LEADCENTER_ASTERISK_HTTP_PORT": "38088",
    "LEADCENTER_ASTERISK_SIP_PORT": "35060",
    "LEADCENTER_ASTERISK_SIP_TLS_PORT": "35061",
    "LEADCENTER_ASTERISK_RTP_START": "23000",
    "LEADCENTER_ASTERISK_RTP_END": "23099",
    "LEADCENTER_DEMO_TRUNK_PORT": "35070",
    "LEADCENTER_SMPP_PORT": "32775",
}

# The controller binds to the test SMSC (tests/smsc) when a test starts one; quick timers keep tests short.
SMSC = {
    "LEADCENTER_SMPP_HOST": "127.0.0.1",
    "LEADCENTER_SMPP_SYSTEM_ID": SMSC_SYSTEM_ID,
    "LEADCENTER_SMPP_PASSWORD": SMSC_PASSWORD,
    "LEADCENTER_SMPP_ENQUIRE_LINK_SECONDS": "2",
    "LEADCENTER_SMPP_RESPONSE_TIMEOUT_SECONDS": "3",
    "LEADCENTER_SMPP_RECONNECT_MAX_SECONDS": "1",
}

# Desk phones are asked every 2 s whether they are still there (qualify), so a dead one is found in seconds.
QUICK = {"LEADCENTER_ASTERISK_QUALIFY_SECONDS": "2"}

# Chromium ignores interfaces named vmnet*, so it offers only loopback candidates. A veth pair, because kernels
# without the dummy module exist (containers); both ends are up so the address counts as running.
ICE_INTERFACE = ("vmnet0", "vmnet1", "198.18.0.1/32")


def add_ice_interface() -> bool:
    """Add the inert interface browser calls need; only in a private network namespace (nothing but `lo` in it,
    as `make test` runs), never on a real machine's network. True when the interface is there."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line}
    name, peer, address = ICE_INTERFACE
    if name in names:
        return True
    if names != {"lo"}:
        return False
    for command in (
        ["ip", "link", "add", name, "type", "veth", "peer", "name", peer],
        ["ip", "addr", "add", address, "dev", name],
        ["ip", "link", "set", peer, "up"],
        ["ip", "link", "set", name, "up"],
    ):
        if subprocess.run(command, capture_output=True).returncode != 0:
            return False
    return True


def api_created(admin, cleanup, path: str, body: dict) -> dict:
    """``body`` POSTed to ``path`` (e.g. /api/v1/flows) by ``admin``, a signed-in client (201 asserted); the
    ``cleanup`` stack deletes it."""
    answer = admin.post(path, json=body)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    cleanup.callback(admin.delete, f"{path}/{created['id']}")
    return created


def forwarding_number(admin, cleanup, number: str, forward_to: str, trunk_id: int, name: str) -> dict:
    """A tracking number on the demo carrier's trunk whose flow forwards its calls to ``forward_to`` through trunk
    ``trunk_id``, both made through the API and deleted by ``cleanup``."""
    step = {"type": "forward", "number": forward_to, "trunk": trunk_id, "timeout": 10}
    flow = api_created(admin, cleanup, "/api/v1/flows", {"name": name, "steps": [step]})
    line = {"number": number, "name": name, "trunk": 1, "flow": flow["id"]}
    return api_created(admin, cleanup, "/api/v1/tracking-numbers", line)


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# A second SMSC, which sends for the demo's Website line (the first sends for every other number); a file setting,
# since environment variables set the first SMSC only.
SECOND_SMSC_PORT = 12777
SECOND_SMSC_NUMBER = "+14045550101"
CONFIG = f"""
[[smpp_extra]]
name = "second"
host = "127.0.0.1"
port = {SECOND_SMSC_PORT}
system_id = "{SMSC_SYSTEM_ID}"
password = "{SMSC_PASSWORD}"
numbers = "{SECOND_SMSC_NUMBER}"
enquire_link_seconds = 2
response_timeout_seconds = 3
reconnect_max_seconds = 1
"""


class System:
    """One installation in ``data_dir``: on ``ports`` (PORTS, or SECOND_PORTS beside the suite's), its database
    SQLite in the data directory or the PostgreSQL one ``database_url`` names ([database] url)."""

    def __init__(self, data_dir: Path, ports: dict[str, str] = PORTS, database_url: str = ""):
        (data_dir / "leadcenter.toml").write_text(CONFIG)
        self.env = {**os.environ, **ports, **SMSC, **QUICK, "LEADCENTER_PATHS_DATA_DIR": str(data_dir)}
        self.env["LEADCENTER_DATABASE_URL"] = database_url
        self.settings = config.load(env=self.env)
        self.instance = Instance.from_settings(self.settings)
        self.controller: subprocess.Popen | None = None
        self.controller_log = data_dir / "controller.log"
        self.url = f"http://127.0.0.1:{self.settings.http.port}"
        self.https_url = f"https://127.0.0.1:{self.settings.http.https_port}"
        self.sip_port = self.settings.asterisk.sip_port
        self.sip_tls_port = self.settings.asterisk.sip_tls_port
        self.trunk_port = self.settings.demo.trunk_port
        self.browser_media = False  # whether browser softphones can carry audio here (see add_ice_interface)

    def open_database(self) -> Database:
        """The installation's database, as the controller opens it: the tests read what it writes (SQLite in WAL
        mode, or PostgreSQL)."""
        return db.open_database(self.settings.database.url, str(self.settings.database_path))

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([*LEADCENTER, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"leadcenter {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # -- Asterisk ----------------------------------------------------------------------------------------------
    def start_asterisk(self) -> None:
        self.cli("asterisk", "start")

    def stop_asterisk(self) -> None:
        self.cli("asterisk", "stop")

    # -- the controller (`leadcenter run`) ---------------------------------------------------------------------
    def start_controller(self, **env: str) -> None:
        """Start `leadcenter run`; ``env`` adds settings for this run only (LEADCENTER_...)."""
        with open(self.controller_log, "ab") as log:  # the child keeps its own descriptor
            self.controller = subprocess.Popen(
                [*LEADCENTER, "run"],
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_healthy(30)

    def stop_controller(self) -> None:
        if self.controller is not None:
            os.killpg(self.controller.pid, signal.SIGINT)
            self.controller.wait(20)
            self.controller = None

    def kill_controller(self) -> None:
        """kill -9 the controller: no chance to clean up."""
        assert self.controller is not None
        os.killpg(self.controller.pid, signal.SIGKILL)
        self.controller.wait(10)
        self.controller = None

    def health(self) -> tuple[int, dict]:
        return healthz(self.url)

    def sms_health(self) -> dict:
        """The SMPP part of /healthz: the binds' state and counters."""
        return self.health()[1].get("sms", {})

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until /healthz says 200 (database, AMI and ARI up and resynchronised)."""
        began = time.monotonic()
        wait_for(
            lambda: self.health()[0] == 200 and self.health()[1]["asterisk"]["synced_at"],
            timeout,
            what=f"/healthz to be 200; controller log:\n{self.log_tail()}",
        )
        return time.monotonic() - began

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.controller_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # -- what the tests observe --------------------------------------------------------------------------------
    def sip_account(self, agent_id: int, device: str = "desk") -> tuple[str, str]:
        cred = SipCredential.get(SipCredential.agent == agent_id, SipCredential.device == device)
        return cred.username, cred.password

    def wait_reachable(self, agent_id: int, timeout: float = 15) -> None:
        """Until Asterisk says the agent's registered desk phone answers its OPTIONS (Avail): on a loaded machine a
        phone that answered one late is unreachable, and not rung, until it answers the next (2 s later)."""
        username, _ = self.sip_account(agent_id)
        wait_for(
            lambda: any(
                line.split()[1].startswith(f"{username}/") and "Avail" in line
                for line in (self.instance.rx("pjsip show contacts") or "").splitlines()
                if line.strip().startswith("Contact:") and len(line.split()) > 1
            ),
            timeout,
            what=f"{username}'s phone reachable",
        )

    def interaction(self, **where) -> Interaction | None:
        query = Interaction.select()
        for field, value in where.items():
            query = query.where(getattr(Interaction, field) == value)
        return query.order_by(Interaction.id.desc()).first()

    def wait_interaction(self, timeout: float = 10, **where) -> Interaction:
        return wait_for(lambda: self.interaction(**where), timeout, what=f"an interaction with {where}")

    # -- agents, as they would act in the app ------------------------------------------------------------------
    def sign_in(self, email: str) -> httpx.Client:
        """A browser session of a demo user (signed in, CSRF header set)."""
        client = httpx.Client(base_url=self.url, timeout=5)
        csrf = client.get("/api/v1/session").json()["csrf_token"]
        password = next(p for e, p, _ in demo.logins(self.settings) if e == email)
        answer = client.post(
            "/api/v1/session", json={"email": email, "password": password}, headers={"X-CSRF-Token": csrf}
        )
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client

    def choose_status(self, email: str, status: str) -> dict:
        """The agent picks a status in the app (Available after a queue call is "Rejoin the Queue")."""
        with contextlib.closing(self.sign_in(email)) as client:
            answer = client.patch("/api/v1/me/agent", json={"status": status})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def paused_members(self, queue: str = "team1") -> set[str]:
        """Queue members Asterisk has paused now (member names: agentN)."""
        shown = self.instance.rx(f"queue show {queue}") or ""
        return set(re.findall(r"^\s+(agent\d+) .*\(paused", shown, re.M))

    def all_available(self) -> None:
        """Every demo agent Available, and Asterisk agreeing (the pause keeper acts on the status change).

        First the calls an earlier test hung up must be over, in Asterisk and for the controller: an agent whose call
        ends after they were made Available goes into wrap-up, and stays paused."""
        on_call = lambda: [a.id for a in Agent.select().where(Agent.status_reason == "on_call")]  # noqa: E731
        channels = lambda: (self.instance.rx("core show channels concise") or "").strip()  # noqa: E731
        try:
            wait_for(lambda: not channels() and not on_call(), 15, what="the calls to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: channels {channels()!r}; agents on a call {on_call()}") from None
        for email, _, role in demo.logins(self.settings):
            if role == "agent":
                self.choose_status(email, "available")
        try:
            wait_for(lambda: not self.paused_members(), 10, what="every agent unpaused in Asterisk")
        except AssertionError as exc:  # who stays paused, and why the controller thinks they should be
            statuses = {a.id: (a.status, a.status_reason) for a in Agent.select()}
            raise AssertionError(f"{exc}: {sorted(self.paused_members())} paused; statuses {statuses}") from None


def healthz(url: str) -> tuple[int, dict]:
    """The status and body of ``url``'s /healthz; (0, {}) when nothing answers."""
    try:
        response = httpx.get(f"{url}/healthz", timeout=2)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def run_installation(system: System, stack: contextlib.ExitStack) -> None:
    """Start ``system``'s Asterisk and controller, the test process reading its database; ``stack`` stops them and
    binds the database the tests read before again (a second installation beside the suite's)."""
    previous = db.database.obj
    handle = system.open_database()
    stack.callback(handle.close)
    db.bind(handle)
    stack.callback(lambda: previous is not None and db.bind(previous))
    system.start_asterisk()
    stack.callback(system.stop_asterisk)
    system.start_controller()
    stack.callback(system.stop_controller)


def concise_channels(system) -> list[list[str]]:
    """Asterisk's channels, a row of fields each (``core show channels concise``: 0 the name, 12 the bridge, 13 the
    unique id)."""
    rows = [line.split("!") for line in (system.instance.rx("core show channels concise") or "").splitlines()]
    return [row for row in rows if len(row) > 13]


def channel_variable(system, channel_id: str, name: str) -> str | None:
    """A variable of a live channel (by its unique id) as Asterisk has it; None when the channel is not up."""
    channel = next((row[0] for row in concise_channels(system) if row[13] == channel_id), None)
    if channel is None:
        return None
    shown = system.instance.rx(f"core show channel {channel}") or ""
    found = re.search(rf"^\s*{re.escape(name)}=(.*)$", shown, re.M)
    return found.group(1).strip() if found else ""


def bridged(system, *prefixes: str) -> bool:
    """Whether a channel of each prefix (PJSIP/trunk1-, PJSIP/desk2-) is in one bridge in Asterisk."""
    rows = concise_channels(system)
    bridges = [{row[12] for row in rows if row[0].startswith(prefix) and row[12]} for prefix in prefixes]
    return bool(set.intersection(*bridges))


def set_ring_device(system, device: str, agents=(1, 2)) -> None:
    """The demo agents (Alice and Bob by default) ring on ``device`` (webrtc or desk), live in the queue."""
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        for agent in agents:
            answer = admin.patch(f"/api/v1/agents/{agent}", json={"ring_device": device})
            assert answer.status_code == 200, answer.text
    wait_for(
        lambda: f"PJSIP/{device}{agents[0]}" in (system.instance.rx("queue show team1") or ""),
        10,
        what=f"the queue to ring the agents' {device} devices",
    )
