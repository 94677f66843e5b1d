"""The inbox's queries as SQLite plans them (no ANALYZE: the app runs none, so the plan depends on the schema alone):
every read of the interaction table narrows by the agent, their mailbox or the waiting calls, never by the company
alone. A plan that changes fails here before the queries benchmark finds it: an agent's own mailbox, added without
an index of its own, once made SQLite read every interaction of the company (0.6 s at 1,000,000)."""

from __future__ import annotations

import re

import postgresql
import pytest

from leadcenter import db
from leadcenter.interactions import services

pytestmark = pytest.mark.skipif(
    postgresql.engine() == "postgresql", reason="PostgreSQL plans from its statistics: SQLite's plans"
)

STEP = re.compile(r"(SEARCH|SCAN) t\d+(?: USING (?:COVERING )?INDEX (\w+))?(?: \((.*)\))?")

# Each read of the interaction table: (the index, its equality constraints).
EXPECTED = {
    # Incoming: the company's waiting interactions, then the agent's mailbox not yet handled.
    ("interaction_company_id_status_status_changed_at", "company_id=? AND status=?"),
    ("interaction_company_id_mailbox_agent_id_status_changed_at", "company_id=? AND mailbox_agent_id=?"),
    # Active and Recent: the agent's own and nobody's (agent IS NULL), by status; Recent's handled mailbox messages.
    ("interaction_company_id_agent_id_status_status_changed_at", "company_id=? AND agent_id=? AND status=?"),
}


def _plans(database, run) -> list[tuple[str, str]]:
    """The steps on the interaction table of every SELECT ``run`` makes."""
    steps = []
    execute = database.execute_sql

    def explained(sql, params=None, *args, **kwargs):
        if sql.lstrip().upper().startswith("SELECT") and '"interaction" AS' in sql:
            for row in execute("EXPLAIN QUERY PLAN " + sql, params).fetchall():
                match = STEP.match(row[-1])
                if match and (match.group(1) == "SCAN" or (match.group(2) or "").startswith("interaction_company")):
                    steps.append((match.group(1), match.group(2) or "", match.group(3) or ""))
        return execute(sql, params, *args, **kwargs)

    database.execute_sql = explained
    try:
        run()
    finally:
        del database.execute_sql
    return steps


def test_every_read_of_the_interactions_narrows_by_the_agent_their_mailbox_or_the_waiting(world):
    company, agent = world["a"]["company"], world["a"]["agents"][0]
    steps = _plans(db.database.obj, lambda: services.inbox(company, agent))
    assert [step for step in steps if step[0] == "SCAN" and not step[1]] == []  # no table scan
    assert {(index, constraints) for _, index, constraints in steps} == EXPECTED
