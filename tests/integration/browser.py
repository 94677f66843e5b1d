"""The agent app in a real browser for the integration tests: Debian's Chromium driven by Playwright, with a fake
microphone (a tone), one browser context per agent (its own cookies, its own softphone).

    with Browser() as browser:
        alice = browser.agent(system, "alice@acme.example")   # signed in, softphone registered
        alice.incoming_row("+14045551234").wait_for()
"""

from __future__ import annotations

import http.server
import os
import re
import threading
import time
from collections import deque
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from leadcenter import demo
from leadcenter.web import sip_relay

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]
# Grants the microphone without asking; left out to see what an agent who refused it sees.
GRANT_MICROPHONE = "--use-fake-ui-for-media-stream"
TIMEOUT_MS = 10_000
# `LEADCENTER_SCREENSHOTS=docs make test` refreshes the screenshots in docs/; otherwise they go to the test's tmp dir.
SCREENSHOTS = os.environ.get("LEADCENTER_SCREENSHOTS")
# What the tabs of the test running now logged and asked of the API, newest last: a failed test's report shows it
# (conftest.py), so that a failure seen once under load can be explained from its report.
TRANSCRIPT: deque[str] = deque(maxlen=300)


def page_errors(page: Page) -> list[str]:
    """A list that gathers, from now on, the page's uncaught script errors and what its CSP refused."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return errors


def _transcribe(page: Page, who: str) -> None:
    """The page's console messages and every API call but a GET answered 2xx, into TRANSCRIPT."""
    stamp = time.monotonic

    def response(answer) -> None:
        method = answer.request.method
        if "/api/" in answer.url and (method != "GET" or answer.status >= 300):
            TRANSCRIPT.append(f"{stamp():.3f} {who}: {method} {answer.url} -> {answer.status}")

    page.on(
        "console", lambda message: TRANSCRIPT.append(f"{stamp():.3f} {who}: console.{message.type}: {message.text}")
    )
    page.on("pageerror", lambda error: TRANSCRIPT.append(f"{stamp():.3f} {who}: page error: {error}"))
    page.on("response", response)


class AgentApp:
    """One agent's tab, with what the agent sees and clicks."""

    def __init__(self, page: Page, email: str):
        self.page, self.email = page, email
        self.errors = page_errors(page)
        _transcribe(page, email)
        self.signed_in_at = 0.0
        self.registered_after: float | None = None  # seconds from clicking Sign in to "Softphone: ready"

    def sign_in(self, system, url: str, password: str | None = None) -> AgentApp:
        """Sign in with ``password``, or the demo login's."""
        password = password or next(p for e, p, _ in demo.logins(system.settings) if e == self.email)
        self.page.goto(url)
        self.page.get_by_label("Email").fill(self.email)
        self.page.get_by_label("Password").fill(password)
        self.signed_in_at = time.monotonic()
        self.page.get_by_role("button", name="Sign in").click()
        return self

    def wait_softphone_ready(self) -> AgentApp:
        expect(self.page.locator(".softphone")).to_have_text("Softphone: ready", timeout=TIMEOUT_MS)
        self.registered_after = time.monotonic() - self.signed_in_at
        return self

    def section(self, name: str):
        return self.page.locator(f'[data-section="{name}"]')

    def row(self, section: str, text: str):
        return self.section(section).locator(".row", has_text=text)

    def same_row(self, section: str, row):
        """The row of the interaction ``row`` (another section's) shows, in ``section``: by its id, as Recent may also
        hold earlier interactions of a lead with the same name."""
        return self.section(section).locator(f'.row[data-interaction="{row.get_attribute("data-interaction")}"]')

    def ringing_row(self):
        return self.section("incoming").locator(".row", has=self.page.locator(".ringing"))

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        path = (Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / f"screenshot-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def audio_stats(self) -> dict:
        """What the softphone's current call sent and received (RTCPeerConnection stats)."""
        return self.page.evaluate("async () => (await import('/js/softphone.js')).audioStats()")

    def undrawn_icons(self) -> list[str]:
        """The icons shown now that draw nothing: no size, or a sprite symbol that is missing or never loaded."""
        return self.page.evaluate("""() => [...document.querySelectorAll('svg.icon-svg')]
            .filter((svg) => svg.checkVisibility())
            .filter((svg) => {
              const box = svg.getBoundingClientRect();
              const drawn = svg.querySelector('use')?.getBBox();
              return !(box.width > 0 && box.height > 0 && drawn?.width > 0 && drawn?.height > 0);
            }).map((svg) => svg.outerHTML)""")

    def icons_shown(self) -> set[str]:
        return set(
            self.page.evaluate("""() => [...document.querySelectorAll('svg.icon-svg')]
            .filter((svg) => svg.checkVisibility())
            .map((svg) => svg.querySelector('use').href.baseVal.split('#')[1])""")
        )

    def choose_status(self, label: str) -> None:
        self.page.get_by_label("Availability").select_option(label=label)


class Browser:
    def __init__(self, microphone: bool = True, executable: Path = CHROMIUM):
        """``executable``: Chromium, or a wrapper that runs it elsewhere (another network namespace)."""
        self.microphone = microphone
        self.executable = executable
        self._playwright = None
        self._browser = None
        self._contexts = []

    def __enter__(self) -> Browser:
        self._playwright = sync_playwright().start()
        flags = FLAGS + ([GRANT_MICROPHONE] if self.microphone else [])
        self._browser = self._playwright.chromium.launch(
            executable_path=str(self.executable), headless=True, args=flags
        )
        return self

    def agent(
        self,
        system,
        email: str,
        wait_registered: bool = True,
        url: str | None = None,
        init_script: str | None = None,
        password: str | None = None,
        sip_route=None,
        **context_options,
    ) -> AgentApp:
        """A tab of the app at ``url`` (the system's HTTP URL by default) where the agent has signed in (with
        ``password``, or the demo login's); ``init_script`` runs in the page before the app does; ``sip_route``
        handles the softphone's websocket (Playwright's WebSocketRoute), e.g. to hold back what Asterisk sends."""
        context = self._browser.new_context(
            ignore_https_errors=True, viewport={"width": 1360, "height": 820}, **context_options
        )
        context.set_default_timeout(TIMEOUT_MS)
        if init_script:
            context.add_init_script(init_script)
        if sip_route:
            context.route_web_socket(re.compile(re.escape(sip_relay.PATH) + "$"), sip_route)
        self._contexts.append(context)
        app = AgentApp(context.new_page(), email)
        app.sign_in(system, url or system.url, password)
        if wait_registered:
            app.wait_softphone_ready()
        return app

    def page(self, **context_options) -> Page:
        """A tab in a fresh context of its own (its own cookies and storage), signed in to nothing: e.g. a website
        visitor's."""
        context = self._browser.new_context(**context_options)
        context.set_default_timeout(TIMEOUT_MS)
        self._contexts.append(context)
        return context.new_page()

    def close_agent(self, app: AgentApp) -> None:
        """Close the tab the way an agent does (pagehide unregisters the softphone), then its context."""
        app.page.close(run_before_unload=True)
        app.page.context.close()
        self._contexts.remove(app.page.context)

    def __exit__(self, *exc) -> None:
        for context in self._contexts:
            context.close()
        self._browser.close()
        self._playwright.stop()


class Website:
    """A business's website on a loopback port of its own (another origin than Lead Center's): ``pages`` maps a path
    to its HTML; anything else is a 404. ``origin`` is where it is; ``close()`` stops it."""

    def __init__(self, pages: dict[str, str]):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
