"""Fixtures shared by the unit tests: an in-memory database, two companies of data, and the web app over a
stand-in controller (no Asterisk: the integration tests use the real one)."""
from __future__ import annotations

import pytest

from leadcenter import config, db, schema
from leadcenter.credentials import Secrets

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """scrypt at full cost takes ~0.1 s a hash; the fixtures create dozens of users."""
    from leadcenter.companies import services
    monkeypatch.setattr(services, "PASSWORD_METHOD", "scrypt:1024:8:1")


@pytest.fixture
def database():
    """A fresh in-memory database with the current schema, bound to the models."""
    memory = db.open_sqlite(":memory:")
    db.bind(memory)
    schema.migrate()
    yield memory
    memory.close()


class RecordingBus:
    """Collects what the web layer publishes."""

    def __init__(self):
        self.published = []

    def publish(self, name, **data):
        self.published.append((name, data))

    def subscribe(self, pattern, subscriber):
        pass

    def names(self):
        return [name for name, _ in self.published]


class StandInController:
    """What the web app needs of the controller, without Asterisk: settings, secrets, the bus, and a
    reconfigure() that counts how often Asterisk's config would have been re-rendered."""

    def __init__(self):
        self.settings = config.load(env={})
        self.secrets = Secrets(ami_secret="x", ari_secret="y", session_key="unit-test-session-key")
        self.bus = RecordingBus()
        self.reconfigured = 0

    def reconfigure(self):
        self.reconfigured += 1

    def health(self):
        return {"ok": True, "database": "ok", "asterisk": {"ami": "connected", "ari": "connected"}}


@pytest.fixture
def controller():
    return StandInController()


@pytest.fixture
def app(database, controller):
    from leadcenter.web.app import create_app
    return create_app(controller)


class ApiClient:
    """A browser-like client: signs in through the API and sends the CSRF token on unsafe requests."""

    def __init__(self, flask_client):
        self.http = flask_client
        self.csrf = None
        self.bearer = None

    def sign_in(self, email: str, password: str = PASSWORD, company_id: int | None = None):
        self.csrf = self.http.get("/api/v1/session").get_json()["csrf_token"]
        body = {"email": email, "password": password}
        if company_id is not None:
            body["company_id"] = company_id
        status, data = self.post("/api/v1/session", body)
        assert status == 200, data
        self.csrf = data["csrf_token"]
        return data

    def request(self, method: str, path: str, body=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        if self.bearer:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        response = self.http.open(path, method=method, json=body, headers=headers, **kwargs)
        return response.status_code, response.get_json(silent=True)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def client(app):
    return ApiClient(app.test_client())


@pytest.fixture
def make_client(app):
    return lambda: ApiClient(app.test_client())


@pytest.fixture
def world(database):
    """Two companies, A and B, each with an admin, a supervisor, two agents, a team, a flow, a trunk, a tracking
    number, leads and interactions; plus a user who belongs to both. Emails: admin@a.example, agent1@b.example..."""
    from leadcenter.agents.services import create_agent
    from leadcenter.companies.services import add_member, create_company, create_user
    from leadcenter.flows.models import CallFlow
    from leadcenter.interactions.models import Interaction
    from leadcenter.leads.services import find_or_create_by_number
    from leadcenter.numbers.models import TrackingNumber, Trunk
    from leadcenter.teams.models import Team, TeamMember

    out = {}
    for key, region, prefix in (("a", "US", "+1404555"), ("b", "GB", "+4420794")):
        company = create_company(f"Company {key.upper()}", region)
        users = {}
        for role in ("admin", "supervisor"):
            users[role] = create_user(f"{role}@{key}.example", f"{role.title()} {key.upper()}", PASSWORD)
            add_member(users[role], company, role)
        agents = []
        for n in (1, 2):
            user = create_user(f"agent{n}@{key}.example", f"Agent{n} {key.upper()}", PASSWORD)
            agents.append(create_agent(company, user, devices=("webrtc", "desk")))
        team = Team.create(company=company, name=f"Team {key.upper()}")
        for agent in agents:
            TeamMember.create(team=team, agent=agent)
        flow = CallFlow(company=company, name=f"Flow {key.upper()}")
        flow.steps = [{"type": "queue", "team": team.id, "timeout": 60}]
        flow.save()
        trunk = Trunk.create(company=company, name=f"Trunk {key.upper()}", host="127.0.0.1",
                             port=5070 if key == "a" else 5071)
        number = TrackingNumber.create(company=company, number=f"{prefix}0100", name=f"Line {key.upper()}",
                                       trunk=trunk, flow=flow, source="Google Ads")
        leads = [find_or_create_by_number(company, f"{prefix}{1000 + i}", f"Lead{i} {key.upper()}")
                 for i in range(3)]
        interactions = [Interaction.create(company=company, lead=lead, kind="call", direction="inbound",
                                           tracking_number=number, lead_number=f"{prefix}{1000 + i}")
                        for i, lead in enumerate(leads)]
        out[key] = dict(company=company, users=users, agents=agents, team=team, flow=flow, trunk=trunk,
                        number=number, leads=leads, interactions=interactions)
    both = create_user("both@example.com", "Both Companies", PASSWORD)
    add_member(both, out["a"]["company"], "agent")
    add_member(both, out["b"]["company"], "supervisor")
    out["both"] = both
    return out
