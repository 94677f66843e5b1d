"""The whole system on PostgreSQL, whatever engine the suite's own installation runs on: a second installation
(SECOND_PORTS, its own Asterisk) whose [database] url is a throw-away PostgreSQL server of this module
(tests/postgresql.py, on a unix socket only). SIPp calls answered on the agents' SIPp desk phones are recorded there,
with the agents' legs and the calls in the KPIs, so the core path cannot become SQLite-only.

The rest of the integration suite runs on PostgreSQL with LEADCENTER_TEST_DATABASE=postgresql (tests/README.md)."""

from __future__ import annotations

import contextlib
import datetime as dt

import postgresql
import pytest
from backup_scenario import backup_during_a_call_restores_the_same
from harness import ADS_LINE, SECOND_PORTS, THIRD_PORTS, System, add_ice_interface, run_installation, wait_for
from sipp import Call, Peers, SippCaller

from leadcenter import db
from leadcenter.interactions.models import CallLeg

ALICE, BOB = 1, 2  # the demo agents, ringing on their desk phones


@pytest.fixture(scope="module")
def cluster():
    """This module's PostgreSQL server."""
    if not postgresql.available():
        pytest.skip(f"PostgreSQL is not installed ({postgresql.BIN}): make setup installs it")
    with postgresql.Cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def on_postgresql(tmp_path_factory, cluster):
    """The installation on PostgreSQL, running; the test process reads its database (the suite's binding, if
    any, is put back at the end)."""
    with contextlib.ExitStack() as stack:
        system = System(
            tmp_path_factory.mktemp("on-postgresql"), ports=SECOND_PORTS, database_url=cluster.create_database("lc")
        )
        add_ice_interface()  # an interface besides lo, as the suite's installation has: Asterisk's CLI output is clean
        system.cli("demo")
        for agent in (str(ALICE), str(BOB)):
            system.cli("agent", "ring", agent, "desk")
        run_installation(system, stack)
        system.all_available()
        yield system


def test_calls_at_once_answered_on_desk_phones_are_recorded_in_postgresql_with_legs_and_kpis(on_postgresql, tmp_path):
    """Two calls answered at once, by Alice's and Bob's desk phones, and a third that waits in the queue until its
    caller hangs up: the controller's threads write them together, each transaction taking its turn."""
    system = on_postgresql
    assert db.is_postgresql()
    numbers = ("4045559801", "4045559802", "4045559803")
    calls = [
        Call(ADS_LINE, numbers[0], caller_name="Pat Engine", duration=9),
        Call(ADS_LINE, numbers[1], delay=0.5, duration=9),
        # Past the short-abandon limit (5 s), both agents still talking: an abandoned queue call (Asterisk answers it).
        Call(ADS_LINE, numbers[2], delay=1.5, duration=6, expect_answer=None),
    ]
    peers = Peers(system, tmp_path)
    try:
        with peers.phone(ALICE), peers.phone(BOB):
            handle = SippCaller(tmp_path / "callers").start_calls(
                calls, asterisk_port=system.sip_port, local_port=system.trunk_port
            )
            peers.handles.append(handle)
            for result in handle.wait_all(40):
                result.check()
    finally:
        peers.close()

    def concluded():
        rows = [system.interaction(lead_number=f"+1{number}") for number in numbers]
        return all(row and row.status == "recent" for row in rows) and rows

    first, second, abandoned = wait_for(concluded, 15, what="the three calls to conclude")
    for call in (first, second):
        assert (call.kind, call.direction, call.outcome) == ("call", "inbound", "answered")
        assert call.tracking_number.number == ADS_LINE and call.team.name == call.queue_team.name == "Sales"
        assert call.started_at <= call.answered_at < call.ended_at
        assert 5 <= call.talk_seconds <= 10
        assert (system.settings.data_dir / call.recording).exists()
        # The answering agent's leg, closed when the call ended.
        [leg] = CallLeg.select().where(CallLeg.interaction == call.id)
        assert leg.agent_id == call.agent_id and leg.joined_at == call.answered_at
        assert leg.left_at is not None and abs(leg.talk_seconds - call.talk_seconds) <= 1
    assert first.lead.name == "Pat Engine"
    assert {first.agent_id, second.agent_id} == {ALICE, BOB}
    assert (abandoned.answered_at, abandoned.agent_id, abandoned.queue_team.name) == (None, None, "Sales")
    assert not CallLeg.select().where(CallLeg.interaction == abandoned.id).exists()
    # The supervisor's KPIs count them (on PostgreSQL's SQL: local days, epoch seconds).
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        today = dt.date.fromisoformat(admin.get("/api/v1/kpis").json()["period"]["until"])
        since = str(today - dt.timedelta(days=1))
        kpis = admin.get("/api/v1/kpis", params={"since": since, "until": str(today)})
        assert kpis.status_code == 200, kpis.text
        agents = admin.get("/api/v1/reports/agents", params={"since": since, "until": str(today)})
        assert agents.status_code == 200, agents.text
    queue, handling = kpis.json()["queue"], kpis.json()["handling"]
    assert (queue["offered"], queue["answered"], queue["abandoned"], queue["short_abandons"]) == (3, 2, 1, 0)
    assert handling["handled"] == 2
    assert abs(handling["average_talk_seconds"] - (first.talk_seconds + second.talk_seconds) / 2) <= 1
    handled_by = {row["agent_id"]: row["handled"] for row in agents.json()["rows"]}
    assert (handled_by[ALICE], handled_by[BOB]) == (1, 1)
    # Nothing went to an SQLite file beside it.
    assert not system.settings.database_path.exists()


def test_a_backup_taken_during_a_call_restores_into_an_empty_database_and_answers_the_same(
    on_postgresql, cluster, tmp_path
):
    """pg_dump of one snapshot while a call is on, restored into a new empty database and an empty data directory,
    run beside the original (THIRD_PORTS): the same leads, interactions and recording bytes."""
    restored = {
        **THIRD_PORTS,
        "LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "restored"),
        "LEADCENTER_DATABASE_URL": cluster.create_database("restored"),
    }
    on_postgresql.all_available()  # the calls before left Alice and Bob in wrap-up
    peers = Peers(on_postgresql, tmp_path)
    try:
        output = backup_during_a_call_restores_the_same(
            on_postgresql, peers, tmp_path, ("4045558701", "4045558702"), restored
        )
    finally:
        peers.close()
    assert "Dumping the PostgreSQL database" in output
    assert not (tmp_path / "restored" / "leadcenter.sqlite3").exists()
