"""`leadcenter db copy`: an SQLite installation's data into an empty PostgreSQL database.

The schema is made by the migrations (the same tables, indexes and triggers as any new PostgreSQL database), then
the rows are copied table by table in the order of their foreign keys, in one PostgreSQL transaction: the copy is
all there or not at all. The SQLite file is read in one read transaction, so the copy is of one moment even while
Lead Center runs and writes on (what it writes after that moment is not in the copy: stop it for the copy you
switch to). A column that refers to its own table (a lead merged into another) is filled in after every row is in.
Each table's id sequence then starts after its greatest id, and each table's rows are counted on both sides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import AutoField, Database, ForeignKeyField, Model, sort_models  # type: ignore[attr-defined]

from leadcenter import db, migrations
from leadcenter.reports.models import KpiDay, KpiDayBuilt, KpiSlice, KpiZone

BATCH = 1000
# The KPI rollup last: the rows copied before it fire the triggers that forget rolled-up days.
ROLLUP = (KpiDay, KpiSlice, KpiZone, KpiDayBuilt)


class CopyError(Exception):
    """Why the copy was refused (nothing was written)."""


@dataclass(frozen=True)
class Table:
    model: type[Model]
    rows: int

    @property
    def name(self) -> str:
        return self.model._meta.table_name


def tables_in_order() -> list[type[Model]]:
    """Every model, each after the tables it refers to (the KPI rollup at the end)."""
    ordered = [m for m in sort_models(migrations.MODELS) if m not in ROLLUP]
    return [*ordered, *ROLLUP]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Copy:
    """A copy from the SQLite file ``source`` into the empty PostgreSQL database ``target``: ``plan()`` checks both
    and counts the rows, ``run(progress)`` copies (``progress(table, rows)`` after each batch)."""

    def __init__(self, source: Path, target: Database):
        self.source, self.target = source, target
        self._sqlite: sqlite3.Connection | None = None

    def __enter__(self) -> Copy:
        if not self.source.exists():
            raise CopyError(f"{self.source}: no such SQLite database")
        # Read only; one read transaction for the whole copy: a consistent moment while the installation writes on.
        self._sqlite = sqlite3.connect(f"file:{self.source}?mode=ro", uri=True, isolation_level=None, timeout=30)
        self._sqlite.execute("BEGIN")
        return self

    def __exit__(self, *exc) -> None:
        if self._sqlite is not None:
            with closing(self._sqlite):
                self._sqlite.execute("ROLLBACK")

    def _read(self, sql: str) -> sqlite3.Cursor:
        assert self._sqlite is not None, "use Copy in a with statement"
        return self._sqlite.execute(sql)

    def plan(self) -> list[Table]:
        """The tables and their rows, once the source is at the current schema and the target empty."""
        try:
            (version,) = self._read("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CopyError(f"{self.source} is not a Lead Center database: {exc}") from None
        if version != migrations.LATEST:
            raise CopyError(
                f"{self.source} is at schema version {version}, this Lead Center's is {migrations.LATEST}: "
                "run `leadcenter db migrate` on it first (with [database] url empty)"
            )
        if not db.is_postgresql(self.target):
            raise CopyError("the target must be a PostgreSQL database: set [database] url or give --to")
        present = self.target.get_tables()
        if present:
            raise CopyError(
                f"the PostgreSQL database is not empty ({len(present)} tables, e.g. {present[0]}): "
                "copy into a new database (createdb)"
            )
        return [
            Table(model, self._read(f"SELECT count(*) FROM {_quoted(model._meta.table_name)}").fetchone()[0])
            for model in tables_in_order()
        ]

    def run(self, plan: list[Table], progress: Callable[[Table, int], None]) -> None:
        db.bind(self.target)
        with self.target.atomic():
            migrations.migrate()  # creates the schema at the current version, and the triggers
            late: list[tuple[Table, str, list[tuple[int, int]]]] = []
            for table in plan:
                filled: dict[str, list[tuple[int, int]]] = {}
                for batch in self._batches(table, filled):
                    table.model.insert_many(batch, fields=table.model._meta.sorted_fields).execute()
                    progress(table, len(batch))
                late += [(table, name, pairs) for name, pairs in filled.items() if pairs]
            for table, name, pairs in late:
                model = table.model
                for row_id, value in pairs:
                    model.update({model._meta.fields[name]: value}).where(model._meta.primary_key == row_id).execute()
            for table in plan:
                self._restart_sequence(table.model)
                copied = table.model.select().count()
                if copied != table.rows:
                    raise CopyError(f"{table.name}: {table.rows} rows read, {copied} written")

    def _batches(self, table: Table, filled: dict[str, list[tuple[int, int]]]) -> Iterator[list[tuple[Any, ...]]]:
        """The rows in batches; a column naming a row of its own table left empty, its (id, value) in ``filled``."""
        fields = table.model._meta.sorted_fields
        key = table.model._meta.primary_key
        assert key, f"{table.name} has a primary key"
        columns = ", ".join(_quoted(f.column_name) for f in fields)
        order = f" ORDER BY {_quoted(key.column_name)}"
        cursor = self._read(f"SELECT {columns} FROM {_quoted(table.name)}{order}")
        # The stored values as the models read them (SQLite's text times, 0/1 booleans), written as PostgreSQL's.
        read = [f.python_value for f in fields]
        # (peewee's fields compare as SQL expressions: by name, never with == or in)
        later = [i for i, f in enumerate(fields) if _refers_to_itself(f)]
        key_index = next(i for i, f in enumerate(fields) if f.name == key.name)
        while rows := cursor.fetchmany(BATCH):
            batch = []
            for raw in rows:
                values = [convert(value) for convert, value in zip(read, raw, strict=True)]
                for i in later:
                    if values[i] is not None:
                        filled.setdefault(fields[i].name, []).append((values[key_index], values[i]))
                        values[i] = None
                batch.append(tuple(values))
            yield batch

    def _restart_sequence(self, model: type[Model]) -> None:
        key = model._meta.primary_key
        if not isinstance(key, AutoField):
            return
        table, column = _quoted(model._meta.table_name), key.column_name
        self.target.execute_sql(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(max({_quoted(column)}), 1), "
            f"max({_quoted(column)}) IS NOT NULL) FROM {table}",
            (table, column),
        )


def _refers_to_itself(field) -> bool:
    return isinstance(field, ForeignKeyField) and field.rel_model is field.model
