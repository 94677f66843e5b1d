"""The console's Call flows page in Chromium against the real system: an admin builds the issue's flow, business
hours -> IVR menu (1: the Sales queue, 2: voicemail), closed: a greeting uploaded on the page then hang up; a step
with a missing field is refused with the error next to the field; the flow saved is applied live. Given to a
tracking number on the Numbers page, a SIPp call pressing 1 (RFC 4733) rings the Sales agents' phones. The
earlier version is restored from the page. Screenshot: docs/screenshot-admin-flows.png."""

from __future__ import annotations

import contextlib
import re

from admin_console import AdminConsole
from browser import TIMEOUT_MS, Browser
from harness import wait_for
from playwright.sync_api import expect
from test_calls import ALICE, BOB
from test_voicemail import tone

from leadcenter.flows.models import CallFlow
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

LINE = "+14045550178"


def add_step(page, path: str, kind: str) -> None:
    page.locator(f'select[data-add="{path}"]').select_option(kind)
    page.locator(f'button[data-action="add"][data-path="{path}"]').click()


def field(page, name: str):
    return page.locator(f'[name="{name}"]')


def test_an_admin_builds_business_hours_then_an_ivr_menu_and_a_call_pressing_1_reaches_the_queue(
    running, peers, tmp_path
):
    with Browser() as browser:
        console = AdminConsole.open(browser, running, "#/flows")
        page = console.page
        page.locator("#new-flow").get_by_label("Name").fill("Front desk")
        page.get_by_role("button", name="Create flow").click()
        expect(page.locator("#flow-title")).to_have_text("Front desk", timeout=TIMEOUT_MS)
        flow_id = int(page.url.rsplit("/", 1)[1])

        # The sound the closed branch plays, uploaded on the page.
        sounds = page.locator("#sound-form")
        sounds.get_by_label("Name").fill("closed")
        sounds.get_by_label("WAV file").set_input_files(
            files=[{"name": "closed.wav", "mimeType": "audio/wav", "buffer": tone(600, 1.0)}]
        )
        sounds.get_by_role("button", name="Upload").click()
        expect(page.locator("#flow-sounds")).to_contain_text("closed", timeout=TIMEOUT_MS)
        # Another recorded in the browser (Chromium's fake microphone): a second and a half, then saved.
        sounds.get_by_label("Name").fill("hello")
        page.get_by_role("button", name="Record").click()
        expect(page.locator("#recording")).to_have_text(re.compile(r"Recording: ([2-9]|1\.[5-9])"), timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Stop and save").click()
        expect(page.locator('#flow-sounds li[data-key="hello"]')).to_contain_text("s", timeout=TIMEOUT_MS)
        recorded = float(page.locator('#flow-sounds li[data-key="hello"] small').inner_text().split()[0])
        assert 1.5 <= recorded <= 10

        # Business hours every day all day, in place of the voicemail a new flow starts with.
        page.locator('button[data-action="remove"][data-path="steps"][data-index="0"]').click()
        add_step(page, "steps", "hours")
        for day in ("sat", "sun"):
            page.locator(f'input[name="steps.0.weekly.0.days"][value="{day}"]').check()
        field(page, "steps.0.weekly.0.open").fill("00:00")
        field(page, "steps.0.weekly.0.open").press("Tab")
        field(page, "steps.0.weekly.0.close").fill("24:00")
        field(page, "steps.0.weekly.0.close").press("Tab")
        # Open: the menu. 1: the Sales queue; 2: the company's voicemail.
        add_step(page, "steps.0.open.steps", "ivr")
        menu = "steps.0.open.steps.0"
        add_step(page, f"{menu}.digits.1.steps", "queue")
        field(page, f"{menu}.digits.1.steps.0.team").select_option(label="Sales")
        page.locator(f'button[data-action="add-key"][data-path="{menu}.digits"]').click()
        add_step(page, f"{menu}.digits.2.steps", "voicemail")
        # Closed: the greeting, then hang up.
        add_step(page, "steps.0.closed.steps", "greeting")
        add_step(page, "steps.0.closed.steps", "hangup")
        expect(field(page, "steps.0.closed.steps.0.sound")).to_have_value("closed")

        # A forward step without its number: refused, the error next to the number, nothing applied.
        add_step(page, "steps", "forward")
        page.get_by_role("button", name="Save and apply").click()
        error = page.locator('.field-error[data-for="steps.1.number"]')
        expect(error).to_contain_text("should match pattern", timeout=TIMEOUT_MS)
        assert CallFlow.get_by_id(flow_id).steps == [{"type": "voicemail"}]
        page.locator('button[data-action="remove"][data-path="steps"][data-index="1"]').click()
        page.get_by_role("button", name="Save and apply").click()
        expect(console.toast()).to_have_text("Saved and applied", timeout=TIMEOUT_MS)
        expect(page.locator(".version-rows tbody tr")).to_have_count(2)

        saved = CallFlow.get_by_id(flow_id)
        hours = saved.steps[0]
        assert hours["weekly"] == [
            {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00", "close": "24:00"}
        ]
        sales = running_team("Sales")
        assert hours["open"]["steps"][0]["digits"] == {
            "1": {"steps": [{"type": "queue", "team": sales, "timeout": 300}]},
            "2": {"steps": [{"type": "voicemail"}]},
        }
        assert hours["closed"]["steps"] == [{"type": "greeting", "sound": "closed"}, {"type": "hangup"}]
        shown = running.instance.rx(f"dialplan show lc-flow-{flow_id}") or ""
        assert "GotoIfTime(00:00-23:59,mon&tue&wed&thu&fri&sat&sun" in shown and "Read(LC_DIGIT" in shown
        console.screenshot("flows", tmp_path)
        assert console.errors == []

        # The admin gives the flow a tracking number on the Numbers page; the caller presses 1: the Sales queue
        # rings its agents.
        console.go("#/numbers/new")
        form = page.locator("#number-form")
        form.get_by_label("Phone number").fill(LINE)
        form.get_by_label("Name", exact=True).fill("Front desk")
        form.get_by_label("Call flow").select_option(label="Front desk")
        form.get_by_role("button", name="Add").click()
        expect(page.locator("tr", has_text=LINE)).to_contain_text("Front desk", timeout=TIMEOUT_MS)
        number = TrackingNumber.get(TrackingNumber.number == LINE)
        assert (number.flow_id, number.trunk_id) == (flow_id, Trunk.get().id)
        with contextlib.closing(running.sign_in("admin@acme.example")) as api:
            try:
                with peers.phone(ALICE) as alice, peers.phone(BOB) as bob:
                    handle = peers.call("+14045550321", duration=10, did=LINE, key="1", press_at=2)
                    handle.wait_for("PRESSED", timeout=15)
                    wait_for(lambda: alice.count("INVITE") + bob.count("INVITE") >= 1, 15, what="an agent rung")
                    assert handle.wait(40).answered

                # Version 1 (the voicemail it was created with) restored from the page, then the built one again.
                console.go(f"#/flows/{flow_id}")
                page.locator('button[data-action="restore"][data-version="1"]').click()
                expect(console.toast()).to_have_text("Version 1 restored and applied", timeout=TIMEOUT_MS)
                expect(page.locator('[data-key="steps.0"] strong')).to_have_text("Voicemail")
                assert CallFlow.get_by_id(flow_id).steps == [{"type": "voicemail"}]
                page.locator('button[data-action="restore"][data-version="2"]').click()
                expect(console.toast()).to_have_text("Version 2 restored and applied", timeout=TIMEOUT_MS)
                assert CallFlow.get_by_id(flow_id).steps == saved.steps
                expect(page.locator(".version-rows tbody tr")).to_have_count(4)
            finally:
                assert api.delete(f"/api/v1/tracking-numbers/{number.id}").status_code == 204
                assert api.delete(f"/api/v1/flows/{flow_id}").status_code == 204
                for sound in ("closed", "hello"):
                    assert api.delete(f"/api/v1/flow-sounds/{sound}").status_code == 204


def running_team(name: str) -> int:
    from leadcenter.teams.models import Team

    return Team.get(Team.name == name).id
