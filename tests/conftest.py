"""Fixtures shared by the unit tests: an in-memory database, two companies of data, and the web app over a
stand-in controller (no Asterisk: the integration tests use the real one).

With ``LEADCENTER_TEST_DATABASE=postgresql`` (make unit-postgresql) the tests' database is PostgreSQL instead: a
throw-away server the session starts (tests/postgresql.py), one database emptied before each test, so that every
test that touches the database runs on both engines."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time

import postgresql
import pytest
from mailserver import MailServer
from support import CALL, PASSWORD, T0, ApiClient, Serving, StandInController, signed_in

from leadcenter import db, migrations

ENGINE = postgresql.engine()

if "faketime" in os.environ.get("LD_PRELOAD", ""):
    # Under libfaketime (the unit tests with the wall clock shifted, see tests/README.md) CPython's time.sleep fails
    # with EINVAL, and the standard library sleeps too (subprocess's timed waits); a timed wait on an Event works.
    time.sleep = lambda seconds: threading.Event().wait(seconds)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """scrypt at full cost takes ~0.1 s a hash; the fixtures create dozens of users."""
    from leadcenter.accounts import services

    monkeypatch.setattr(services, "PASSWORD_METHOD", "scrypt:1024:8:1")


@functools.cache
def schema_template():
    """An in-memory database at the current schema, made once a process: each test's database is a copy of it
    (SQLite's backup, ~1 ms) instead of creating every table again (~60 ms, a minute of each unit test run)."""
    template = db.open_sqlite(":memory:")
    db.bind(template)
    migrations.migrate()
    return template


@pytest.fixture(scope="session")
def postgresql_cluster():
    """The session's PostgreSQL server (one per xdist worker)."""
    if not postgresql.available():
        pytest.skip(f"PostgreSQL is not installed ({postgresql.BIN}): make setup installs it")
    with postgresql.Cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgresql_schema(postgresql_cluster):
    """The URL of the session's database at the current schema, and the statement that empties it."""
    url = postgresql_cluster.create_database("leadcenter")
    handle = db.open_postgresql(url)
    db.bind(handle)
    migrations.migrate()
    tables = [t for t in handle.get_tables() if t != migrations.SchemaVersion._meta.table_name]
    handle.close()
    # One round trip, ~10 ms (TRUNCATE of every table takes ~120): rows deleted with the foreign keys' and the
    # triggers' checks off (the server's superuser), every id sequence back to 1.
    empty = f"""DO $$ DECLARE t text; BEGIN
        SET LOCAL session_replication_role = replica;
        FOREACH t IN ARRAY ARRAY[{", ".join(f"'{t}'" for t in tables)}]
            LOOP EXECUTE 'DELETE FROM ' || quote_ident(t); END LOOP;
        PERFORM setval(c.oid::regclass, 1, false) FROM pg_class c WHERE c.relkind = 'S';
    END $$"""
    return url, empty


def _emptied_postgresql(request):
    """The session's PostgreSQL database, emptied (the connections a previous test left are ended first)."""
    url, empty = request.getfixturevalue("postgresql_schema")
    handle = db.open_postgresql(url)
    handle.execute_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    handle.execute_sql(empty)
    db.bind(handle)
    return handle


@pytest.fixture
def database(request):
    """A fresh in-memory database with the current schema, bound to the models (or the emptied PostgreSQL one)."""
    if ENGINE == "postgresql":
        handle = _emptied_postgresql(request)
        yield handle
        handle.close()
        return
    template = schema_template()
    memory = db.open_sqlite(":memory:")
    template.connection().backup(memory.connection())
    db.bind(memory)
    yield memory
    memory.close()


@pytest.fixture
def postgresql_database(request):
    """The session's PostgreSQL database, emptied and bound, whatever the lane's engine (tests of several nodes)."""
    handle = _emptied_postgresql(request)
    yield handle
    handle.close()


@pytest.fixture
def file_database(tmp_path, request):
    """A file database, for tests of the web server: its threads each open their own connection, which ":memory:"
    would make empty. A module takes it with ``database = file_database``. (PostgreSQL's is one already.)"""
    if ENGINE == "postgresql":
        handle = _emptied_postgresql(request)
        yield handle
        handle.close()
        return
    handle = db.open_sqlite(str(tmp_path / "served.sqlite3"))
    db.bind(handle)
    migrations.migrate()
    yield handle
    handle.close()


@pytest.fixture
def controller(tmp_path):
    return StandInController(tmp_path / "asterisk")


@pytest.fixture
def app(database, controller):
    return controller.app()


@pytest.fixture
def server(app, controller):
    """The production web server over the app, on loopback ports the kernel picks: its HTTP address."""
    with Serving(controller.settings, app) as serving:
        yield serving.http


@pytest.fixture
def sockets():
    """Websockets a test keeps open; closed at its end."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def client(app):
    return ApiClient(app.test_client())


@pytest.fixture
def make_client(app):
    return lambda: ApiClient(app.test_client())


@pytest.fixture
def admin(make_client, world):
    """Company A's admin, signed in."""
    return signed_in(make_client, "admin@a.example")


@pytest.fixture
def supervisor(make_client, world):
    return signed_in(make_client, "supervisor@a.example")


@pytest.fixture
def agent(make_client, world):
    """Company A's first agent, signed in."""
    return signed_in(make_client, "agent1@a.example")


@pytest.fixture
def cookie_of(app):
    """The session cookie header of a user signed in over the plain HTTP listener."""

    def sign_in(email: str) -> str:
        client = ApiClient(app.test_client())
        client.sign_in(email)
        return f"session={client.http.get_cookie('session').value}"

    return sign_in


@pytest.fixture
def world(database):
    """Two companies, A and B, each with an admin, a supervisor, two agents, a team, a flow, a trunk, a tracking
    number, leads and interactions; plus a user who belongs to both. Emails: admin@a.example, agent1@b.example..."""
    from leadcenter.accounts.services import add_member, create_company, create_user
    from leadcenter.agents.services import create_agent
    from leadcenter.flows.models import CallFlow
    from leadcenter.interactions.models import Interaction
    from leadcenter.leads.services import find_or_create_by_number
    from leadcenter.teams.models import Team, TeamMember
    from leadcenter.tracking_numbers.models import TrackingNumber
    from leadcenter.trunks.models import Trunk

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
            agents.append(create_agent(company, user, devices=("webrtc", "desk"), now=T0))
        team = Team.create(company=company, name=f"Team {key.upper()}")
        for agent in agents:
            TeamMember.create(team=team, agent=agent)
        flow = CallFlow(company=company, name=f"Flow {key.upper()}")
        flow.steps = [{"type": "queue", "team": team.id, "timeout": 60}]
        flow.save()
        trunk = Trunk.create(
            company=company, name=f"Trunk {key.upper()}", host="127.0.0.1", port=5070 if key == "a" else 5071
        )
        number = TrackingNumber.create(
            company=company,
            number=f"{prefix}0100",
            name=f"Line {key.upper()}",
            trunk=trunk,
            flow=flow,
            source="Google Ads",
        )
        leads = [
            find_or_create_by_number(company, f"{prefix}{1000 + i}", T0, f"Lead{i} {key.upper()}") for i in range(3)
        ]
        interactions = [
            Interaction.create(
                company=company,
                lead=lead,
                kind="call",
                direction="inbound",
                tracking_number=number,
                lead_number=f"{prefix}{1000 + i}",
                started_at=T0,
                status_changed_at=T0,
            )
            for i, lead in enumerate(leads)
        ]
        out[key] = dict(
            company=company,
            users=users,
            agents=agents,
            team=team,
            flow=flow,
            trunk=trunk,
            number=number,
            leads=leads,
            interactions=interactions,
        )
    both = create_user("both@example.com", "Both Companies", PASSWORD)
    add_member(both, out["a"]["company"], "agent")
    add_member(both, out["b"]["company"], "supervisor")
    out["both"] = both
    return out


@pytest.fixture
def smtp():
    """The suite's SMTP server (tests/mailserver.py), on a free loopback port."""
    with MailServer() as server:
        yield server


@pytest.fixture
def call(world):
    """Company A's first call, answered by its first agent and going on (its channel: support.CALL)."""
    interaction = world["a"]["interactions"][0]
    interaction.status, interaction.answered_at = "active", T0
    interaction.agent, interaction.channel_id = world["a"]["agents"][0], CALL
    interaction.save()
    return interaction
