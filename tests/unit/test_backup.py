"""Backups (leadcenter/backup.py, `leadcenter backup` / `leadcenter restore`): a backup taken while threads write
restores into an empty data directory with every row and file it held; what Asterisk regenerates is left out; the
file is private; a damaged or hostile archive, a data directory in use and a newer schema are refused with a clear
message and nothing written."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import T0

from leadcenter import backup, db, migrations
from leadcenter.cli import main
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead

# Files of a data directory, relative to it: those a backup holds, and those it leaves out (made again at start).
KEPT = {
    "secrets.toml": b"[secrets]\nami = 'x'\n",
    "leadcenter.toml": b"[http]\nport = 8080\n",
    "tls/key.pem": b"KEY",
    "asterisk/spool/monitor/company1/call-1.wav": b"RIFF" + bytes(4000),
    "asterisk/spool/voicemail/leadcenter/agent3/INBOX/msg0000.wav": b"RIFF" + bytes(1000),
    "asterisk/sounds/flow-1-welcome.wav": b"RIFF" + bytes(500),
    "asterisk/moh/leadcenter-hold.wav": b"RIFF" + bytes(200),
}
LEFT_OUT = (
    "asterisk/etc/pjsip.conf",
    "asterisk/lib/astdb.sqlite3",
    "asterisk/log/messages",
    "asterisk/run/x.pid",
    "turn/turnserver.conf",
)


@pytest.fixture
def database(tmp_path):
    """A file database where a data directory keeps it (other threads open their own connections to it)."""
    (tmp_path / "data").mkdir()
    handle = db.open_sqlite(str(tmp_path / "data" / backup.DATABASE))
    db.bind(handle)
    migrations.migrate()
    yield handle
    handle.close()


def with_kept_files(folder: Path) -> Path:
    """``folder`` with the files a backup keeps (KEPT)."""
    for relative, data in KEPT.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return folder


@pytest.fixture
def data_dir(tmp_path, world):
    """Company A's installation: its database (the world's rows) and files of each kind."""
    folder = with_kept_files(tmp_path / "data")
    for relative in LEFT_OUT:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text("made again at start")
    return folder


def _rows(path: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _lead_call(world, n: int) -> None:
    """A lead and its call, in one transaction."""
    a = world["a"]
    with db.database.atomic():
        lead = Lead.create(company=a["company"], name=f"Lead {n}", updated_at=T0)
        Interaction.create(
            company=a["company"],
            lead=lead,
            kind="call",
            direction="inbound",
            status="recent",
            started_at=T0,
            status_changed_at=T0,
        )


@contextlib.contextmanager
def writing_meanwhile(world, timeout: float):
    """The running system writing leads and their calls (up to 2000) on another thread while the block runs."""
    stop = threading.Event()

    def write() -> int:
        written = 0
        while not stop.is_set() and written < 2000:
            _lead_call(world, 1000 + written)
            written += 1
        return written

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        writer = pool.submit(write)
        try:
            yield
        finally:
            stop.set()
        assert writer.result(timeout) > 0


def test_a_backup_taken_while_threads_write_restores_every_row_and_file_it_holds(data_dir, world, tmp_path):
    for n in range(20):
        _lead_call(world, n)
    with writing_meanwhile(world, timeout=10):
        made = backup.create(data_dir, tmp_path / "backups", T0)
    assert made.name == "leadcenter-backup-20261127T090000Z.tar.gz" and made.stat().st_mode & 0o777 == 0o600

    restored_dir = tmp_path / "restored"
    result = backup.restore(made, restored_dir, migrations.LATEST)
    database = restored_dir / backup.DATABASE
    # One consistent moment: the leads and their calls came together, as many as the manifest counted.
    leads = _rows(database, "SELECT COUNT(*) FROM lead")[0][0]
    calls = _rows(database, "SELECT COUNT(*) FROM interaction WHERE kind = 'call'")[0][0]
    assert leads == result.manifest["database"]["rows"]["lead"] and calls >= 20
    assert _rows(database, "PRAGMA integrity_check") == [("ok",)]
    originals = _rows(data_dir / backup.DATABASE, "SELECT id, name FROM lead ORDER BY id")[:leads]
    assert _rows(database, "SELECT id, name FROM lead ORDER BY id") == originals
    for relative, data in KEPT.items():
        assert (restored_dir / relative).read_bytes() == data, relative
    for relative in LEFT_OUT:
        assert not (restored_dir / relative).exists(), relative
    assert result.files == len(KEPT)
    private = [p for p in restored_dir.rglob("*") if p.stat().st_mode & 0o077]
    assert private == []


def test_restore_refuses_a_data_directory_with_a_database_and_writes_nothing(data_dir, tmp_path):
    made = backup.create(data_dir, tmp_path / "backups", T0)
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    with pytest.raises(backup.BackupError, match="has a database already"):
        backup.restore(made, data_dir, migrations.LATEST)
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before


def test_a_backup_of_a_newer_schema_is_refused(data_dir, tmp_path):
    made = backup.create(data_dir, tmp_path / "backups", T0)
    with pytest.raises(backup.BackupError, match="newer than this version"):
        backup.restore(made, tmp_path / "restored", migrations.LATEST - 1)
    assert not (tmp_path / "restored" / backup.DATABASE).exists()


def _rewritten(made: Path, target: Path, change) -> Path:
    """The backup ``made`` with its members passed through ``change(name, data) -> [(name, data)]``."""
    with tarfile.open(made, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            extracted = source.extractfile(member)
            for name, data in change(member.name, extracted.read() if extracted else b""):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    return target


@pytest.mark.parametrize(
    "change, message",
    [
        # A recording altered after the backup was written.
        (
            lambda name, data: [(name, data[:-1] + b"!" if name.endswith("call-1.wav") else data)],
            "does not match its checksum",
        ),
        # An entry that would land outside the data directory.
        (lambda name, data: [(name, data), ("data/../../evil.sh", b"rm -rf /")], "outside the data directory"),
        (lambda name, data: [(name, data), ("/etc/cron.d/evil", b"x")], "outside the data directory"),
        # A file the manifest does not name, and one it names that is missing.
        (lambda name, data: [(name, data), ("data/extra.txt", b"x")], "not in the manifest"),
        (lambda name, data: [] if name.endswith("msg0000.wav") else [(name, data)], "lacks 1 file"),
        # Not a backup at all.
        (lambda name, data: [] if name == "manifest.json" else [(name, data)], "not a Lead Center backup"),
        (
            lambda name, data: [(name, json.dumps({"format": 99}).encode() if name == "manifest.json" else data)],
            "format 99",
        ),
    ],
)
def test_a_damaged_or_hostile_backup_is_refused_and_nothing_is_written(data_dir, tmp_path, change, message):
    made = backup.create(data_dir, tmp_path / "backups", T0)
    bad = _rewritten(made, tmp_path / "bad.tar.gz", change)
    with pytest.raises(backup.BackupError, match=message):
        backup.restore(bad, tmp_path / "restored", migrations.LATEST)
    assert not (tmp_path / "restored").exists() or not any((tmp_path / "restored").iterdir())
    assert not (tmp_path / "evil.sh").exists()


def test_not_a_backup_at_all_is_refused(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip")
    with pytest.raises(backup.BackupError, match="cannot be read as a backup"):
        backup.restore(junk, tmp_path / "restored", migrations.LATEST)


def test_the_commands_back_up_keep_the_newest_and_restore(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LEADCENTER_PATHS_DATA_DIR", str(data_dir))
    runner = CliRunner()
    target = tmp_path / "backups"
    for at in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):  # older ones, as a schedule leaves them
        (target / f"leadcenter-backup-{at}.tar.gz").parent.mkdir(exist_ok=True)
        (target / f"leadcenter-backup-{at}.tar.gz").write_bytes(b"old")
    made = runner.invoke(main, ["backup", "--to", str(target), "--keep", "2"])
    assert made.exit_code == 0, made.output
    assert "Copying the database" in made.output and "Backup written" in made.output
    kept = sorted(p.name for p in target.iterdir())
    assert len(kept) == 2 and kept[0] == "leadcenter-backup-20260103T000000Z.tar.gz"
    newest = target / kept[1]
    monkeypatch.setenv("LEADCENTER_PATHS_DATA_DIR", str(tmp_path / "new"))
    restored = runner.invoke(main, ["restore", str(newest)])
    assert restored.exit_code == 0, restored.output
    assert "Restored" in restored.output and (tmp_path / "new" / backup.DATABASE).is_file()
    again = runner.invoke(main, ["restore", str(newest)])
    assert again.exit_code == 1 and "has a database already" in again.output
