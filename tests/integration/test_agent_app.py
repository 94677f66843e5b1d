"""The agent app in a real browser (Chromium, fake microphone) against the real system: the demo agents ring on
their browser softphones; SIPp callers dial the demo trunk. Each test asserts what the agents see in their tabs and
what the caller (SIPp) and the recordings observe."""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
from audio import rms
from browser import CHROMIUM, Browser
from harness import wait_for
from playwright.sync_api import expect
from sipp import SippCaller

from leadcenter.interactions.models import Interaction
from leadcenter.pbx.root import MOUNT

ALICE, BOB = 1, 2
EMAILS = {ALICE: "alice@acme.example", BOB: "bob@acme.example"}
ADS_LINE = "+14045550100"
DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")


@pytest.fixture(scope="module")
def softphones(system):
    """For this module the demo agents ring on their browser softphones (their desk phones otherwise)."""
    if not system.browser_media:
        pytest.skip("browser calls need the private network namespace `make test` runs in")
    set_ring_device(system, "webrtc")
    yield system
    set_ring_device(system, "desk")


def set_ring_device(system, device: str) -> None:
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        for agent in (ALICE, BOB):
            answer = admin.patch(f"/api/v1/agents/{agent}", json={"ring_device": device})
            assert answer.status_code == 200, answer.text
    wait_for(lambda: f"PJSIP/{device}1" in (system.instance.rx("queue show team1") or ""), 10,
             what=f"the queue to ring the agents' {device} devices")


@pytest.fixture
def agents(softphones, running):
    """Alice and Bob signed in in two browser contexts, softphones registered."""
    with Browser() as browser:
        yield browser, {agent: browser.agent(running, email) for agent, email in EMAILS.items()}


def call(system, tmp_path, number: str, duration: float, **options):
    return SippCaller(workdir=tmp_path / f"caller-{number}").start_call(
        ADS_LINE, number, asterisk_port=system.sip_port, local_port=system.trunk_port, duration=duration, **options)


def ringing_agent(apps: dict, number: str, timeout: float = 10):
    """The agent whose softphone rings for the call (the queue offers it to one at a time)."""
    return wait_for(lambda: next((agent for agent, app in apps.items()
                                  if app.ringing_row().filter(has_text=number).count()), None),
                    timeout, what=f"an agent's softphone to ring for {number}")


def trunk_channel(system) -> str:
    shown = system.instance.rx("core show channels concise") or ""
    return next(line.split("!")[0] for line in shown.splitlines() if line.startswith("PJSIP/trunk"))


def record_each_way(system, channel: str, name: str) -> tuple[Path, Path]:
    """Record what the caller says (heard by the agent) and what the caller hears (the agent) into two files."""
    inside = f"{MOUNT}/spool/monitor/{name}"
    system.instance.rx(f"mixmonitor start {channel} {inside}-both.wav,r({inside}-caller.wav)t({inside}-agent.wav)")
    return system.instance.host_path(f"{inside}-caller.wav"), system.instance.host_path(f"{inside}-agent.wav")


def test_two_agents_see_a_call_one_answers_in_the_browser_and_audio_flows_both_ways(agents, running, tmp_path):
    browser, apps = agents
    began = time.monotonic()
    caller = call(running, tmp_path, "4045551234", duration=30, caller_name="Lee Caller", expect_remote_bye=True)
    for app in apps.values():
        expect(app.row("incoming", "Lee Caller")).to_be_visible()
    on_screen = time.monotonic() - began
    answering = ringing_agent(apps, "Lee Caller")
    other = BOB if answering == ALICE else ALICE
    app = apps[answering]
    app.row("incoming", "Lee Caller").get_by_role("button", name="Answer").click()
    caller.wait_for("ANSWERED", 10)
    expect(app.row("active", "Lee Caller")).to_be_visible()
    expect(apps[other].section("incoming").locator(".row")).to_have_count(0)
    heard, said = record_each_way(running, trunk_channel(running), f"browser-{answering}")
    expect(app.page.locator(".call .timer")).to_have_text(re.compile(r"0:0[3-9]"), timeout=10_000)
    app.page.screenshot(path=str(DOCS / "screenshot-agent-app.png"))
    stats = app.audio_stats()
    app.page.get_by_role("button", name="Hang up").click()
    result = caller.wait(15)
    result.check()
    assert result.hangup == "remote"  # the app hung up: the caller got the BYE
    recent = app.row("recent", "Lee Caller")
    expect(recent).to_be_visible()
    recent.get_by_role("button", name="Lee Caller", exact=True).click()
    talk = app.page.locator(".talk-time")
    expect(talk).to_have_text(re.compile(r"0:0[3-9]"))
    assert stats["packetsSent"] > 100 and stats["packetsReceived"] > 100, stats
    assert stats["receivedEnergy"] > 0 and stats["sentEnergy"] > 0, stats
    assert rms(wait_for(lambda: heard.exists() and heard, 5, what="the caller's side")) > 0.001
    assert rms(said) > 0.001  # the browser's microphone reached the caller
    row = Interaction.get(Interaction.lead_number == "+14045551234")
    assert row.outcome == "answered" and row.agent_id == answering
    print(f"\nfigures: registered after {[round(a.registered_after, 2) for a in apps.values()]} s; "
          f"INVITE to both screens {on_screen:.2f} s")
