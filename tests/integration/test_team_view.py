"""The supervisors' Team View in Chromium against the real system: a supervisor watches Alice's row go ringing -> on
a call (with the caller as the lead, the tracking number, a talk time that ticks) -> wrap-up, live from the event
stream, while a SIPp caller rings the demo line and Alice's SIPp desk phone answers; the queue's service level of
today and her handled count follow the calls that end. Screenshot of the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from admin_console import VIEWPORT, AdminConsole
from browser import SCREENSHOTS, TIMEOUT_MS, Browser
from harness import wait_for
from playwright.sync_api import expect
from test_availability import EMAIL
from test_calls import ALICE, BOB

SUPERVISOR = ("sam@acme.example", "supervisor-pass-1")
LEAD = ("+14045550731", "Pat Lead")
EARLIER = "+14045550732"
ANSWER_AFTER = 3  # seconds Alice's desk phone rings before she answers
TALK = 9  # seconds into the call the caller hangs up


@pytest.fixture
def supervisor(running):
    """A supervisor of the demo company (made once per system)."""
    if SUPERVISOR[0] not in running.cli("user", "list"):
        running.cli(
            "user", "add", SUPERVISOR[0], "--name", "Sam Supervisor", "--company", "1", "--role", "supervisor",
            "--password", SUPERVISOR[1],
        )  # fmt: skip
    return SUPERVISOR


def test_a_supervisor_watches_an_agent_ring_take_a_call_and_wrap_up(running, peers, supervisor, tmp_path):
    running.choose_status(EMAIL[BOB], "offline")  # the call is Alice's
    wait_for(lambda: f"agent{BOB}" in running.paused_members(), 5, what="Bob paused")
    with Browser() as browser, peers.phone(ALICE, answer_after=ANSWER_AFTER):
        console = AdminConsole(browser.page(viewport=VIEWPORT))
        console.sign_in(running.url, *supervisor)
        # Team View is the console's first page: where a supervisor lands.
        expect(console.heading()).to_have_text("Team View", timeout=TIMEOUT_MS)
        page = console.page
        alice = page.locator(f'.tv-agents tr[data-agent="{ALICE}"]')
        expect(alice).to_contain_text("Available", timeout=TIMEOUT_MS)
        handled = alice.locator("td.num").nth(0)
        service_level = page.locator(".tv-queues .tv-service-level")

        # A first call, answered and over: today's service level of the queue comes with its queue.updated.
        peers.call(EARLIER, duration=ANSWER_AFTER + 1).wait(30).check()
        expect(alice).to_contain_text("Wrap-up", timeout=TIMEOUT_MS)
        expect(service_level).to_have_text(re.compile(r"^\d+%$"), timeout=TIMEOUT_MS)
        running.choose_status(EMAIL[ALICE], "available")  # Rejoin the Queue
        expect(alice).to_contain_text("Available", timeout=TIMEOUT_MS)
        expect(alice.locator(".tv-call")).to_have_text("")
        handled_before = int(handled.inner_text())

        number, name = LEAD
        call = peers.call(number, duration=ANSWER_AFTER + TALK, caller_name=name)
        expect(alice).to_contain_text("Ringing", timeout=TIMEOUT_MS)
        expect(page.locator(".tv-queues")).to_contain_text("Sales")

        expect(alice).to_contain_text("On a call", timeout=TIMEOUT_MS)
        expect(alice.locator(".tv-call")).to_contain_text(name)
        expect(alice.locator(".tv-call")).to_contain_text(number)
        expect(alice.locator(".tv-call")).to_contain_text("Google Ads line")
        talk = alice.locator('.tv-talk [aria-label="talk time"]')
        first = talk.inner_text()
        # It ticks in the browser, from answered_at: no event comes meanwhile.
        wait_for(lambda: talk.inner_text() != first, 3, what="the talk time ticking")
        calls = page.locator(".tv-calls tbody tr", has_text=name)
        expect(calls).to_contain_text("Alice")
        page.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "screenshot-team-view.png"), full_page=True)
        # The monitor's buttons (monitor.js) in the call's row, kept through the page's redraws.
        slot = calls.locator(".monitor-slot")
        expect(slot.get_by_role("button", name="Listen")).to_have_count(1)
        running.choose_status(EMAIL[BOB], "available")  # an event: every part of the page is drawn again
        expect(page.locator(f'.tv-agents tr[data-agent="{BOB}"]')).to_contain_text("Unreachable")
        expect(slot.get_by_role("button", name="Listen")).to_have_count(1)
        expect(slot.get_by_role("button", name="Whisper")).to_have_count(1)

        call.wait(30).check()
        expect(alice).to_contain_text("Wrap-up", timeout=TIMEOUT_MS)
        expect(alice.locator(".tv-call")).to_contain_text(name)  # the call she wraps up
        expect(handled).to_have_text(str(handled_before + 1))
        expect(calls).to_have_count(0)
        assert console.errors == []
