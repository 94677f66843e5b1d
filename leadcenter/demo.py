"""The demo company `make run` starts with: an admin, two agents, a team, two tracking numbers, a flow into the queue,
a chat widget for its website; the demo caller (`leadcenter demo call`): SIPp calling a tracking number from the demo
carrier's address; and the demo website (`leadcenter run --demo`): the company's own site, on an origin of its own,
with the chat snippet in its pages.

Passwords are generated when the demo is seeded (never fixed, never committed) and kept in
<data_dir>/demo-logins.txt (mode 0600) so they can be shown again.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from leadcenter.accounts.models import Company
from leadcenter.accounts.services import add_member, create_company, create_user
from leadcenter.agents.services import create_agent
from leadcenter.chats.models import ChatWidget
from leadcenter.chats.services import Chats
from leadcenter.config import Settings
from leadcenter.credentials import generate_password
from leadcenter.db import database
from leadcenter.flows.models import CallFlow
from leadcenter.interactions.models import Interaction
from leadcenter.teams.models import Team, TeamMember
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

COMPANY = "Acme Plumbing"
PEOPLE = (  # email, name, role
    ("admin@acme.example", "Ada Admin", "admin"),
    ("alice@acme.example", "Alice Agent", "agent"),
    ("bob@acme.example", "Bob Agent", "agent"),
)
NUMBERS = (("+14045550100", "Google Ads line", "Google Ads"), ("+14045550101", "Website line", "Website"))
CALLER_SCENARIO = Path(__file__).with_name("demo_caller.xml")
SITE = Path(__file__).with_name("demo_site")  # the demo company's website: its pages have a {snippet} slot


def company() -> Company | None:
    """The demo company, when this database has it."""
    return Company.get_or_none(Company.name == COMPANY)


def logins_path(settings: Settings) -> Path:
    return settings.data_dir / "demo-logins.txt"


def seed(settings: Settings, now: dt.datetime) -> Company | None:
    """Create the demo company when the database has no company; returns it, or None when there was data."""
    if Company.select().exists():
        return None
    logins = []
    with database.atomic():
        company = create_company(COMPANY, "US")
        users = {}
        for email, name, role in PEOPLE:
            password = generate_password(9)
            users[email] = create_user(email, name, password)
            logins.append((email, password, role))
            if role == "admin":
                add_member(users[email], company, "admin")
        # The first user is the installation owner (custom dialplans in the console), as the person running it.
        first = users[PEOPLE[0][0]]
        first.owner = True
        first.save()
        # The demo's agents take calls in the browser: sign in, and a call rings in the tab. Each also has a desk
        # phone account (`leadcenter agent sip N`); `leadcenter agent ring N desk` rings that instead.
        agents = [
            create_agent(company, users[email], devices=("webrtc", "desk"), ring_device="webrtc", now=now)
            for email, _, role in PEOPLE
            if role == "agent"
        ]
        team = Team.create(company=company, name="Sales", strategy="leastrecent", ring_seconds=30)
        for agent in agents:
            TeamMember.create(team=team, agent=agent)
        flow = CallFlow(company=company, name="Main line", record=True)
        flow.steps = [{"type": "queue", "team": team.id, "timeout": 120}, {"type": "voicemail"}]
        flow.save()
        trunk = Trunk.create(
            company=company, name="Demo carrier", host=settings.demo.trunk_host, port=settings.demo.trunk_port
        )
        for number, name, source in NUMBERS:
            TrackingNumber.create(company=company, number=number, name=name, source=source, trunk=trunk, flow=flow)
        widget = Chats.widget_of(company)  # website chat: Sales answers, on the demo website only
        ChatWidget.update(team=team, allowed_origins=site_origin(settings)).where(ChatWidget.id == widget.id).execute()
    path = logins_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{email} {password} {role}\n" for email, password, role in logins)
    return company


def logins(settings: Settings) -> list[tuple[str, ...]]:
    path = logins_path(settings)
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]


# -- the demo caller ---------------------------------------------------------------------------------------------


def caller_line(
    did: str,
    caller_number: str,
    caller_name: str | None = None,
    duration: float = 10,
    delay: float = 0,
    speak_at: float = 0,
    key: str = "",
    press_at: float = 0,
    press_every: float = 0,
) -> str:
    """One call of demo_caller.xml: a line of its -inf CSV (the fields are in the scenario's header); ``key``: a
    digit pressed ``press_at`` s after the INVITE, and again every ``press_every`` s if not 0."""
    name = caller_name.replace("\\", "\\\\").replace('"', '\\"') if caller_name else ""
    fields = [
        did,
        caller_number,
        f'"{name}" ' if name else "",
        str(int(duration * 1000)),
        str(int(delay * 1000)),
        str(int(speak_at * 1000)),
        key if key.isdigit() and len(key) == 1 else "-1",
        str(int(press_at * 1000)),
        str(int(press_every * 1000)),
    ]
    return ";".join(re.sub(r"[;\r\n]", ",", field) for field in fields)


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_call(
    settings: Settings, sipp: str, workdir: Path, did: str, caller_number: str, caller_name: str, seconds: int
) -> subprocess.Popen:
    """SIPp calling ``did`` from the demo carrier's address (the demo trunk), as a carrier would; it speaks 7 s
    once answered and hangs up after ``seconds`` unless the agent does first. Its events go to workdir/call.log."""
    host = settings.demo.trunk_host
    (workdir / "calls.csv").write_text(f"SEQUENTIAL\n{caller_line(did, caller_number, caller_name, seconds)}\n")
    sip = settings.asterisk
    asterisk = "127.0.0.1" if sip.sip_host in ("", "0.0.0.0") else sip.sip_host
    command = [
        sipp,
        f"{asterisk}:{sip.sip_port}",
        "-sf",
        str(CALLER_SCENARIO),
        "-inf",
        str(workdir / "calls.csv"),
        "-m",
        "1",
        "-l",
        "1",
        "-i",
        host,
        "-p",
        str(settings.demo.trunk_port),
        "-mi",
        host,
        "-mp",
        str(_free_udp_port(host)),
        "-cp",
        str(_free_udp_port(host)),
        "-nostdin",
        "-aa",
        "-trace_logs",
        "-log_file",
        str(workdir / "call.log"),
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        "-timeout",
        f"{seconds + 30}s",
    ]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir
    )


def recorded_call(caller_number: str, since: dt.datetime, timeout: float = 10.0) -> Interaction | None:
    """The interaction the controller recorded for a demo call from ``caller_number`` placed at ``since``, once it
    is in Recent (the controller concludes it a moment after the caller's BYE); None if none showed."""
    deadline = time.monotonic() + timeout
    while True:
        row = (
            Interaction.select()
            .where(
                Interaction.lead_number == caller_number, Interaction.kind == "call", Interaction.started_at >= since
            )
            .order_by(Interaction.id.desc())
            .first()
        )
        if (row is not None and row.status == "recent") or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


def call_events(workdir: Path) -> list[list[str]]:
    """The demo call's events so far, e.g. ["ANSWERED"], ["HANGUP", "remote"] (see demo_caller.xml)."""
    path = workdir / "call.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line.split("|")[:1] + line.split("|")[2:-1] for line in lines if line.count("|") >= 2]


# -- the demo website ------------------------------------------------------------------------------------------


def site_origin(settings: Settings) -> str:
    return f"http://{settings.demo.site_host}:{settings.demo.site_port}"


def serve_site(settings: Settings, company: Company) -> ThreadingHTTPServer | None:
    """Serve the demo company's website in a thread, its pages carrying the company's chat snippet; None when the
    setting turns it off. The caller shuts it down."""
    if not settings.demo.site_port:
        return None
    http = settings.http
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::", "") else http.host  # what the visitor's browser dials
    snippet = f'<script src="http://{host}:{http.port}/s/{Chats.widget_of(company).public_key}.js" async></script>'
    server = ThreadingHTTPServer(
        (settings.demo.site_host, settings.demo.site_port), functools.partial(_SitePage, snippet=snippet)
    )
    threading.Thread(target=server.serve_forever, name="demo-site", daemon=True).start()
    return server


SITE_PAGES = {"/": "index.html", **{f"/{name}": name for name in ("index.html", "services.html", "site.css")}}


class _SitePage(BaseHTTPRequestHandler):
    def __init__(self, *args, snippet: str, **kwargs):
        self.snippet = snippet
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        name = SITE_PAGES.get(self.path.split("?", 1)[0])
        if name is None:
            self.send_error(404)
            return
        body = (SITE / name).read_text().replace("{snippet}", self.snippet).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/css" if name.endswith(".css") else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        pass  # the demo website's page views are not the controller's log
