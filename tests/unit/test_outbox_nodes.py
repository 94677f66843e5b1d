"""The outbox's take across nodes (docs/architecture.md, "Several nodes"): two pumps over one database, each on a
connection of its own as two nodes' are (a file database here, or the PostgreSQL one), never take the same part.
One leader runs the pump; this is what holds if two ever overlap (a leader that lost its lock has up to a second
before it stops)."""

from __future__ import annotations

import threading

import pytest
from support import Clock, RecordingBus

from leadcenter.texts.models import OutboxPart
from leadcenter.texts.outbox import Outbox
from leadcenter.texts.services import Texts

LEAD = "+14045559203"


@pytest.fixture
def database(file_database):
    return file_database


def test_a_pump_taking_while_another_has_read_the_queued_parts_takes_none_of_them(world, database, monkeypatch):
    """Node A's take has read the three queued parts; node B takes now, before A has marked them. B must wait for A's
    transaction and then find nothing left: were the read and the mark not one turn, both would submit all three."""
    clock = Clock()
    node_a, node_b = Outbox(RecordingBus(), None, clock), Outbox(RecordingBus(), None, clock)
    texts = Texts(RecordingBus(), node_a, None, clock)
    for n in range(3):
        texts.send(world["a"]["company"], None, world["a"]["number"], LEAD, f"Part {n}")
    taken_by_b: list[OutboxPart] = []
    node_b_thread = threading.Thread(target=lambda: taken_by_b.extend(node_b._take(10)), name="node-b")
    execute_sql = database.execute_sql

    def reading_then_letting_b_in(sql, params=None):
        cursor = execute_sql(sql, params)
        if sql.startswith("SELECT") and "outbox_part" in sql:
            monkeypatch.setattr(database, "execute_sql", execute_sql)  # once
            node_b_thread.start()
            node_b_thread.join(1.0)  # B cannot finish while A's turn lasts: a bounded wait, then A goes on
        return cursor

    monkeypatch.setattr(database, "execute_sql", reading_then_letting_b_in)
    taken_by_a = node_a._take(10)
    node_b_thread.join(10)
    assert not node_b_thread.is_alive()
    assert (len(taken_by_a), taken_by_b) == (3, [])
    assert [(p.status, p.attempts) for p in OutboxPart.select().order_by(OutboxPart.id)] == [("submitting", 1)] * 3
