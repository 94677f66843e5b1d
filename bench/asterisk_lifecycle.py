"""Asterisk start and stop, and how soon the controller is back after Asterisk restarts.

- boot: `leadcenter asterisk start` until `core waitfullybooted` returns (Instance.start);
- stop: `core stop now` until the process is gone;
- recovery: Asterisk fully booted -> the running controller's /healthz says 200 again (AMI and ARI reconnected
  and resynchronised). Goal (issue 2): under 5 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.stats import summary

ROUNDS = 5


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from harness import System  # the same operator-level driver the integration tests use

    boots, stops, recoveries = [], [], []
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data:
        system = System(Path(data))
        system.cli("demo")
        system.start_asterisk()
        system.start_controller()
        try:
            for _ in range(ROUNDS):
                began = time.monotonic()
                system.instance.stop()
                stops.append(time.monotonic() - began)
                began = time.monotonic()
                system.instance.start()
                boots.append(time.monotonic() - began)
                recoveries.append(system.wait_healthy(15))
        finally:
            system.stop_controller()
            system.stop_asterisk()
    result = {
        "asterisk_boot": summary(boots),
        "asterisk_stop": summary(stops),
        "controller_recovery_after_restart": summary(recoveries),
    }
    for name, figures in result.items():
        print(f"  {name}: p50 {figures['p50']} s, max {figures['max']} s (n={figures['n']})")
    return result
