"""A PostgreSQL database into a backup and back: ``pg_dump`` and ``pg_restore`` for `leadcenter backup` / `restore`.

One moment, while the controller writes on: a REPEATABLE READ transaction of our own counts each table's rows and
exports its snapshot (``pg_export_snapshot``), and ``pg_dump --snapshot`` dumps that very snapshot while the
transaction stays open, so the manifest's counts are those of the dump. The dump is pg_dump's custom format
(compressed; pg_restore reads it).

A restore goes into an empty database only (any table, sequence, view or function in it is refused: never
overwrite), in one transaction: ``pg_restore`` writes the SQL script (owners and grants left out: the objects
become the restoring user's), ``psql --single-transaction`` runs it, then a check that every table of the manifest
is there with its rows, and nothing else; any error or difference rolls the whole restore back. A pg_restore that
fails midway has its psql killed before the COMMIT.

The client programs must be of the server's major version or newer (pg_dump refuses an older one): Debian's
``/usr/lib/postgresql/<major>/bin`` are searched first, the server's own major first, then ``PATH``. The URL's
password goes to them in the PGPASSWORD environment variable, never on their command line (``ps`` shows it to every
account), and into no file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

DEBIAN_CLIENTS = Path("/usr/lib/postgresql")
# What a database must not hold to be restored into (pg_class kinds): tables, partitioned tables, views,
# materialised views, sequences, foreign tables.
RELATION_KINDS = ("r", "p", "v", "m", "S", "f")
# pg_catalog, pg_toast, pg_temp_N and information_schema are the server's.
SYSTEM_SCHEMAS = "n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'"
CHUNK = 1 << 20

Say = Callable[[str], None]


class DumpError(Exception):
    """A dump or a restore that cannot be made; the message says why (and never holds the password)."""


@dataclass(frozen=True)
class Target:
    """How the client programs reach the database: a libpq connection string without the password, and the
    environment that holds it."""

    dsn: str
    env: dict[str, str]

    @classmethod
    def of(cls, url: str) -> Target:
        try:
            params = parse_dsn(url)
        except psycopg2.ProgrammingError:
            raise DumpError("[database] url cannot be read: write it as postgresql://user:password@host/name") from None
        password = params.pop("password", None)
        return cls(make_dsn(**params), {"PGPASSWORD": password} if password else {})

    def arguments(self) -> list[str]:
        return [f"--dbname={self.dsn}"] if self.dsn else []


@dataclass(frozen=True)
class Dumped:
    server_version: str
    dump_version: str  # pg_dump's own, e.g. "pg_dump (PostgreSQL) 15.18"
    rows: dict[str, int]
    schema_version: int | None


def _connect(url: str):
    try:
        return psycopg2.connect(url)
    except psycopg2.OperationalError as exc:
        raise DumpError(f"PostgreSQL refused the connection: {str(exc).strip()}") from None


def _major(version_line: str) -> int:
    match = re.search(r"\)\s+(\d+)", version_line)
    return int(match.group(1)) if match else 0


def client_program(name: str, at_least: int) -> tuple[str, str]:
    """The path of PostgreSQL's client program ``name`` of major version ``at_least`` or newer, and its version."""
    majors = sorted(int(d.name) for d in DEBIAN_CLIENTS.glob("*") if d.name.isdigit() and int(d.name) >= at_least)
    candidates = [str(DEBIAN_CLIENTS / str(major) / "bin" / name) for major in majors]
    on_path = shutil.which(name)
    for candidate in [*candidates, *([on_path] if on_path else [])]:
        try:
            line = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            continue
        if _major(line) >= at_least:
            return candidate, line
    raise DumpError(
        f"{name} of PostgreSQL {at_least} or newer is not installed: install the server's client programs "
        f"(Debian: apt-get install postgresql-client-{at_least}) or put them on PATH"
    )


def _run(command: list[str], target: Target) -> None:
    """Run a client program; its error (the end of what it wrote) if it fails."""
    done = subprocess.run(command, env={**os.environ, **target.env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise DumpError(f"{Path(command[0]).name} failed (exit {done.returncode}): {_last_lines(done.stderr)}")


def _last_lines(text: str, count: int = 3) -> str:
    """What a client program said of its failure: its first ERROR line (psql goes on with the query and its
    context), else its last lines."""
    lines = text.strip().splitlines()
    errors = [line for line in lines if "ERROR:" in line]
    return (errors[0] if errors else " ".join(lines[-count:])) or "no message"


def _table_rows(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    tables = [name for (name,) in cursor.fetchall()]
    rows = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        rows[table] = cursor.fetchone()[0]
    return rows


def dump(url: str, target_file: Path, say: Say) -> Dumped:
    """Dump the database at ``url`` into ``target_file`` (custom format), with its rows counted in the same
    snapshot."""
    target = Target.of(url)
    with contextlib.closing(_connect(url)) as live:
        live.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with live.cursor() as cursor:
            cursor.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version'), "
                "current_setting('server_version_num')::int / 10000"
            )
            snapshot, server_version, major = cursor.fetchone()
            rows = _table_rows(cursor)
            schema_version = None
            if "schema_version" in rows:
                cursor.execute("SELECT max(version) FROM schema_version")
                schema_version = cursor.fetchone()[0]
        pg_dump, dump_version = client_program("pg_dump", major)
        say(f"Dumping the PostgreSQL database (server {server_version}, {sum(rows.values())} rows)...")
        # The snapshot is exported for as long as this transaction lasts: pg_dump runs inside it.
        _run(
            [pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={target_file}",
             *target.arguments()],
            target,
        )  # fmt: skip
        live.rollback()
    return Dumped(server_version, dump_version, rows, schema_version)


def ensure_empty(url: str) -> None:
    """Refuse a database that holds anything of its own: a restore never overwrites."""
    with contextlib.closing(_connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), "
            f"(SELECT array_agg(n.nspname || '.' || c.relname ORDER BY c.relname) FROM pg_class c "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN %s AND {SYSTEM_SCHEMAS}), "
            f"(SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {SYSTEM_SCHEMAS})",
            (RELATION_KINDS,),
        )
        name, relations, functions = cursor.fetchone()
    if relations or functions:
        example = f", e.g. {relations[0]}" if relations else ""
        raise DumpError(
            f"the PostgreSQL database {name} is not empty ({len(relations or [])} tables, sequences or views, "
            f"{functions} functions{example}): restore into a new empty database (createdb), nothing was written"
        )


def server_major(url: str) -> int:
    with contextlib.closing(_connect(url)) as connection:
        return connection.server_version // 10000


def rows_check(rows: dict[str, int]) -> str:
    """SQL that fails unless the database's tables are exactly ``rows``' with those counts (run after the restore,
    in its transaction). The names come from the backup's manifest: they travel as one JSON string literal."""
    literal = json.dumps(rows).replace("'", "''")
    return f"""
RESET search_path;
DO $check$
DECLARE
    expected jsonb := '{literal}'::jsonb;
    restored text[] := ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()
                             ORDER BY tablename COLLATE "C");
    table_name text;
    counted bigint;
BEGIN
    IF restored IS DISTINCT FROM ARRAY(SELECT k FROM jsonb_object_keys(expected) AS k ORDER BY k COLLATE "C") THEN
        RAISE EXCEPTION 'the restored tables are not the manifest''s: %', restored;
    END IF;
    FOR table_name IN SELECT jsonb_object_keys(expected) LOOP
        EXECUTE format('SELECT count(*) FROM %I', table_name) INTO counted;
        IF counted <> (expected ->> table_name)::bigint THEN
            RAISE EXCEPTION 'table %: % rows restored, the manifest counted %',
                table_name, counted, expected ->> table_name;
        END IF;
    END LOOP;
END
$check$;
"""


def restore(url: str, dump_file: Path, rows: dict[str, int], dumped_by: str, say: Say) -> None:
    """Restore ``dump_file`` into the empty database at ``url`` in one transaction, checked against ``rows``."""
    target = Target.of(url)
    major = server_major(url)
    pg_restore, _ = client_program("pg_restore", max(major, _major(dumped_by)))
    psql, _ = client_program("psql", major)
    say("Restoring the database into PostgreSQL (one transaction)...")
    env = {**os.environ, **target.env}
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as load_errors:
        load = subprocess.Popen(
            [psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", "--single-transaction",
             "--file=-", *target.arguments()],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=load_errors, env=env,
        )  # fmt: skip
        script = subprocess.Popen(
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump_file)],
            stdout=subprocess.PIPE, stderr=script_errors, env=env,
        )  # fmt: skip
        assert load.stdin is not None and script.stdout is not None
        try:
            shutil.copyfileobj(script.stdout, load.stdin, CHUNK)
            if script.wait() == 0:
                load.stdin.write(rows_check(rows).encode())
            else:
                load.kill()  # before psql reaches the end of its input, so it never commits
        except BrokenPipeError:  # psql stopped at an error and rolled back
            script.kill()
            script.wait()
        with contextlib.suppress(BrokenPipeError):
            load.stdin.close()
        if load.wait() != 0 or script.returncode != 0:
            errors = load_errors if load.returncode > 0 else script_errors  # psql's own error, else pg_restore's
            errors.seek(0)
            why = _last_lines(errors.read().decode(errors="replace"))
            raise DumpError(f"the restore of the database failed and was rolled back, nothing was written: {why}")
