"""`leadcenter backup` while calls go on, then `leadcenter restore` into an empty data directory and `leadcenter run`
on it: the restored installation's API answers with the same leads, interactions and recordings. On the suite's
engine: SQLite, or with LEADCENTER_TEST_DATABASE=postgresql a restore into a new empty database on the worker's
PostgreSQL server (test_postgresql.py does that whatever the engine)."""

from __future__ import annotations

from backup_scenario import backup_during_a_call_restores_the_same
from harness import SECOND_PORTS


def test_a_backup_taken_during_a_call_restores_into_an_installation_that_answers_the_same(
    running, peers, tmp_path, request
):
    restored = {**SECOND_PORTS, "LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "restored")}
    if running.settings.database.url:
        restored["LEADCENTER_DATABASE_URL"] = request.getfixturevalue("postgresql_cluster").create_database("restored")
    output = backup_during_a_call_restores_the_same(running, peers, tmp_path, ("4045557301", "4045557302"), restored)
    assert ("Dumping the PostgreSQL database" in output) == bool(running.settings.database.url)
