"""The console's Trunks, Numbers and Texting pages in Chromium against the real system. An admin adds a trunk that
registers to a carrier (a SIPp registrar checking the digest): its row turns Registered, then Failing the moment the
carrier stops answering, with no reload (trunk.state_changed); a host name is refused next to its field. A tracking
number is added and its texting turned off (a save answered after the admin went on to another page leaves them
there); a number is opted out of texts and back in. Screenshots of the pages."""

from __future__ import annotations

import contextlib

from admin_console import AdminConsole
from browser import Browser
from harness import wait_for
from playwright.sync_api import expect
from sipp import free_udp_port
from test_trunks import SECRET, USER, _registrar

from leadcenter.audit.models import AuditEntry
from leadcenter.texts.models import TextConsent
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks.models import Trunk

STATE_TIMEOUT_MS = 30_000  # registering, or a qualify (5 s) left unanswered for Asterisk's 3 s, on a busy machine


def test_an_admin_adds_a_registering_trunk_and_sees_it_registered_then_failing(running, tmp_path):
    port = free_udp_port()
    registrar = _registrar(tmp_path, port, 1)
    try:
        with Browser() as browser:
            console = AdminConsole.open(browser, running, "#/trunks")
            page = console.page
            page.get_by_role("link", name="Add a trunk").click()
            form = page.locator("#trunk-form")
            form.wait_for()
            form.get_by_label("Name", exact=True).fill("Carrier account")
            form.get_by_label("Carrier's address").fill("sip.carrier.example")
            form.get_by_label("Port", exact=True).fill(str(port))
            form.get_by_label("We register with a username and password").check()
            form.get_by_label("Username", exact=True).fill(USER)
            form.get_by_label("Password", exact=True).fill(SECRET)
            form.get_by_label("Check the carrier is there every").fill("5")
            form.get_by_role("button", name="Add").click()
            # Refused next to its field: a host name may resolve to someone else's carrier tomorrow.
            expect(form.locator('.field-error[data-for="host"]')).to_contain_text("not an IP address")
            form.get_by_label("Carrier's address").fill("127.0.0.1")
            form.get_by_role("button", name="Add").click()
            row = page.locator("tr", has_text="Carrier account")
            expect(row.locator(".trunk-state")).to_have_text("Registered", timeout=STATE_TIMEOUT_MS)
            expect(row).to_contain_text(f"Registers as {USER}")
            console.screenshot("trunks", tmp_path)

            registrar.stop()  # the carrier goes away: the row says so by itself
            expect(row.locator(".trunk-state")).to_have_text("Failing", timeout=STATE_TIMEOUT_MS)
            expect(row).to_contain_text("the carrier does not answer")
            assert console.errors == []
    finally:
        registrar.stop()
        trunk = Trunk.get_or_none(Trunk.name == "Carrier account")
        if trunk is not None:
            with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
                assert admin.delete(f"/api/v1/trunks/{trunk.id}").status_code == 204
    entry = (
        AuditEntry.select()
        .where(AuditEntry.resource == "trunk", AuditEntry.action == "created", AuditEntry.summary == "Carrier account")
        .get()
    )
    assert entry.actor == "admin@acme.example" and SECRET not in (entry.after_json or "")


def test_an_admin_adds_a_number_turns_its_texting_off_and_keeps_the_opt_out_list(running, tmp_path):
    with Browser() as browser:
        console = AdminConsole.open(browser, running, "#/numbers/new")
        page = console.page
        form = page.locator("#number-form")
        form.get_by_label("Phone number").fill("404 555 3177")
        form.get_by_label("Name", exact=True).fill("Radio ad")
        form.get_by_label("Source").fill("Radio")
        form.get_by_role("button", name="Add").click()
        row = page.locator("tr", has_text="+14045553177")
        expect(row).to_contain_text("Radio ad")
        expect(form).to_have_count(0)  # saved: back to the list
        console.go("#/texting")
        console.go("#/numbers")  # the page shown a third time: one click is still one change
        patches = []
        page.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
        row.get_by_role("button", name="On").click()  # texting off
        expect(row.get_by_role("button", name="Off")).to_be_visible()
        number = TrackingNumber.get(TrackingNumber.number == "+14045553177")
        assert number.texting is False and len(patches) == 1, patches
        console.screenshot("numbers", tmp_path)

        console.go("#/texting")
        opt_out = page.locator("#opt-out-form")
        opt_out.get_by_label("Opt out a number").fill("404 555 3199")
        opt_out.get_by_role("button", name="Opt out").click()
        opted = page.locator("tr", has_text="+14045553199")
        expect(opted).to_contain_text("Opted out by an admin")
        console.screenshot("texting", tmp_path)
        opted.get_by_role("button", name="Opt back in").click()
        expect(opted).to_have_count(0)
        latest = TextConsent.select().where(TextConsent.number == "+14045553199").order_by(TextConsent.id.desc()).get()
        assert latest.action == "opt_in"
        assert console.errors == []
    with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
        assert admin.delete(f"/api/v1/tracking-numbers/{number.id}").status_code == 204


def test_a_number_saved_after_the_admin_went_to_another_page_leaves_them_there(running):
    held = []  # the POST, answered once the admin is on another page
    with Browser() as browser:
        console = AdminConsole.open(browser, running, "#/numbers/new")
        page = console.page
        page.route("**/api/v1/tracking-numbers", lambda route: held.append(route))
        form = page.locator("#number-form")
        form.get_by_label("Phone number").fill("404 555 0166")
        form.get_by_label("Name", exact=True).fill("Billboard")
        form.get_by_role("button", name="Add").click()
        # Playwright calls the route handler while the test calls Playwright: wait in the page.
        wait_for(lambda: page.wait_for_timeout(50) or held, 10, what="the POST of the number")
        console.go("#/texting")
        held[0].continue_()
        expect(console.toast()).to_contain_text("+14045550166 added")
        expect(console.nav_current()).to_have_attribute("href", "#/texting")
        assert page.evaluate("location.hash") == "#/texting"
    assert TrackingNumber.delete().where(TrackingNumber.number == "+14045550166").execute() == 1
