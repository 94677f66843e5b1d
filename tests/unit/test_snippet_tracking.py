"""The website snippet's visits and number swap (web/widget/snippet.js) in Chromium, against a fake Lead Center: a
small HTTP server written here that serves the snippet and answers POST /s/<key>/collect as the design has it
(docs/architecture.md, "Website chat: the visitor's side"), on its own origin, and a "business website" on another
origin. Unit level: the fake stands in for leadcenter/visits; the end-to-end test over the real server is
tests/integration's.

What is checked is what a visitor sees and what the server receives: the business's number in every usual format,
in text and in tel: links, replaced by the visitor's number in the same format, on the page as loaded, in content
added later and in content a re-render put back; other numbers, longer digit runs and what the visitor types left
alone; the view and ping requests (no cookies, no preflight, pings only while the page is seen, a last one when it
goes), the visitor's key kept for the next page, the privacy flag; and nothing sent, stored or swapped after an
answer without CORS (a site that is not one of the company's)."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page
from test_widget_browser import KEY, TIMEOUT_MS, VIEWPORT, chromium, pytestmark  # noqa: F401 (fixture, marks)

from leadcenter.web.app import WEB

BUSINESS, SHOWN = "+14045550100", "+16785550147"  # the site's number, and the one this visitor must see instead
STORED = f"localStorage.getItem('lc-chat:{KEY}:visitor')"
# (what the business printed, what the visitor must read): the usual formats, each in text and in a tel: link.
FORMATS = [
    ("404-555-0100", "678-555-0147"),
    ("(404) 555-0100", "(678) 555-0147"),
    ("404.555.0100", "678.555.0147"),
    ("404 555 0100", "678 555 0147"),
    ("+1 404 555 0100", "+1 678 555 0147"),
    ("+1-404-555-0100", "+1-678-555-0147"),
    ("1 (404) 555-0100", "1 (678) 555-0147"),
    ("14045550100", "16785550147"),
    ("+14045550100", "+16785550147"),
]
# Never touched: other numbers, and longer digit runs that contain the business's.
OTHERS = [
    "404-555-0199",
    "770-555-0100",
    "404-555-01000",
    "24045550100",
    "order 140455501001",
    "+44 404 555 0100",
    "404.555.0100.7",
    "ref 7-404-555-0100",
]


# The chat widget's stand-in (tests/unit/test_widget_browser.py drives the real one): it says ready, as widget.js
# does, and posts back what the snippet tells it.
FRAME = """<!doctype html><script>
addEventListener('message', (event) => fetch('/frame-said', {method: 'POST', body: JSON.stringify(event.data)}));
parent.postMessage({lc: 'ready'}, '*');
</script>"""


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: str, kind: str, headers: dict | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.fake.request(self, self.server.side)

    def do_POST(self):
        self.server.fake.request(self, self.server.side)

    def do_OPTIONS(self):  # a preflight: the snippet's requests are "simple", so none should come
        self.server.fake.request(self, self.server.side)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeLeadCenter, side: str):
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake, self.side = fake, side


class FakeLeadCenter:
    """/s/<key>.js and /s/<key>/collect as the design has them, and the business's site with its pages. The test
    sets what the next answers say: whether this site is one of the company's origins, the numbers, the ping."""

    def __init__(self):
        self.allowed = True
        self.numbers = {BUSINESS: SHOWN}
        self.ping_seconds = 60
        self.honour_privacy = False
        self.online = False  # an agent online: the chat's status answers, and the snippet loads the iframe at once
        self.answer_after = 0.0  # seconds the collect answer takes
        self.frame_said: list[dict] = []  # what the stand-in widget got from the snippet
        self.visitors: set[str] = set()
        self.requests: list[dict] = []  # every request to Lead Center: method, path, headers
        self.pages: dict[str, str] = {}  # path -> the body's HTML on the site
        self.lock = threading.Lock()
        self.servers = [Server(self, "lead_center"), Server(self, "site")]
        self.origin, self.site = (f"http://127.0.0.1:{server.server_address[1]}" for server in self.servers)
        self.threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in self.servers]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def request(self, handler: Handler, side: str) -> None:
        path = handler.path.split("?")[0]
        if side == "site":
            if handler.command != "GET" or path not in self.pages:
                return handler._answer(404, "not found", "text/plain")
            page = (
                f'<!doctype html><html><head><title>Plumbing</title><script src="{self.origin}/s/{KEY}.js" async>'
                f"</script></head><body>{self.pages[path]}</body></html>"
            )
            # The site's own CSP lets the snippet talk to Lead Center's origin only.
            policy = (
                f"default-src 'none'; script-src {self.origin}; connect-src {self.origin}; frame-src {self.origin}; "
                "style-src 'unsafe-inline'"
            )
            return handler._answer(200, page, "text/html; charset=utf-8", {"Content-Security-Policy": policy})
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(
                {"method": handler.command, "path": path, "headers": dict(handler.headers), "body": raw}
            )
        if handler.command == "GET" and path == f"/s/{KEY}.js":
            snippet = (WEB / "vendor" / "snippet.js").read_text().replace("__LC_ORIGIN__", self.origin)
            return handler._answer(200, snippet.replace("__LC_KEY__", KEY), "text/javascript")
        cors = {"Access-Control-Allow-Origin": handler.headers.get("Origin"), "Vary": "Origin"}
        if handler.command == "GET" and path == f"/s/{KEY}.json" and self.online:
            status = {"online": True, "color": "#0a7d4f", "position": "left"}
            return handler._answer(200, json.dumps(status), "application/json", cors)
        if handler.command == "GET" and path == f"/w/{KEY}":  # the widget's stand-in: says ready, tells what it got
            return handler._answer(200, FRAME, "text/html; charset=utf-8")
        if handler.command == "POST" and path == "/frame-said":
            with self.lock:
                self.frame_said.append(json.loads(raw))
            return handler._answer(204, "", "text/plain")
        if handler.command != "POST" or path != f"/s/{KEY}/collect":
            return handler._answer(404, "{}", "application/json")  # the chat's status among them: no launcher
        threading.Event().wait(self.answer_after)
        sent = json.loads(raw)
        with self.lock:
            private = sent["privacy"] and self.honour_privacy
            visitor = sent["visitor"] if sent["visitor"] in self.visitors else secrets.token_urlsafe(16)
            if not private:
                self.visitors.add(visitor)
            answer = {
                "visitor": None if private else visitor,
                "numbers": self.numbers,
                "ping_seconds": self.ping_seconds,
            }
        headers = {"Cache-Control": "no-store", **(cors if self.allowed else {})}
        return handler._answer(200, json.dumps(answer), "application/json", headers)

    def collected(self, kind: str | None = None) -> list[dict]:
        """The bodies of the collect requests (of one kind), in order."""
        with self.lock:
            bodies = [json.loads(r["body"]) for r in self.requests if r["path"] == f"/s/{KEY}/collect"]
        return [body for body in bodies if kind in (None, body["kind"])]


def wait_until(condition, what: str, page: Page) -> None:
    for _ in range(200):  # at most 10 s: the machine is shared
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def quiet(lead_center: FakeLeadCenter, page: Page) -> int:
    """The number of pings once none has come for 1.5 s (pings every second: a ping on its way when the page was
    hidden has arrived; if pings go on, it never gets quiet)."""
    for _ in range(6):
        pings = len(lead_center.collected("ping"))
        page.wait_for_timeout(1500)
        if len(lead_center.collected("ping")) == pings:
            return pings
    raise AssertionError("pings go on while the page is hidden")


@pytest.fixture
def lead_center():
    with FakeLeadCenter() as server:
        yield server


@pytest.fixture
def visitor(chromium):  # noqa: F811 (the fixture imported above)
    """A visitor's tab in a fresh context (its own storage, a cookie Lead Center's origin must never get from the
    snippet), the page's visibility in the test's hands, and what went wrong in it."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": "agent_session", "value": "secret", "domain": "127.0.0.1", "path": "/"}])
    # Headless Chromium's tab is always visible: window.lcHidden stands in for the visitor switching tabs.
    context.add_init_script(
        "Object.defineProperty(document, 'visibilityState', {get: () => window.lcHidden ? 'hidden' : 'visible'});"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield SimpleNamespace(page=page, context=context, errors=errors)
    context.close()


def texts(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(node => node.textContent)")


def hrefs(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map(node => node.getAttribute('href'))")


def numbers_page() -> str:
    shown = "".join(f'<p class="format">Call {printed} today</p>' for printed, _ in FORMATS)
    links = "".join(f'<a class="tel" href="tel:{printed}">{printed}</a> ' for printed, _ in FORMATS)
    others = "".join(f'<p class="other">{text}</p><a class="other-tel" href="tel:{text}">x</a>' for text in OTHERS)
    untouched = (
        '<input id="typed" value="404-555-0100"><textarea id="note">404-555-0100</textarea>'
        '<div id="editable" contenteditable="true">404-555-0100</div>'
        '<script type="application/ld+json" id="data">{"telephone": "+1-404-555-0100"}</script>'
        '<style id="css">/* 404-555-0100 */</style><select id="pick"><option>404-555-0100</option></select>'
    )
    return (
        f'<h1>Plumbing</h1><div id="shown">{shown}</div><p id="links">{links}</p>'
        f'<a id="sms" href="sms:+14045550100">Text us</a><div id="others">{others}</div>{untouched}'
    )


def test_the_business_number_is_swapped_in_every_format_and_nothing_else_is(lead_center, visitor):
    page = visitor.page
    lead_center.pages["/"] = numbers_page()
    page.goto(lead_center.site + "/")
    wanted = [f"Call {seen} today" for _, seen in FORMATS]
    wait_until(lambda: texts(page, ".format") == wanted, "every format swapped in the text", page)
    assert texts(page, ".tel") == [seen for _, seen in FORMATS]
    assert hrefs(page, ".tel") == [f"tel:{seen}" for _, seen in FORMATS]
    assert hrefs(page, "#sms") == ["sms:+16785550147"]
    # Other numbers and longer digit runs, and what the visitor types, scripts, styles, edits: as they were.
    assert texts(page, ".other") == OTHERS
    assert hrefs(page, ".other-tel") == [f"tel:{text}" for text in OTHERS]
    assert page.input_value("#typed") == "404-555-0100" and page.input_value("#note") == "404-555-0100"
    assert texts(page, "#editable, #pick option") == ["404-555-0100"] * 2
    assert texts(page, "#data") == ['{"telephone": "+1-404-555-0100"}']
    assert texts(page, "#css") == ["/* 404-555-0100 */"]

    # Content added after load, in every format, in a tel: link, and typed where the visitor types.
    page.evaluate(
        """formats => {
            const later = document.createElement('section');
            later.id = 'later';
            for (const printed of formats) {
                const line = document.createElement('p');
                line.textContent = 'Now at ' + printed + '.';
                later.append(line);
            }
            const link = document.createElement('a');
            link.href = 'tel:+1-404-555-0100';
            link.textContent = 'Call +1-404-555-0100';
            later.append(link);
            document.body.append(later);
            document.getElementById('typed').value = 'mine: 404-555-0100';
        }""",
        [printed for printed, _ in FORMATS],
    )
    later = [f"Now at {seen}." for _, seen in FORMATS]
    wait_until(lambda: texts(page, "#later p") == later, "added content swapped", page)
    assert texts(page, "#later a") == ["Call +1-678-555-0147"] and hrefs(page, "#later a") == ["tel:+1-678-555-0147"]
    assert page.input_value("#typed") == "mine: 404-555-0100"

    # A re-render puts the original back (the text, a link's href, a whole element): swapped again.
    page.evaluate(
        """() => {
            document.querySelector('.format').firstChild.data = 'Call 404-555-0100 today';
            document.querySelector('.tel').setAttribute('href', 'tel:404-555-0100');
            document.getElementById('later').replaceChildren(Object.assign(document.createElement('p'),
                {textContent: 'Again (404) 555-0100'}));
        }"""
    )
    wait_until(lambda: texts(page, "#later p") == ["Again (678) 555-0147"], "the re-render swapped", page)
    wait_until(lambda: texts(page, ".format")[0] == "Call 678-555-0147 today", "the text swapped again", page)
    wait_until(lambda: hrefs(page, ".tel")[0] == "tel:678-555-0147", "the href swapped again", page)
    # Another number added later stays as it is.
    page.evaluate(
        "document.body.append(Object.assign(document.createElement('p'), {id: 'fax', textContent: 'Fax 404-555-0199'}))"
    )
    wait_until(lambda: texts(page, "#fax") == ["Fax 404-555-0199"], "the fax number", page)
    assert visitor.errors == []


def test_views_and_pings_carry_the_page_and_the_visitor_key_kept_for_the_next_page(lead_center, visitor):
    page = visitor.page
    lead_center.ping_seconds = 1
    lead_center.pages["/"] = "<p>Call 404-555-0100</p><a id='next' href='/pricing'>Prices</a>"
    lead_center.pages["/pricing"] = "<p>Prices</p>"
    landing = lead_center.site + "/?utm_source=google&utm_medium=cpc&gclid=Cj0KEQ"
    page.goto(landing, referer="https://www.google.com/")
    wait_until(lambda: lead_center.collected("view"), "the view", page)
    assert lead_center.collected()[0] == {
        "visitor": None,
        "kind": "view",
        "page": {"url": landing, "title": "Plumbing", "referrer": "https://www.google.com/"},
        "privacy": False,
    }
    wait_until(lambda: page.evaluate(STORED), "the visitor's key in the site's storage", page)
    key = page.evaluate(STORED)
    assert key in lead_center.visitors
    # Pings while the page is seen, with the key the answer gave.
    wait_until(lambda: len(lead_center.collected("ping")) >= 2, "two pings", page)
    ping = lead_center.collected("ping")[0]
    assert ping == {"visitor": key, "kind": "ping", "page": {**ping["page"], "url": landing}, "privacy": False}

    # Hidden: no ping; seen again: one at once.
    page.evaluate("window.lcHidden = true; document.dispatchEvent(new Event('visibilitychange'))")
    pings = quiet(lead_center, page)
    page.wait_for_timeout(2500)  # 2.5 pings' time
    assert len(lead_center.collected("ping")) == pings
    page.evaluate("window.lcHidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    wait_until(lambda: len(lead_center.collected("ping")) > pings, "a ping once seen again", page)

    # A single-page site's navigation is a view.
    page.evaluate("history.pushState({}, '', '/pricing?plan=pro')")
    wait_until(lambda: len(lead_center.collected("view")) == 2, "the navigation's view", page)
    assert lead_center.collected("view")[1]["page"]["url"] == lead_center.site + "/pricing?plan=pro"

    # The next page: a last ping from this one as it goes, then a view with the same key.
    page.evaluate("window.lcHidden = true; document.dispatchEvent(new Event('visibilitychange'))")  # no other ping
    lead_center.ping_seconds = 3600  # nor on the next page
    pings = quiet(lead_center, page)
    page.click("#next")
    wait_until(lambda: len(lead_center.collected("view")) == 3, "the next page's view", page)
    wait_until(lambda: len(lead_center.collected("ping")) > pings, "the last ping of the page left", page)
    assert [ping["page"]["url"] for ping in lead_center.collected("ping")[pings:]] == [
        lead_center.site + "/pricing?plan=pro"
    ]
    view = lead_center.collected("view")[2]
    assert view["visitor"] == key and view["page"]["title"] == "Plumbing"
    assert view["page"]["referrer"] == lead_center.site + "/pricing?plan=pro"

    # Every request: a simple CORS request (no preflight) of text/plain from the site's origin, without cookies.
    collect = [r for r in lead_center.requests if r["path"] == f"/s/{KEY}/collect"]
    assert {r["method"] for r in lead_center.requests} <= {"GET", "POST"}
    for request in collect:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        assert request["method"] == "POST" and headers["content-type"] == "text/plain;charset=UTF-8"
        assert headers["origin"] == lead_center.site and "cookie" not in headers
    assert visitor.errors == []


def test_a_first_visit_gets_one_key_for_the_chat_and_the_visits(lead_center, visitor):
    """An agent is online: the chat's iframe loads at once, while the first view's answer (with the visitor's new
    key) is on its way; the snippet tells the iframe the key that answer gave, not none (which would make a second
    visitor)."""
    page = visitor.page
    lead_center.online = True
    lead_center.answer_after = 1.0
    lead_center.pages["/"] = "<p>Call 404-555-0100</p>"
    page.goto(lead_center.site + "/")
    wait_until(lambda: lead_center.frame_said, "the snippet's init to the iframe", page)
    init = lead_center.frame_said[0]
    assert init["lc"] == "init" and init["visitor"] == page.evaluate(STORED) and init["visitor"] in lead_center.visitors
    assert lead_center.collected()[0]["visitor"] is None
    assert visitor.errors == []


def test_a_new_number_for_the_visitor_replaces_the_one_shown(lead_center, visitor):
    """The session's number can change (a single-page site's navigation started a new session, the hold ran out
    while the laptop slept): the next answer's number replaces the business's and the one swapped in before."""
    page = visitor.page
    lead_center.ping_seconds = 1
    lead_center.pages["/"] = "<p id='n'>Call (404) 555-0100</p><a id='t' href='tel:+14045550100'>+1 404 555 0100</a>"
    page.goto(lead_center.site + "/")
    wait_until(lambda: texts(page, "#n, #t") == ["Call (678) 555-0147", "+1 678 555 0147"], "the first number", page)
    lead_center.numbers = {BUSINESS: "+17705550133"}
    wanted = ["Call (770) 555-0133", "+1 770 555 0133"]
    wait_until(lambda: texts(page, "#n, #t") == wanted, "the new number", page)
    assert hrefs(page, "#t") == ["tel:+17705550133"]
    # Content the page adds now, with the business's number: the new one.
    page.evaluate(
        "document.body.append(Object.assign(document.createElement('p'), {id: 'm', textContent: '404.555.0100'}))"
    )
    wait_until(lambda: texts(page, "#m") == ["770.555.0133"], "added content with the new number", page)
    assert visitor.errors == []


@pytest.mark.parametrize(
    "signal",
    [
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
    ],
    ids=["gpc", "dnt"],
)
def test_the_privacy_flag_is_sent_and_a_company_honouring_it_leaves_no_key(lead_center, visitor, signal):
    page = visitor.page
    visitor.context.add_init_script(signal)
    lead_center.honour_privacy = True
    lead_center.numbers = {BUSINESS: "+16785550111"}  # a source-level number: still swapped
    lead_center.pages["/"] = "<p id='n'>Call 404-555-0100</p>"
    page.goto(lead_center.site + "/")
    wait_until(lambda: texts(page, "#n") == ["Call 678-555-0111"], "the source's number", page)
    assert [body["privacy"] for body in lead_center.collected()] == [True]
    assert page.evaluate(STORED) is None
    assert visitor.errors == []


def test_with_storage_off_the_numbers_are_still_swapped(lead_center, visitor):
    """Storage refused (a browser's settings, some private windows): no key kept, each page a new visitor, the
    visitor's number still shown."""
    page = visitor.page
    visitor.context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get: () => { throw new DOMException('off'); }})"
    )
    lead_center.pages["/"] = "<p id='n'>Call 404.555.0100</p>"
    page.goto(lead_center.site + "/")
    wait_until(lambda: texts(page, "#n") == ["Call 678.555.0147"], "the visitor's number", page)
    page.reload()
    wait_until(lambda: len(lead_center.collected("view")) == 2, "the second view", page)
    assert [view["visitor"] for view in lead_center.collected("view")] == [None, None]
    assert visitor.errors == []


def test_a_site_that_is_not_the_companys_sends_nothing_more_stores_nothing_swaps_nothing(lead_center, visitor):
    page = visitor.page
    lead_center.allowed = False  # the answer comes without CORS: the browser keeps it from the snippet
    lead_center.ping_seconds = 1
    lead_center.pages["/"] = "<p id='n'>Call 404-555-0100</p>"
    lead_center.pages["/next"] = "<p>Next</p>"
    page.goto(lead_center.site + "/")
    wait_until(lambda: lead_center.collected(), "the view", page)
    page.wait_for_timeout(2500)  # 2.5 pings' time
    page.evaluate("history.pushState({}, '', '/moved')")
    page.wait_for_timeout(2500)  # more than the 2 s in which a navigation's view goes
    assert texts(page, "#n") == ["Call 404-555-0100"]
    assert page.evaluate(STORED) is None
    page.goto(lead_center.site + "/next")  # no last ping as the page goes
    wait_until(lambda: len(lead_center.collected()) == 2, "the next page's view", page)
    page.wait_for_timeout(500)
    assert [body["kind"] for body in lead_center.collected()] == ["view", "view"]
