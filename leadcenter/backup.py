"""Backups of an installation, taken while it runs, and their restore into an empty data directory.

A backup is one gzipped tar file, private to its owner (it holds every lead, the users' password hashes, the SIP
passwords and secrets.toml):

    manifest.json          format, when, the schema version; the database's engine, its rows per table, its SHA-256
                           (and PostgreSQL's server and pg_dump versions); each file's size and SHA-256
    leadcenter.sqlite3     SQLite's database, copied with its online backup API: one consistent moment, while the
                           controller and the web threads go on writing (WAL: the copy's reads block no writer)
    leadcenter.pgdump      or PostgreSQL's, by ``pg_dump`` (custom format) of one snapshot, the rows counted in that
                           same snapshot (pgdump.py)
    data/...               the data directory's files: configuration, secrets, TLS, and Asterisk's recordings,
                           voicemail, greetings, flow sounds and hold music

The database is copied first, the files after: every recording or message the copied rows name was complete before
the copy began, so it is in the backup (files written meanwhile come too, harmlessly). Left out: what is made
again at start (Asterisk's rendered configuration, its AstDB, which the controller re-syncs, logs, sockets, spool
temporaries; coturn's rendered configuration, pid and log) and the backups themselves. The database URL (its
password) is in no backup: the restored installation gets its own [database] url.

Restore refuses a data directory that has an SQLite database, checks every file against the manifest before it
writes anything, writes nothing outside the data directory (an entry that would is refused), overwrites no file
the data directory has (its own leadcenter.toml is kept) and leaves the files the owner's alone; ``leadcenter run``
then migrates the database if the code is newer and gives Asterisk its files. A PostgreSQL backup is restored
into the empty database [database] url names (pg_restore in one transaction, rolled back unless every table's rows
are the manifest's), before the files are written. A backup is restored on its own engine only: an SQLite one
with [database] url set is refused (restore it on SQLite, then ``leadcenter db copy``), a PostgreSQL one without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from leadcenter import pgdump

# Format 2 names the database's engine and file (format 1, SQLite's only, is read still).
FORMAT = 2
READABLE_FORMATS = (1, 2)
SQLITE, POSTGRESQL = "sqlite", "postgresql"
SUFFIX = ".tar.gz"
PREFIX = "leadcenter-backup-"
DATABASE = "leadcenter.sqlite3"
POSTGRESQL_DUMP = "leadcenter.pgdump"  # pg_dump's custom format
MANIFEST = "manifest.json"
FILES = "data"
# Under the data directory, never backed up (see the module's docstring).
LEFT_OUT = (
    DATABASE,
    f"{DATABASE}-wal",
    f"{DATABASE}-shm",
    "backups",
    "asterisk/etc",
    "asterisk/lib",
    "asterisk/run",
    "asterisk/log",
    "asterisk/spool/tmp",
    "asterisk/spool/outgoing",
    "turn",
)
CHUNK = 1 << 20

Say = Callable[[str], None]
T = TypeVar("T")


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class Restored:
    manifest: dict
    files: int


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            sha.update(block)
    return sha.hexdigest()


def _left_out(relative: PurePosixPath, excluded: tuple[str, ...]) -> bool:
    return any(relative == PurePosixPath(x) or PurePosixPath(x) in relative.parents for x in excluded)


def data_files(data_dir: Path, excluded: tuple[str, ...] = LEFT_OUT) -> Iterator[Path]:
    """The regular files of the data directory a backup holds, in a stable order (no links, sockets or FIFOs)."""
    for folder, dirs, files in os.walk(data_dir):
        base = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not _left_out(PurePosixPath((base / d).relative_to(data_dir).as_posix()), excluded)
        )
        for name in sorted(files):
            path = base / name
            relative = PurePosixPath(path.relative_to(data_dir).as_posix())
            if path.is_file() and not path.is_symlink() and not _left_out(relative, excluded):
                yield path


def _table_rows(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(database)) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _schema_version(database: Path) -> int | None:
    with closing(sqlite3.connect(database)) as connection:
        try:
            row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def snapshot_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API, in one step: one read transaction)."""
    live, copy = sqlite3.connect(source, timeout=30), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        live.close()
        copy.close()
    check = sqlite3.connect(target)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's integrity check")
    finally:
        check.close()


@dataclass(frozen=True)
class DatabaseCopy:
    """The database as a backup holds it: its member's name and file, and what the manifest says of it."""

    member: str
    path: Path
    manifest: dict
    schema_version: int | None


def _copy_sqlite(data_dir: Path, scratch: Path, say: Say) -> DatabaseCopy:
    database = data_dir / DATABASE
    copy = scratch / DATABASE
    say(f"Copying the database ({database.stat().st_size / 1e6:.1f} MB)...")
    snapshot_database(database, copy)
    manifest = {"engine": SQLITE, "sqlite_version": sqlite3.sqlite_version, "rows": _table_rows(copy)}
    return DatabaseCopy(DATABASE, copy, manifest, _schema_version(copy))


def _dump_postgresql(url: str, scratch: Path, say: Say) -> DatabaseCopy:
    copy = scratch / POSTGRESQL_DUMP
    dumped = _postgresql(pgdump.dump, url, copy, say)
    manifest = {
        "engine": POSTGRESQL,
        "server_version": dumped.server_version,
        "dumped_by": dumped.dump_version,
        "rows": dumped.rows,
    }
    return DatabaseCopy(POSTGRESQL_DUMP, copy, manifest, dumped.schema_version)


def create(
    data_dir: Path, target_dir: Path, now: dt.datetime, say: Say = lambda line: None, database_url: str = ""
) -> Path:
    """Back up the installation in ``data_dir`` (its database the PostgreSQL one at ``database_url`` if given)
    into a new file in ``target_dir``; returns its path."""
    if not database_url and not (data_dir / DATABASE).is_file():
        raise BackupError(f"no database at {data_dir / DATABASE}: is this the data directory (paths.data_dir)?")
    _private_dirs(target_dir)
    name = f"{PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}{SUFFIX}"
    final = target_dir / name
    if final.exists():
        raise BackupError(f"{final} exists already: wait a second and run it again")
    with tempfile.TemporaryDirectory(prefix="leadcenter-backup-", dir=target_dir) as scratch:
        if database_url:
            copy = _dump_postgresql(database_url, Path(scratch), say)
        else:
            copy = _copy_sqlite(data_dir, Path(scratch), say)
        rows = copy.manifest["rows"]
        files = list(data_files(data_dir, (*LEFT_OUT, _inside(target_dir, data_dir))))
        say(f"Database copied: {rows.get('lead', 0)} leads, {rows.get('interaction', 0)} interactions")
        say(f"Adding {len(files)} files (recordings, voicemail, sounds, configuration)...")
        partial = Path(scratch) / name
        listed = []
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as archive:
            archive.add(copy.path, copy.member)
            for index, path in enumerate(files, 1):
                relative = path.relative_to(data_dir).as_posix()
                try:
                    size, digest = path.stat().st_size, _digest(path)
                    archive.add(path, f"{FILES}/{relative}", recursive=False)
                except FileNotFoundError:  # deleted meanwhile (a retention sweep): not in the backup
                    continue
                listed.append({"path": relative, "size": size, "sha256": digest})
                if index % 200 == 0:
                    say(f"  {index} of {len(files)} files")
            manifest = {
                "format": FORMAT,
                "created_at": now.isoformat(timespec="seconds") + "Z",
                "schema_version": copy.schema_version,
                "database": {**copy.manifest, "file": copy.member, "sha256": _digest(copy.path)},
                "files": listed,
            }
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=1).encode())
        os.replace(partial, final)
    say(f"Backup written: {final} ({final.stat().st_size / 1e6:.1f} MB)")
    return final


def _inside(path: Path, data_dir: Path) -> str:
    """``path`` relative to the data directory (left out of the backup) when it is inside it, else nothing."""
    try:
        return path.resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        return "\0"


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    archive.addfile(info, io.BytesIO(data))


def prune(target_dir: Path, keep: int, say: Say = lambda line: None) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``target_dir`` (their names sort by time); returns those gone."""
    backups = sorted(target_dir.glob(f"{PREFIX}*{SUFFIX}"))
    gone = backups[: max(0, len(backups) - keep)]
    for path in gone:
        path.unlink()
        say(f"Deleted the older backup {path.name}")
    return gone


def _private_dirs(folder: Path) -> None:
    """``folder`` and its missing parents, each the owner's alone (``mkdir(parents=True)`` would give the parents
    the umask's modes)."""
    for missing in [*reversed(folder.parents), folder]:
        if not missing.exists():
            missing.mkdir(mode=0o700)


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the backup names a file outside the data directory ({name!r}): refused")
    return path


def read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.getmember(MANIFEST)
    except KeyError:
        raise BackupError("no manifest.json: this is not a Lead Center backup") from None
    extracted = archive.extractfile(member)
    if extracted is None:
        raise BackupError("manifest.json is not a file")
    try:
        manifest = json.loads(extracted.read())
    except ValueError:
        raise BackupError("manifest.json is not JSON: the backup is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") not in READABLE_FORMATS:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"a backup of format {found!r}; this version reads formats {READABLE_FORMATS}")
    database = manifest.get("database")
    rows = database.get("rows") if isinstance(database, dict) else None
    if not isinstance(rows, dict) or not all(isinstance(t, str) and type(n) is int for t, n in rows.items()):
        raise BackupError("manifest.json counts no rows of the database: the backup is damaged")
    return manifest


def _refuse_the_other_engine(engine: str, database_url: str) -> None:
    if engine == SQLITE and database_url:
        raise BackupError(
            "this backup holds an SQLite database and [database] url names a PostgreSQL one: restore it with "
            "[database] url empty (LEADCENTER_DATABASE_URL=), then move it with `leadcenter db copy` (README)"
        )
    if engine == POSTGRESQL and not database_url:
        raise BackupError(
            "this backup holds a PostgreSQL database: set [database] url (LEADCENTER_DATABASE_URL) to a new empty "
            "PostgreSQL database to restore it into"
        )
    if engine not in (SQLITE, POSTGRESQL):
        raise BackupError(f"a backup of a {engine!r} database: this version restores SQLite and PostgreSQL")


def restore(
    source: Path, data_dir: Path, latest_schema: int, say: Say = lambda line: None, database_url: str = ""
) -> Restored:
    """Restore the backup ``source`` into ``data_dir``, which must have no database (stop the system first), and its
    database into the empty PostgreSQL one at ``database_url`` when it is PostgreSQL's. Files the data directory
    has already (its own leadcenter.toml) are kept as they are."""
    try:
        archive = tarfile.open(source, mode="r:gz")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} cannot be read as a backup: {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix="leadcenter-restore-") as scratch:
        manifest = read_manifest(archive)
        database = manifest["database"]
        engine = database.get("engine", SQLITE)
        _refuse_the_other_engine(engine, database_url)
        if engine == SQLITE and (data_dir / DATABASE).exists():
            raise BackupError(
                f"{data_dir} has a database already: restore into an empty data directory (paths.data_dir), "
                "or move the old one away first"
            )
        version = manifest.get("schema_version")
        if isinstance(version, int) and version > latest_schema:
            raise BackupError(
                f"the backup's database is of schema {version}, newer than this version of Lead Center knows "
                f"({latest_schema}): restore it with the version that made it"
            )
        if engine == POSTGRESQL:
            _postgresql(pgdump.ensure_empty, database_url)
        database_member = POSTGRESQL_DUMP if engine == POSTGRESQL else DATABASE
        expected = {entry["path"]: entry for entry in manifest.get("files", [])}
        staged = Path(scratch)
        found = set()
        say(f"Checking the backup of {manifest.get('created_at')} ({len(expected)} files)...")
        for member in archive:
            if member.name == MANIFEST:
                continue
            path = _member_path(member.name)
            if not member.isfile():
                raise BackupError(f"{member.name} is not a regular file: refused")
            if member.name == database_member:
                relative, digest = database_member, database.get("sha256")
            elif path.parts[0] == FILES and len(path.parts) > 1:
                relative = PurePosixPath(*path.parts[1:]).as_posix()
                digest = expected.get(relative, {}).get("sha256")
            else:
                raise BackupError(f"{member.name} is not part of a Lead Center backup: refused")
            if digest is None:
                raise BackupError(f"{member.name} is not in the manifest: the backup is damaged")
            target = staged / relative
            _private_dirs(target.parent)
            extracted = archive.extractfile(member)
            if extracted is None:
                raise BackupError(f"{member.name} cannot be read")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(extracted, out, CHUNK)
            if _digest(target) != digest:
                raise BackupError(f"{member.name} does not match its checksum: the backup is damaged")
            found.add(relative)
        missing = (set(expected) | {database_member}) - found
        if missing:
            raise BackupError(f"the backup lacks {len(missing)} file(s) its manifest names, e.g. {sorted(missing)[0]}")
        rows = database["rows"]
        if engine == SQLITE:
            if _table_rows(staged / DATABASE) != rows:
                raise BackupError("the database's rows differ from the manifest's count: the backup is damaged")
        else:
            dump = staged / database_member
            _postgresql(pgdump.restore, database_url, dump, rows, database.get("dumped_by", ""), say)
            dump.unlink()
        kept = []
        for staged_file in sorted(staged.rglob("*")):
            if staged_file.is_file():
                target = data_dir / staged_file.relative_to(staged)
                if target.exists():
                    kept.append(target.relative_to(data_dir).as_posix())
                    continue
                _private_dirs(target.parent)
                shutil.move(staged_file, target)
    if kept:
        say(f"Kept the data directory's own {', '.join(kept[:5])}{' and more' if len(kept) > 5 else ''}")
    files = len(found) - 1
    say(f"Restored {rows.get('lead', 0)} leads, {rows.get('interaction', 0)} interactions and {files} files")
    return Restored(manifest, files)


def _postgresql(step: Callable[..., T], *args) -> T:
    """A step of pgdump's, its error the backup's."""
    try:
        return step(*args)
    except pgdump.DumpError as exc:
        raise BackupError(str(exc)) from None
