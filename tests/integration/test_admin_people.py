"""The admin console in Chromium against the real system: the shell (who may open it), and its People, Company and
Audit log pages. An admin invites someone (email off: the console shows the one-time link to hand over; email on:
the invitee gets it at the SMTP server, as Forgot password's), the invitee sets a password through the link and is
signed in; the admin
changes their role (they now see the console, read-only) and deactivates them (signed out); the company's time
zone and an API key; the audit log lists each change with its before and after. Screenshots of the three pages."""

from __future__ import annotations

import re

from admin_console import AdminConsole, demo_admin
from browser import TIMEOUT_MS, Browser
from playwright.sync_api import expect

from leadcenter import demo

INVITEE, INVITEE_NAME, INVITEE_PASSWORD = "carol@acme.example", "Carol Closer", "carols own pass"


def _password(system, email: str) -> str:
    return next(p for e, p, _ in demo.logins(system.settings) if e == email)


def _set_password_through(page, link: str, password: str) -> None:
    page.goto(link)
    page.get_by_label("New password").fill(password)
    page.get_by_label("The same again").fill(password)
    page.get_by_role("button", name=re.compile("sign in")).click()


def test_the_console_opens_for_an_admin_from_the_agent_app_and_sends_an_agent_back(running):
    with Browser() as browser:
        email, password = demo_admin(running)
        app = browser.agent(running, email, wait_registered=False, password=password)
        app.page.get_by_role("link", name="Admin console").click()
        console = AdminConsole(app.page)
        console.heading().wait_for(timeout=TIMEOUT_MS)  # signed in already: the same session
        expect(console.nav_current()).to_have_attribute("href", "#/team-view")  # the console's first page
        assert console.errors == []

        agent = AdminConsole(browser.page())
        agent.page.goto(f"{running.url}/admin")
        agent.page.get_by_label("Email").fill("alice@acme.example")
        agent.page.get_by_label("Password").fill(_password(running, "alice@acme.example"))
        agent.page.get_by_role("button", name="Sign in").click()
        agent.page.wait_for_url(f"{running.url}/", timeout=TIMEOUT_MS)  # an agent's place is the agent app
        expect(agent.page.locator("#app")).to_be_visible()
        expect(agent.page.get_by_role("link", name="Admin console")).to_have_count(0)


def test_an_admin_invites_someone_who_sets_a_password_then_a_role_change_and_a_deactivation_are_audited(
    running, tmp_path
):
    with Browser() as browser:
        admin = AdminConsole.open(browser, running, "#/people")
        page = admin.page
        form = page.locator("#invite-form")
        form.get_by_label("Email").fill(INVITEE)
        form.get_by_label("Name").fill(INVITEE_NAME)
        form.get_by_role("button", name="Invite").click()
        link = page.locator("#handover-link")  # email is off: the link is shown, once, to hand over
        # The app's address as agents reach it: the HTTPS listener's.
        expect(link).to_have_text(re.compile(rf"^{re.escape(running.https_url)}/password#.{{20,}}$"))
        handed_over = link.inner_text()
        expect(page.locator("#people-invitations")).to_contain_text(INVITEE)
        admin.screenshot("people", tmp_path)

        invitee = AdminConsole(browser.page(ignore_https_errors=True))
        _set_password_through(invitee.page, handed_over, INVITEE_PASSWORD)
        invitee.page.wait_for_url(f"{running.https_url}/", timeout=TIMEOUT_MS)  # an agent: the agent app, signed in
        expect(invitee.page.locator("#status-bar")).to_contain_text("Acme")
        assert "#" not in invitee.page.url
        invitee.page.goto(handed_over)  # used once: no more
        expect(invitee.page.locator("#password h1")).to_have_text("This link does not work")

        # The admin makes her a supervisor: the console opens for her, read-only.
        user_row = page.locator("#people-users tr", has_text=INVITEE)
        expect(user_row).to_contain_text("Active")
        user_row.get_by_label(f"Role of {INVITEE_NAME}").select_option("supervisor")
        expect(admin.toast()).to_have_text("Role changed to supervisor")
        invitee.page.goto(f"{running.https_url}/admin#/people")
        invitee.heading().wait_for(timeout=TIMEOUT_MS)
        expect(invitee.page.locator(".read-only")).to_be_visible()
        expect(invitee.page.locator("#invite-form")).to_have_count(0)
        expect(invitee.page.locator("#people-users [data-action=deactivate]").first).to_be_disabled()

        # Her devices: a desk phone, its SIP account shown this once; the queue may ring it.
        user_row.get_by_role("link", name=INVITEE_NAME).click()
        detail = page.locator("#people-detail")
        expect(detail.locator("h2")).to_have_text(INVITEE_NAME)
        detail.get_by_role("button", name="Add a desk phone").click()
        account = detail.locator(".sip-account")
        expect(account).to_contain_text(re.compile(r"Username\s*desk\d+"))
        expect(account).to_contain_text(re.compile(r"Password\s*\S{12,}"))
        detail.get_by_label("The queue rings").select_option("desk")
        expect(admin.toast()).to_have_text("The queue rings the desk phone")
        detail.get_by_role("link", name="All people").click()

        # ... then deactivates her: signed out at once.
        user_row.get_by_role("button", name="Deactivate").click()
        expect(user_row).to_contain_text("Deactivated")
        invitee.page.reload()
        expect(invitee.page.get_by_role("button", name="Sign in")).to_be_visible()

        admin.go("#/audit")
        rows = page.locator(".audit-rows tbody tr")
        # Other tests on this system changed roles too: hers is the row naming her.
        deactivated, role_changed = rows.nth(0), rows.filter(has_text="Role changed").filter(has_text=INVITEE)
        expect(deactivated).to_contain_text("Deactivated")
        expect(deactivated).to_contain_text("admin@acme.example")
        expect(deactivated.locator(".changes")).to_contain_text("active")
        expect(deactivated.locator(".changes")).to_contain_text("true to false")
        expect(role_changed).to_contain_text("Role changed")
        expect(role_changed.locator(".changes")).to_contain_text("agent to supervisor")
        expect(page.locator(".audit-rows")).to_contain_text(f"Invited Invitation {INVITEE} as agent")
        expect(page.locator(".audit-rows")).to_contain_text("Password set User")
        expect(page.locator(".audit-rows")).to_contain_text(f"Device added Agent {INVITEE_NAME}: desk")
        admin.page.locator("#audit-filters").get_by_label("Change").select_option("role_changed")
        admin.page.locator("#audit-filters").get_by_role("button", name="Show").click()
        expect(rows.filter(has_text=INVITEE)).to_have_count(1)  # her invitation, password and device are not shown
        expect(rows.filter(has_text="Deactivated")).to_have_count(0)
        admin.page.locator("#audit-filters").get_by_label("Change").select_option("")
        admin.page.locator("#audit-filters").get_by_role("button", name="Show").click()
        expect(rows.nth(2)).to_be_visible()
        admin.screenshot("audit", tmp_path)
        assert admin.errors == [] and invitee.errors == []


def test_the_company_page_changes_the_time_zone_and_shows_a_new_api_key_once(running, tmp_path):
    with Browser() as browser:
        admin = AdminConsole.open(browser, running, "#/company")
        page = admin.page
        profile = page.locator("#company-form")
        profile.get_by_label("Time zone").select_option("America/New_York")
        profile.get_by_role("button", name="Save").click()
        expect(admin.toast()).to_have_text("Saved")
        profile.get_by_label("Country of local numbers").fill("ZZ")
        profile.get_by_role("button", name="Save").click()
        expect(profile.locator('.field-error[data-for="default_region"]')).to_contain_text("'ZZ' is not a region")

        keys = page.locator("#key-form")
        keys.get_by_label("New key's name").fill("CRM sync")
        keys.get_by_role("button", name="Create key").click()
        expect(page.locator("#issued-key")).to_have_text(re.compile(r"^lc_[0-9a-f]{8}_"))
        expect(page.locator("#widget-snippet")).to_contain_text("<script src=")
        admin.screenshot("company", tmp_path)
        page.get_by_role("button", name="Done").click()
        expect(page.locator("#issued-key")).to_have_count(0)

        admin.go("#/audit")
        expect(page.locator(".audit-rows tbody tr").nth(0)).to_contain_text("Created Api key CRM sync")
        # Other tests of the session's system change the company too (its HELP reply): this change's row.
        company = page.locator(".audit-rows tbody tr", has_text="Updated Company").filter(has_text="time_zone")
        expect(company.locator(".changes")).to_contain_text("America/New_York")
        assert admin.errors == []


def test_with_email_on_the_invitee_gets_the_link_by_email_and_forgot_password_sends_another(emailing):
    system, smtp = emailing
    with Browser() as browser:
        admin = AdminConsole.open(browser, system, "#/people")
        form = admin.page.locator("#invite-form")
        form.get_by_label("Email").fill("dave@acme.example")
        form.get_by_label("Name").fill("Dave Dialer")
        form.get_by_role("button", name="Invite").click()
        expect(admin.toast()).to_have_text("Invitation emailed to dave@acme.example")
        expect(admin.page.locator("#handover-link")).to_have_count(0)
        [received] = smtp.wait(1, timeout=20)
        assert received.rcpt_tos == ["dave@acme.example"]
        assert received.message["Subject"] == "Join Acme Plumbing on Lead Center"
        link = re.search(r"http://\S+/password#\S+", received.part("plain")).group(0)

        invitee = AdminConsole(browser.page())
        _set_password_through(invitee.page, link, "daves own pass")
        invitee.page.wait_for_url(f"{system.url}/", timeout=TIMEOUT_MS)
        expect(invitee.page.locator("#status-bar")).to_contain_text("Acme")

        # Later Dave forgets it: the sign-in screen's link emails him a new one.
        forgetful = AdminConsole(browser.page())
        forgetful.page.goto(system.url)
        forgetful.page.get_by_role("link", name="Forgot your password?").click()
        forgetful.page.get_by_label("Email").fill("dave@acme.example")
        forgetful.page.get_by_role("button", name="Send me a link").click()
        expect(forgetful.page.locator("#password h1")).to_have_text("Check your email")
        received = smtp.wait(2, timeout=20)[1]
        assert received.rcpt_tos == ["dave@acme.example"]
        assert received.message["Subject"] == "Set a new Lead Center password"
        reset = re.search(r"http://\S+/password#\S+", received.part("plain")).group(0)
        _set_password_through(forgetful.page, reset, "daves newer pass")
        forgetful.page.wait_for_url(f"{system.url}/", timeout=TIMEOUT_MS)
        expect(forgetful.page.locator("#status-bar")).to_contain_text("Acme")
        invitee.page.reload()  # the new password signed him out everywhere else
        expect(invitee.page.get_by_role("button", name="Sign in")).to_be_visible()
        assert admin.errors == [] and invitee.errors == [] and forgetful.errors == []
