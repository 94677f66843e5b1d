"""Controller overhead (issue 4): the highest rate of calls a second that the full system carries with no failed
call, divided by the highest rate the same Asterisk and dialplan carry with no controller attached. Goal: >= 0.9.

The rig is bench/desk_rig.py (AGENTS agents on desk phones, the demo flow). Each call: a SIPp caller speaks for
TALK_SECONDS after an agent answers, then hangs up. A rate step places STEP_SECONDS of calls at that rate, then
waits for the system to be idle. Rates go up in RATES until the first failure; the last rate that passed is the
figure. Bare Asterisk steps on past the full system's limit until it fails too, so that the ratio compares two
real ceilings. The controller's CPU time per call is the median over the full system's passing steps.
"""

from __future__ import annotations

import statistics

from bench.desk_rig import Rig, rig, step_up

AGENTS = 400  # enough free agents for the highest rate: a call holds one for ~4 s
TALK_SECONDS = 3
STEP_SECONDS = 15
RATES = (10, 14, 18, 22, 26, 30, 34, 40, 46, 52, 60, 70, 80)
GOAL = 0.9


def _highest(up: Rig) -> tuple[int, list]:
    return step_up(
        RATES, lambda rate: up.place(rate * STEP_SECONDS, rate, TALK_SECONDS + 1, label=f"at {rate} calls/s")
    )


def run() -> dict:
    with rig(AGENTS) as up:
        full, full_steps = _highest(up)
        up.detach_controller("overhead-controller.log")
        bare, bare_steps = _highest(up)
    ratio = round(full / bare, 3) if bare else None
    passed = [step["controller_cpu_ms_per_call"] for step in full_steps if step["ok"]]
    cost = statistics.median(passed) if passed else None
    print(f"  highest rate with no failed call: full system {full}/s, bare Asterisk {bare}/s, ratio {ratio}")
    print(f"  the controller's CPU time per call (median of the passing steps): {cost} ms")
    return {
        "agents": AGENTS,
        "talk_seconds": TALK_SECONDS,
        "step_seconds": STEP_SECONDS,
        "full_system_max_cps": full,
        "bare_asterisk_max_cps": bare,
        "ratio": ratio,
        "goal": GOAL,
        "controller_cpu_ms_per_call": cost,
        "rates_tried_up_to": RATES[-1],
        "steps": full_steps + bare_steps,
    }
