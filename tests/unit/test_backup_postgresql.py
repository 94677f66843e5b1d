"""Backups of an installation on PostgreSQL (leadcenter/backup.py, leadcenter/pgdump.py), on the tests' real server
(tests/postgresql.py) in both lanes: pg_dump of one snapshot while threads write, with the rows counted in that
snapshot; pg_restore into an empty database in one transaction, checked against the manifest; a database that is
not empty, a manifest that does not match, a backup of the other engine, a missing pg_dump and a refusing server
refused with a clear message; the URL's password on no command line and in no manifest."""

from __future__ import annotations

import itertools
import json
import subprocess
import tarfile

import pytest
from click.testing import CliRunner
from support import T0
from test_backup import KEPT, _lead_call, _rewritten, with_kept_files, writing_meanwhile

from leadcenter import backup, db, migrations, pgdump
from leadcenter.cli import main
from leadcenter.leads.models import Lead

_names = itertools.count()


@pytest.fixture
def database(postgresql_cluster):
    """This module's installation: a new PostgreSQL database at the current schema, whatever the lane's engine."""
    handle = db.open_postgresql(postgresql_cluster.create_database(f"backup_{next(_names)}"))
    db.bind(handle)
    migrations.migrate()
    yield handle
    handle.close()


@pytest.fixture
def url(database):
    return database.database


@pytest.fixture
def empty_database(postgresql_cluster):
    return postgresql_cluster.create_database(f"restored_{next(_names)}")


@pytest.fixture
def data_dir(tmp_path, world):
    """Company A's installation's files (its rows are the world's, in this module's database)."""
    return with_kept_files(tmp_path / "data")


def _read(url: str, sql: str) -> list[tuple]:
    handle = db.open_postgresql(url)
    try:
        return list(handle.execute_sql(sql).fetchall())
    finally:
        handle.close()


def _tables(url: str) -> list[tuple]:
    return _read(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")


def test_a_backup_taken_while_threads_write_restores_the_snapshot_it_counted(
    url, data_dir, world, tmp_path, empty_database
):
    for n in range(20):
        _lead_call(world, n)
    before = _read(url, "SELECT count(*) FROM lead")[0][0]
    said: list[str] = []
    with writing_meanwhile(world, timeout=30):
        made = backup.create(data_dir, tmp_path / "backups", T0, say=said.append, database_url=url)
    assert made.stat().st_mode & 0o777 == 0o600
    assert any("Dumping the PostgreSQL database" in line for line in said)
    with tarfile.open(made, "r:gz") as archive:
        names = archive.getnames()
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert backup.POSTGRESQL_DUMP in names and backup.DATABASE not in names
    database = manifest["database"]
    assert (database["engine"], database["file"], manifest["schema_version"]) == (
        "postgresql", backup.POSTGRESQL_DUMP, migrations.LATEST,
    )  # fmt: skip
    assert database["server_version"].startswith("15") and "pg_dump" in database["dumped_by"]

    restored_dir = tmp_path / "restored"
    said.clear()
    result = backup.restore(made, restored_dir, migrations.LATEST, say=said.append, database_url=empty_database)
    assert any("one transaction" in line for line in said) and said[-1].startswith("Restored")
    # The manifest's counts are the dump's (the restore checked every table): one moment, each lead with its call.
    leads = _read(empty_database, "SELECT count(*) FROM lead")[0][0]
    calls = _read(empty_database, "SELECT count(*) FROM interaction WHERE kind = 'call'")[0][0]
    assert leads == database["rows"]["lead"] == calls >= before
    originals = _read(url, "SELECT id, name FROM lead ORDER BY id")[:leads]
    assert _read(empty_database, "SELECT id, name FROM lead ORDER BY id") == originals
    for relative, data in KEPT.items():
        assert (restored_dir / relative).read_bytes() == data, relative
    assert not (restored_dir / backup.POSTGRESQL_DUMP).exists() and not (restored_dir / backup.DATABASE).exists()
    assert result.files == len(KEPT)
    assert [p for p in restored_dir.rglob("*") if p.stat().st_mode & 0o077] == []
    # The restored database is an installation's: at the schema, its ids going on after the greatest (after any the
    # writer took meanwhile: a sequence is dumped as it is when read, past the snapshot).
    restored = db.open_postgresql(empty_database)
    try:
        db.bind(restored)
        assert migrations.current_version() == migrations.LATEST
        greatest = originals[-1][0]
        assert Lead.create(company=world["a"]["company"].id, name="After", updated_at=T0).id > greatest
    finally:
        restored.close()


def test_a_database_that_is_not_empty_is_refused_and_nothing_is_written(url, data_dir, tmp_path, empty_database):
    made = backup.create(data_dir, tmp_path / "backups", T0, database_url=url)
    _read(empty_database, "CREATE TABLE mine (id int); SELECT 1")
    with pytest.raises(backup.BackupError, match=r"is not empty .*e\.g\. public\.mine.*nothing was written"):
        backup.restore(made, tmp_path / "restored", migrations.LATEST, database_url=empty_database)
    assert _tables(empty_database) == [("mine",)]
    assert not (tmp_path / "restored").exists()
    # The installation's own database, as a restore's target, is refused too.
    with pytest.raises(backup.BackupError, match="is not empty"):
        backup.restore(made, tmp_path / "restored", migrations.LATEST, database_url=url)


@pytest.mark.parametrize(
    "change, message",
    [
        # The manifest counts a lead the dump does not hold: pg_restore's transaction is rolled back.
        (
            lambda manifest: manifest["database"]["rows"].update(lead=manifest["database"]["rows"]["lead"] + 1),
            "table lead: 6 rows restored, the manifest counted 7",
        ),
        # A table the dump holds is missing from the manifest.
        (lambda manifest: manifest["database"]["rows"].pop("tag"), "tables are not the manifest's"),
        # A table name made to break out of the check's SQL is only a name that is not there.
        (
            lambda manifest: manifest["database"]["rows"].update({"x'; DROP TABLE lead; --": 0}),
            "tables are not the manifest's",
        ),
    ],
)
def test_a_manifest_that_does_not_match_the_dump_is_refused_and_rolled_back(
    url, data_dir, tmp_path, empty_database, change, message
):
    made = backup.create(data_dir, tmp_path / "backups", T0, database_url=url)

    def altered(name: str, data: bytes):
        if name != "manifest.json":
            return [(name, data)]
        manifest = json.loads(data)
        change(manifest)
        return [(name, json.dumps(manifest).encode())]

    bad = _rewritten(made, tmp_path / "bad.tar.gz", altered)
    with pytest.raises(backup.BackupError, match=f"rolled back, nothing was written: .*{message}"):
        backup.restore(bad, tmp_path / "restored", migrations.LATEST, database_url=empty_database)
    assert _tables(empty_database) == []
    assert not (tmp_path / "restored").exists() or not any((tmp_path / "restored").iterdir())


def test_a_dump_altered_after_the_backup_is_refused_before_the_database_is_touched(
    url, data_dir, tmp_path, empty_database
):
    made = backup.create(data_dir, tmp_path / "backups", T0, database_url=url)
    bad = _rewritten(
        made, tmp_path / "bad.tar.gz", lambda name, data: [(name, data + b"!" if name.endswith(".pgdump") else data)]
    )
    with pytest.raises(backup.BackupError, match=r"leadcenter\.pgdump does not match its checksum"):
        backup.restore(bad, tmp_path / "restored", migrations.LATEST, database_url=empty_database)
    assert _tables(empty_database) == []


def test_a_backup_of_the_other_engine_is_refused_with_the_way_to_restore_it(url, data_dir, tmp_path, empty_database):
    postgresql_backup = backup.create(data_dir, tmp_path / "pg", T0, database_url=url)
    with pytest.raises(backup.BackupError, match=r"holds a PostgreSQL database: set \[database\] url"):
        backup.restore(postgresql_backup, tmp_path / "restored", migrations.LATEST)
    sqlite_dir = tmp_path / "sqlite-data"
    sqlite_dir.mkdir()
    sqlite = db.open_sqlite(str(sqlite_dir / backup.DATABASE))
    try:
        db.bind(sqlite)
        migrations.migrate()
    finally:
        sqlite.close()
    sqlite_backup = backup.create(sqlite_dir, tmp_path / "sqlite", T0)
    with pytest.raises(backup.BackupError, match=r"holds an SQLite database .* `leadcenter db copy`"):
        backup.restore(sqlite_backup, tmp_path / "restored", migrations.LATEST, database_url=empty_database)
    assert _tables(empty_database) == [] and not (tmp_path / "restored").exists()


def test_the_password_goes_to_the_client_programs_in_their_environment_never_on_their_command_line(
    url, data_dir, tmp_path, empty_database, monkeypatch
):
    """The tests' server trusts its unix socket, so the password is not checked: what is checked is where it goes."""
    password = "s3cret-Pa55"
    with_password = url.replace("?", f"?password={password}&", 1)
    target_with_password = empty_database.replace("?", f"?password={password}&", 1)
    started: list[tuple[list[str], dict]] = []
    real_run, real_popen = subprocess.run, subprocess.Popen

    def run(command, **kwargs):
        started.append((list(command), kwargs.get("env") or {}))
        return real_run(command, **kwargs)

    def popen(command, **kwargs):
        started.append((list(command), kwargs.get("env") or {}))
        return real_popen(command, **kwargs)

    monkeypatch.setattr(pgdump.subprocess, "run", run)
    monkeypatch.setattr(pgdump.subprocess, "Popen", popen)
    made = backup.create(data_dir, tmp_path / "backups", T0, database_url=with_password)
    backup.restore(made, tmp_path / "restored", migrations.LATEST, database_url=target_with_password)
    programs = {command[0].rsplit("/", 1)[-1]: env for command, env in started if "--version" not in command}
    assert set(programs) == {"pg_dump", "pg_restore", "psql"}
    assert all(password not in " ".join(command) for command, _ in started)
    assert programs["pg_dump"]["PGPASSWORD"] == programs["psql"]["PGPASSWORD"] == password
    with tarfile.open(made, "r:gz") as archive:
        assert password.encode() not in archive.extractfile("manifest.json").read()  # type: ignore[union-attr]
    assert _read(empty_database, "SELECT count(*) FROM lead") == _read(url, "SELECT count(*) FROM lead")


def test_the_commands_back_up_and_restore_postgresql_and_say_why_they_cannot(
    url, data_dir, tmp_path, empty_database, monkeypatch
):
    monkeypatch.setenv("LEADCENTER_PATHS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LEADCENTER_DATABASE_URL", url)
    runner = CliRunner()
    made = runner.invoke(main, ["backup", "--to", str(tmp_path / "backups"), "--keep", "1"])
    assert made.exit_code == 0, made.output
    assert "Dumping the PostgreSQL database" in made.output and "Backup written" in made.output
    [newest] = list((tmp_path / "backups").iterdir())
    monkeypatch.setenv("LEADCENTER_PATHS_DATA_DIR", str(tmp_path / "new"))
    monkeypatch.setenv("LEADCENTER_DATABASE_URL", empty_database)
    restored = runner.invoke(main, ["restore", str(newest)])
    assert restored.exit_code == 0, restored.output
    assert "Restored 6 leads, 6 interactions" in restored.output
    again = runner.invoke(main, ["restore", str(newest)])
    assert again.exit_code == 1 and "is not empty" in again.output

    # No pg_dump anywhere: the command says what to install.
    monkeypatch.setattr(pgdump, "DEBIAN_CLIENTS", tmp_path / "no-clients")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    monkeypatch.setenv("LEADCENTER_DATABASE_URL", url)
    failing = tmp_path / "failing"  # (a backup of the same second would be refused as one that exists)
    missing = runner.invoke(main, ["backup", "--to", str(failing)])
    assert missing.exit_code == 1
    assert "pg_dump of PostgreSQL 15 or newer is not installed" in missing.output
    assert "apt-get install postgresql-client-15" in missing.output
    # A server that refuses (no such database): its reason.
    monkeypatch.setenv("LEADCENTER_DATABASE_URL", url.replace("/backup_", "/nothing_"))
    refused = runner.invoke(main, ["backup", "--to", str(failing)])
    assert refused.exit_code == 1 and "PostgreSQL refused the connection" in refused.output
    assert "does not exist" in refused.output
    assert list(failing.iterdir()) == []  # nothing half-written left behind
