"""Ring to screen through two nodes (issue 17, "Measure"): the ring suite's measurement (bench/ring_to_screen.py)
on an installation of several nodes, with half the agents' streams on the web node and half on the controller node,
in the same run: the difference is what crossing nodes through PostgreSQL costs an event on its way to a screen
(also given for each event alone: its first arrival on the web node minus its first on the controller node).

The installation as tests/integration/test_nodes.py runs it (tests/integration/cluster_nodes.py): a throw-away
PostgreSQL server, Asterisk, node 1 (`leadcenter run`, the controller, which records the calls and publishes
``interaction.created``) and node 2 (`leadcenter run --web-only`, which gets it by LISTEN/NOTIFY). The demo's Sales
team grown to AGENTS agents, each with one event stream open, every other one on node 2. CALLS calls at the ring
suite's rate, from numbers of their own (+1404555 1400 to 1479), each waiting in the queue (no phone registered).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench.ring_to_screen import AGENTS, CPS, GOAL_MS, AgentStreams, _grow_team, calls_from, ring, ring_to_screen
from bench.stats import summary
from bench.system import integration_helpers

CALLS = 80  # the numbers this suite may use: 25 agents a node make 2,000 deliveries a node
QUIET_S = 5.0  # the last events have arrived when none came for this long (a loaded machine delays them seconds)
SETTLE_S = 60.0  # the bound of that wait


async def settled(*streams: AgentStreams) -> None:
    """Wait, bounded, until no ``interaction.created`` arrived on ``streams`` for QUIET_S."""
    loop = asyncio.get_running_loop()
    began = last_change = loop.time()
    seen = -1
    while loop.time() - last_change < QUIET_S and loop.time() - began < SETTLE_S:
        now_seen = sum(len(at) for s in streams for at in s.created.values())
        if now_seen != seen:
            seen, last_change = now_seen, loop.time()
        await asyncio.sleep(0.25)


def run() -> dict:
    integration_helpers()
    import postgresql
    from cluster_nodes import two_nodes
    from sipp import SippCaller

    if not postgresql.available():
        print(f"  PostgreSQL: not installed ({postgresql.BIN}), skipped")
        return {"skipped": "PostgreSQL is not installed"}
    calls = calls_from([f"+1404555{1400 + n}" for n in range(CALLS)])
    with tempfile.TemporaryDirectory(prefix="lc-bench-nodes-") as data:
        prepared: list[list[str]] = []
        with two_nodes(Path(data), lambda system: prepared.append(_grow_team(system))) as (system, node_2):
            emails = prepared[0]
            on_controller, on_web = emails[0::2], emails[1::2]
            caller = SippCaller(Path(data) / "callers")

            async def measure():
                async with (
                    AgentStreams(system.url, on_controller) as node_1_streams,
                    AgentStreams(node_2.url, on_web) as node_2_streams,
                ):
                    invites, failed = await ring(system, caller, calls)
                    await settled(node_1_streams, node_2_streams)
                return node_1_streams.created, node_2_streams.created, invites, failed

            created_1, created_2, invites, failed = asyncio.run(measure())
            # Read while the installation runs: its database is the PostgreSQL server the block stops.
            node_1 = ring_to_screen(created_1, invites, len(on_controller))
            node_2_measured = ring_to_screen(created_2, invites, len(on_web))
    # The same event's first arrival on a stream of each node: what crossing costs, whatever backlog both share.
    crossing = [(min(created_2[i]) - min(created_1[i])) * 1000 for i in created_1.keys() & created_2.keys()]
    result = {
        "agents": AGENTS,
        "calls_per_second": CPS,
        "calls": len(calls),
        "calls_failed": failed,
        "controller_node": {"agents": len(on_controller), **node_1},
        "web_node": {"agents": len(on_web), **node_2_measured},
        "web_node_minus_controller_node": summary(crossing, "ms"),
        "goal_p99_ms": GOAL_MS,
    }
    for name in ("controller_node", "web_node"):
        figures, missing = result[name]["figures"], result[name]["missing"]
        print(
            f"  ring to screen on the {name.replace('_', ' ')} ({result[name]['agents']} agents), {CPS} calls/s: "
            f"p50 {figures['p50']} ms, p99 {figures['p99']} ms (n={figures['n']}, missing {missing})"
        )
    later = result["web_node_minus_controller_node"]
    print(
        f"  an event's first arrival on the web node minus on the controller node: p50 {later.get('p50')} ms, "
        f"p99 {later.get('p99')} ms (n={later['n']}); calls {len(calls)}, failed {failed}"
    )
    return result
