"""The console's Dialplans page in Chromium against the real system: the installation owner (the demo's admin)
creates a custom context beside the generated dialplan, a save with a syntax error shows Asterisk's refusal and
leaves the version in force as it was, versions are restored; a company admin who is not the owner has no such
page."""

from __future__ import annotations

import contextlib

from admin_console import AdminConsole
from browser import TIMEOUT_MS, Browser
from playwright.sync_api import expect

from leadcenter.accounts.models import User
from leadcenter.dialplans.models import CustomContext

FIRST = "exten => s,1,NoOp(console v1)\n same => n,Hangup()\n"
BROKEN = "exten => s,1,NoOp(console v2)\n same => n,Playback(hello\n same => n,Hangup()\n"
SECOND = "exten => s,1,NoOp(console v2)\n same => n,Hangup()\n"


def _editor(console):
    return console.page.get_by_role("form", name="Custom context")


def test_the_owner_edits_custom_contexts_beside_the_generated_dialplan(running, tmp_path):
    try:
        with Browser() as browser:
            console = AdminConsole.open(browser, running, "#/dialplans")
            page = console.page
            expect(console.heading()).to_have_text("Dialplans")
            generated = page.get_by_role("region", name="Generated dialplan")
            expect(generated).to_contain_text("lc-inbound")
            expect(generated.locator("summary")).to_contain_text(["extensions.conf"])

            form = _editor(console)
            form.get_by_label("Name").fill("console-night")
            form.get_by_label("Lines").fill(FIRST)
            form.get_by_role("button", name="Create").click()
            expect(page.get_by_role("heading", name="custom-console-night version 1")).to_be_visible(timeout=TIMEOUT_MS)
            assert "NoOp(console v1)" in (running.instance.rx("dialplan show custom-console-night") or "")

            # A parenthesis left open: Asterisk's words under the lines, nothing changed.
            form = _editor(console)
            form.get_by_label("Lines").fill(BROKEN)
            form.get_by_role("button", name="Save").click()
            said = form.locator('.field-error[data-for="text"]')
            expect(said).to_contain_text("No closing parenthesis found? 'Playback(hello' at line 2", timeout=TIMEOUT_MS)
            expect(form.get_by_role("alert")).to_have_text(
                "Asterisk refused this text: nothing changed, version 1 is still in force."
            )
            console.screenshot("dialplans", tmp_path)
            assert CustomContext.get(CustomContext.name == "console-night").version == 1
            assert "NoOp(console v1)" in (running.instance.rx("dialplan show custom-console-night") or "")

            form.get_by_label("Lines").fill(SECOND)
            form.get_by_role("button", name="Save").click()
            expect(page.get_by_role("heading", name="custom-console-night version 2")).to_be_visible(timeout=TIMEOUT_MS)
            versions = page.locator("table.dialplan-versions tbody tr")
            expect(versions).to_have_count(2)
            versions.filter(has_text="1").get_by_role("button", name="Restore").click()
            expect(page.get_by_role("heading", name="custom-console-night version 3")).to_be_visible(timeout=TIMEOUT_MS)
            expect(_editor(console).get_by_label("Lines")).to_have_value(FIRST)
            expect(page.locator("table.dialplan-versions tbody tr")).to_have_count(3)  # one click, one restore
            expect(page.locator("table.dialplan-versions tbody tr").first).to_contain_text("restored from 1")
            assert "NoOp(console v1)" in (running.instance.rx("dialplan show custom-console-night") or "")
            assert console.errors == []

        # A company admin who is not the installation owner: no Dialplans page.
        User.update(owner=False).where(User.email == "admin@acme.example").execute()
        with Browser() as browser:
            console = AdminConsole.open(browser, running)
            expect(console.page.locator("#admin-nav")).not_to_contain_text("Dialplans")
            console.page.evaluate("location.hash = '#/dialplans'")
            expect(console.nav_current()).not_to_have_attribute("href", "#/dialplans")
    finally:
        User.update(owner=True).where(User.email == "admin@acme.example").execute()
        with contextlib.closing(running.sign_in("admin@acme.example")) as owner:
            owner.delete("/api/v1/dialplans/console-night")
