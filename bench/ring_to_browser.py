"""Ring to screen in real browsers (issue 11): from the INVITE leaving SIPp to the call's row painted in Incoming, in
AGENTS Chromium tabs of AGENTS signed-in agents, CPS calls a second for SECONDS.

The real system as the integration tests run it, with the demo's Sales team grown to AGENTS agents, each signed in
to the agent app in a browser context of its own (its softphone registered: the queue rings one tab at a time while
every tab shows the call in Incoming). Each call waits in the queue for CALL_SECONDS and hangs up. A script in every
page notes when a row for each interaction first appears in Incoming (a MutationObserver, then the next animation
frame: painted); SIPp logs when it sends each INVITE (the same clock: one machine). The tabs' requests for a single
interaction (``GET /api/v1/interactions/N``) are counted: the goal is no refetch per event.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import summary

AGENTS = 10
CPS = 2
SECONDS = 60
CALL_SECONDS = 6
PASSWORD = "bench password 1"
GOAL_P99_MS = 150.0

# Runs in every page before the app: when the event stream's interaction.created of each interaction arrived, and
# the first time a row of each interaction is painted in Incoming.
PAINT_PROBE = """
window.__arrived = {};
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (message) => {
      if (typeof message.data !== 'string' || !message.data.includes('"interaction.created"')) return;
      const id = JSON.parse(message.data).data.interaction.id;
      if (!(id in window.__arrived)) window.__arrived[id] = performance.timeOrigin + performance.now();
    });
  }
};
window.__painted = {};
new MutationObserver(() => {
  const now = performance.timeOrigin + performance.now();
  for (const row of document.querySelectorAll('[data-section="incoming"] .row[data-interaction]')) {
    const id = row.dataset.interaction;
    if (!(id in window.__painted)) {
      window.__painted[id] = null;
      requestAnimationFrame(() => { window.__painted[id] = performance.timeOrigin + performance.now(); });
    }
  }
}).observe(document, {childList: true, subtree: true});
"""
SINGLE_INTERACTION = re.compile(r"/api/v1/interactions/\d+$")


def _grow_team(system) -> list[str]:
    """AGENTS agents in the demo's Sales team, ringing in the browser; returns the emails to sign in with."""
    from leadcenter import clock, db
    from leadcenter.accounts.models import Company
    from leadcenter.accounts.services import add_member, create_user, set_password
    from leadcenter.agents.models import Agent
    from leadcenter.agents.services import create_agent
    from leadcenter.teams.models import Team, TeamMember

    db.bind(db.open_sqlite(str(system.settings.database_path)))
    company = Company.get()
    team = Team.get(Team.company == company, Team.name == "Sales")
    emails = []
    for agent in Agent.select().where(Agent.company == company):
        set_password(agent.user, PASSWORD)
        agent.user.save()
        emails.append(agent.user.email)
    for n in range(AGENTS - len(emails)):
        user = create_user(f"bench{n}@acme.example", f"Bench Agent {n}", PASSWORD)
        add_member(user, company, "agent")
        TeamMember.create(team=team, agent=create_agent(company, user, now=clock.system()))
        emails.append(user.email)
    return emails


def _sign_in(browser, system, email: str, refetches: list):
    context = browser.new_context(viewport={"width": 1360, "height": 820})
    context.set_default_timeout(30_000)
    context.add_init_script(PAINT_PROBE)
    page = context.new_page()
    page.on(
        "request",
        lambda request: (
            refetches.append(request.url)
            if request.method == "GET" and SINGLE_INTERACTION.search(request.url)
            else None
        ),
    )
    page.goto(system.url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".softphone").filter(has_text="Softphone: ready").wait_for()
    return page


def run() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from browser import CHROMIUM, FLAGS, GRANT_MICROPHONE
    from harness import System, add_ice_interface
    from playwright.sync_api import sync_playwright
    from sipp import Call, SippCaller

    from leadcenter.interactions.models import Interaction

    if not add_ice_interface():
        raise SystemExit("the browser bench needs the private network namespace `make bench` runs in")
    with tempfile.TemporaryDirectory(prefix="lc-bench-") as data, sync_playwright() as playwright:
        system = System(Path(data))
        system.cli("demo")
        emails = _grow_team(system)
        system.start_asterisk()
        system.start_controller()
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*FLAGS, GRANT_MICROPHONE]
        )
        try:
            refetches: list[str] = []
            pages = [_sign_in(browser, system, email, refetches) for email in emails]
            refetches.clear()  # what the sign-in loaded is not per event
            calls = [
                Call("+14045550100", f"+1404557{n:04d}", duration=CALL_SECONDS, delay=n / CPS, expect_answer=None)
                for n in range(CPS * SECONDS)
            ]
            handle = SippCaller(Path(data) / "callers").start_calls(
                calls, asterisk_port=system.sip_port, local_port=system.trunk_port
            )
            deadline = time.monotonic() + SECONDS + CALL_SECONDS + 60
            while handle.sipp.proc.poll() is None and time.monotonic() < deadline:
                pages[0].wait_for_timeout(500)  # the tabs keep running while the calls go on
            results = handle.wait_all(max(1.0, deadline - time.monotonic()))
            pages[0].wait_for_timeout(2000)  # the last rows on their way
            painted = [page.evaluate("window.__painted") for page in pages]
            arrived = [page.evaluate("window.__arrived") for page in pages]
        finally:
            browser.close()
            system.stop_controller()
            system.stop_asterisk()
        invites = {
            f"+1404557{n:04d}": float(next(e[1] for e in result.events if e[0] == "INVITE"))
            for n, result in enumerate(results)
            if any(e[0] == "INVITE" for e in result.events)
        }
        lead_numbers = dict(Interaction.select(Interaction.id, Interaction.lead_number).tuples())
    latencies, to_tab, in_tab, missing = [], [], [], 0
    for interaction_id, number in lead_numbers.items():
        if number not in invites:
            continue
        for tab, frames in zip(painted, arrived, strict=True):
            at, came = tab.get(str(interaction_id)), frames.get(str(interaction_id))
            if at is None:
                missing += 1
                continue
            latencies.append(at - invites[number] * 1000)
            if came is not None:
                to_tab.append(came - invites[number] * 1000)
                in_tab.append(at - came)
    result = {
        "agents": AGENTS,
        "tabs": AGENTS,
        "calls_per_second": CPS,
        "calls": len(invites),
        "rows_missing": missing,
        "refetches_per_call": round(len(refetches) / max(1, len(invites)), 2),
        "ring_to_painted_row": summary(latencies, "ms"),
        # the two halves: the INVITE to the event's frame arriving in the tab, and that frame to the row painted
        "ring_to_frame_in_tab": summary(to_tab, "ms"),
        "frame_to_painted_row": summary(in_tab, "ms"),
        "goal_p99_ms": GOAL_P99_MS,
    }
    figures = result["ring_to_painted_row"]
    print(
        f"  ring to painted row, {AGENTS} Chromium tabs, {CPS} calls/s for {SECONDS} s: p50 {figures['p50']} ms, "
        f"p99 {figures['p99']} ms (n={figures['n']}, missing {missing}, "
        f"{result['refetches_per_call']} interaction refetches per call)"
    )
    halves = result["ring_to_frame_in_tab"], result["frame_to_painted_row"]
    print(
        f"    of which ring to the frame in the tab p50 {halves[0]['p50']} / p99 {halves[0]['p99']} ms, "
        f"frame to painted p50 {halves[1]['p50']} / p99 {halves[1]['p99']} ms"
    )
    return result
