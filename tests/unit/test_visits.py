"""Website visits over the real services and API (the stand-in controller's bus records what is published): the
source classification table, sessions, pool numbers (held, extended, expired, exhausted, returning visitors),
source numbers, privacy, retention, the public collection endpoint's refusals and limits, and attribution written
onto calls and texts before they are published, with the visitor's sessions joining the lead's timeline."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support import T0, ApiClient, attribution, spring_ad

from leadcenter.chats.models import Visitor
from leadcenter.chats.schemas import Contact, Page
from leadcenter.events import Event
from leadcenter.interactions.models import Interaction
from leadcenter.leads.models import Lead
from leadcenter.leads.services import merge
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.visits.models import PageView, VisitSession
from leadcenter.visits.services import settings_of
from leadcenter.visits.sources import classify

SHOP = "https://shop.example"
SITE_NUMBER = "+14045550100"


@pytest.fixture
def site(world, controller):
    """Company A's site: its widget (origin https://shop.example), the number printed on it, a pool of two numbers."""
    a = world["a"]
    widget = controller.chats.widget_of(a["company"])
    widget.allowed_origins = SHOP
    widget.save()
    settings = settings_of(a["company"])
    settings.site_number = SITE_NUMBER
    settings.save()
    admin = ApiClient(controller.app().test_client())
    admin.sign_in("admin@a.example")
    status, pool = admin.post("/api/v1/number-pools", {"name": "Website", "hold_minutes": 30})
    assert status == 201, pool
    numbers = []
    for n in (1, 2):
        status, number = admin.post(
            "/api/v1/tracking-numbers",
            {"number": f"+1404555016{n}", "name": f"Pool {n}", "trunk": a["trunk"].id, "flow": a["flow"].id},
        )
        assert status == 201, number
        assert admin.patch(f"/api/v1/tracking-numbers/{number['id']}", {"pool": pool["id"]})[1]["pool"] == pool["id"]
        numbers.append(TrackingNumber.get_by_id(number["id"]))
    return dict(widget=widget, pool=pool, numbers=numbers, admin=admin, company=a["company"])


def visit(controller, site, key=None, url=f"{SHOP}/", referrer="", kind="view", privacy=False, title="Shop"):
    return controller.visits.collect(site["widget"], key, kind, url, title, referrer, privacy)


def published(controller, name):
    return [data for event, data in controller.bus.published if event == name]


# -- classification: click id > UTM > referrer > direct -------------------------------------------------------------

CASES = [
    # (landing page, referrer) -> (source, medium, channel)
    (
        (f"{SHOP}/?gclid=abc&utm_source=bing&utm_medium=cpc", "https://www.bing.com/"),
        ("Google Ads", "cpc", "google_ads"),
    ),
    ((f"{SHOP}/?msclkid=m1", "https://www.google.com/"), ("Bing Ads", "cpc", "bing_ads")),
    ((f"{SHOP}/?fbclid=f1", ""), ("Facebook", "social", "facebook")),
    ((f"{SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=spring", ""), ("Google Ads", "cpc", "google_ads")),
    (
        (f"{SHOP}/?utm_source=google&utm_medium=organic", "https://news.example/"),
        ("Google organic", "organic", "google_organic"),
    ),
    ((f"{SHOP}/?utm_source=bing&utm_medium=ppc", ""), ("Bing Ads", "ppc", "bing_ads")),
    ((f"{SHOP}/?utm_source=newsletter&utm_medium=email", "https://www.google.com/"), ("newsletter", "email", "")),
    ((f"{SHOP}/?utm_source=yelp", ""), ("Yelp", "organic", "yelp")),
    ((f"{SHOP}/", "https://www.google.co.uk/"), ("Google organic", "organic", "google_organic")),
    ((f"{SHOP}/", "https://www.bing.com/search?q=roof"), ("Bing organic", "organic", "bing_organic")),
    ((f"{SHOP}/", "https://l.facebook.com/"), ("Facebook", "social", "facebook")),
    ((f"{SHOP}/", "https://www.yelp.com/biz/shop"), ("Yelp", "referral", "yelp")),
    ((f"{SHOP}/", "https://news.example/story"), ("Referral news.example", "referral", "")),
    ((f"{SHOP}/pricing", f"{SHOP}/"), ("Direct", "none", "direct")),  # the site's own page is no referrer
    ((f"{SHOP}/", ""), ("Direct", "none", "direct")),
    (("not a url", "::junk::"), ("Direct", "none", "direct")),
]


@pytest.mark.parametrize(("visit_", "expected"), CASES)
def test_the_source_of_a_visit_follows_the_documented_precedence(visit_, expected):
    source = classify(*visit_)
    assert (source.source, source.medium, source.channel) == expected


def test_a_click_id_and_the_utm_fields_are_kept_whatever_decided_the_source():
    source = classify(f"{SHOP}/?gclid=EAIa&utm_campaign=spring&utm_term=roof+repair&utm_content=ad2", "")
    assert (source.click_id, source.click_id_kind, source.campaign, source.keyword, source.content) == (
        "EAIa",
        "gclid",
        "spring",
        "roof repair",
        "ad2",
    )


# -- sessions ------------------------------------------------------------------------------------------------------


def test_views_within_the_session_time_continue_a_session_and_a_later_one_starts_another(controller, site):
    first = visit(controller, site, url=f"{SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=spring")
    controller.clock.advance(minutes=20)
    visit(controller, site, first.visitor, url=f"{SHOP}/pricing", referrer=f"{SHOP}/")
    controller.clock.advance(minutes=10)
    visit(controller, site, first.visitor, kind="ping", url=f"{SHOP}/pricing")
    controller.clock.advance(minutes=31)
    visit(controller, site, first.visitor, url=f"{SHOP}/contact", referrer="https://www.bing.com/")
    visitor = Visitor.get(Visitor.company == site["company"])
    sessions = list(VisitSession.select().where(VisitSession.visitor == visitor).order_by(VisitSession.id))
    assert [(s.source, s.campaign) for s in sessions] == [("Google Ads", "spring"), ("Bing organic", "")]
    assert [p.url for p in PageView.select().where(PageView.session == sessions[0]).order_by(PageView.id)] == [
        f"{SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=spring",
        f"{SHOP}/pricing",  # the ping stored no page
    ]
    assert sessions[0].last_seen_at == T0 + dt.timedelta(minutes=30)
    assert sessions[1].started_at == T0 + dt.timedelta(minutes=61)


def test_an_unknown_visitor_key_gets_a_new_visitor_and_another_companys_key_is_unknown(controller, site, world):
    first = visit(controller, site)
    assert len(first.visitor) == 22 and Visitor.get(Visitor.company == site["company"]).key_hash != first.visitor
    b_widget = controller.chats.widget_of(world["b"]["company"])
    other = controller.visits.collect(b_widget, first.visitor, "view", "https://b.example/", "", "", False)
    assert other.visitor != first.visitor
    assert visit(controller, site, "made-up-key").visitor != "made-up-key"


# -- pool numbers --------------------------------------------------------------------------------------------------


def test_each_visitor_gets_a_pool_number_and_past_the_pool_the_fallback(controller, site, caplog):
    one, two = site["numbers"]
    first, second = visit(controller, site), visit(controller, site)
    shown = {first.numbers[SITE_NUMBER], second.numbers[SITE_NUMBER]}
    assert shown == {one.number, two.number}
    assert visit(controller, site).numbers == {}  # no fallback number: the site's own stays
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"number pool {site['pool']['id']} (Website) is 100% held: add numbers"]  # once
    [exhausted] = published(controller, "number_pool.exhausted")
    assert exhausted["number_pool"]["utilisation"] == 1.0
    fallback = site["admin"].patch(f"/api/v1/number-pools/{site['pool']['id']}", {"fallback_number": one.id})[1]
    assert fallback["held"] == 2 and fallback["utilisation"] == 1.0
    assert visit(controller, site).numbers == {SITE_NUMBER: one.number}
    assert len(published(controller, "number_pool.exhausted")) == 1  # told once while it lasts
    # Each visitor keeps theirs on their next pages.
    assert visit(controller, site, first.visitor).numbers == first.numbers
    assert visit(controller, site, second.visitor).numbers == second.numbers


def test_a_visitor_on_the_fallback_asks_the_pool_again_a_minute_later(controller, site):
    one, _ = site["numbers"]
    site["admin"].patch(f"/api/v1/number-pools/{site['pool']['id']}", {"fallback_number": site["numbers"][1].id})
    first, second = visit(controller, site), visit(controller, site)
    late = visit(controller, site)
    assert late.numbers == {SITE_NUMBER: site["numbers"][1].number}  # the pool is full: its fallback
    controller.clock.advance(minutes=29)
    visit(controller, site, second.visitor, kind="ping")  # second keeps theirs; first's runs out at minute 30
    controller.clock.advance(seconds=30)
    visit(controller, site, late.visitor, kind="ping")  # late asks again (told a while ago): none free yet
    controller.clock.advance(seconds=40)  # first's number is free now, and late was told the fallback 40 s ago
    assert visit(controller, site, late.visitor).numbers == late.numbers  # no new question within the minute
    controller.clock.advance(seconds=21)
    assert visit(controller, site, late.visitor).numbers == first.numbers == {SITE_NUMBER: one.number}


def test_a_number_is_held_while_pings_come_and_given_to_another_visitor_after_the_hold(controller, site):
    first = visit(controller, site)
    second = visit(controller, site)
    for _ in range(3):  # an hour and a half of pings: still theirs
        controller.clock.advance(minutes=29)
        visit(controller, site, first.visitor, kind="ping")
    third = visit(controller, site)  # second's hold ran out long ago; first's is still theirs
    assert third.numbers == second.numbers
    controller.clock.advance(minutes=31)  # first stopped pinging 31 minutes ago: free again
    assert visit(controller, site).numbers == first.numbers


def test_a_returning_visitor_gets_their_number_back_while_it_is_held(controller, site):
    first = visit(controller, site)
    controller.clock.advance(minutes=25)  # within the hold, past nothing else
    assert visit(controller, site, first.visitor, url=f"{SHOP}/again").numbers == first.numbers
    controller.clock.advance(minutes=40)  # a new session (past session_minutes); the number was free
    assert visit(controller, site, first.visitor).numbers == first.numbers
    assert (
        VisitSession.select().where(VisitSession.visitor == Visitor.get(Visitor.company == site["company"])).count()
        == 2
    )


def test_a_source_number_goes_to_its_sources_visitors_before_the_pool(controller, site, world):
    a = world["a"]
    status, bing = site["admin"].post(
        "/api/v1/tracking-numbers",
        {"number": "+14045550171", "name": "Bing", "trunk": a["trunk"].id, "swap_source": "bing_organic"},
    )
    assert status == 201, bing
    status, promo = site["admin"].post(
        "/api/v1/tracking-numbers",
        {
            "number": "+14045550172",
            "name": "Promo",
            "trunk": a["trunk"].id,
            "swap_source": "custom",
            "swap_rule": {"param": "landing_param", "name": "promo", "equals": "SUMMER"},
        },
    )
    assert status == 201 and promo["swap_rule"]["name"] == "promo", promo
    assert visit(controller, site, referrer="https://www.bing.com/").numbers == {SITE_NUMBER: "+14045550171"}
    assert visit(controller, site, url=f"{SHOP}/?promo=summer").numbers == {SITE_NUMBER: "+14045550172"}
    assert visit(controller, site).numbers[SITE_NUMBER] in {n.number for n in site["numbers"]}
    # A call to a source's number gets that source (its visitors are not told apart: no session).
    call = ring(controller, TrackingNumber.get_by_id(bing["id"]))
    assert (call.source, call.medium, call.campaign) == ("Bing organic", "organic", "")


# -- privacy and retention -----------------------------------------------------------------------------------------


def test_a_browser_asking_not_to_be_tracked_leaves_nothing_and_sees_only_source_numbers(controller, site, world):
    site["admin"].post(
        "/api/v1/tracking-numbers",
        {"number": "+14045550173", "name": "Direct", "trunk": world["a"]["trunk"].id, "swap_source": "direct"},
    )
    told = visit(controller, site, privacy=True)
    assert told.visitor is None and told.numbers == {SITE_NUMBER: "+14045550173"}
    assert visit(controller, site, privacy=True, referrer="https://news.example/").numbers == {}  # no pool number
    assert (Visitor.select().count(), VisitSession.select().count(), PageView.select().count()) == (0, 0, 0)
    # A company that does not honour it tracks the visit.
    assert site["admin"].patch("/api/v1/visit-settings", {"honour_privacy": False})[0] == 200
    assert visit(controller, site, privacy=True).visitor is not None and VisitSession.select().count() == 1


def test_the_address_is_stored_only_when_the_company_asks(controller, site):
    controller.visits.collect(site["widget"], None, "view", f"{SHOP}/", "", "", False, "203.0.113.9")
    site["admin"].patch("/api/v1/visit-settings", {"store_ip": True})
    controller.visits.collect(site["widget"], None, "view", f"{SHOP}/", "", "", False, "203.0.113.9")
    assert [s.ip for s in VisitSession.select().order_by(VisitSession.id)] == ["", "203.0.113.9"]


def test_the_retention_sweep_deletes_old_anonymous_sessions_only(controller, site, world):
    anonymous, known = visit(controller, site), visit(controller, site)
    lead = world["a"]["leads"][0]
    Visitor.update(lead=lead).where(
        Visitor.id == VisitSession.select().order_by(VisitSession.id.desc()).first().visitor_id
    ).execute()
    controller.clock.advance(days=179)
    assert controller.visits.sweep() == 0
    recent = visit(controller, site)  # a session within the retention period stays
    controller.clock.advance(days=2)
    assert controller.visits.sweep() == 1
    kept = {s.visitor_id for s in VisitSession.select()}
    assert len(kept) == 2 and PageView.select().count() == 2
    assert recent.visitor and anonymous.visitor and known.visitor
    # The anonymous visitor whose sessions went goes too (their key in the site's storage identifies them); the
    # lead's and the recent one stay.
    assert {v.id for v in Visitor.select()} == kept
    assert visit(controller, site, anonymous.visitor).visitor != anonymous.visitor  # a stranger now: a new key


# -- the public endpoint -------------------------------------------------------------------------------------------


def post(client, key, body, origin=SHOP, address="192.0.2.1", endpoint="collect"):
    """The snippet's request to ``/s/<key>/<endpoint>`` (collect, form): text/plain (no preflight), no cookies, from a
    page of ``origin``, from ``address``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        f"/s/{key}/{endpoint}",
        data=data,
        headers={"Origin": origin} if origin else {},
        content_type="text/plain;charset=UTF-8",
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def browser(controller):
    """A client without a session, as the site's pages are."""
    return controller.app().test_client()


VIEW = {"visitor": None, "kind": "view", "page": {"url": f"{SHOP}/?utm_campaign=x", "title": "Shop", "referrer": ""}}


def test_the_collection_endpoint_answers_the_allowed_origin_with_cors(browser, site):
    response = post(browser, site["widget"].public_key, VIEW)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["numbers"][SITE_NUMBER] in {n.number for n in site["numbers"]} and body["ping_seconds"] == 60
    assert response.headers["Access-Control-Allow-Origin"] == SHOP and response.headers["Vary"] == "Origin"
    assert response.headers["Cache-Control"] == "no-store"
    again = post(browser, site["widget"].public_key, {**VIEW, "visitor": body["visitor"], "kind": "ping"})
    assert again.get_json()["visitor"] == body["visitor"]


@pytest.mark.parametrize(
    ("origin", "key", "body", "status", "error"),
    [
        ("https://evil.example", None, VIEW, 403, "origin-not-allowed"),
        ("", None, VIEW, 403, "origin-not-allowed"),
        ("null", None, VIEW, 403, "origin-not-allowed"),
        (SHOP, "AAAAAAAAAAAAAAAAAAAAAA", VIEW, 404, "not-found"),
        (SHOP, None, b"x" * 9000, 413, "request-entity-too-large"),
        (SHOP, None, b"{not json", 400, "malformed-json"),
        (SHOP, None, b"[1, 2]", 400, "malformed-json"),
        (SHOP, None, {**VIEW, "kind": "click"}, 422, "invalid-fields"),
        (SHOP, None, {**VIEW, "page": {"url": "javascript:alert(1)"}}, 422, "invalid-fields"),
        (SHOP, None, {**VIEW, "page": {"url": f"{SHOP}/" + "a" * 3000}}, 422, "invalid-fields"),
        (SHOP, None, {**VIEW, "visitor": "<script>"}, 422, "invalid-fields"),
        (SHOP, None, {**VIEW, "extra": 1}, 422, "invalid-fields"),
    ],
)
def test_the_collection_endpoint_refuses_junk_and_stores_nothing(browser, site, origin, key, body, status, error):
    response = post(browser, key or site["widget"].public_key, body, origin)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (Visitor.select().count(), VisitSession.select().count(), PageView.select().count()) == (0, 0, 0)


def test_a_disabled_widget_collects_nothing(browser, site):
    site["widget"].enabled = False
    site["widget"].save()
    assert post(browser, site["widget"].public_key, VIEW).status_code == 404


def test_rates_are_counted_per_address_and_per_company_apart(controller, site, world):
    app = controller.app()
    app.extensions.pop("visit_rates", None)
    from leadcenter.web.limits import Rates

    moments = [0.0]
    app.extensions["visit_rates"] = (Rates(5, lambda: moments[0]), Rates(8, lambda: moments[0]))
    client = app.test_client()
    b_widget = controller.chats.widget_of(world["b"]["company"])
    b_widget.allowed_origins = "https://b.example"
    b_widget.save()
    key = site["widget"].public_key

    def from_address(address, widget_key=key, origin=SHOP):
        return post(client, widget_key, VIEW, origin, address).status_code

    assert [from_address("198.51.100.1") for _ in range(6)] == [200] * 5 + [429]
    refused = post(client, key, VIEW, SHOP, "198.51.100.1")
    assert refused.get_json()["error"] == "too-many-visits" and int(refused.headers["Retry-After"]) >= 1
    # Other addresses of the company: its own 8 a minute (5 were counted) ...
    assert [from_address(f"198.51.100.{n}") for n in (2, 3, 4, 5)] == [200, 200, 200, 429]
    # ... while another company's site is served.
    assert from_address("198.51.100.9", b_widget.public_key, "https://b.example") == 200
    moments[0] += 60  # a minute later: everyone again
    assert from_address("198.51.100.1") == 200


# -- attribution ---------------------------------------------------------------------------------------------------


def ring(controller, number, caller="+14045559876", channel_id="1800000000.1"):
    """A call to ``number`` through the real recorder (the stand-in controller's bus records what it publishes)."""
    from leadcenter.agents.availability import Availability
    from leadcenter.agents.presence import Presence
    from leadcenter.calls.services import CallRecorder

    recorder = CallRecorder(
        controller.bus,
        lambda inside: inside,
        controller.instance.dir,
        controller.instance.dir,
        controller.clock,
        Availability(controller.bus, Presence(controller.bus).of),
    )
    data = dict(
        channel_id=channel_id,
        channel="PJSIP/trunk-1",
        caller_number=caller,
        caller_name="",
        company_id=number.company_id,
        number_id=number.id,
        flow_id=number.flow_id,
        at=controller.clock(),
    )
    recorder.on_inbound(Event("call.inbound", data, 1, controller.clock()))
    return Interaction.get(Interaction.channel_id == channel_id)


def test_a_call_to_a_pool_number_carries_the_visitors_session_when_it_is_published(controller, site, world):
    earlier = visit(controller, site, url=f"{SHOP}/?utm_source=newsletter&utm_medium=email&utm_campaign=may")
    controller.clock.advance(days=2)
    landing = f"{SHOP}/roofs?gclid=EAIa&utm_campaign=spring&utm_term=roof+repair"
    told = visit(controller, site, earlier.visitor, url=landing, referrer="https://www.google.com/")
    controller.clock.advance(minutes=3)
    visit(controller, site, earlier.visitor, url=f"{SHOP}/contact", referrer=landing, title="Contact <b>us</b>")
    other = visit(controller, site)  # another visitor holds the other number
    controller.clock.advance(minutes=1)
    number = TrackingNumber.get(TrackingNumber.number == told.numbers[SITE_NUMBER])
    call = ring(controller, number)
    created = published(controller, "interaction.created")[-1]["interaction"]
    assert created["id"] == call.id
    assert attribution(created) == spring_ad(landing)
    # The visitor is the caller's lead now, and their sessions are visits on its timeline, with their pages.
    visitor = Visitor.get(Visitor.id == VisitSession.get(VisitSession.landing_page == landing).visitor_id)
    assert visitor.lead_id == call.lead_id
    joined = published(controller, "visit.joined")
    assert len(joined) == 2 and all(j["interaction"]["kind"] == "visit" for j in joined)
    agent = ApiClient(controller.app().test_client())
    agent.sign_in("agent1@a.example")
    status, page = agent.get(f"/api/v1/leads/{call.lead_id}/timeline")
    assert status == 200, page
    kinds = [(i["kind"], i["source"]) for i in page["items"]]
    assert kinds == [("call", "Google Ads"), ("visit", "Google Ads"), ("visit", "newsletter")]
    pages = page["items"][1]["pages"]
    assert [p["url"] for p in pages] == [landing, f"{SHOP}/contact"] and pages[1]["title"] == "Contact <b>us</b>"
    # Visits are on the timeline, not in anyone's Recent.
    recent = agent.get("/api/v1/inbox")[1]["recent"]
    assert all(i["kind"] != "visit" for i in recent)
    # The other visitor's session stays anonymous.
    assert Visitor.select().where(Visitor.lead.is_null()).count() == 1 and other.visitor


def test_first_touch_takes_the_visitors_first_session(controller, site):
    site["admin"].patch("/api/v1/visit-settings", {"attribution": "first_touch"})
    first = visit(controller, site, url=f"{SHOP}/?utm_source=yelp")
    controller.clock.advance(hours=2)
    told = visit(controller, site, first.visitor, url=f"{SHOP}/?gclid=x")
    call = ring(controller, TrackingNumber.get(TrackingNumber.number == told.numbers[SITE_NUMBER]))
    assert (call.source, call.click_id) == ("Yelp", "")


def test_a_call_after_the_hold_or_to_a_plain_number_gets_no_session(controller, site, world):
    told = visit(controller, site, url=f"{SHOP}/?gclid=x")
    controller.clock.advance(minutes=31)
    call = ring(controller, TrackingNumber.get(TrackingNumber.number == told.numbers[SITE_NUMBER]))
    assert (call.source, call.click_id) == ("", "")
    plain = ring(controller, world["a"]["number"], channel_id="1800000000.2")
    assert (plain.source, plain.medium) == ("Google Ads", "")
    assert not published(controller, "visit.joined")


def test_a_text_to_a_pool_number_carries_the_session_and_a_later_visit_joins_the_timeline(controller, site, world):
    told = visit(controller, site, url=f"{SHOP}/?utm_source=facebook&utm_medium=paid_social&utm_campaign=fall")
    number = TrackingNumber.get(TrackingNumber.number == told.numbers[SITE_NUMBER])
    message = controller.texts.receive_text(number, "+14045559877", "Do you do gutters?")
    text = Interaction.get_by_id(message.interaction_id)
    assert (text.source, text.medium, text.campaign) == ("Facebook", "paid_social", "fall")
    created = [c for c in published(controller, "interaction.created") if c["interaction"]["id"] == text.id]
    assert created[0]["interaction"]["campaign"] == "fall"
    controller.clock.advance(days=1)  # they come back: the new session is on their timeline at once
    visit(controller, site, told.visitor, url=f"{SHOP}/gutters")
    visits = Interaction.select().where(Interaction.lead == text.lead_id, Interaction.kind == "visit")
    assert [v.landing_page for v in visits.order_by(Interaction.started_at)] == [
        f"{SHOP}/?utm_source=facebook&utm_medium=paid_social&utm_campaign=fall",
        f"{SHOP}/gutters",
    ]
    # A further page of that session: the visit on the timeline goes on, with its pages, live.
    controller.clock.advance(minutes=3)
    visit(controller, site, told.visitor, url=f"{SHOP}/gutters/quote", kind="view")
    [went_on] = published(controller, "visit.updated")
    assert [page["url"] for page in went_on["interaction"]["pages"]] == [f"{SHOP}/gutters", f"{SHOP}/gutters/quote"]
    ended = dt.datetime.fromisoformat(went_on["interaction"]["ended_at"]).replace(tzinfo=None)
    assert ended == T0 + dt.timedelta(days=1, minutes=3)
    visit(controller, site, told.visitor, kind="ping")  # a ping is no page: nothing to tell
    assert len(published(controller, "visit.updated")) == 1
    # Their lead merged into another: the next visit joins the surviving lead's timeline.
    survivor = world["a"]["leads"][2]
    merge(survivor, Lead.get_by_id(text.lead_id), controller.clock())
    controller.clock.advance(days=1)
    visit(controller, site, told.visitor, url=f"{SHOP}/windows")
    assert Interaction.get(Interaction.landing_page == f"{SHOP}/windows").lead_id == survivor.id


# -- the supervisors' API ------------------------------------------------------------------------------------------


def test_visits_and_attribution_by_source_campaign_and_keyword(controller, site, make_client):
    told = visit(controller, site, url=f"{SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=roof")
    ring(controller, TrackingNumber.get(TrackingNumber.number == told.numbers[SITE_NUMBER]))
    supervisor = make_client()
    supervisor.sign_in("supervisor@a.example")
    day = T0.date().isoformat()
    status, visits = supervisor.get(f"/api/v1/visits?since={day}&until={day}")
    assert status == 200 and [v["campaign"] for v in visits] == ["spring"] and visits[0]["lead_id"] is not None
    assert visits[0]["pages"][0]["url"].endswith("utm_term=roof")
    status, summary = supervisor.get(f"/api/v1/attribution?since={day}&until={day}")
    assert status == 200, summary
    google = next(row for row in summary["by_source"] if row["value"] == "Google Ads")
    assert google["counts"] == {"call": 1, "visit": 1} and google["total"] == 2
    assert {"value": "roof", "counts": {"call": 1, "visit": 1}, "total": 2} in summary["by_keyword"]
    agent = make_client()
    agent.sign_in("agent1@a.example")
    assert agent.get(f"/api/v1/visits?since={day}")[0] == 403
    assert agent.patch("/api/v1/visit-settings", {"store_ip": True})[0] == 403


def test_a_chat_carries_its_visitors_session_and_their_visits_join_the_lead(controller, site, world):
    told = visit(controller, site, url=f"{SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=roof")
    widget = site["widget"]
    visitor = controller.chats.visit(widget, told.visitor, Page(url=f"{SHOP}/", title="Shop")).visitor
    assert visitor.id == Visitor.get(Visitor.company == site["company"]).id  # one visitor for chat and visits
    chat, _ = controller.chats.start(widget, visitor, Contact(name="Ada", body="Hi"), Page(url=f"{SHOP}/"))
    created = [c for c in published(controller, "interaction.created") if c["interaction"]["id"] == chat.id]
    assert (created[0]["interaction"]["campaign"], created[0]["interaction"]["keywords"]) == ("spring", "roof")
    [joined] = published(controller, "visit.joined")
    assert joined["interaction"]["lead"]["id"] == chat.lead_id and joined["interaction"]["pages"][0]["url"].endswith(
        "utm_term=roof"
    )
