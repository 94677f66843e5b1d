"""The chat widget (web/widget) in Chromium, against a fake Lead Center: a small server written here that serves the
snippet, the widget's files and the visitor websocket as the design has them (docs/architecture.md, "Website
chat"), on its own origin, and a "business website" on another origin with a strict CSP and hostile CSS. Unit
level: the fake stands in for leadcenter/chats and web/visitors.py; the end-to-end test over the real server is
tests/integration's.

What is checked is what a visitor sees and what the server receives: the launcher in the company's colour and
place, the widget loaded before it is opened only when an agent is online, pre-chat fields, messages both ways
(Enter sends, Shift+Enter is a new line), the agent's name and typing, the conversation on the site's next page,
reconnection, "ended", the offline form when nobody is online or nobody answered, and markup in every field shown
as text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import struct
import threading
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from leadcenter.web.app import WEB

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
    # The shifted-clock runs look for server code reading the wall clock; here there is none, and Chromium is not
    # meant to run under libfaketime.
    pytest.mark.skipif("faketime" in os.environ.get("LD_PRELOAD", ""), reason="no server clock here"),
]

WIDGET = WEB / "widget"
KEY = "Pk7-widget-key_0123456"  # a public key's shape: 22 url-safe characters
TIMEOUT_MS = 5000
XSS = '<img src=x onerror="window.hacked=1">'
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8"}
SITE_CSS = "button, iframe, div { display: none !important; } * { color: red !important; font-size: 40px !important; }"


class FakeLeadCenter:
    """The visitor side of Lead Center as the design describes it: /s/<key>.js and .json, /w/<key>, /widget/*, and
    the websocket /api/v1/visitor. One company, one chat at a time; the test plays the agent."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.origin = self.site = ""
        self.online = True
        self.prechat = {"name": "required", "phone": "off", "email": "optional"}
        self.received: list[dict] = []  # every frame from visitors, in order
        self.connections: list[dict] = []  # per socket: its Origin
        self.sockets: set[ServerConnection] = set()
        self.visitors: set[str] = set()
        self.chat: dict | None = None  # {id, status, agent, messages}
        self.message_ids = iter(range(100, 10_000))
        self.chat_ids = iter(range(1, 100))
        self._servers = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    def __exit__(self, *exc):
        async def stop():
            for server in self._servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _start(self):
        lead_center = await serve(self._visitor, "127.0.0.1", 0, process_request=self._lead_center_http)
        site = await serve(self._visitor, "127.0.0.1", 0, process_request=self._site_http)
        self._servers = [lead_center, site]
        self.origin = f"http://127.0.0.1:{lead_center.sockets[0].getsockname()[1]}"
        self.site = f"http://127.0.0.1:{site.sockets[0].getsockname()[1]}"

    # -- HTTP -------------------------------------------------------------------------------------------------

    @staticmethod
    def _file(connection: ServerConnection, body: str, kind: str, headers: dict | None = None) -> Response:
        response = connection.respond(200, body)
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = kind
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def _lead_center_http(self, connection: ServerConnection, request: Request) -> Response | None:
        # The CSP chatcore's /w/<key> sends (the design's Changes): the widget's page framable by the site only.
        policy = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' ws://{self.origin[7:]}; form-action 'none'; base-uri 'none'; "
            f"frame-ancestors {self.site}"
        )
        path = request.path.split("?")[0]
        if path == "/api/v1/visitor":
            self.connections.append({"origin": request.headers.get("Origin")})
            if request.headers.get("Origin") != self.origin:
                return connection.respond(403, "origin not allowed")
            return None
        if path == f"/s/{KEY}.js":
            snippet = (WEB / "vendor" / "snippet.js").read_text().replace("__LC_ORIGIN__", self.origin)
            return self._file(connection, snippet.replace("__LC_KEY__", KEY), TYPES[".js"])
        if path == f"/s/{KEY}.json":
            status = {"online": self.online, "color": "#0a7d4f", "position": "left"}
            cors = {"Access-Control-Allow-Origin": self.site, "Cache-Control": "no-store"}
            return self._file(connection, json.dumps(status), "application/json", cors)
        if path == f"/w/{KEY}":
            return self._file(
                connection, (WIDGET / "widget.html").read_text(), TYPES[".html"], {"Content-Security-Policy": policy}
            )
        match = re.fullmatch(r"/widget/(widget\.(?:js|css))", path)
        if match:
            name = match.group(1)
            return self._file(
                connection, (WIDGET / name).read_text(), TYPES[Path(name).suffix], {"Content-Security-Policy": policy}
            )
        return connection.respond(404, "not found")

    def _site_http(self, connection: ServerConnection, request: Request) -> Response:
        """The business's site: two pages with the snippet, a strict CSP of its own and CSS that hides every button,
        iframe and div it can reach."""
        policy = (
            f"default-src 'none'; script-src {self.origin}; connect-src {self.origin}; frame-src {self.origin}; "
            "style-src 'self'"
        )
        if request.path == "/site.css":
            return self._file(connection, SITE_CSS, TYPES[".css"])
        if request.path not in ("/", "/pricing"):
            return connection.respond(404, "not found")
        title = "Shop" if request.path == "/" else "Pricing"
        page = (
            f'<!doctype html><html><head><title>{title}</title><link rel="stylesheet" href="/site.css">'
            f'<script src="{self.origin}/s/{KEY}.js" async></script></head>'
            f"<body><h1>{title}</h1><p>Welcome to the shop.</p></body></html>"
        )
        return self._file(connection, page, TYPES[".html"], {"Content-Security-Policy": policy})

    # -- the visitor websocket --------------------------------------------------------------------------------

    async def _visitor(self, socket: ServerConnection):
        self.sockets.add(socket)
        try:
            async for raw in socket:
                frame = json.loads(raw)
                self.received.append(frame)
                handle = getattr(self, f"_on_{frame['type']}", None)
                if handle:
                    await handle(socket, frame)
        finally:
            self.sockets.discard(socket)

    async def _send(self, socket, frame):
        with contextlib.suppress(ConnectionClosed):
            await socket.send(json.dumps(frame))

    async def _broadcast(self, frame):
        for socket in list(self.sockets):
            await self._send(socket, frame)

    async def _on_hello(self, socket, frame):
        visitor = frame["visitor"] if frame["visitor"] in self.visitors else secrets.token_urlsafe(16)
        self.visitors.add(visitor)
        widget = {
            "greeting": "Hi! <b>How</b> can we help?",
            "color": "#0a7d4f",
            "position": "left",
            "prechat": self.prechat,
        }
        chat = self.chat and {**self.chat, "messages": list(self.chat["messages"])}
        await self._send(
            socket, {"type": "welcome", "visitor": visitor, "widget": widget, "online": self.online, "chat": chat}
        )

    def _message(self, direction: str, body: str) -> dict:
        message = {
            "id": next(self.message_ids),
            "interaction_id": self.chat["id"],
            "direction": direction,
            "body": body,
            "status": "received" if direction == "inbound" else "sent",
            "status_reason": "",
            "agent_id": None,
            "created_at": "2026-12-06T14:30:00+00:00",
            "sent_at": None,
            "delivered_at": None,
            "failed_at": None,
        }
        self.chat["messages"].append(message)
        return message

    async def _on_start(self, socket, frame):
        missing = {
            field: "required" for field, rule in self.prechat.items() if rule == "required" and not frame.get(field)
        }
        if missing or not self.online:
            error = "nobody-online" if not self.online else "field-required"
            await self._send(
                socket,
                {
                    "type": "error",
                    "error": error,
                    "message": "refused",
                    "client_id": frame["client_id"],
                    "fields": missing,
                },
            )
            return
        self.chat = {"id": next(self.chat_ids), "status": "incoming", "agent": None, "messages": []}
        await self._store(socket, frame)

    async def _on_say(self, socket, frame):
        await self._store(socket, frame)

    async def _store(self, socket, frame):
        message = self._message("inbound", frame["body"])
        await self._send(socket, {"type": "ack", "client_id": frame["client_id"], "message_id": message["id"]})
        await self._broadcast({"type": "message", "message": message})

    async def _on_offline_form(self, socket, frame):
        await self._send(socket, {"type": "ack", "client_id": frame["client_id"], "message_id": None})

    async def _on_end(self, socket, frame):
        self.chat["status"] = "recent"
        await self._broadcast({"type": "ended", "by": "visitor"})

    # -- what the test does as the agent (on the server's loop, which owns the chat) ----------------------------

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(5)

    def agent_responds(self, name: str):
        async def respond():
            self.chat.update(status="active", agent=name)
            await self._broadcast({"type": "agent", "chat_display_name": name})

        self.run(respond())

    def agent_types(self, name: str):
        self.run(self._broadcast({"type": "typing", "agent_name": name}))

    def agent_says(self, body: str):
        async def say():
            await self._broadcast({"type": "message", "message": self._message("outbound", body)})

        self.run(say())

    def agent_ends(self):
        async def end():
            self.chat["status"] = "recent"
            await self._broadcast({"type": "ended", "by": "agent"})

        self.run(end())

    def nobody_responds(self):
        async def miss():
            self.chat["status"] = "recent"
            await self._broadcast({"type": "missed"})

        self.run(miss())

    def drop_sockets(self):
        async def drop():
            for socket in list(self.sockets):
                await socket.close(1012, "restarting")

        self.run(drop())

    def frames(self, kind: str) -> list[dict]:
        return [frame for frame in self.received if frame["type"] == kind]


VIEWPORT = {"width": 1000, "height": 800}
LAUNCHER = (20 + 28, 800 - 20 - 28)  # the company's position: bottom left, 20 px in, 56 px wide


def wait_until(condition, what: str, page: Page) -> None:
    for _ in range(100):  # at most 5 s
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def pixel(page: Page, x: int, y: int) -> tuple[int, int, int]:
    """The colour on screen at (x, y): the launcher is in a closed shadow root, which no locator reaches."""
    png = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    at, data = 8, b""
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    row = zlib.decompress(data)  # one filter byte, then the pixel: with no neighbours every filter leaves it as is
    return row[1], row[2], row[3]


def wait_for_launcher(page: Page) -> None:
    """Shown once the snippet has its status: the page finds its host element where the launcher is drawn."""
    at = f"document.elementFromPoint({LAUNCHER[0]}, {LAUNCHER[1]})?.tagName"
    wait_until(lambda: page.evaluate(at) == "DIV", "the launcher", page)


def widget_frame(page: Page):
    def find():
        return next((frame for frame in page.frames if f"/w/{KEY}" in frame.url), None)

    wait_until(find, "the widget's iframe", page)
    return find()


@pytest.fixture
def lead_center():
    with FakeLeadCenter() as server:
        yield server


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def visitor(chromium):
    """A visitor's tab in a fresh context (its own storage), and what went wrong in it: uncaught errors, and what
    either CSP refused."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Security" in m.text else None)
    yield SimpleNamespace(page=page, errors=errors)
    context.close()


def test_a_visitor_chats_from_the_business_site(lead_center, visitor):
    page = visitor.page
    page.goto(lead_center.site + "/")
    # An agent is online: the widget connects before it is opened, from Lead Center's origin, and says where.
    wait_until(lambda: lead_center.frames("hello"), "hello", page)
    hello = lead_center.frames("hello")[0]
    assert hello["visitor"] is None
    assert hello["page"] == {"url": lead_center.site + "/", "title": "Shop", "referrer": ""}
    assert lead_center.connections == [{"origin": lead_center.origin}]
    frame = widget_frame(page)
    # The key the server issued is kept in the site's own storage.
    stored = f"localStorage.getItem('lc-chat:{KEY}:visitor')"
    wait_until(lambda: page.evaluate(stored), "the visitor's key in the site's storage", page)
    key = page.evaluate(stored)
    assert key in lead_center.visitors
    assert not frame.frame_element().is_visible()

    # The site's CSS hides every button and div it can reach: the launcher is out of its reach, in the company's
    # colour and place.
    wait_for_launcher(page)
    assert pixel(page, LAUNCHER[0], LAUNCHER[1] - 20) == (10, 125, 79)
    page.mouse.click(*LAUNCHER)
    expect(frame.get_by_role("heading")).to_have_text("Hi! <b>How</b> can we help?")  # as text, not markup
    assert frame.frame_element().is_visible()

    # Pre-chat: name required, email optional, phone off.
    form = frame.locator("#prechat")
    expect(form.get_by_label("Phone")).to_be_hidden()
    expect(form.get_by_label("Email")).to_be_visible()
    form.get_by_label("Message").fill("Do you deliver?")
    form.get_by_role("button", name="Start chat").click()
    expect(form.get_by_role("alert")).to_have_text("Please fill in your name.")
    assert lead_center.frames("start") == []
    form.get_by_label("Name").fill(XSS)
    form.get_by_role("button", name="Start chat").click()
    expect(frame.locator(".message.mine .text")).to_have_text("Do you deliver?")
    expect(frame.locator(".presence")).to_have_text("Waiting for someone to answer…")
    expect(frame.locator(".message.mine .meta")).not_to_have_text("Sending…")  # acked
    start = lead_center.frames("start")[0]
    assert (start["name"], start["body"]) == (XSS, "Do you deliver?")
    assert "email" not in start and "phone" not in start and start["client_id"]
    # The conversation is a live region: a screen reader reads what is added, so what is there stays as it is.
    first = frame.locator(".message").first
    first.evaluate("element => { element.kept = true; }")

    # The agent responds, types, writes: their chat display name, as text.
    lead_center.agent_responds("Anna <i>")
    expect(frame.locator(".presence")).to_have_text("Anna <i> is chatting with you")
    lead_center.agent_types("Anna <i>")
    expect(frame.locator(".typing")).to_have_text("Anna <i> is typing…")
    lead_center.agent_says(f"Yes! {XSS}")
    expect(frame.locator(".message.theirs .text")).to_have_text(f"Yes! {XSS}")
    expect(frame.locator(".typing")).to_be_hidden()

    # Shift+Enter is a new line, Enter sends.
    box = frame.locator("#say")
    box.press_sequentially("Great")
    box.press("Shift+Enter")
    box.press_sequentially("thanks")
    box.press("Enter")
    expect(frame.locator(".message.mine .text").last).to_have_text("Great\nthanks")
    wait_until(lambda: len(lead_center.frames("say")) == 1, "say", page)
    assert lead_center.frames("say")[0]["body"] == "Great\nthanks"
    assert lead_center.frames("typing")  # the visitor's typing went to the agent
    expect(box).to_have_value("")
    assert first.evaluate("element => element.kept") is True

    # The next page of the site: the widget is open again by itself, same visitor, the conversation restored.
    page.goto(lead_center.site + "/pricing")
    frame = widget_frame(page)
    expect(frame.locator(".message .text")).to_have_text(["Do you deliver?", f"Yes! {XSS}", "Great\nthanks"])
    hello = lead_center.frames("hello")[-1]
    assert hello["visitor"] == key and hello["page"]["title"] == "Pricing"
    expect(frame.locator(".presence")).to_have_text("Anna <i> is chatting with you")
    assert frame.frame_element().is_visible()

    # The server goes away and comes back: the widget reconnects by itself; what is typed meanwhile goes after.
    hellos = len(lead_center.frames("hello"))
    lead_center.drop_sockets()
    frame.locator("#say").fill("still there?")
    frame.locator("#say").press("Enter")
    wait_until(lambda: len(lead_center.frames("hello")) > hellos, "a reconnection", page)
    expect(frame.locator(".connection")).to_be_hidden()
    expect(frame.locator(".message.mine .meta").last).not_to_have_text("Sending…")
    assert [f["body"] for f in lead_center.frames("say")] == ["Great\nthanks", "still there?"]

    # The agent ends the chat.
    lead_center.agent_ends()
    expect(frame.locator("#ended")).to_contain_text("Anna <i> has ended the chat.")
    expect(frame.locator("#say")).to_be_hidden()
    expect(frame.get_by_role("button", name="Start a new chat")).to_be_visible()

    # Nothing anyone typed ran as markup, and neither CSP (the site's, Lead Center's) refused anything.
    assert page.evaluate("window.hacked") is None and frame.evaluate("window.hacked") is None
    assert frame.locator(".messages img, .messages i, .top b").count() == 0
    assert visitor.errors == []


def test_nobody_online_the_widget_waits_for_the_launcher_and_offers_the_offline_form(lead_center, visitor):
    page = visitor.page
    lead_center.online = False
    page.goto(lead_center.site + "/")
    wait_for_launcher(page)
    assert lead_center.connections == []  # nothing more loads until the visitor asks
    page.keyboard.press("Tab")  # the launcher takes the keyboard too
    page.keyboard.press("Enter")
    frame = widget_frame(page)
    form = frame.locator("#offline")
    expect(form.locator(".intro")).to_have_text(re.compile("^Nobody is available to chat right now"))
    form.get_by_label("Message").fill("Call me back")
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_role("alert")).to_have_text("Please leave a phone number or an email address.")
    form.get_by_label("Phone").fill("+1 404 555 0100")
    form.get_by_role("button", name="Send").click()
    expect(frame.get_by_text("we have your message")).to_be_visible()
    sent = lead_center.frames("offline_form")
    assert [(f["phone"], f["body"]) for f in sent] == [("+1 404 555 0100", "Call me back")]
    # Escape closes the widget, back to the launcher.
    page.keyboard.press("Escape")
    wait_until(lambda: not frame.frame_element().is_visible(), "the widget to close", page)
    assert visitor.errors == []


def test_a_chat_nobody_answers_becomes_the_offline_form(lead_center, visitor):
    page = visitor.page
    lead_center.prechat = {"name": "off", "phone": "optional", "email": "off"}
    page.goto(lead_center.site + "/")
    wait_for_launcher(page)
    page.mouse.click(*LAUNCHER)
    frame = widget_frame(page)
    form = frame.locator("#prechat")
    expect(form.get_by_label("Name")).to_be_hidden()
    form.get_by_label("Phone").fill("+14045550100")
    form.get_by_label("Message").fill("Anyone?")
    form.get_by_role("button", name="Start chat").click()
    expect(frame.locator(".message.mine .text")).to_have_text("Anyone?")
    expect(frame.locator(".message.mine .meta")).not_to_have_text("Sending…")  # the chat is the server's now
    lead_center.nobody_responds()
    offline = frame.locator("#offline")
    expect(offline.locator(".intro")).to_have_text(re.compile("nobody could answer in time"))
    # What the visitor already said is in the form.
    expect(offline.get_by_label("Phone")).to_have_value("+14045550100")
    expect(offline.get_by_label("Message")).to_have_value("Anyone?")
    assert visitor.errors == []


def test_the_visitor_ends_the_chat_and_starts_another_and_a_single_page_site_says_where_they_went(lead_center, visitor):
    page = visitor.page
    lead_center.prechat = {"name": "off", "phone": "off", "email": "off"}
    page.goto(lead_center.site + "/")
    wait_for_launcher(page)
    page.mouse.click(*LAUNCHER)
    frame = widget_frame(page)
    # A single-page site moves on with pushState: the widget tells the server where the visitor is now.
    page.evaluate("history.pushState({}, '', '/pricing')")
    wait_until(lambda: lead_center.frames("page"), "a page frame", page)
    assert lead_center.frames("page")[0]["url"] == lead_center.site + "/pricing"
    form = frame.locator("#prechat")
    form.get_by_label("Message").fill("Hello")
    form.get_by_role("button", name="Start chat").click()
    expect(frame.locator(".message.mine .meta")).not_to_have_text("Sending…")
    frame.get_by_role("button", name="End chat").click()
    expect(frame.locator("#ended")).to_contain_text("You ended the chat.")
    assert len(lead_center.frames("end")) == 1
    frame.get_by_role("button", name="Start a new chat").click()
    expect(form.get_by_label("Message")).to_be_visible()
    expect(frame.locator(".message")).to_have_count(0)
    assert visitor.errors == []
