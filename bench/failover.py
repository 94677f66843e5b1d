"""Controller failover (issue 17, "Measure"): kill -9 of the leading `leadcenter run`, and how soon a standby serves.

The installation as tests/integration/test_nodes.py runs it (tests/integration/cluster_nodes.py): a throw-away
PostgreSQL server, Asterisk, node 1 (the controller) and node 2 (a web node); Bob's desk phone is a SIPp phone that
answers after 0.5 s. Each of TRIES tries: Bob made Available, node 3 started and standing by, node 1 killed with
SIGKILL; then, from the kill:

- ``healthy``: node 3's /healthz 200 (it took the leadership lock, connected to Asterisk and resynchronised);
- ``next_call_answered``: a SIPp call placed the moment node 3 is healthy, answered by Bob's phone (its SIPp's
  timestamp of the 200 OK), that call then checked to be recorded correctly once it ended: one interaction for
  its number, concluded (Recent) as answered by Bob, its recording file present and not empty. The call's own
  set-up (the flow, the queue ringing Bob, his phone's 0.5 s) is in this figure: ``call_setup`` gives it for the
  same calls (the caller's INVITE to Bob's answer), and ``baseline_call_setup`` for one call placed the same way
  with no failover, in the same run.

Node 3 is then stopped and node 1 started again for the next try. Numbers of its own: +1404555 1480 to 1490.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from bench.stats import summary
from bench.system import integration_helpers

TRIES = 10
BOB = 2
CALL_SECONDS = 10  # from the INVITE: Bob answers within a second, then about 9 s of talk
GOAL_S = 5.0


def _place_call(system, workdir: Path, number: str):
    from harness import ADS_LINE
    from sipp import SippCaller

    return SippCaller(workdir).start_call(
        ADS_LINE, number, asterisk_port=system.sip_port, local_port=system.trunk_port, duration=CALL_SECONDS
    )


def _stamp(result, kind: str) -> float:
    """The wall-clock time SIPp logged a call's ``kind`` event (INVITE)."""
    return float(next(event[1] for event in result.events if event[0] == kind))


def _recorded(system, number: str) -> str:
    """Why the call from ``number`` is not recorded correctly, or "" when it is (waits, bounded, for it to
    conclude)."""
    from harness import wait_for

    from leadcenter.interactions.models import Interaction

    try:
        call = wait_for(
            lambda: (row := system.interaction(lead_number=number)) and row.status == "recent" and row,
            20,
            what=f"the call from {number} to conclude",
        )
    except AssertionError as exc:
        return str(exc)
    count = Interaction.select().where(Interaction.lead_number == number).count()
    recording = system.settings.data_dir / call.recording if call.recording else None
    if count != 1 or (call.outcome, call.agent_id) != ("answered", BOB):
        return f"{count} interaction(s); outcome {call.outcome}, agent {call.agent_id}"
    if recording is None or not recording.exists() or recording.stat().st_size == 0:
        return f"no recording ({call.recording!r})"
    return ""


def _bob_available(system) -> None:
    from harness import wait_for

    system.choose_status("bob@acme.example", "available")  # out of the last call's wrap-up
    wait_for(lambda: f"agent{BOB}" not in system.paused_members(), 15, what="Bob unpaused")


def _answered_by(phone, system, workdir: Path, number: str) -> tuple[float, float] | str:
    """Place the call from ``number`` and wait for its end: (when the caller sent its INVITE, when Bob's ``phone``
    answered it), or why not."""
    answered_before = phone.count("ANSWERED")
    result = _place_call(system, workdir, number).wait(CALL_SECONDS + 30)
    answers = [e for e in phone.events() if e[0] == "ANSWERED"][answered_before:]
    if not result.ok or len(answers) != 1:
        return f"the call from {number} was not answered by Bob once: {result.events}, Bob's {answers}"
    return _stamp(result, "INVITE"), float(answers[0][-1])


def _try(system, phone, workdir: Path, number: str) -> dict:
    from cluster_nodes import leads_after, standing_by

    _bob_available(system)
    with standing_by(system) as standby:
        killed_at, killed_at_wall = time.monotonic(), time.time()
        system.kill_controller()
        healthy = leads_after(standby, killed_at)
        call = _answered_by(phone, system, workdir, number)
        if isinstance(call, str):
            return {"healthy": healthy, "error": call}
        invited, answered = call
        return {
            "healthy": healthy,
            "next_call_answered": answered - killed_at_wall,
            "call_setup": answered - invited,
            "error": _recorded(system, number),
        }


def run() -> dict:
    integration_helpers()
    import postgresql
    from cluster_nodes import two_nodes
    from harness import set_ring_device
    from sipp import Peers

    if not postgresql.available():
        print(f"  PostgreSQL: not installed ({postgresql.BIN}), skipped")
        return {"skipped": "PostgreSQL is not installed"}
    tries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lc-bench-failover-") as data, two_nodes(Path(data)) as (system, _):
        system.choose_status("alice@acme.example", "offline")  # the calls are Bob's
        set_ring_device(system, "desk", agents=(BOB,))
        peers = Peers(system, Path(data) / "peers")
        with contextlib.closing(peers), peers.phone(BOB) as phone:
            _bob_available(system)
            baseline = _answered_by(phone, system, Path(data) / "baseline", "+14045551490")
            assert not isinstance(baseline, str), baseline
            baseline_setup = baseline[1] - baseline[0]
            for n in range(TRIES):
                try:
                    tries.append(_try(system, phone, Path(data) / f"try{n}", f"+1404555{1480 + n}"))
                except (AssertionError, TimeoutError) as exc:  # a try that failed says why; the next one goes on
                    tries.append({"error": str(exc).splitlines()[0]})
                shown = ", ".join(f"{k} {v:.2f} s" for k, v in tries[-1].items() if k != "error")
                print(f"  try {n + 1}: {shown}" + (f"; failed: {tries[-1]['error']}" if tries[-1]["error"] else ""))
    failed = [t["error"] for t in tries if t["error"]]
    result = {
        "tries": len(tries),
        "healthy": summary([t["healthy"] for t in tries if "healthy" in t]),
        "next_call_answered": summary([t["next_call_answered"] for t in tries if "next_call_answered" in t]),
        "call_setup": summary([t["call_setup"] for t in tries if "call_setup" in t]),
        "baseline_call_setup": round(baseline_setup, 3),
        "recorded_correctly": len(tries) - len(failed),
        "failures": failed,
        "goal_s": GOAL_S,
    }
    for name, what in (
        ("healthy", "kill -9 -> the standby's /healthz 200"),
        ("next_call_answered", "kill -9 -> the next call answered by Bob"),
        ("call_setup", "that call, INVITE -> answered"),
    ):
        figures = result[name]
        print(f"  {what}: p50 {figures.get('p50')} s, max {figures.get('max')} s (n={figures['n']})")
    print(
        f"  a call with no failover, INVITE -> answered: {result['baseline_call_setup']} s; "
        f"next calls recorded correctly: {result['recorded_correctly']} of {len(tries)}"
    )
    return result
