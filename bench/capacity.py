"""The capacity of one node (issue 17), which sizes a cluster: the most concurrent recorded calls the full system
holds with no failure, beside the same Asterisk and dialplan with no controller attached, in the same run.

The rig is bench/desk_rig.py (agents on desk phones, the demo flow: queue, MixMonitor recording). A step places N
calls at RAMP calls a second, each held until HOLD seconds after the last one is up, so that all N talk at once for
HOLD seconds; it passes when none failed, every call reached an agent and, with the controller, every interaction
concluded as answered with its agent and its recording on disk. N goes up in LEVELS until the first failure; bare
Asterisk steps on past the full system's limit until it fails too. ``LEADCENTER_BENCH_HOLD`` sets HOLD (300 s, the
issue's five minutes, by default; shorter for a quick look).
"""

from __future__ import annotations

import os

from bench.desk_rig import Rig, rig, step_up

RAMP = 15  # calls a second
HOLD = float(os.environ.get("LEADCENTER_BENCH_HOLD", "300"))
LEVELS = (100, 150, 200, 250, 300, 350, 400, 500)
GOAL = 250


def _ceiling(up: Rig) -> tuple[int, list]:
    return step_up(
        LEVELS,
        lambda level: up.place(level, RAMP, level / RAMP + HOLD, recorded=up.full, label=f"{level} calls at once"),
    )


def run() -> dict:
    with rig(LEVELS[-1]) as up:
        full, full_steps = _ceiling(up)
        up.detach_controller("capacity-controller.log")
        bare, bare_steps = _ceiling(up)
    print(f"  most concurrent calls with no failure: full system {full}, bare Asterisk {bare} (held {HOLD:.0f} s)")
    return {
        "ramp_calls_per_second": RAMP,
        "hold_seconds": HOLD,
        "full_system_max_concurrent": full,
        "bare_asterisk_max_concurrent": bare,
        "goal": GOAL,
        "steps": full_steps + bare_steps,
    }
