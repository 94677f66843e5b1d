"""The whole system on PostgreSQL, whatever engine the suite's own installation runs on: a second installation
(SECOND_PORTS, its own Asterisk) whose [database] url is a throw-away PostgreSQL server of this module
(tests/postgresql.py, on a unix socket only). A SIPp call answered on an agent's SIPp desk phone is recorded there,
with the agent's leg and the call in the KPIs, so the core path cannot become SQLite-only.

The rest of the integration suite runs on PostgreSQL with LEADCENTER_TEST_DATABASE=postgresql (tests/README.md)."""

from __future__ import annotations

import contextlib
import datetime as dt

import postgresql
import pytest
from harness import ADS_LINE, SECOND_PORTS, System, add_ice_interface, wait_for
from sipp import Peers

from leadcenter import db
from leadcenter.interactions.models import CallLeg, Interaction

ALICE, BOB = 1, 2  # the demo agents, ringing on their desk phones


@pytest.fixture(scope="module")
def on_postgresql(tmp_path_factory):
    """The installation on PostgreSQL, running; the test process reads its database (the suite's binding, if
    any, is put back at the end)."""
    if not postgresql.available():
        pytest.skip(f"PostgreSQL is not installed ({postgresql.BIN}): make setup installs it")
    previous = db.database.obj
    with postgresql.Cluster() as cluster, contextlib.ExitStack() as stack:
        system = System(
            tmp_path_factory.mktemp("on-postgresql"), ports=SECOND_PORTS, database_url=cluster.create_database("lc")
        )
        add_ice_interface()  # an interface besides lo, as the suite's installation has: Asterisk's CLI output is clean
        system.cli("demo")
        for agent in (str(ALICE), str(BOB)):
            system.cli("agent", "ring", agent, "desk")
        handle = system.open_database()
        stack.callback(handle.close)
        db.bind(handle)
        stack.callback(lambda: previous is not None and db.bind(previous))
        system.start_asterisk()
        stack.callback(system.stop_asterisk)
        system.start_controller()
        stack.callback(system.stop_controller)
        system.all_available()
        yield system


def test_a_call_answered_on_a_desk_phone_is_recorded_in_postgresql_with_its_leg_and_kpis(on_postgresql, tmp_path):
    system = on_postgresql
    assert db.is_postgresql()
    peers = Peers(system, tmp_path)
    try:
        with peers.phone(ALICE), peers.phone(BOB):
            handle = peers.call("4045559801", duration=4, caller_name="Pat Engine")
            live = system.wait_interaction(lead_number="+14045559801", status="active", timeout=15)
            result = handle.wait(30)
            result.check()
            assert result.answered
    finally:
        peers.close()

    call = wait_for(
        lambda: (i := Interaction.get_by_id(live.id)).status == "recent" and i, 15, what="the call to conclude"
    )
    assert (call.kind, call.direction, call.outcome) == ("call", "inbound", "answered")
    assert call.tracking_number.number == ADS_LINE and call.lead.name == "Pat Engine"
    assert call.agent_id in (ALICE, BOB) and call.team.name == "Sales"
    assert call.started_at <= call.answered_at < call.ended_at
    assert 2 <= call.talk_seconds <= 6
    assert (system.settings.data_dir / call.recording).exists()
    # The answering agent's leg, closed when the call ended.
    [leg] = CallLeg.select().where(CallLeg.interaction == call.id)
    assert leg.agent_id == call.agent_id and leg.joined_at == call.answered_at
    assert leg.left_at is not None and abs(leg.talk_seconds - call.talk_seconds) <= 1
    # The supervisor's KPIs count it (on PostgreSQL's SQL: local days, epoch seconds).
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        today = dt.date.fromisoformat(admin.get("/api/v1/kpis").json()["period"]["until"])
        kpis = admin.get("/api/v1/kpis", params={"since": str(today - dt.timedelta(days=1)), "until": str(today)})
        assert kpis.status_code == 200, kpis.text
        hers = admin.get("/api/v1/reports/agents", params={"since": str(today - dt.timedelta(days=1))})
        assert hers.status_code == 200, hers.text
    queue, handling = kpis.json()["queue"], kpis.json()["handling"]
    assert (queue["offered"], queue["answered"], handling["handled"]) == (1, 1, 1)
    assert abs(handling["average_talk_seconds"] - call.talk_seconds) <= 1
    answered_by = next(row for row in hers.json()["rows"] if row["agent_id"] == call.agent_id)
    assert answered_by["handled"] == 1
    # Nothing went to an SQLite file beside it.
    assert not system.settings.database_path.exists()
