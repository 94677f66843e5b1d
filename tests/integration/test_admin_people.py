"""The admin console in Chromium: the shell (sign-in, navigation, who may open it) and its People, Company and
Audit log pages, against the real system."""

from __future__ import annotations

from admin_console import AdminConsole, demo_admin
from browser import TIMEOUT_MS, Browser
from playwright.sync_api import expect

from leadcenter import demo


def _password(system, email: str) -> str:
    return next(p for e, p, _ in demo.logins(system.settings) if e == email)


def test_the_console_opens_for_an_admin_from_the_agent_app_and_sends_an_agent_back(running, tmp_path):
    with Browser() as browser:
        email, password = demo_admin(running)
        app = browser.agent(running, email, wait_registered=False, password=password)
        link = app.page.get_by_role("link", name="Admin console")
        link.click()
        console = AdminConsole(app.page)
        console.heading().wait_for(timeout=TIMEOUT_MS)  # signed in already: the same session
        expect(console.nav_current()).to_have_attribute("href", "#/audit")
        assert console.errors == []

        agent = AdminConsole(browser.page())
        agent.page.goto(f"{running.url.rstrip('/')}/admin")
        agent.page.get_by_label("Email").fill("alice@acme.example")
        agent.page.get_by_label("Password").fill(_password(running, "alice@acme.example"))
        agent.page.get_by_role("button", name="Sign in").click()
        agent.page.wait_for_url(f"{running.url.rstrip('/')}/", timeout=TIMEOUT_MS)  # an agent's place is the app
        expect(agent.page.get_by_role("link", name="Admin console")).to_have_count(0)
