"""Website chat end to end, in Chromium, with two origins: a small business website this test serves on its own
loopback port (two pages with the company's snippet, `<script src="<Lead Center>/s/<key>.js" async>`) and the
agent app of the real system (`leadcenter run`). A visitor chats with two signed-in agents (one browser context
each); what each side sees is asserted: Incoming on both, one Respond, the other's row gone, messages and typing
both ways, the next page of the site keeping the chat, the visitor gone and back, End Chat -> Recent and "ended";
the offline form when nobody is online -> a form in Incoming; a snippet on a site that is not allowed; markup in
every visitor field inert in the app; the desktop notification and the chime."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import re
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, SCREENSHOTS, AgentApp, Browser, Website
from harness import wait_for
from playwright.sync_api import Page, expect

from leadcenter import demo
from leadcenter.agents.models import Agent
from leadcenter.interactions.models import Interaction

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")

ALICE, BOB = "alice@acme.example", "bob@acme.example"
AGENT_IDS = (1, 2)  # theirs, in the demo
XSS = "<img src=x onerror=window.__xss=1>"
OFFERS = f"Offers {XSS}"  # the title of the site's page /offers
VIEWPORT = {"width": 1000, "height": 800}
LAUNCHER = (1000 - 20 - 28, 800 - 20 - 28)  # the widget's default place: bottom right, 20 px in, 56 px wide
TYPING_SHOWN_S = 12  # the app shows the visitor typing for 5 s after their last typing frame; with margin


class BusinessSite(Website):
    """A business's website on a loopback port of its own (another origin than Lead Center's): three pages with the
    company's snippet, the last one's title carrying markup."""

    def __init__(self, lead_center: str, key: str):
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<script src="{lead_center}/s/{key}.js" async></script></head>'
            "<body><h1>{heading}</h1><p>Boilers, leaks and bathrooms, in Atlanta since 1987.</p>"
            '<p><a href="/">Home</a> | <a href="/pricing">Pricing</a> | <a href="/offers">Offers</a></p></body></html>'
        )
        # A title is raw text in <title> (markup in it is the document's title, as a visitor's page may have it);
        # the heading is the site's own markup, escaped.
        titles = {"/": "Acme Plumbing", "/pricing": "Pricing", "/offers": OFFERS}
        pages = {path: page.format(title=title, heading=html.escape(title)) for path, title in titles.items()}

        super().__init__(pages)


@pytest.fixture(scope="module")
def widget(system):
    """The demo company's chat widget, allowing one business site: the key and the site. Alice and Bob take their
    calls on their browser softphones meanwhile (their desk phones are the other modules'). What the module's tests
    leave open is closed in the database afterwards, so no chat or form waits in a later test's Incoming."""
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        key = admin.get("/api/v1/chat-widget").json()["public_key"]
        site = BusinessSite(system.url, key)
        answer = admin.patch(
            "/api/v1/chat-widget",
            json={"allowed_origins": [site.origin], "position": "right", "prechat": {"name": "optional"}},
        )
        assert answer.status_code == 200, answer.text
        for agent in AGENT_IDS:
            assert admin.patch(f"/api/v1/agents/{agent}", json={"ring_device": "webrtc"}).status_code == 200
    yield key, site
    site.close()
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        for agent in AGENT_IDS:
            assert admin.patch(f"/api/v1/agents/{agent}", json={"ring_device": "desk"}).status_code == 200
    wait_for(  # the next modules' calls ring the desk phones again
        lambda: "PJSIP/desk1" in (system.instance.rx("queue show team1") or ""),
        10,
        what="the queue back on desk phones",
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    Interaction.update(status="recent", outcome="abandoned", ended_at=now, status_changed_at=now).where(
        Interaction.kind.in_(["chat", "form"]), Interaction.status != "recent"
    ).execute()


class Visitor:
    """A website visitor's tab on the business site, and the chat widget in it."""

    def __init__(self, page: Page, site: BusinessSite, key: str):
        self.page, self.site, self.key = page, site, key
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def visit(self, path: str = "/") -> Visitor:
        self.page.goto(self.site.origin + path)
        return self

    def wait(self, condition, what: str, timeout: float = 10):
        """Poll ``condition`` with Playwright's own wait between tries (events reach the sync API only while it
        is called: a plain sleep would not see a new frame)."""
        for _ in range(int(timeout * 10)):
            value = condition()
            if value:
                return value
            self.page.wait_for_timeout(100)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def launcher_shown(self) -> bool:
        """The launcher is in a closed shadow root no locator reaches: the page finds its host where it is drawn."""
        return self.page.evaluate(f"document.elementFromPoint({LAUNCHER[0]}, {LAUNCHER[1]})?.tagName") == "DIV"

    def open_widget(self):
        self.wait(self.launcher_shown, "the chat launcher on the business site")
        self.page.mouse.click(*LAUNCHER)
        return self.frame()

    def frame(self):
        def find():
            return next((f for f in self.page.frames if f"/w/{self.key}" in f.url), None)

        return self.wait(find, "the widget's iframe")


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """docs/screenshot-<name>.png with `LEADCENTER_SCREENSHOTS=docs` (browser.py), the whole page."""
    page.screenshot(
        path=str((Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / f"screenshot-{name}.png"), full_page=True
    )


def visitor_in(browser: Browser, widget) -> Visitor:
    key, site = widget
    return Visitor(browser.page(viewport=VIEWPORT), site, key)


def signed_in(browser: Browser, system, email: str, **options) -> AgentApp:
    app = browser.agent(system, email, **options)
    expect(app.page.locator(".connection")).to_have_text("Live")
    return app


def start_chat(frame, name: str, body: str) -> None:
    form = frame.locator("#prechat")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Message").fill(body)
    form.get_by_role("button", name="Start chat").click()
    expect(frame.locator(".message.mine .meta")).not_to_have_text("Sending…")  # stored and acknowledged


def no_markup_ran(*pages: Page) -> None:
    for page in pages:
        assert page.evaluate("typeof window.__xss") == "undefined", page.url


def test_a_visitor_chats_with_two_agents_one_responds_and_ends_it(running, widget, tmp_path):
    name, first = "Vera Lynn", "Do you fix boilers?"
    with Browser() as browser:
        alice, bob = signed_in(browser, running, ALICE), signed_in(browser, running, BOB)
        visitor = visitor_in(browser, widget).visit("/")
        frame = visitor.open_widget()
        start_chat(frame, name, first)

        # Both agents the widget offers it to see it in Incoming: the chat icon, the visitor's name, the first
        # message, the page and the source.
        for app in (alice, bob):
            row = app.row("incoming", "Vera")
            expect(row.locator(".lead-name")).to_have_text(name)
            expect(row.locator(".snippet")).to_have_text(first)
            expect(row.locator(".page")).to_have_text("Acme Plumbing")
            expect(row.locator(".source")).to_have_text("Direct")
            assert "chat" in app.icons_shown()
            expect(row.get_by_role("button", name="Respond")).to_be_visible()
        # Selected: the chat preview and the session information, Respond at the lower right of the panel.
        page = alice.page
        alice.row("incoming", "Vera").get_by_role("button", name=name).click()
        panel = page.locator("#panel")
        expect(panel.locator(".message.inbound .body")).to_have_text(first)
        session = panel.locator(".session")
        expect(session.locator(".page-title")).to_have_text("Acme Plumbing")
        expect(session.locator(".page-url")).to_have_text(visitor.site.origin + "/")
        expect(session.locator(".referrer")).to_have_text("Direct")
        expect(session.locator(".presence")).to_have_text("On the site")
        respond = panel.locator(".respond-bar").get_by_role("button", name="Respond")
        box, button = panel.bounding_box(), respond.bounding_box()
        assert button["x"] + button["width"] > box["x"] + box["width"] * 0.75, (box, button)
        # The visitor types: the agents whose Incoming holds it see so, for a few seconds.
        frame.locator("#say").press_sequentially("Also")
        expect(panel.locator(".typing")).to_have_text(f"{name} is typing…")
        screenshot(page, "chat-incoming", tmp_path)

        # Alice responds: Active for her, gone from Bob's Incoming; Bob's late Respond says who has it.
        respond.click()
        expect(alice.row("active", "Vera")).to_be_visible()
        expect(bob.row("incoming", "Vera")).to_have_count(0)
        chat_id = Interaction.get(Interaction.kind == "chat", Interaction.status == "active").id
        bob.page.evaluate(f"async () => (await import('/js/conversations.js')).respond({{id: {chat_id}}})")
        expect(bob.page.locator("#notice")).to_contain_text("Alice Agent responded first")
        expect(bob.page.locator("#panel .thread")).to_contain_text("Alice Agent is chatting with this visitor")
        # Visitors see the chat display name of Alice's profile (another module may have set one).
        alice_row = Agent.get_by_id(AGENT_IDS[0])
        chat_name = alice_row.chat_display_name or alice_row.display_name
        expect(frame.locator(".presence")).to_have_text(f"{chat_name} is chatting with you")
        expect(panel.locator(".typing")).to_be_hidden(timeout=TYPING_SHOWN_S * 1000)

        # The reply box, focused: typing is told to the visitor; Enter sends, Shift+Enter is a new line.
        reply = page.get_by_role("textbox", name="Message")
        expect(reply).to_be_focused()
        expect(reply).to_have_attribute("maxlength", "2000")
        told = []
        page.on("request", lambda request: told.append(request) if request.url.endswith("/typing") else None)
        began = time.monotonic()
        reply.press_sequentially("Yes, we do!")
        expect(frame.locator(".typing")).to_have_text(f"{chat_name} is typing…")
        reply.press("Shift+Enter")
        reply.press_sequentially("Which model?")
        typed_for = time.monotonic() - began
        reply.press("Enter")
        assert 1 <= len(told) <= 1 + typed_for // 2.5, (len(told), typed_for)  # 24 keys: told every 2.5 s at most
        expect(frame.locator(".message.theirs .text")).to_have_text("Yes, we do!\nWhich model?")
        expect(reply).to_have_value("")
        expect(panel.locator(".message.outbound .body")).to_have_text("Yes, we do!\nWhich model?")
        expect(panel.locator(".message.outbound .delivery")).to_have_count(0)  # no parts or delivery for chats
        # The visitor answers: live in the thread and on the row.
        frame.locator("#say").fill("A Vaillant ecoTEC")
        frame.locator("#say").press("Enter")
        expect(panel.locator(".message.inbound .body").last).to_have_text("A Vaillant ecoTEC")
        expect(alice.row("active", "Vera").locator(".snippet")).to_have_text("A Vaillant ecoTEC")

        # The visitor goes to the site's next page: the chat goes on there, and the agent sees where they are.
        visitor.visit("/pricing")
        frame = visitor.frame()
        expect(frame.locator(".message .text")).to_have_text([first, "Yes, we do!\nWhich model?", "A Vaillant ecoTEC"])
        expect(session.locator(".page-title")).to_have_text("Pricing")
        expect(session.locator(".presence")).to_have_text("On the site")
        frame.locator("#say").fill("How much is a service?")
        frame.locator("#say").press("Enter")
        expect(panel.locator(".message.inbound .body").last).to_have_text("How much is a service?")
        screenshot(page, "chat-active", tmp_path)  # the whole page: the reply box is under the thread
        screenshot(visitor.page, "chat-widget", tmp_path)

        # The visitor closes the tab: gone; what Alice sends meanwhile is there when they come back.
        context = visitor.page.context
        visitor.page.close()
        expect(session.locator(".presence")).to_contain_text("Gone since")
        expect(alice.row("active", "Vera").locator(".gone")).to_have_text("Visitor left")
        reply.fill("From 89 dollars.")
        reply.press("Enter")
        expect(panel.locator(".message.outbound .body").last).to_have_text("From 89 dollars.")
        visitor = Visitor(context.new_page(), visitor.site, visitor.key).visit("/")  # a new tab, the same visitor
        frame = visitor.open_widget()
        expect(frame.locator(".message.theirs .text").last).to_have_text("From 89 dollars.")
        expect(session.locator(".presence")).to_have_text("On the site")

        # End Chat: Recent for Alice, "ended" for the visitor.
        chat = alice.row("active", "Vera")
        recent = alice.same_row("recent", chat)
        page.get_by_role("button", name="End Chat").click()
        expect(recent).to_contain_text("ended")
        expect(alice.row("active", "Vera")).to_have_count(0)
        expect(frame.locator("#ended")).to_contain_text("ended the chat")
        expect(panel.locator(".thread")).to_contain_text("This chat has ended.")
        expect(page.get_by_role("textbox", name="Message")).to_have_count(0)

        assert alice.errors == [] and bob.errors == [] and visitor.errors == []


def test_nobody_online_the_offline_form_becomes_a_form_in_incoming(running, widget):
    for email in (ALICE, BOB):
        running.choose_status(email, "offline")
    with Browser() as browser:
        visitor = visitor_in(browser, widget).visit("/offers")
        frame = visitor.open_widget()
        form = frame.locator("#offline")
        expect(form.locator(".intro")).to_have_text(re.compile("^Nobody is available to chat right now"))
        form.get_by_label("Name").fill(f"Otto {XSS}")
        form.get_by_label("Phone").fill("+1 404 555 4177")
        form.get_by_label("Message").fill(f"Call me back about a leak {XSS}")
        form.get_by_role("button", name="Send").click()
        expect(frame.get_by_text("we have your message")).to_be_visible()

        # Back online, Alice finds it in Incoming: the form icon, the visitor's details and message, markup in any
        # of them (the name, the message, the page's title) as text.
        running.choose_status(ALICE, "available")
        alice = signed_in(browser, running, ALICE)
        row = alice.row("incoming", "Otto")
        expect(row.locator(".lead-name")).to_have_text(f"Otto {XSS}")
        expect(row.locator(".snippet")).to_have_text(f"Call me back about a leak {XSS}")
        assert "form" in alice.icons_shown()
        row.get_by_role("button", name=f"Otto {XSS}").click()
        panel = alice.page.locator("#panel")
        expect(panel.locator(".message.inbound .body")).to_have_text(f"Call me back about a leak {XSS}")
        expect(panel.locator(".session .visitor-phone")).to_have_text("+14045554177")
        expect(panel.locator(".session .form-name")).to_have_text("Left while nobody was online to chat")
        expect(panel.locator(".session .page-title")).to_have_text(OFFERS)

        # Respond takes it (Active, Alice's: she calls or texts the visitor back; a form takes no reply), Close form
        # concludes it.
        panel.get_by_role("button", name="Respond").click()
        expect(alice.row("active", "Otto")).to_be_visible()
        assert panel.locator("#reply").count() == 0
        recent = alice.same_row("recent", alice.row("active", "Otto"))
        alice.page.get_by_role("button", name="Close form").click()
        expect(recent).to_be_visible()
        form = Interaction.get(Interaction.kind == "form", Interaction.lead_number == "+14045554177")
        assert (form.status, form.outcome, form.agent.user.email) == ("recent", "answered", ALICE)
        no_markup_ran(alice.page, visitor.page)
        assert alice.page.locator("#app img").count() == 0
        assert alice.errors == [] and visitor.errors == []


def test_the_snippet_on_a_site_not_allowed_shows_no_launcher_and_its_socket_is_refused(running, widget):
    key, allowed = widget
    elsewhere = BusinessSite(running.url, key)
    socket = f"""() => new Promise((done) => {{
        const ws = new WebSocket('{running.url.replace("http", "ws")}/api/v1/visitor?key={key}');
        ws.onopen = () => {{ done('open'); ws.close(); }};
        ws.onclose = () => done('refused');
    }})"""
    try:
        with Browser() as browser:
            page = browser.page(viewport=VIEWPORT)
            page.goto(elsewhere.origin + "/", wait_until="networkidle")  # the snippet has asked for its status
            # The snippet's request, as it makes it, is refused to this origin (no CORS answer): no launcher.
            status = (
                f"() => fetch('{running.url}/s/{key}.json', {{ credentials: 'omit' }})"
                ".then(() => 'read', () => 'refused')"
            )
            assert page.evaluate(status) == "refused"
            assert page.evaluate(f"document.elementFromPoint({LAUNCHER[0]}, {LAUNCHER[1]})?.tagName") != "DIV"
            assert not [f for f in page.frames if f"/w/{key}" in f.url]
            assert page.evaluate(socket) == "refused"
            # The same socket from the allowed site opens.
            page.goto(allowed.origin + "/")
            assert page.evaluate(status) == "read"
            assert page.evaluate(socket) == "open"
    finally:
        elsewhere.close()


# Before the app loads: the tab is in the background; desktop notifications and chimes (AudioContexts) recorded.
# Headless Chromium counts a page's navigation as the user's activation (navigator.userActivation.hasBeenActive is
# true at once); here, as in a desktop browser, the page has been activated only by a click or a key of its user.
BACKGROUND_TAB = """
window.activated = false;
for (const type of ['pointerdown', 'keydown']) {
  addEventListener(type, (event) => { if (event.isTrusted) window.activated = true; }, true);
}
Object.defineProperty(navigator, 'userActivation', { get: () => ({ hasBeenActive: window.activated }) });
Object.defineProperty(document, 'hidden', { get: () => true });
Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
window.shown = [];
window.Notification = class extends window.Notification {
  constructor(title, options) { super(title, options); window.shown.push([title, options.body]); }
};
window.chimes = 0;
window.AudioContext = class extends window.AudioContext {
  constructor() { super(); window.chimes += 1; }
};
"""


def test_a_new_chat_notifies_and_chimes_once_the_agent_has_interacted(running, widget):
    with Browser() as browser:
        # Bob's session is signed in already (a tab opened after signing in elsewhere): this page has had no click
        # or key from him yet, and browsers refuse sound to such a page.
        page = browser.page(permissions=["notifications"], viewport={"width": 1360, "height": 820})
        page.add_init_script(BACKGROUND_TAB)
        csrf = page.request.get(f"{running.url}/api/v1/session").json()["csrf_token"]
        password = next(p for e, p, _ in demo.logins(running.settings) if e == BOB)
        signed = page.request.post(
            f"{running.url}/api/v1/session", data={"email": BOB, "password": password}, headers={"X-CSRF-Token": csrf}
        )
        assert signed.ok, signed.text()
        bob = AgentApp(page, BOB)
        page.goto(running.url)
        expect(page.locator(".connection")).to_have_text("Live")
        # A chat whose every field carries markup: the name, the message, the page's title.
        visitor = visitor_in(browser, widget).visit("/offers")
        frame = visitor.open_widget()
        start_chat(frame, f"Nora {XSS}", f"Is anyone there? {XSS}")
        row = bob.row("incoming", "Nora")
        expect(row.locator(".lead-name")).to_have_text(f"Nora {XSS}")
        expect(row.locator(".snippet")).to_have_text(f"Is anyone there? {XSS}")
        expect(row.locator(".page")).to_have_text(OFFERS)
        wait_for(lambda: bob.page.evaluate("window.shown.length"), 5, what="a desktop notification")
        assert bob.page.evaluate("window.shown") == [["New chat", f"Nora {XSS}: Is anyone there? {XSS}"]]
        assert bob.page.evaluate("window.chimes") == 0
        # Once Bob has clicked in the page, the chat's next message chimes too.
        bob.page.locator("#inbox h2").first.click()
        frame.locator("#say").fill("Hello?")
        frame.locator("#say").press("Enter")
        wait_for(lambda: bob.page.evaluate("window.shown.length") == 2, 5, what="a second notification")
        assert bob.page.evaluate("window.shown")[1] == ["New chat message", f"Nora {XSS}: Hello?"]
        assert bob.page.evaluate("window.chimes") == 1
        # Bob's own chat in the background: the visitor's message notifies and chimes.
        bob.row("incoming", "Nora").get_by_role("button", name="Respond").click()
        expect(bob.row("active", "Nora")).to_be_visible()
        frame.locator("#say").fill("Great, thanks")
        frame.locator("#say").press("Enter")
        wait_for(lambda: bob.page.evaluate("window.shown.length") == 3, 5, what="a third notification")
        assert bob.page.evaluate("window.shown")[2] == ["New chat message", f"Nora {XSS}: Great, thanks"]
        panel = bob.page.locator("#panel")
        expect(panel.locator(".message.inbound .body").first).to_have_text(f"Is anyone there? {XSS}")
        expect(panel.locator(".session .page-title")).to_have_text(OFFERS)
        assert bob.page.evaluate("window.chimes") == 2
        recent = bob.same_row("recent", bob.row("active", "Nora"))
        bob.page.get_by_role("button", name="End Chat").click()
        expect(recent).to_be_visible()
        no_markup_ran(bob.page, visitor.page)
        assert bob.page.locator("#app img").count() == 0
        assert bob.errors == [] and visitor.errors == []
