"""Forms of the business's own site (``POST /s/<key>/form``, sent by the snippet for forms that opted in) over the
real services and API (the stand-in controller's bus records what is published): the form in the Incoming of the
widget's team with its fields (name, phone and email recognised; secrets never kept), the visit's attribution, the
lead found by phone or email or made, the endpoint's refusals and rates, company isolation, markup kept as text."""

from __future__ import annotations

import json

import pytest
from support import attribution, spring_ad
from test_visits import post

from leadcenter.chats.models import ChatSession, Visitor
from leadcenter.interactions.models import Interaction, Message
from leadcenter.leads.models import Lead
from leadcenter.leads.services import find_or_create_by_number
from leadcenter.visits.forms import read
from leadcenter.visits.schemas import FormField
from leadcenter.visits.services import settings_of
from leadcenter.web.limits import Rates

SHOP = "https://shop.example"
PAGE = {"url": f"{SHOP}/quote", "title": "Get a quote", "referrer": f"{SHOP}/"}
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
QUOTE = [
    {"name": "fullname", "label": "Your name", "type": "text", "autocomplete": "", "value": "Ada Lovelace"},
    {"name": "email", "label": "Email", "type": "email", "autocomplete": "email", "value": "ada@example.com"},
    {"name": "phone", "label": "Phone", "type": "tel", "autocomplete": "tel", "value": "(404) 555-0142"},
    {"name": "service", "label": "Service", "type": "select-one", "autocomplete": "", "value": "Roof repair"},
    {"name": "message", "label": "Message", "type": "textarea", "autocomplete": "", "value": "Leaks\nin the attic"},
    {"name": "pw", "label": "Choose a password", "type": "password", "autocomplete": "", "value": "hunter2"},
    {"name": "ccnum", "label": "Card", "type": "text", "autocomplete": "cc-number", "value": "4111 1111 1111 1111"},
    {"name": "notes", "label": "Notes", "type": "text", "autocomplete": "", "value": "4111-1111-1111-1111"},
    {"name": "csrf", "label": "", "type": "hidden", "autocomplete": "", "value": "t0k3n"},
    {"name": "empty", "label": "Company", "type": "text", "autocomplete": "", "value": ""},
]
QUOTE_BODY = (
    "Your name: Ada Lovelace\nEmail: ada@example.com\nPhone: (404) 555-0142\nService: Roof repair\n"
    "Message: Leaks\nin the attic"
)


@pytest.fixture
def widget(world, controller):
    """Company A's widget: its site https://shop.example, its forms and chats for Team A (agents 1 and 2)."""
    widget = controller.chats.widget_of(world["a"]["company"])
    widget.allowed_origins = SHOP
    widget.team = world["a"]["team"]
    widget.save()
    return widget


@pytest.fixture
def browser(controller):
    """A client without a session, as the site's pages are."""
    return controller.app().test_client()


def send(client, key, body, origin=SHOP, address="192.0.2.1"):
    """A site form as the snippet sends it (test_visits.post)."""
    return post(client, key, body, origin, address, endpoint="form")


def form(fields=QUOTE, visitor=None, name="Quote request", privacy=False, page=PAGE):
    return {"visitor": visitor, "form": name, "page": page, "privacy": privacy, "fields": fields}


def published(controller, name):
    return [data for event, data in controller.bus.published if event == name]


def stored():
    return (
        Interaction.select().where(Interaction.kind == "form").count(),
        Message.select().count(),
        Lead.select().count(),
    )


def test_a_site_form_waits_in_the_teams_incoming_with_its_fields_and_never_its_secrets(
    browser, make_client, world, controller, widget
):
    response = send(browser, widget.public_key, form())
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"received": True}
    assert response.headers["Access-Control-Allow-Origin"] == SHOP and response.headers["Vary"] == "Origin"
    assert response.headers["Cache-Control"] == "no-store"
    interaction = Interaction.get(Interaction.kind == "form")
    assert (interaction.status, interaction.team_id, interaction.lead_number) == (
        "incoming",
        world["a"]["team"].id,
        "+14045550142",
    )
    lead = Lead.get_by_id(interaction.lead_id)
    assert (lead.name, lead.email) == ("Ada Lovelace", "ada@example.com")
    [message] = Message.select().where(Message.interaction == interaction)
    assert message.body == QUOTE_BODY
    for secret in ("hunter2", "4111", "t0k3n", "password", "Card"):
        assert secret not in message.body
    session = ChatSession.get(ChatSession.interaction == interaction)
    assert (session.form_name, session.page_url, session.page_title) == ("Quote request", PAGE["url"], PAGE["title"])
    # Published as created, for the team's agents who are not Offline.
    [created] = [c for c in published(controller, "interaction.created") if c["interaction"]["id"] == interaction.id]
    assert created["interaction"]["chat"]["form_name"] == "Quote request"
    assert sorted(created["incoming_for"]) == sorted(a.id for a in world["a"]["agents"])
    agent = make_client()
    agent.sign_in("agent1@a.example")
    row = next(i for i in agent.get("/api/v1/inbox")[1]["incoming"] if i["id"] == interaction.id)
    assert row["last_message"]["body"].startswith("Your name: Ada Lovelace") and row["kind"] == "form"
    # An agent takes it (to call or text back), then closes it.
    assert agent.post(f"/api/v1/interactions/{interaction.id}/respond")[1]["status"] == "active"
    assert agent.post(f"/api/v1/interactions/{interaction.id}/close")[1]["status"] == "recent"
    # Another team's agent of the company is not offered it.
    other = world["a"]["team"].__class__.create(company=world["a"]["company"], name="Other")
    widget.team = other
    widget.save()
    send(browser, widget.public_key, form())
    later = Interaction.select().where(Interaction.kind == "form").order_by(Interaction.id.desc()).first()
    assert later.team_id == other.id and published(controller, "interaction.created")[-1]["incoming_for"] == []


def test_the_form_carries_the_visitors_session_and_their_visits_join_the_lead(browser, controller, widget):
    landing = f"{SHOP}/roofs?gclid=EAIa&utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=roof+repair"
    told = controller.visits.collect(widget, None, "view", landing, "Roofs", "https://www.google.com/", False)
    controller.clock.advance(minutes=4)
    controller.visits.collect(widget, told.visitor, "view", PAGE["url"], PAGE["title"], landing, False)
    assert send(browser, widget.public_key, form(visitor=told.visitor)).status_code == 200
    interaction = Interaction.get(Interaction.kind == "form")
    created = published(controller, "interaction.created")[-1]["interaction"]
    assert created["id"] == interaction.id
    assert attribution(created) == spring_ad(landing)
    # One visitor for the visits and the form: it is the lead's now, and its session is a visit on the timeline.
    visitor = Visitor.get(Visitor.company == widget.company_id)
    assert Visitor.select().count() == 1 and visitor.lead_id == interaction.lead_id
    [joined] = published(controller, "visit.joined")
    assert joined["interaction"]["lead"]["id"] == interaction.lead_id
    assert [p["url"] for p in joined["interaction"]["pages"]] == [landing, PAGE["url"]]


def test_a_browser_asking_not_to_be_tracked_sends_its_form_without_its_visits(browser, controller, widget):
    told = controller.visits.collect(widget, None, "view", f"{SHOP}/?utm_campaign=spring", "Shop", "", False)
    assert settings_of(widget.company_id).honour_privacy
    assert send(browser, widget.public_key, form(visitor=told.visitor, privacy=True)).status_code == 200
    interaction = Interaction.get(Interaction.kind == "form")
    assert interaction.campaign == "" and published(controller, "visit.joined") == []
    assert Visitor.get(Visitor.key_hash != ChatSession.get().visitor.key_hash).lead_id is None


def test_the_lead_is_found_by_phone_or_email_or_made(browser, world, controller, widget):
    company = world["a"]["company"]
    by_phone = find_or_create_by_number(company, "+14045550142", controller.clock(), "Ada")
    assert send(browser, widget.public_key, form()).status_code == 200
    now = controller.clock()
    by_email = Lead.create(company=company, name="Bob", email="bob@example.com", created_at=now, updated_at=now)
    bob = [
        {"name": "email", "label": "E-mail", "type": "text", "autocomplete": "", "value": "bob@example.com"},
        {"name": "first_name", "label": "First name", "type": "text", "autocomplete": "", "value": "Bob"},
        {"name": "last_name", "label": "Last name", "type": "text", "autocomplete": "", "value": "Builder"},
        {"name": "phone", "label": "Phone", "type": "text", "autocomplete": "", "value": "call me maybe"},
    ]
    assert send(browser, widget.public_key, form(bob)).status_code == 200
    new = [{"name": "name", "label": "Name", "type": "text", "autocomplete": "name", "value": "Cy"}]
    leads = Lead.select().count()
    assert send(browser, widget.public_key, form(new, name="Newsletter")).status_code == 200
    first, second, third = Interaction.select().where(Interaction.kind == "form").order_by(Interaction.id)
    assert (first.lead_id, second.lead_id) == (by_phone.id, by_email.id)
    # A phone that is no number stays in the fields only; a form without contact details makes a new lead.
    assert second.lead_number == "" and "Phone: call me maybe" in Message.get(Message.interaction == second).body
    assert Lead.select().count() == leads + 1 and Lead.get_by_id(third.lead_id).name == "Cy"


BAD = [
    ("https://evil.example", None, form(), 403, "origin-not-allowed"),
    ("", None, form(), 403, "origin-not-allowed"),
    ("null", None, form(), 403, "origin-not-allowed"),
    (SHOP, "AAAAAAAAAAAAAAAAAAAAAA", form(), 404, "not-found"),
    (SHOP, None, b"x" * (33 * 1024), 413, "request-entity-too-large"),
    (SHOP, None, b"{not json", 400, "malformed-json"),
    (SHOP, None, b'"a string"', 400, "malformed-json"),
    (SHOP, None, form(fields=[]), 422, "invalid-fields"),
    (SHOP, None, form(fields=QUOTE[5:]), 422, "invalid-fields"),  # only secrets and empty fields
    (SHOP, None, form(name=""), 422, "invalid-fields"),
    (SHOP, None, form(name="Quote\r\nBcc: eve@evil.example"), 422, "invalid-fields"),
    (SHOP, None, form(page={"url": "javascript:alert(1)"}), 422, "invalid-fields"),
    (SHOP, None, form(fields=[{**QUOTE[0], "value": "x" * 4001}]), 422, "invalid-fields"),
    (SHOP, None, form(fields=[QUOTE[0]] * 51), 422, "invalid-fields"),
    (SHOP, None, form(fields=[{**QUOTE[0], "value": 5}]), 422, "invalid-fields"),
    (SHOP, None, {**form(), "extra": 1}, 422, "invalid-fields"),
    (SHOP, None, form(visitor="<script>"), 422, "invalid-fields"),
]


@pytest.mark.parametrize(("origin", "key", "body", "status", "error"), BAD)
def test_junk_and_other_origins_are_refused_and_nothing_is_stored(browser, widget, origin, key, body, status, error):
    before = stored()
    response = send(browser, key or widget.public_key, body, origin)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stored() == before and Visitor.select().count() == 0


def test_a_disabled_widget_takes_no_form(browser, widget):
    widget.enabled = False
    widget.save()
    assert send(browser, widget.public_key, form()).status_code == 404 and stored()[0] == 0


def test_rates_are_counted_per_address_and_per_company_apart_and_apart_from_visits(controller, widget, world):
    app = controller.app()
    moments = [0.0]
    app.extensions["form_rates"] = (Rates(3, lambda: moments[0]), Rates(5, lambda: moments[0]))
    client = app.test_client()
    b_widget = controller.chats.widget_of(world["b"]["company"])
    b_widget.allowed_origins = "https://b.example"
    b_widget.save()

    def from_address(address, key=widget.public_key, origin=SHOP):
        return send(client, key, form(), origin, address)

    assert [from_address("198.51.100.1").status_code for _ in range(4)] == [200] * 3 + [429]
    refused = from_address("198.51.100.1")
    assert refused.get_json()["error"] == "too-many-forms" and int(refused.headers["Retry-After"]) >= 1
    # The company's own 5 a minute (3 were counted) ...
    assert [from_address(f"198.51.100.{n}").status_code for n in (2, 3, 4)] == [200, 200, 429]
    # ... while another company's site is served, and the company's visits are still collected.
    assert from_address("198.51.100.9", b_widget.public_key, "https://b.example").status_code == 200
    view = {"visitor": None, "kind": "view", "page": PAGE}
    collected = client.post(
        f"/s/{widget.public_key}/collect",
        data=json.dumps(view),
        headers={"Origin": SHOP},
        content_type="text/plain;charset=UTF-8",
        environ_base={"REMOTE_ADDR": "198.51.100.1"},
    )
    assert collected.status_code == 200
    moments[0] += 60  # a minute later: everyone again
    assert from_address("198.51.100.1").status_code == 200


def test_companies_are_kept_apart(browser, make_client, world, controller, widget):
    b_widget = controller.chats.widget_of(world["b"]["company"])
    b_widget.allowed_origins = "https://b.example"
    b_widget.save()
    b_told = controller.visits.collect(b_widget, None, "view", "https://b.example/?utm_campaign=b-only", "B", "", False)
    # Company A's key from company B's site is refused; B's visitor key on A's site is a stranger there.
    assert send(browser, widget.public_key, form(), "https://b.example").status_code == 403
    assert send(browser, widget.public_key, form(visitor=b_told.visitor)).status_code == 200
    interaction = Interaction.get(Interaction.kind == "form")
    assert interaction.company_id == world["a"]["company"].id and interaction.campaign == ""
    assert Visitor.get(Visitor.company == world["b"]["company"]).lead_id is None
    # A lead of company B with the same phone is not company A's.
    find_or_create_by_number(world["b"]["company"], "+14045550142", controller.clock(), "B's")
    assert Lead.get_by_id(interaction.lead_id).company_id == world["a"]["company"].id
    b_agent = make_client()
    b_agent.sign_in("agent1@b.example")
    assert all(i["id"] != interaction.id for i in b_agent.get("/api/v1/inbox")[1]["incoming"])
    assert b_agent.get(f"/api/v1/interactions/{interaction.id}")[0] == 404


def test_markup_is_kept_as_text(browser, make_client, controller, widget):
    fields = [
        {"name": "name", "label": f"Name {HOSTILE}", "type": "text", "autocomplete": "", "value": HOSTILE},
        {"name": "email", "label": "Email", "type": "email", "autocomplete": "", "value": "eve@example.com"},
        {"name": "msg", "label": HOSTILE, "type": "textarea", "autocomplete": "", "value": f"Hi {HOSTILE}"},
    ]
    page = {"url": f"{SHOP}/?q=<script>", "title": HOSTILE, "referrer": ""}
    assert send(browser, widget.public_key, form(fields, name=HOSTILE, page=page)).status_code == 200
    interaction = Interaction.get(Interaction.kind == "form")
    agent = make_client()
    agent.sign_in("agent1@a.example")
    status, out = agent.get(f"/api/v1/interactions/{interaction.id}")
    assert status == 200
    assert (out["lead"]["name"], out["chat"]["form_name"], out["chat"]["page_title"]) == (HOSTILE, HOSTILE, HOSTILE)
    [message] = agent.get(f"/api/v1/interactions/{interaction.id}/messages")[1]
    assert message["body"] == f"Name {HOSTILE}: {HOSTILE}\nEmail: eve@example.com\n{HOSTILE}: Hi {HOSTILE}"


FIELD = {"name": "", "label": "", "type": "text", "autocomplete": "", "value": "x"}


@pytest.mark.parametrize(
    ("field", "kept"),
    [
        ({"type": "password"}, False),
        ({"autocomplete": "new-password"}, False),
        ({"autocomplete": "billing cc-csc"}, False),
        ({"name": "card_number"}, False),
        ({"label": "CVV"}, False),
        ({"name": "ssn"}, False),
        ({"type": "hidden"}, False),
        ({"name": "reference", "value": "4012 8888 8888 1881"}, False),  # a card number by its value
        ({"name": "reference", "value": "4012 8888 8888 1882"}, True),  # not one (Luhn)
        ({"type": "tel", "value": "+44 20 7946 0958"}, True),
        ({"name": "company", "value": "Acme"}, True),
    ],
)
def test_secret_fields_are_never_kept(field, kept):
    submitted = read([FormField(**{**FIELD, **field})])
    assert bool(submitted.body) == kept


def test_name_phone_and_email_are_recognised_by_type_autocomplete_or_name():
    fields = [
        {**FIELD, "autocomplete": "shipping given-name", "value": "Ada"},
        {**FIELD, "name": "surname", "value": "Lovelace"},
        {**FIELD, "name": "mobile", "value": "404 555 0142"},
        {**FIELD, "autocomplete": "home email", "value": "ada@example.com"},
        {**FIELD, "name": "email2", "type": "email", "value": "other@example.com"},  # the first one counts
    ]
    submitted = read([FormField(**f) for f in fields])
    assert (submitted.name, submitted.phone, submitted.email) == ("Ada Lovelace", "404 555 0142", "ada@example.com")
