"""Kamailio as the SIP edge (issue 18, "Measure"): what the proxy costs, how many calls two nodes behind it hold at
once against one Asterisk, and how soon a company's calls are answered on the standby node when its home node dies.

The edge and its two Asterisk nodes as tests/integration/test_kamailio.py runs them (tests/integration/edge_nodes.py):
node a, the installation's own Asterisk, home of the demo company; node b, a second Asterisk rendered from the same
database, home of a second company; Kamailio started from the database as `leadcenter run` starts it, with
[kamailio]'s defaults (probes every 2 s, a node that does not answer an INVITE in 2 s is skipped). No controller
runs: the nodes and the edge alone, as bare Asterisk in the overhead suite. Each company has a bench tracking number
with no flow, whose calls Asterisk answers and plays an announcement (lc-inbound's "unrouted" path: ~5 s): plain
answered calls through the product's own dialplan, with two-way audio (the caller speaks G.711).

- ``proxy``: each rate step places STEP_SECONDS of calls at that rate, half to each company's number from its
  carrier's address (two SIPp carriers), each call hung up by its caller CALL_SECONDS after its INVITE; first
  through Kamailio (each company's calls on its home node: two nodes), then the same calls straight to node a (one
  Asterisk, both companies' calls), then the next rate, until the direct path fails a step. A step passes when
  SIPp counts no failed call and Asterisk answered every call. The figures: each path's highest passing rate, their
  ratio (goal: the edge carries >= 90 %), and the CPU time per call of Kamailio (all its processes) and of each
  node, from /proc (the median over the edge's passing steps).
- ``held``: concurrent calls. Each company's second bench number enters a flow whose one step is a custom
  context (made as an installation owner makes one) that answers and echoes the caller's audio until the caller
  hangs up: plain answered calls, with two-way audio, that stay up. Each step holds a count of calls up at once,
  half from each carrier, placed at RAMP_CPS and each hung up HOLD_SECONDS after the step's last INVITE, the
  carrier speaking a tone the whole time; first through Kamailio, then straight to node a, then the next count,
  until the direct path fails a step. A step passes when SIPp counts no failed call, every call was answered and
  hung up by its caller (none refused or dropped), and the nodes showed every call up at once (counted each
  second). The figures: each path's highest passing count, their ratio, and Kamailio's CPU time per call.
- ``failover``: TRIES tries of: node a killed with SIGKILL, at once a carrier call to the demo company's number
  through the edge, answered by node b (its channel seen there): kill -> answered (SIPp's timestamp of the 200 OK),
  and that call's INVITE -> answered; then node a started again and active at the edge before the next try.
  ``baseline_call_setup``: one call through the edge with both nodes up, the same way.

Numbers of its own: +1404555 1500 to 1549, and 1701 to 1712 for the held calls.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.desk_rig import cpu_seconds
from bench.stats import summary
from bench.system import integration_helpers

A_LINE, B_LINE = "+14045551501", "+14045551502"  # the bench numbers of the demo company (node a) and of Beta (b)
A_CALLER, B_CALLER = "+14045551511", "+14045551512"
FAILOVER_CALLERS = "+1404555152"  # + the try's digit
BASELINE_CALLER = "+14045551530"
# Each node's RTP ports: a call takes two (RTP, RTCP); out of the way of the ephemeral ports SIPp binds.
NODE_A_RTP = {"LEADCENTER_ASTERISK_RTP_START": "6000", "LEADCENTER_ASTERISK_RTP_END": "9999"}
NODE_B_RTP = {"LEADCENTER_ASTERISK_RTP_START": "10000", "LEADCENTER_ASTERISK_RTP_END": "13999"}
CALL_SECONDS = 4  # from the INVITE: answered at once, then the caller speaks ~4 s over the announcement
STEP_SECONDS = 10
RATES = (20, 40, 60, 70, 80, 90, 100, 110, 120, 130, 145, 160, 180)
TRIES = 10
GOAL_RATIO = 0.9
# Held calls: each company's second bench number enters a flow whose one step is a custom context that answers and
# echoes the caller's audio until the caller hangs up (plain answered calls with two-way RTP that stay up).
HOLD_A_LINE, HOLD_B_LINE = "+14045551701", "+14045551702"
HOLD_A_CALLER, HOLD_B_CALLER = "+14045551711", "+14045551712"
HOLD_CONTEXT = "bench-hold"
HOLD_TEXT = "exten => s,1,Answer()\n same => n,Echo()\n"
HELD = (50, 100, 150, 200, 250, 300, 400, 500, 600)  # calls up at once, stepped until the direct path fails
RAMP_CPS = 20  # how fast a step's calls are placed: well under both paths' measured rate ceiling (80-90/s)
HOLD_SECONDS = 10  # every call of a step up at once for this long
GOAL_FAILOVER_S = 5.0


def _holding_flow(company_id: int) -> int:
    """The company's flow into HOLD_CONTEXT (made, as the admin console makes a custom context, on first use);
    its id."""
    from leadcenter import clock
    from leadcenter.accounts.models import Company
    from leadcenter.dialplans import services as dialplans
    from leadcenter.dialplans.models import CustomContext
    from leadcenter.flows.models import CallFlow
    from leadcenter.flows.services import checked_steps, keep_version

    if CustomContext.get_or_none(CustomContext.name == HOLD_CONTEXT) is None:
        dialplans.check(HOLD_TEXT, set())
        dialplans.save(CustomContext(name=HOLD_CONTEXT), HOLD_TEXT, None, clock.system)
    company = Company.get_by_id(company_id)
    flow = CallFlow(company=company, name="Bench hold")
    flow.steps = checked_steps(company, [{"type": "custom", "context": HOLD_CONTEXT}])
    flow.save()
    keep_version(flow, None)
    return flow.id


class Cluster:
    """The running edge, its nodes, and the carriers' SIPp callers."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack):
        from edge_nodes import Edge, edge_system, start_node_b

        from leadcenter import asterisk_config, config, db, kamailio

        defaults = config.KamailioSettings()
        self.system = edge_system(
            folder, stack, {**NODE_A_RTP, "LEADCENTER_KAMAILIO_PROBE_SECONDS": str(defaults.probe_seconds)}
        )
        self.system.cli("number", "add", "--company", "1", A_LINE, "Bench line A", "--trunk", "1")
        self.system.cli("number", "add", "--company", "2", B_LINE, "Bench line B", "--trunk", "2")
        handle = self.system.open_database()
        stack.callback(handle.close)
        db.bind(handle)
        for company, line in ((1, HOLD_A_LINE), (2, HOLD_B_LINE)):
            flow = _holding_flow(company)
            self.system.cli(
                "number",
                "add",
                "--company",
                str(company),
                line,
                "Bench hold",
                "--trunk",
                str(company),
                "--flow",
                str(flow),
            )
        self.system.start_asterisk()
        stack.callback(self.system.stop_asterisk)
        self.node_b = start_node_b(self.system, folder, stack, NODE_B_RTP)
        self.edge = Edge(self.system, self.node_b)
        self.kamailio_pid = self.edge.kamailio.start(
            kamailio.edge_snapshot(asterisk_config.snapshot(self.system.settings))
        )
        stack.callback(self.edge.kamailio.stop)
        self.wait_both_active()
        self.folder = folder
        self._batches = 0

    def wait_both_active(self) -> None:
        from harness import wait_for

        wait_for(
            lambda: (
                all(flags.startswith("A") for flags in self.edge.destinations().values())
                and len(self.edge.destinations()) == 2
            ),
            30,
            what=f"both nodes active at the edge: {self.edge.destinations()}",
        )

    def kamailio_cpu(self) -> float:
        """The CPU time Kamailio's processes (the main one and the children it forked) spent so far."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.kamailio_pid:
                    children.append(int(stat.parent.name))
        return sum(cpu_seconds(pid) for pid in (self.kamailio_pid, *children))

    def calls_up(self) -> int:
        total = 0
        for node in (self.system.instance, self.node_b):
            shown = (node.rx("core show channels count") or "").split(" active call", 1)[0].split()
            total += int(shown[-1]) if shown and shown[-1].isdigit() else 0
        return total

    def carriers(self, name: str, via_edge: bool):
        """The carriers' SIPp callers (files in ``name``), on the world's side, calling the edge or node a."""
        from edge_nodes import NODE_A_HOST, WORLD
        from sipp import SippCaller

        return SippCaller(self.folder / name, host=WORLD, server=WORLD if via_edge else NODE_A_HOST)

    def batch(self, rate: int, via_edge: bool) -> dict:
        """STEP_SECONDS of calls at ``rate`` a second, half from each company's carrier; through the edge or
        straight to node a. Waits until the nodes are idle, then judges the step (module docstring)."""
        from edge_nodes import B_TRUNK_PORT, EDGE_PORT
        from sipp import Call

        self._batches += 1
        count = rate * STEP_SECONDS
        each = count // 2
        port = EDGE_PORT if via_edge else self.system.sip_port
        caller = self.carriers(f"batch-{self._batches}", via_edge)
        nodes = (self.system.instance.pid(), self.node_b.pid())
        before = (self.kamailio_cpu(), *(cpu_seconds(pid) for pid in nodes))
        began = time.monotonic()
        handles = [
            caller.start_calls(
                [Call(line, number, duration=CALL_SECONDS, delay=n / (rate / 2)) for n in range(each)],
                asterisk_port=port,
                local_port=carrier_port,
            )
            for line, number, carrier_port in (
                (A_LINE, A_CALLER, self.system.trunk_port),
                (B_LINE, B_CALLER, B_TRUNK_PORT),
            )
        ]
        results = [handle.wait_all(each / (rate / 2) + CALL_SECONDS + 60) for handle in handles]
        failed = sum(r[0].failed for r in results if r) + sum(1 for r in results for call in r if not call.answered)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.calls_up():
            time.sleep(0.5)
        after = (self.kamailio_cpu(), *(cpu_seconds(pid) for pid in nodes))
        kamailio_cpu, node_a_cpu, node_b_cpu = (1000 * (a - b) / (2 * each) for a, b in zip(after, before, strict=True))
        outcome = {
            "path": "edge" if via_edge else "direct",
            "rate": rate,
            "calls": 2 * each,
            "failed": failed,
            "seconds": round(time.monotonic() - began, 1),
            "kamailio_cpu_ms_per_call": round(kamailio_cpu, 3),
            "node_a_cpu_ms_per_call": round(node_a_cpu, 2),
            "node_b_cpu_ms_per_call": round(node_b_cpu, 2),
            "ok": failed == 0,
        }
        print(f"  {'through the edge' if via_edge else 'straight to node a'} at {rate} calls/s: {outcome}")
        return outcome

    def held(self, count: int, via_edge: bool) -> dict:
        """``count`` calls up at once, half from each company's carrier to its hold number, placed at RAMP_CPS and
        each hung up by its caller HOLD_SECONDS after the last one was placed; through the edge or straight to node
        a. The calls up on the nodes are counted every second; judged when the nodes are idle again."""
        from edge_nodes import B_TRUNK_PORT, EDGE_PORT
        from rtp_capture import write_tone_pcap
        from sipp import Call

        self._batches += 1
        each = count // 2
        ramp = count / RAMP_CPS
        # The carriers speak for the whole call (SIPp's own speech lasts 7 s): a tone, echoed back by the node.
        speech = self.folder / f"speech-{ramp + HOLD_SECONDS:.0f}s.pcap"
        if not speech.exists():
            write_tone_pcap(str(speech), 440, ramp + HOLD_SECONDS)
        port = EDGE_PORT if via_edge else self.system.sip_port
        caller = self.carriers(f"held-{self._batches}", via_edge)
        nodes = (self.system.instance.pid(), self.node_b.pid())
        before = (self.kamailio_cpu(), *(cpu_seconds(pid) for pid in nodes))
        began = time.monotonic()
        handles = [
            caller.start_calls(
                [Call(line, number, duration=ramp + HOLD_SECONDS, delay=n / (RAMP_CPS / 2)) for n in range(each)],
                asterisk_port=port,
                local_port=carrier_port,
                audio=speech,
            )
            for line, number, carrier_port in (
                (HOLD_A_LINE, HOLD_A_CALLER, self.system.trunk_port),
                (HOLD_B_LINE, HOLD_B_CALLER, B_TRUNK_PORT),
            )
        ]
        peak = 0
        while time.monotonic() - began < ramp + HOLD_SECONDS and any(h.sipp.proc.poll() is None for h in handles):
            peak = max(peak, self.calls_up())
            time.sleep(1)
        results = [handle.wait_all(ramp + HOLD_SECONDS + 60) for handle in handles]
        # A held call fails unless answered and hung up by its caller: refused, never answered, or dropped early.
        why = collections.Counter(
            f"refused {call.rejected}" if call.rejected else "not answered" if not call.answered else "dropped"
            for r in results
            for call in r
            if call.hangup != "local"
        )
        sipp_failed = sum(r[0].failed for r in results if r)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.calls_up():
            time.sleep(0.5)
        after = (self.kamailio_cpu(), *(cpu_seconds(pid) for pid in nodes))
        kamailio_cpu, node_a_cpu, node_b_cpu = (a - b for a, b in zip(after, before, strict=True))
        outcome = {
            "path": "edge" if via_edge else "direct",
            "held": 2 * each,
            "failed": sum(why.values()),
            "why": dict(why),
            "sipp_failed": sipp_failed,
            "peak_calls_up": peak,
            "seconds": round(time.monotonic() - began, 1),
            "kamailio_cpu_s": round(kamailio_cpu, 3),
            "kamailio_cpu_ms_per_call": round(1000 * kamailio_cpu / (2 * each), 3),
            "node_a_cpu_s": round(node_a_cpu, 2),
            "node_b_cpu_s": round(node_b_cpu, 2),
            "ok": not why and not sipp_failed and peak >= 2 * each,
        }
        print(f"  {count} held calls {'through the edge' if via_edge else 'straight to node a'}: {outcome}")
        return outcome

    def failover(self, number: str) -> dict:
        """Node a killed, the next call to the demo company's number through the edge (module docstring)."""
        from edge_nodes import EDGE_PORT
        from harness import wait_for

        self.wait_both_active()
        os.kill(self.system.instance.pid() or 0, signal.SIGKILL)
        killed_at = time.time()
        wait_for(lambda: self.system.instance.pid() is None, 5, what="node a gone")
        try:
            call = self.answered(number, EDGE_PORT, self.node_b)
        finally:
            self.system.start_asterisk()
        if isinstance(call, str):
            return {"error": call}
        invited, answered = call
        return {"next_call_answered": answered - killed_at, "call_setup": answered - invited, "error": ""}

    def answered(self, number: str, port: int, node) -> tuple[float, float] | str:
        """Call the demo company's number from ``number`` through the edge's ``port``: (its INVITE, its answer),
        wall clock, when ``node`` answered it; else why not."""
        handle = self.carriers(f"call-{number}", via_edge=True).start_call(
            A_LINE, number, asterisk_port=port, local_port=self.system.trunk_port, duration=CALL_SECONDS
        )
        try:
            handle.wait_for("ANSWERED", 30)
        except TimeoutError as exc:
            handle.kill()
            return str(exc)
        on_node = "PJSIP/trunk1-" in (node.rx("core show channels concise") or "")
        result = handle.wait(CALL_SECONDS + 30)
        if not on_node:
            return f"the call from {number} was answered, not by node {'a' if node is self.system.instance else 'b'}"
        stamps = {event[0]: float(event[1]) for event in reversed(result.events) if event[0] in ("INVITE", "ANSWERED")}
        return stamps["INVITE"], stamps["ANSWERED"]


@dataclasses.dataclass
class Stepped:
    """Both paths stepped up: each path's highest passing level, the edge's ratio to the direct path, every step."""

    best: dict[str, int]
    steps: list[dict]

    @property
    def ratio(self) -> float | None:
        return round(self.best["edge"] / self.best["direct"], 3) if self.best["direct"] else None

    def edge_median(self, key: str) -> float | None:
        """The median of ``key`` over the edge's passing steps."""
        passed = [step[key] for step in self.steps if step["path"] == "edge" and step["ok"]]
        return round(statistics.median(passed), 3) if passed else None


def _step_up(levels: tuple[int, ...], step: Callable[[int, bool], dict]) -> Stepped:
    """Both paths in turn at each level (``step(level, via_edge)``), the edge first, until the direct path fails a
    step (the edge's steps stop at its own first failure)."""
    best = {"edge": 0, "direct": 0}
    failed = set()
    steps = []
    for level in levels:
        for path in ("edge", "direct"):
            if path not in failed:
                steps.append(outcome := step(level, path == "edge"))
                if outcome["ok"]:
                    best[path] = level
                else:
                    failed.add(path)
        if "direct" in failed:
            break
    return Stepped(best, steps)


def _compared(
    levels: tuple[int, ...], step: Callable[[int, bool], dict], measure: str, tried: str, what: str, **settings
) -> dict:
    """Both paths stepped up over ``levels``: the result (``edge_max_<measure>``, ``direct_max_<measure>``, their
    ratio, Kamailio's CPU, ``<tried>_tried_up_to``, with ``settings``), said on the console as ``what``."""
    stepped = _step_up(levels, step)
    cpu = stepped.edge_median("kamailio_cpu_ms_per_call")
    print(
        f"  {what} with no failed call: through the edge (2 nodes) {stepped.best['edge']}, straight to one Asterisk "
        f"{stepped.best['direct']}, ratio {stepped.ratio}; Kamailio's CPU time per call (median of the edge's "
        f"passing steps): {cpu} ms"
    )
    return {
        **settings,
        f"edge_max_{measure}": stepped.best["edge"],
        f"direct_max_{measure}": stepped.best["direct"],
        "ratio": stepped.ratio,
        "kamailio_cpu_ms_per_call": cpu,
        f"{tried}_tried_up_to": levels[-1],
        "steps": stepped.steps,
    }


def _proxy(cluster: Cluster) -> dict:
    return _compared(
        RATES, cluster.batch, "cps", "rates", "highest rate (calls/s)",
        call_seconds=CALL_SECONDS, step_seconds=STEP_SECONDS, goal_ratio=GOAL_RATIO,
    )  # fmt: skip


def _held(cluster: Cluster) -> dict:
    return _compared(
        HELD, cluster.held, "held", "counts", "most calls up at once",
        ramp_calls_per_second=RAMP_CPS, hold_seconds=HOLD_SECONDS,
    )  # fmt: skip


def _failover(cluster: Cluster) -> dict:
    from edge_nodes import EDGE_PORT

    cluster.wait_both_active()
    baseline = cluster.answered(BASELINE_CALLER, EDGE_PORT, cluster.system.instance)
    tries: list[dict] = []
    for n in range(TRIES):
        try:
            tries.append(cluster.failover(f"{FAILOVER_CALLERS}{n}"))
        except (AssertionError, TimeoutError) as exc:  # a try that failed says why; the next one goes on
            tries.append({"error": str(exc).splitlines()[0]})
        shown = ", ".join(f"{k} {v:.2f} s" for k, v in tries[-1].items() if k != "error")
        print(f"  try {n + 1}: {shown}" + (f"; failed: {tries[-1]['error']}" if tries[-1]["error"] else ""))
    result = {
        "tries": len(tries),
        "next_call_answered": summary([t["next_call_answered"] for t in tries if "next_call_answered" in t]),
        "call_setup": summary([t["call_setup"] for t in tries if "call_setup" in t]),
        "baseline_call_setup": None if isinstance(baseline, str) else round(baseline[1] - baseline[0], 3),
        "failures": [t["error"] for t in tries if t["error"]],
        "goal_s": GOAL_FAILOVER_S,
    }
    for name, what in (
        ("next_call_answered", "kill -9 of the home node -> the next call answered on the standby"),
        ("call_setup", "that call, INVITE -> answered"),
    ):
        figures = result[name]
        print(f"  {what}: p50 {figures.get('p50')} s, max {figures.get('max')} s (n={figures['n']})")
    print(f"  a call through the edge with no failover, INVITE -> answered: {result['baseline_call_setup']} s")
    return result


def run() -> dict:
    integration_helpers()
    with tempfile.TemporaryDirectory(prefix="lc-bench-edge-") as data, contextlib.ExitStack() as stack:
        cluster = Cluster(Path(data), stack)
        return {"proxy": _proxy(cluster), "held": _held(cluster), "failover": _failover(cluster)}
