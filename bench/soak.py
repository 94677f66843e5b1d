"""The soak (issue 17): the full system held at half its measured capacity for an hour, recorded calls through the
queue (the rig of bench/desk_rig.py), with the controller's and Asterisk's memory, threads and open files read
between rounds: they must stay flat (no leak), and no call may fail.

A round places CALLS calls at RAMP a second, each talking TALK seconds, so that all CALLS are up at once for 30 s,
and judges it as the capacity suite does (every call reached an agent, every interaction concluded answered
with its recording on disk). Rounds follow each other until MINUTES have passed. ``LEADCENTER_BENCH_SOAK_MINUTES``
(60) and ``LEADCENTER_BENCH_SOAK_CALLS`` (125: half of the 250 the capacity suite measured) set them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.desk_rig import rig

MINUTES = float(os.environ.get("LEADCENTER_BENCH_SOAK_MINUTES", "60"))
CALLS = int(os.environ.get("LEADCENTER_BENCH_SOAK_CALLS", "125"))
RAMP = 5  # calls a second: a round's calls are all up once the last is placed
# Seconds from each INVITE: every call of a round is up at once for 30 s. Longer talks the trunk's RTP timeout would
# end at about 67 s (SIPp's caller speaks 7 s, then only listens; render.TRUNK_RTP_TIMEOUT is 60 s of silence).
TALK = CALLS / RAMP + 30
AGENTS = CALLS + 50  # the agents in wrap-up between two rounds leave room for the next
MIN_ROUNDS = 4  # however short the run: two halves of two rounds each
# "Flat": over the second half of the run (the first is warm-up: Asterisk's memory grew for about 17 minutes before
# it levelled off, in the run of 2026-12-08), memory grew by at most 5 %, and threads and open files are no more
# than the first half saw.
GROWTH_LIMIT = 0.05


def _reading(pid: int | None) -> dict:
    """A process's resident memory (MB), threads and open files now; {} when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, TypeError):
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
        "files": files,
    }


def _flat(readings: list[dict]) -> bool:
    """Whether one process's readings (in order) are flat (GROWTH_LIMIT); False if it died."""
    if not all(readings):
        return False
    half = len(readings) // 2
    first, middle, last = readings[:half], readings[half], readings[-1]
    return (
        last["rss_mb"] <= middle["rss_mb"] * (1 + GROWTH_LIMIT)
        and last["threads"] <= max(r["threads"] for r in first)
        and last["files"] <= max(r["files"] for r in first)
    )


def _growth_kb_per_call(readings: list[dict], calls_between: int) -> float | None:
    """Resident memory gained over the second half, per call placed meanwhile (KB)."""
    half = len(readings) // 2
    if not (readings[half] and readings[-1]) or not calls_between:
        return None
    return round((readings[-1]["rss_mb"] - readings[half]["rss_mb"]) * 1024 / calls_between, 2)


def run() -> dict:
    readings: list[dict] = []
    rounds: list[dict] = []
    with rig(AGENTS) as up:
        began = time.monotonic()
        while time.monotonic() - began < MINUTES * 60 or len(rounds) < MIN_ROUNDS:
            outcome = up.place(CALLS, RAMP, TALK, recorded=True, label=f"round {len(rounds) + 1}")
            rounds.append(outcome)
            readings.append(
                {
                    "minute": round((time.monotonic() - began) / 60, 1),
                    "controller": _reading(up.system.controller.pid if up.system.controller else None),
                    "asterisk": _reading(up.system.instance.pid()),
                }
            )
            print(f"    {readings[-1]}", flush=True)
    parts = ("controller", "asterisk")
    flat = {part: _flat([r[part] for r in readings]) for part in parts}
    second_half_calls = sum(r["calls"] for r in rounds[len(rounds) // 2 + 1 :])
    growth = {part: _growth_kb_per_call([r[part] for r in readings], second_half_calls) for part in parts}
    failed = sum(r["failed"] for r in rounds)  # SIPp's count (a failed call also never reached an agent)
    unreached = sum(r["calls"] - r["reached_agents"] for r in rounds)
    missing = sum(r["interactions_missing"] for r in rounds)
    print(
        f"  soak: {len(rounds)} rounds of {CALLS} calls at once in {readings[-1]['minute']} min; failed {failed}, "
        f"not reaching an agent {unreached}, interactions missing {missing}; flat: {flat}; "
        f"memory gained over the second half, KB a call: {growth}"
    )
    return {
        "minutes": readings[-1]["minute"],
        "calls_at_once": CALLS,
        "rounds": len(rounds),
        "calls": sum(r["calls"] for r in rounds),
        "failed": failed,
        "not_reaching_an_agent": unreached,
        "interactions_missing": missing,
        "flat": flat,
        "second_half_growth_kb_per_call": growth,
        "readings": readings,
        "controller_cpu_ms_per_call": [r["controller_cpu_ms_per_call"] for r in rounds],
    }
