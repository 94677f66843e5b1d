"""Generations of Asterisk's files: how the other Asterisk nodes learn that the controller applied a change, and
what each of them has applied since (docs/architecture.md, "Every node's files rendered for it").

The controller renders its own Asterisk's files after each admin change (asterisk_config.AsteriskConfig.apply) and
then ``announce``s: the one row of ``asterisk_files`` counts up, and on PostgreSQL a NOTIFY on ``CHANGED_CHANNEL``
wakes every follower at once. A follower (``leadcenter asterisk follow``, follower.py) renders its node's files from
the database, reloads what changed and records the generation it read before rendering in its row of
``asterisk_node_files`` (``applied``), or why it could not (``failed``), then NOTIFYs ``APPLIED_CHANNEL`` so that
the controller resynchronises that node (a queue reload resets pauses). A follower that was down reads the count
when it starts and catches up; /healthz shows every row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from peewee import DateTimeField, IntegerField, TextField

from leadcenter.db import BaseModel, database, is_postgresql

CHANGED_CHANNEL = "lc_asterisk_files"
APPLIED_CHANNEL = "lc_asterisk_applied"


class AsteriskFiles(BaseModel):
    """One row (id 1, made on the first announcement): the generation of Asterisk's files the controller applied."""

    generation = IntegerField(default=0)
    announced_at = DateTimeField(null=True)

    class Meta:
        table_name = "asterisk_files"


class AsteriskNodeFiles(BaseModel):
    """A followed node's row: the last generation it applied, and its last failure while that is unresolved."""

    node = TextField(unique=True)
    generation = IntegerField(default=0)  # 0: none applied yet
    applied_at = DateTimeField(null=True)
    error = TextField(default="")  # why the last render or reload failed; "" once a later one succeeded
    failed_at = DateTimeField(null=True)

    class Meta:
        table_name = "asterisk_node_files"


def current() -> int:
    """The generation the controller announced last (0: none yet)."""
    row = AsteriskFiles.get_or_none(AsteriskFiles.id == 1)
    return row.generation if row is not None else 0


def announce(now: dt.datetime) -> int:
    """Count a new generation and wake the followers (PostgreSQL); returns it."""
    with database.atomic():
        updated = (
            AsteriskFiles.update(generation=AsteriskFiles.generation + 1, announced_at=now)
            .where(AsteriskFiles.id == 1)
            .execute()
        )
        if not updated:
            AsteriskFiles.create(id=1, generation=1, announced_at=now)
        generation = current()
        _notify(CHANGED_CHANNEL, str(generation))
    return generation


def applied(node: str, generation: int, modules: set[str], now: dt.datetime) -> None:
    """``node`` has loaded ``generation`` (having reloaded ``modules``): recorded, and the controller told."""
    with database.atomic():
        _row(node)
        AsteriskNodeFiles.update(generation=generation, applied_at=now, error="", failed_at=None).where(
            AsteriskNodeFiles.node == node
        ).execute()
        _notify(APPLIED_CHANNEL, json.dumps({"node": node, "generation": generation, "modules": sorted(modules)}))


def failed(node: str, error: str, now: dt.datetime) -> None:
    """``node`` could not render or load the latest generation: why, for its log's reader and /healthz."""
    with database.atomic():
        _row(node)
        AsteriskNodeFiles.update(error=error, failed_at=now).where(AsteriskNodeFiles.node == node).execute()


def _row(node: str) -> None:
    AsteriskNodeFiles.insert(node=node).on_conflict_ignore().execute()


def _notify(channel: str, payload: str) -> None:
    if is_postgresql():  # delivered at commit, to the listeners of every node
        database.execute_sql("SELECT pg_notify(%s, %s)", (channel, payload))


@dataclasses.dataclass(frozen=True)
class NodeState:
    node: str
    generation: int
    applied_at: dt.datetime | None
    behind: int  # generations announced since the one it applied
    error: str
    failed_at: dt.datetime | None

    def as_dict(self) -> dict:
        return {
            "node": self.node,
            "generation": self.generation,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "behind": self.behind,
            "error": self.error or None,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
        }


def status() -> dict:
    """For /healthz: the generation announced last and each followed node's."""
    generation = current()
    nodes = [
        NodeState(row.node, row.generation, row.applied_at, generation - row.generation, row.error, row.failed_at)
        for row in AsteriskNodeFiles.select().order_by(AsteriskNodeFiles.node)
    ]
    return {"generation": generation, "nodes": [node.as_dict() for node in nodes]}
