"""`make bench`: measure, print, and write bench/results/latest.json (docs/benchmarks.md quotes it).

Runs inside the private network namespace `make bench` creates; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from bench import (
    api_queries,
    asterisk_lifecycle,
    capacity,
    chat_visitors,
    cluster_events,
    controller_overhead,
    edge,
    failover,
    kpis,
    results_dir,
    ring_through_nodes,
    ring_to_browser,
    ring_to_screen,
    sms,
    soak,
    team_view,
    turn,
    visits_collection,
)

SUITES = {
    "asterisk": asterisk_lifecycle.run,
    "queries": api_queries.run,
    "ring": ring_to_screen.run,
    "browser": ring_to_browser.run,
    "overhead": controller_overhead.run,
    "sms": sms.run,
    "chat": chat_visitors.run,
    "visits": visits_collection.run,
    "kpis": kpis.run,
    "teamview": team_view.run,
    "nodes": cluster_events.run,
    "nodering": ring_through_nodes.run,
    "failover": failover.run,
    "capacity": capacity.run,
    "soak": soak.run,
    "edge": edge.run,
    "turn": turn.run,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all)")
    args = parser.parse_args()
    if unknown := set(args.suites) - set(SUITES):
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    out = results_dir()  # before any suite: some write their logs there
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    for name in args.suites or SUITES:
        print(f"== {name}")
        results[name] = SUITES[name]()
    latest = out / "latest.json"
    # A run of some suites keeps the other suites' last figures.
    kept = json.loads(latest.read_text()) if latest.exists() else {}
    latest.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))


main()
