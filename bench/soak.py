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
WARM_ROUNDS = 2  # the rounds before the baseline: caches, pools and Asterisk's modules settle first
GROWTH_LIMIT = 0.10  # "flat": the last reading within 10 % (memory) of the baseline, threads and files no more


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


def _flat(baseline: dict, last: dict) -> bool:
    return (
        bool(baseline and last)
        and last["rss_mb"] <= baseline["rss_mb"] * (1 + GROWTH_LIMIT)
        and last["threads"] <= baseline["threads"]
        and last["files"] <= baseline["files"]
    )


def run() -> dict:
    readings: list[dict] = []
    rounds: list[dict] = []
    with rig(AGENTS) as up:
        began = time.monotonic()
        while time.monotonic() - began < MINUTES * 60 or len(rounds) <= WARM_ROUNDS:
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
    baseline, last = readings[WARM_ROUNDS - 1], readings[-1]
    flat = {part: _flat(baseline[part], last[part]) for part in ("controller", "asterisk")}
    failed = sum(r["failed"] for r in rounds) + sum(r["calls"] - r["reached_agents"] for r in rounds)
    missing = sum(r["interactions_missing"] for r in rounds)
    print(
        f"  soak: {len(rounds)} rounds of {CALLS} calls at once in {readings[-1]['minute']} min; failed {failed}, "
        f"interactions missing {missing}; flat: {flat}"
    )
    return {
        "minutes": readings[-1]["minute"],
        "calls_at_once": CALLS,
        "rounds": len(rounds),
        "calls": sum(r["calls"] for r in rounds),
        "failed": failed,
        "interactions_missing": missing,
        "baseline": baseline,
        "last": last,
        "flat": flat,
        "readings": readings,
        "controller_cpu_ms_per_call": [r["controller_cpu_ms_per_call"] for r in rounds],
    }
