"""The KPIs and report series (issue 15) on the 1,000,000-interaction database of bench/api_queries.py.

Seeds that database (``api_queries.seed``), then adds what the KPIs read and that seed leaves out, for every
interaction concluded as it planned them:
- each inbound call's queue team (every tracking number's flow queues to the company's team), and hold time on one
  answered call in five;
- the agents' status changes around each call they talked on: on a call at the answer (inbound), wrap-up at the
  end, Rejoin 5 to 90 s later;
- each inbound text's and chat's messages (the lead's first, the agent's reply at its answer time) and its move to
  Recent (answered: Close; otherwise time_out / abandon).
Then opens the file afresh (the app's pragmas, a cold page cache), builds the biggest company's daily rollup of the
year (timed once: the first read of a period builds the days it lacks), and times, for that company (80% of the
rows) over its last 30 days and its last year: ``reports.services.kpis`` whole and each of its parts, for the
company, its team and one agent; each report series; and the KPIs of 30 days when something changed today (today's
rollup built again on each read). Goals: p99 < 100 ms (30 days), < 500 ms (a year).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import tempfile
import time
from pathlib import Path

from bench import api_queries
from bench.stats import summary

SAMPLES = {30: 30, 365: 10}
GOAL_MS = {30: 100.0, 365: 500.0}
SEED = 15


def _augment(path: Path) -> dict:
    """Queue teams, hold times, status changes, messages and transitions, in bulk (see the module's docstring)."""
    from leadcenter import db
    from leadcenter.agents.models import AgentStatusChange
    from leadcenter.interactions.models import InteractionTransition, Message

    rng = random.Random(SEED)
    began = time.monotonic()
    database = db.open_sqlite(str(path))
    db.bind(database)
    database.connect()
    for pragma in ("journal_mode=off", "synchronous=off", "cache_size=-1000000", "temp_store=memory"):
        database.execute_sql(f"PRAGMA {pragma}")
    with database.atomic():
        database.execute_sql(
            "UPDATE interaction SET queue_team_id ="
            " (SELECT id FROM team WHERE team.company_id = interaction.company_id)"
            " WHERE kind = 'call' AND direction = 'inbound'"
        )
        database.execute_sql(
            "UPDATE interaction SET hold_seconds = talk_seconds * (abs(random()) % 50) / 100"
            " WHERE kind = 'call' AND answered_at IS NOT NULL AND talk_seconds IS NOT NULL AND id % 5 = 0"
        )
    calls = database.execute_sql(
        "SELECT agent_id, direction, answered_at, ended_at FROM interaction WHERE kind = 'call' AND status = 'recent'"
        " AND answered_at IS NOT NULL AND agent_id IS NOT NULL ORDER BY ended_at"
    ).fetchall()

    def changes():
        for agent, direction, answered, ended in calls:
            if direction == "inbound":
                yield (agent, "take_call", "available", "", "unavailable", "on_call", answered)
            yield (agent, "end_call", "unavailable", "on_call", "unavailable", "wrap_up", ended)
            back = dt.datetime.fromisoformat(ended) + dt.timedelta(seconds=rng.uniform(5, 90))
            yield (agent, "rejoin", "unavailable", "wrap_up", "available", "", back.isoformat(" "))

    status_changes = api_queries._insert(
        database,
        AgentStatusChange,
        ("agent_id", "event", "from_status", "from_reason", "to_status", "to_reason", "at"),
        changes(),
    )
    conversations = database.execute_sql(
        "SELECT id, agent_id, started_at, answered_at, ended_at, outcome FROM interaction"
        " WHERE kind IN ('text', 'chat') AND direction = 'inbound' AND status = 'recent'"
    ).fetchall()
    messages = api_queries._insert(
        database,
        Message,
        ("interaction_id", "direction", "body", "agent_id", "created_at"),
        (
            row
            for interaction, agent, started, answered, _, _ in conversations
            for row in (
                [(interaction, "inbound", "Hi, do you do weekends?", None, started)]
                + ([(interaction, "outbound", "We do!", agent, answered)] if answered and agent else [])
            )
        ),
    )
    moves = {"answered": "close", "timed_out": "time_out", "abandoned": "abandon", "missed": "miss"}
    transitions = api_queries._insert(
        database,
        InteractionTransition,
        ("interaction_id", "event", "from_status", "to_status", "outcome", "at"),
        (
            (interaction, moves.get(outcome, "close"), "active" if answered else "incoming", "recent", outcome, ended)
            for interaction, _, _, answered, ended, outcome in conversations
            if ended is not None
        ),
    )
    database.execute_sql("PRAGMA journal_mode=wal")
    database.execute_sql("ANALYZE")
    company = database.execute_sql("SELECT min(id) FROM company").fetchone()[0]
    team = database.execute_sql("SELECT id FROM team WHERE company_id = ?", (company,)).fetchone()[0]
    agent = database.execute_sql("SELECT min(id) FROM agent WHERE company_id = ?", (company,)).fetchone()[0]
    database.close()
    return {
        "company": company,
        "team": team,
        "agent": agent,
        "figures": {
            "status_changes": status_changes,
            "messages": messages,
            "transitions": transitions,
            "seconds": round(time.monotonic() - began, 1),
        },
    }


def _calls():
    """name -> f(scope): what is timed."""
    from leadcenter.reports import services

    return {
        "kpis": services.kpis,
        "kpis.queue": services.queue_calls,
        "kpis.missed": services.missed_calls,
        "kpis.handling": services.handled_calls,
        "kpis.outbound": services.outbound_calls,
        "kpis.texts": lambda scope: services.conversations(scope, "text"),
        "kpis.chats": lambda scope: services.conversations(scope, "chat"),
        "series.channels_day": lambda scope: services.by_channel(scope, "day"),
        "series.channels_week": lambda scope: services.by_channel(scope, "week"),
        "series.attribution_source": lambda scope: services.by_attribution(scope, "source"),
        "series.attribution_campaign": lambda scope: services.by_attribution(scope, "campaign"),
        "series.agents": services.by_agent,
        "series.hours": services.by_hour,
        "series.missed": services.missed_by_hour,
    }


def measure(path: Path, ids: dict) -> dict:
    from leadcenter import clock, db
    from leadcenter.accounts.models import Company
    from leadcenter.reports.services import Scope

    database = db.open_sqlite(str(path))
    db.bind(database)
    database.connect()
    from leadcenter.reports.models import KpiDayBuilt
    from leadcenter.reports.services import ensure_rollup, kpis

    company = Company.get_by_id(ids["company"])
    until = dt.datetime.combine(clock.system().date() + dt.timedelta(days=1), dt.time())
    out: dict = {}
    # The rollup of the year, built once (the first read of a period builds the days it lacks).
    start = time.perf_counter()
    for part in ("day", "slice"):
        ensure_rollup(Scope(company, until - dt.timedelta(days=365), until), part)
    out["rollup_build_365d_s"] = round(time.perf_counter() - start, 2)
    today = (until - dt.timedelta(days=1)).date().isoformat()
    took, cpu = [], []
    for _ in range(SAMPLES[30]):  # something changed today: the next read builds today again
        KpiDayBuilt.delete().where(KpiDayBuilt.company == company, KpiDayBuilt.day == today).execute()
        start, start_cpu = time.perf_counter(), time.thread_time()
        kpis(Scope(company, until - dt.timedelta(days=30), until))
        took.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    out["30d.kpis.after_a_change_today"] = {
        **summary(took, unit="ms"),
        "cpu": summary(cpu, unit="ms"),
        "goal_ms": GOAL_MS[30],
    }
    out["30d.kpis.after_a_change_today"]["ok"] = out["30d.kpis.after_a_change_today"]["p99"] < GOAL_MS[30]
    for days, samples in SAMPLES.items():
        since = until - dt.timedelta(days=days)
        scopes = {
            "company": Scope(company, since, until),
            "team": Scope(company, since, until, team_id=ids["team"]),
            "agent": Scope(company, since, until, agent_id=ids["agent"]),
        }
        for name, call in _calls().items():
            for who, scope in scopes.items():
                if who != "company" and name != "kpis":
                    continue  # the parts and series for the company; the whole KPIs for each scope
                took, cpu = [], []
                for _ in range(samples):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    call(scope)
                    took.append((time.perf_counter() - start) * 1000)
                    cpu.append((time.thread_time() - start_cpu) * 1000)
                key = f"{days}d.{name}" + ("" if who == "company" else f".{who}")
                out[key] = summary(took, unit="ms")
                out[key]["cpu"] = summary(cpu, unit="ms")
                out[key]["goal_ms"] = GOAL_MS[days]
                out[key]["ok"] = out[key]["p99"] < GOAL_MS[days]
    database.close()
    return out


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="lc-bench-kpis-") as tmp:
        path = Path(tmp) / "leadcenter.sqlite3"
        data = api_queries.seed(path)
        seeded = data["figures"]
        del data
        gc.collect()
        ids = _augment(path)
        print(
            f"  seeded {seeded['interactions']:,} interactions in {seeded['seconds']} s; added "
            f"{ids['figures']['status_changes']:,} status changes, {ids['figures']['messages']:,} messages, "
            f"{ids['figures']['transitions']:,} transitions in {ids['figures']['seconds']} s"
        )
        result = measure(path, ids)
    print(f"  {'call':<40} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu p50':>8}  goal")
    build = result.pop("rollup_build_365d_s")
    print(f"  the rollup of the year built in {build} s (once)")
    for name, s in result.items():
        print(
            f"  {name:<40} {s['n']:>4} {s['p50']:>8.1f} {s['p99']:>8.1f} {s['max']:>8.1f} "
            f"{s.get('cpu', {}).get('p50', 0):>8.1f}  "
            f"p99 < {s['goal_ms']:g} ms {'ok' if s['ok'] else 'MISSED'}"
        )
    result["rollup_build_365d_s"] = build
    result["seed"] = {**seeded, **ids["figures"]}
    return result
