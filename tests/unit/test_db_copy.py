"""`leadcenter db copy`: an SQLite installation's data into an empty PostgreSQL database (the tests' real server,
tests/postgresql.py), every row of every table as it was, the ids going on after the greatest, and a database that
is not empty refused. Runs in both lanes: its source is always an SQLite file."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner
from support import T0

from leadcenter import db, dbcopy, migrations
from leadcenter.cli import main
from leadcenter.interactions.models import Interaction, Message
from leadcenter.leads.models import Lead
from leadcenter.reports import services as reports

_names = itertools.count()


@pytest.fixture
def database(tmp_path):
    """This module's source: an SQLite file at the current schema, whatever the lane's engine."""
    handle = db.open_sqlite(str(tmp_path / "leadcenter.sqlite3"))
    db.bind(handle)
    migrations.migrate()
    yield handle
    handle.close()


@pytest.fixture
def empty_postgresql(postgresql_cluster):
    return postgresql_cluster.create_database(f"copy_{next(_names)}")


def _rows(handle) -> dict[str, list[tuple]]:
    """Every table's rows, by id, as the models read them."""
    db.bind(handle)
    out = {}
    for model in dbcopy.tables_in_order():
        key = model._meta.primary_key
        out[model._meta.table_name] = list(model.select().order_by(key).tuples())
    return out


def _copy(source, url: str):
    return CliRunner(env={"LEADCENTER_ASTERISK_EXTERNAL": "true"}).invoke(
        main, ["db", "copy", "--from", str(source), "--to", url], catch_exceptions=False
    )


def test_every_row_arrives_as_it_was_and_new_rows_go_on_after_the_greatest_id(database, world, empty_postgresql):
    a = world["a"]
    first, second = a["leads"][0], a["leads"][1]
    first.merged_into = second  # a column naming a row of its own table, a later one
    first.save()
    call = a["interactions"][0]
    call.qualified, call.value_cents, call.notes = True, 1250, "ünïcode and 'quotes'"
    call.save()
    text = Interaction.create(
        company=a["company"], lead=second, kind="text", direction="inbound", started_at=T0, status_changed_at=T0
    )
    Message.create(interaction=text, direction="inbound", body="a long text " * 40, created_at=T0)
    reports.kpis(reports.scope_of_days(a["company"], T0.date(), T0.date(), "UTC"))  # the rollup built
    expected = _rows(database)
    assert expected["kpi_day"] and expected["lead"] and expected["message"]

    result = _copy(database.database, empty_postgresql)
    assert result.exit_code == 0, result.output
    assert "Copied:" in result.output and f"interaction {len(expected['interaction'])}" in result.output

    copied = db.open_postgresql(empty_postgresql)
    try:
        assert _rows(copied) == expected
        assert migrations.current_version() == migrations.LATEST
        greatest = max(row[0] for row in expected["lead"])
        assert Lead.create(company=a["company"].id, name="After the copy", updated_at=T0).id == greatest + 1
        # The triggers came with the schema: a change forgets the rolled-up day.
        built = len(_rows(copied)["kpi_day_built"])
        Interaction.update(notes="changed").where(Interaction.id == call.id).execute()
        assert len(_rows(copied)["kpi_day_built"]) < built
    finally:
        copied.close()


def test_a_database_that_is_not_empty_is_refused_and_left_as_it_was(database, world, empty_postgresql):
    assert _copy(database.database, empty_postgresql).exit_code == 0
    again = _copy(database.database, empty_postgresql)
    assert again.exit_code != 0 and "not empty" in again.output
    copied = db.open_postgresql(empty_postgresql)
    try:
        assert _rows(copied) == _rows(database)
    finally:
        copied.close()


def test_a_source_that_is_not_an_installation_is_refused(tmp_path, empty_postgresql):
    missing = _copy(tmp_path / "nothing.sqlite3", empty_postgresql)
    assert missing.exit_code != 0 and "no such SQLite database" in missing.output
    no_target = CliRunner(env={"LEADCENTER_DATABASE_URL": ""}).invoke(main, ["db", "copy"])
    assert no_target.exit_code != 0 and "--to" in no_target.output


def test_with_a_postgresql_url_the_commands_use_it_and_backup_takes_pg_dump(tmp_path, postgresql_cluster):
    url = postgresql_cluster.create_database(f"settings_{next(_names)}")
    env = {"LEADCENTER_PATHS_DATA_DIR": str(tmp_path / "var"), "LEADCENTER_DATABASE_URL": url}
    migrated = CliRunner(env=env).invoke(main, ["db", "migrate"])
    assert migrated.exit_code == 0 and f"schema version {migrations.LATEST}" in migrated.output
    assert not (tmp_path / "var" / "leadcenter.sqlite3").exists()  # the SQLite file is not made
    handle = db.open_postgresql(url)
    try:
        db.bind(handle)
        assert migrations.current_version() == migrations.LATEST
    finally:
        handle.close()
    made = CliRunner(env=env).invoke(main, ["backup"])
    assert made.exit_code == 0 and "Dumping the PostgreSQL database" in made.output, made.output


def test_a_nul_character_postgresql_cannot_store_arrives_as_the_replacement_character(
    database, world, empty_postgresql
):
    """SQLite stored it (from the SMS gateway, a chat frame, a caller's name); PostgreSQL's text cannot hold it: the
    row comes with U+FFFD in its place rather than the copy failing."""
    lead = world["a"]["leads"][1]
    Lead.update(name="before\x00after").where(Lead.id == lead.id).execute()
    result = _copy(database.database, empty_postgresql)
    assert result.exit_code == 0, result.output
    copied = db.open_postgresql(empty_postgresql)
    try:
        assert Lead.get_by_id(lead.id).name == "before\ufffdafter"
    finally:
        copied.close()
