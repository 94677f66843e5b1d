"""The admin console (/admin) in Chromium for the integration tests: an admin (or supervisor) signed in in a fresh
browser context of its own, on a page of the console.

    with Browser() as browser:
        console = AdminConsole.open(browser, system, "#/people")        # the demo's admin
        console.page.get_by_role("button", name="Invite").click()
        console.screenshot("people", tmp_path)                           # docs/screenshot-admin-people.png
"""

from __future__ import annotations

from pathlib import Path

from browser import SCREENSHOTS, TIMEOUT_MS, Browser, page_errors
from playwright.sync_api import Page, expect

from leadcenter import demo

VIEWPORT = {"width": 1360, "height": 900}


def demo_admin(system) -> tuple[str, str]:
    """The demo admin's email and password."""
    return next((email, password) for email, password, role in demo.logins(system.settings) if role == "admin")


class AdminConsole:
    """One signed-in user's console tab."""

    def __init__(self, page: Page):
        self.page = page
        self.errors = page_errors(page)

    @classmethod
    def open(
        cls, browser: Browser, system, hash_path: str = "", email: str | None = None, password: str | None = None
    ) -> AdminConsole:
        """Sign ``email`` (the demo admin by default) in at /admin in a fresh context, then open ``hash_path``
        (``#/people``) and wait for its page's heading."""
        if email is None:
            email, password = demo_admin(system)
        elif password is None:
            password = next(p for e, p, _ in demo.logins(system.settings) if e == email)
        console = cls(browser.page(viewport=VIEWPORT))
        console.sign_in(system.url, email, password)
        if hash_path:
            console.go(hash_path)
        return console

    def sign_in(self, url: str, email: str, password: str) -> None:
        self.page.goto(f"{url.rstrip('/')}/admin")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#admin-nav a").first).to_be_visible(timeout=TIMEOUT_MS)

    def go(self, hash_path: str) -> None:
        """Open a page of the console (``#/people``, ``#/teams/3``) and wait for its heading."""
        self.page.evaluate("(hash) => { location.hash = hash; }", hash_path)
        self.heading().wait_for(timeout=TIMEOUT_MS)
        expect(self.nav_current()).to_have_attribute("href", f"#/{hash_path.lstrip('#/').split('/')[0]}")

    def heading(self):
        return self.page.locator("#admin-page > h1")

    def nav_current(self):
        return self.page.locator('#admin-nav a[aria-current="page"]')

    def toast(self):
        return self.page.locator("#toast")

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        """``screenshot-admin-<name>.png``: in docs/ with ``LEADCENTER_SCREENSHOTS=docs``, else the test's tmp dir."""
        path = (Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / f"screenshot-admin-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
