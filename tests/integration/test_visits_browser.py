"""Website visits, dynamic number insertion and attribution at ring time, end to end: Chromium visits a business
site this test serves on its own loopback origin (pages with the company's snippet and the business's number in
text, in a `tel:` link and in content added after load), arriving with different referrers and UTM / gclid
parameters; the real `leadcenter run` swaps in a number of a pool of two (another for each live visitor, the
fallback for a third, a Yelp visitor the Yelp number), a returning visitor keeps theirs, a number is reassigned
once its visitor's hold has passed; SIPp then calls the number the first visitor saw on the demo trunk, and while it
rings the signed-in agent's Incoming row and panel show that visitor's campaign, keyword and landing page; after the
call, the lead's timeline shows the visit before it, with its pages, and the visitor's next visit joins it live."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import re
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, SCREENSHOTS, Browser, Website
from harness import ADS_LINE, wait_for
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make setup)")

ALICE = "alice@acme.example"
ALICE_ID = 1
SITE_NUMBER = "+14045550150"  # printed on the business's pages; the snippet swaps it
POOL = ("+14045550161", "+14045550162")  # added to the demo through the API, on its trunk and flow
YELP_NUMBER = "+14045550163"  # shown to visitors who come from Yelp
FALLBACK = "+14045550101"  # the demo's Website line: shown when every pool number is held
XSS = "<img src=x onerror=window.__xss=1>"
LANDING = "/?utm_source=google&utm_medium=cpc&utm_campaign=spring-boilers&utm_term=boiler+repair&gclid=TeSt-GcLiD-42"
HOLD_PASSES_S = 120  # the pool's hold is 1 minute (the least the API takes) after the visitor's last page or ping


def national(number: str, style: str) -> str:
    area, exchange, line = number[2:5], number[5:8], number[8:]
    return {
        "paren": f"({area}) {exchange}-{line}",
        "dash": f"{area}-{exchange}-{line}",
        "dot": f"{area}.{exchange}.{line}",
    }[style]


class BusinessSite(Website):
    """The business's website on a loopback port of its own: pages with the snippet and the business's number in
    three places (text, a tel: link, and a paragraph the page adds after load), and another number the swap must
    not touch."""

    def __init__(self, lead_center: str, key: str):
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<script src="{lead_center}/s/{key}.js" async></script></head>'
            "<body><h1>{heading}</h1>"
            f'<p>Call us: <span id="phone">{national(SITE_NUMBER, "paren")}</span></p>'
            f'<p><a id="tel" href="tel:{SITE_NUMBER}">{national(SITE_NUMBER, "dash")}</a></p>'
            '<p id="fax">Fax: 404-555-2998</p>'
            '<p><a href="/">Home</a> | <a href="/boilers">Boilers</a></p>'
            "<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'later';"
            f" p.textContent = 'Emergencies: {national(SITE_NUMBER, 'dot')}'; document.body.append(p); }}, 300)"
            "</script></body></html>"
        )
        titles = {"/": "Acme Plumbing", "/boilers": f"Boilers {XSS}"}
        pages = {
            path: page.replace("{title}", title).replace("{heading}", html.escape(title))
            for path, title in titles.items()
        }

        super().__init__(pages)


def ok(answer):
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def site(system):
    """The demo company set up through the API as an admin would: the site's number, a pool of two new tracking
    numbers (on the demo's trunk, into its Main line flow) held 1 minute, the Website line as its fallback, a Yelp
    number, and the widget allowing the test's site; Alice takes calls in her browser meanwhile. Undone after."""
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        numbers = ok(admin.get("/api/v1/tracking-numbers"))
        ads = next(n for n in numbers if n["number"] == ADS_LINE)
        fallback = next(n for n in numbers if n["number"] == FALLBACK)
        pool = ok(admin.post("/api/v1/number-pools", json={"name": "Website visitors", "hold_minutes": 1}))
        line = {"trunk": ads["trunk"], "flow": ads["flow"]}
        added = [
            ok(
                admin.post(
                    "/api/v1/tracking-numbers", json={"number": n, "name": f"Pool {i}", "pool": pool["id"], **line}
                )
            )
            for i, n in enumerate(POOL, 1)
        ]
        added.append(
            ok(
                admin.post(
                    "/api/v1/tracking-numbers",
                    json={"number": YELP_NUMBER, "name": "Yelp line", "swap_source": "yelp", **line},
                )
            )
        )
        ok(admin.patch(f"/api/v1/number-pools/{pool['id']}", json={"fallback_number": fallback["id"]}))
        # A session ends after a minute without a page or ping (the least the API takes): a visitor's next visit
        # within the test is a new session.
        ok(
            admin.patch(
                "/api/v1/visit-settings", json={"site_number": national(SITE_NUMBER, "paren"), "session_minutes": 1}
            )
        )
        key = ok(admin.get("/api/v1/chat-widget"))["public_key"]
        site = BusinessSite(system.url, key)
        ok(admin.patch("/api/v1/chat-widget", json={"allowed_origins": [site.origin]}))
        ok(admin.patch(f"/api/v1/agents/{ALICE_ID}", json={"ring_device": "webrtc"}))
    yield site
    site.close()
    with contextlib.closing(system.sign_in("admin@acme.example")) as admin:
        ok(admin.delete(f"/api/v1/number-pools/{pool['id']}"))
        ok(admin.patch(f"/api/v1/tracking-numbers/{added[-1]['id']}", json={"swap_source": ""}))
        ok(admin.patch("/api/v1/visit-settings", json={"site_number": "", "session_minutes": 30}))
        ok(admin.patch(f"/api/v1/agents/{ALICE_ID}", json={"ring_device": "desk"}))
    wait_for(  # the next modules' calls ring the desk phones again
        lambda: "PJSIP/desk1" in (system.instance.rx("queue show team1") or ""),
        10,
        what="the queue back on desk phones",
    )


class Visitor:
    """A visitor's browser (a context of its own: its own storage, so its own visitor key) on the business site."""

    def __init__(self, browser: Browser, site: BusinessSite):
        self.site = site
        self.page = browser.page(viewport={"width": 900, "height": 600})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def visit(self, path: str = "/", referrer: str | None = None) -> Visitor:
        self.page.goto(self.site.origin + path, referer=referrer)
        return self

    def again(self) -> Visitor:
        """A returning visitor: the tab closed, the site opened again in a new tab of the same browser."""
        context = self.page.context
        self.page.close()
        self.page = context.new_page()
        return self

    def sees(self, number: str) -> None:
        """Every place the business's number is printed shows ``number``, each in its own format; the fax does not
        change."""
        expect(self.page.locator("#phone")).to_have_text(national(number, "paren"))
        expect(self.page.locator("#tel")).to_have_text(national(number, "dash"))
        expect(self.page.locator("#tel")).to_have_attribute("href", f"tel:{number}")
        expect(self.page.locator("#later")).to_have_text(f"Emergencies: {national(number, 'dot')}")
        expect(self.page.locator("#fax")).to_have_text("Fax: 404-555-2998")

    def shown(self) -> str:
        """The number shown now, as E.164 (once the snippet has had its answer)."""
        href = self.page.locator("#tel").get_attribute("href")
        return href.removeprefix("tel:")

    def leave(self) -> None:
        self.page.context.close()


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str((Path(SCREENSHOTS) if SCREENSHOTS else tmp_path) / f"screenshot-{name}.png"))


def test_visitors_see_their_numbers_and_the_call_from_one_rings_with_its_visit(running, peers, site, tmp_path):
    with Browser() as browser:
        # The first visitor comes from a Google ad (gclid, UTM): a number of the pool, everywhere on the page.
        first = Visitor(browser, site).visit(LANDING, referrer="http://www.google.com/")
        wait_for(lambda: first.shown() != SITE_NUMBER, 15, what="the first visitor's number swapped in")
        theirs = first.shown()
        assert theirs in POOL
        first.sees(theirs)
        first.page.evaluate(  # a page's script adds the number later, in another format: swapped as well
            f"document.body.insertAdjacentHTML('beforeend', '<p id=added>Or +1 404 555 {SITE_NUMBER[-4:]}</p>')"
        )
        expect(first.page.locator("#added")).to_have_text(f"Or +1 404 555 {theirs[-4:]}")
        # A second visitor at the same time, from Bing: the pool's other number.
        second_seen = time.monotonic()  # their number is held until a minute after their last page or ping
        second = Visitor(browser, site).visit("/", referrer="http://www.bing.com/")
        wait_for(lambda: second.shown() != SITE_NUMBER, 15, what="the second visitor's number swapped in")
        other = second.shown()
        assert other in POOL and other != theirs
        second.sees(other)
        # A third while both are held: the fallback. A visitor from Yelp: the Yelp number (no pool number taken).
        third = Visitor(browser, site).visit("/")
        third.sees(FALLBACK)
        yelp = Visitor(browser, site).visit("/", referrer="http://www.yelp.com/biz/acme-plumbing")
        yelp.sees(YELP_NUMBER)
        for visitor in (third, yelp):  # gone: pings from them would take a number as soon as one is free
            visitor.leave()
        # The first visitor comes back in a new tab and goes on to another page: still their number.
        first.again().visit("/")
        first.sees(theirs)
        first.visit("/boilers")
        first.sees(theirs)
        second.leave()

        # The server saw where each came from (the visits API, as a supervisor reads it).
        with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
            sessions = ok(admin.get("/api/v1/visits"))
            numbers = {n["number"]: n["id"] for n in ok(admin.get("/api/v1/tracking-numbers"))}
        by_number = {s["tracking_number"]: s for s in sessions if s["landing_page"].startswith(site.origin)}
        google = by_number[numbers[theirs]]
        assert (google["source"], google["medium"], google["campaign"], google["keyword"]) == (
            "Google Ads",
            "cpc",
            "spring-boilers",
            "boiler repair",
        )
        assert (google["click_id"], google["click_id_kind"]) == ("TeSt-GcLiD-42", "gclid")
        assert by_number[numbers[other]]["source"] == "Bing organic"

        # The first visitor calls the number they saw: while it rings, Alice sees where they came from.
        alice = browser.agent(running, ALICE)
        expect(alice.page.locator(".connection")).to_have_text("Live")
        caller = peers.call("+14045558801", duration=25, did=theirs, caller_name="Rita Visitor", expect_answer=None)
        row = alice.row("incoming", "Rita Visitor")
        expect(row.locator(".ringing")).to_be_visible(timeout=20_000)
        expect(row.locator(".source")).to_have_text("Google Ads")
        expect(row.locator(".campaign")).to_have_text("spring-boilers")
        row.get_by_role("button", name="Rita Visitor").click()
        facts = alice.page.locator("#panel .interaction .facts")
        expect(facts.locator(".attribution.source")).to_have_text("Google Ads")
        expect(facts.locator(".attribution.medium")).to_have_text("cpc")
        expect(facts.locator(".attribution.campaign")).to_have_text("spring-boilers")
        expect(facts.locator(".attribution.keywords")).to_have_text("boiler repair")
        expect(facts.locator(".attribution.landing-page")).to_have_text(site.origin + LANDING)
        expect(facts.locator(".attribution.referrer")).to_have_text(re.compile(r"^http://www\.google\.com/?$"))
        expect(facts.locator(".attribution.click-id")).to_have_text("TeSt-GcLiD-42")
        expect(facts).to_contain_text(re.compile(r"Called\s*Pool \d \(\+1404555016[12]\)"))
        screenshot(alice.page, "visit-ringing", tmp_path)

        # After the call (the caller gave up while it rang), the lead's timeline: the call, and the visit before
        # it with its pages, oldest first, their titles as text.
        caller.wait(40)
        wait_for(
            lambda: (i := running.interaction(lead_number="+14045558801")) and i.status == "recent",
            15,
            what="the call in Recent",
        )
        alice.page.get_by_role("button", name="more interactions").click()
        timeline = alice.page.locator("#panel .timeline")
        items = timeline.locator(":scope > li")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_have_class(re.compile(r"\bkind-call\b"))
        visit = items.nth(1)
        expect(visit).to_have_class(re.compile(r"\bkind-visit\b"))
        expect(visit.locator("button")).to_contain_text("Website visit")
        expect(visit.locator("button")).to_contain_text("Google Ads")
        expect(visit.locator(".pages .page-title")).to_have_text(["Acme Plumbing", "Acme Plumbing", f"Boilers {XSS}"])
        expect(visit.locator(".pages .page-url").first).to_have_text(site.origin + LANDING)
        expect(visit.locator(".pages .page-referrer").first).to_have_text(
            re.compile(r"^from http://www\.google\.com/?$")
        )
        assert alice.page.evaluate("typeof window.__xss") == "undefined"
        first.page.close()  # the tab only: their browser keeps its visitor key

        # The second visitor's number is free again once their hold has passed: a new visitor gets it (until
        # then, the fallback: the first visitor's number is still held too).
        late = Visitor(browser, site)

        def reassigned() -> bool:
            late.visit("/")
            wait_for(lambda: late.shown() != SITE_NUMBER, 15, what="the late visitor's number (or the fallback)")
            return late.shown() == other

        wait_for(reassigned, HOLD_PASSES_S - (time.monotonic() - second_seen), interval=1, what="the number again")
        assert time.monotonic() - second_seen >= 59  # not before the hold passed
        late.sees(other)

        # The first visitor, a lead now, comes back from a newsletter once their session is over: the new visit joins
        # their timeline on Alice's screen as it starts (visit.joined).
        def session_over() -> bool:
            with contextlib.closing(running.sign_in("admin@acme.example")) as admin:
                visits = ok(admin.get("/api/v1/visits"))
            now = dt.datetime.now(dt.UTC)  # the server's clock is this machine's
            mine = [v for v in visits if v["tracking_number"] == numbers[theirs] and v["lead_id"] is not None]
            last = max(dt.datetime.fromisoformat(v["last_seen_at"].replace("Z", "+00:00")) for v in mine)
            return now - last > dt.timedelta(minutes=1, seconds=1)

        wait_for(session_over, 90, interval=2, what="the first visitor's session to be over")
        first.page = first.page.context.new_page()
        first.visit("/?utm_source=newsletter&utm_medium=email&utm_campaign=winter-check")
        expect(items).to_have_count(3)
        expect(items.nth(0)).to_have_class(re.compile(r"\bkind-visit\b"))
        expect(items.nth(0).locator("button")).to_contain_text("newsletter")
        expect(items.nth(1)).to_have_class(re.compile(r"\bkind-call\b"))
        screenshot(alice.page, "visit-timeline", tmp_path)
        assert not (alice.errors or first.errors or late.errors), (alice.errors, first.errors, late.errors)
