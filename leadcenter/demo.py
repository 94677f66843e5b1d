"""The demo company `make run` starts with: an admin, two agents, a team, two tracking numbers, a flow into the queue.

Passwords are generated when the demo is seeded (never fixed, never committed) and kept in
<data_dir>/demo-logins.txt (mode 0600) so they can be shown again.
"""
from __future__ import annotations

import os
from pathlib import Path

from leadcenter.agents.services import create_agent
from leadcenter.companies.models import Company
from leadcenter.companies.services import add_member, create_company, create_user
from leadcenter.config import Settings
from leadcenter.credentials import generate_password
from leadcenter.db import database
from leadcenter.flows.models import CallFlow
from leadcenter.numbers.models import TrackingNumber, Trunk
from leadcenter.teams.models import Team, TeamMember

COMPANY = "Acme Plumbing"
PEOPLE = (  # email, name, role
    ("admin@acme.example", "Ada Admin", "admin"),
    ("alice@acme.example", "Alice Agent", "agent"),
    ("bob@acme.example", "Bob Agent", "agent"),
)
NUMBERS = (("+14045550100", "Google Ads line", "Google Ads"), ("+14045550101", "Website line", "Website"))


def logins_path(settings: Settings) -> Path:
    return settings.data_dir / "demo-logins.txt"


def seed(settings: Settings) -> Company | None:
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
        agents = [create_agent(company, users[email], devices=("webrtc", "desk"), ring_device="desk")
                  for email, _, role in PEOPLE if role == "agent"]
        team = Team.create(company=company, name="Sales", strategy="leastrecent", ring_seconds=30)
        for agent in agents:
            TeamMember.create(team=team, agent=agent)
        flow = CallFlow(company=company, name="Main line", record=True)
        flow.steps = [{"type": "queue", "team": team.id, "timeout": 120}, {"type": "voicemail"}]
        flow.save()
        trunk = Trunk.create(company=company, name="Demo carrier", host=settings.demo.trunk_host,
                             port=settings.demo.trunk_port)
        for number, name, source in NUMBERS:
            TrackingNumber.create(company=company, number=number, name=name, source=source, trunk=trunk, flow=flow)
    path = logins_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{email} {password} {role}\n" for email, password, role in logins)
    return company


def logins(settings: Settings) -> list[tuple[str, str, str]]:
    path = logins_path(settings)
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]
