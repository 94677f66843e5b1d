"""Website chat over the real services and API (the stand-in controller's bus records what is published): the chat
in the widget team's Incoming, Respond (one winner), messages both ways, End Chat, the response timer, the
offline form, the admin's widget settings, the snippet and the iframe page. The visitor websocket itself is
tested over the real server in test_chats_visitors.py."""

from __future__ import annotations

import json

import pytest
from support import T0, signed_in

from leadcenter.accounts.models import Membership, User
from leadcenter.chats.models import ChatSession, ChatWidget, Visitor
from leadcenter.chats.schemas import Contact, Page
from leadcenter.chats.services import ONLINE_RECHECK_SWEEPS
from leadcenter.errors import ApiError
from leadcenter.events import Event
from leadcenter.interactions.models import Interaction, InteractionTransition, Message
from leadcenter.teams.models import Team, TeamMember

PAGE = Page(url="https://shop.example/pricing", title="Pricing", referrer="https://www.google.com/search?q=x")
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def widget(world, controller):
    """Company A's widget, offering its chats to Team A (agent 1 and agent 2)."""
    widget = controller.chats.widget_of(world["a"]["company"])
    widget.team = world["a"]["team"]
    widget.save()
    return widget


def visitor_of(controller, widget, key=None):
    return controller.chats.visit(widget, key, PAGE).visitor


def start(controller, widget, visitor=None, body="Do you ship to Canada?", **fields):
    visitor = visitor or visitor_of(controller, widget)
    return controller.chats.start(widget, visitor, Contact(body=body, **fields), PAGE)


def published(controller, name):
    return [data for event, data in controller.bus.published if event == name]


def frames_to(controller, visitor):
    return [d["frame"] for d in published(controller, "chat.visitor_frame") if d["visitor_id"] == visitor.id]


def ids(section):
    return [i["id"] for i in section]


# -- a chat waits for the widget's team --------------------------------------------------------------------------


def test_a_new_chat_waits_in_the_incoming_of_the_widgets_team_only(make_client, world, controller, widget):
    agent1, agent2 = world["a"]["agents"]
    outsider = world["a"]["agents"][1]
    TeamMember.delete().where(TeamMember.agent == outsider).execute()  # agent 2 leaves Team A
    chat, message = start(controller, widget, name="Ada", phone="404 555 0142")
    assert (chat.kind, chat.status, chat.team_id) == ("chat", "incoming", world["a"]["team"].id)
    # No visit session (no snippet views): the source is classified from the chat's page and referrer, as a visit's.
    assert (chat.lead_number, chat.landing_page, chat.source) == ("+14045550142", PAGE.url, "Google organic")
    created = published(controller, "interaction.created")[-1]
    assert created["incoming_for"] == [agent1.id] and created["interaction"]["chat"]["page_url"] == PAGE.url
    received = published(controller, "message.received")[-1]
    assert received["for_agents"] == [agent1.id] and received["message"]["body"] == "Do you ship to Canada?"
    in_team = signed_in(make_client, "agent1@a.example").get("/api/v1/inbox")[1]
    row = next(i for i in in_team["incoming"] if i["id"] == chat.id)
    assert row["last_message"]["body"] == "Do you ship to Canada?" and row["chat"]["page_title"] == "Pricing"
    assert chat.id not in ids(signed_in(make_client, "agent2@a.example").get("/api/v1/inbox")[1]["incoming"])
    assert chat.id in ids(signed_in(make_client, "supervisor@a.example").get("/api/v1/inbox")[1]["incoming"])
    assert chat.id not in ids(signed_in(make_client, "agent1@b.example").get("/api/v1/inbox")[1]["incoming"])
    assert message.interaction_id == chat.id


def test_without_a_team_every_agent_of_the_company_gets_it_but_not_offline_ones(make_client, world, controller):
    widget = controller.chats.widget_of(world["a"]["company"])
    agent1, agent2 = world["a"]["agents"]
    offline = signed_in(make_client, "agent2@a.example")  # (signing in makes them available)
    agent2.status = "offline"
    agent2.save()
    chat, _ = start(controller, widget)
    assert published(controller, "interaction.created")[-1]["incoming_for"] == [agent1.id]
    assert chat.id not in ids(offline.get("/api/v1/inbox")[1]["incoming"])


@pytest.mark.parametrize("team", [False, True])
def test_an_agent_who_left_or_was_deactivated_is_nobody_online(world, controller, widget, team):
    """Their profile stays (past interactions name them), but a chat must not count on them."""
    agent1, agent2 = world["a"]["agents"]
    if not team:
        widget.team = None
        widget.save()
    agent2.status = "offline"
    agent2.save()
    Membership.delete().where(Membership.user == agent1.user_id).execute()
    assert not controller.chats.online(widget)
    Membership.create(user=agent1.user_id, company=agent1.company_id, role="agent")
    assert controller.chats.online(widget)
    User.update(active=False).where(User.id == agent1.user_id).execute()
    assert not controller.chats.online(widget)


def test_the_pre_chat_phone_finds_the_lead_a_call_from_it_would(world, controller, widget):
    lead = world["a"]["leads"][0]
    chat, _ = start(controller, widget, name="Lead Zero", phone="+14045551000", email="zero@example.com")
    assert chat.lead_id == lead.id
    lead = type(lead).get_by_id(lead.id)
    assert lead.email == "zero@example.com"
    by_email, _ = start(controller, widget, email="zero@example.com")  # another visitor, the same person
    assert by_email.lead_id == lead.id


def test_required_pre_chat_fields_and_nobody_online_are_refused_and_nothing_is_stored(world, controller, widget):
    widget.prechat = json.dumps({"name": "required", "phone": "optional", "email": "off"})
    widget.save()
    before = Interaction.select().count()
    with pytest.raises(ApiError) as refused:
        start(controller, widget)
    assert (refused.value.error, refused.value.fields) == ("prechat-required", {"name": "the name is required"})
    with pytest.raises(ApiError) as refused:
        start(controller, widget, name="Ada", phone="not a number")
    assert refused.value.error == "prechat-invalid" and "phone" in refused.value.fields
    for agent in world["a"]["agents"]:
        agent.status = "offline"
        agent.save()
    with pytest.raises(ApiError) as refused:
        start(controller, widget, name="Ada")
    assert refused.value.error == "nobody-online"
    assert Interaction.select().count() == before


def test_outside_the_chat_hours_nobody_is_online(world, controller, widget):
    # T0 is a Friday, 09:00 UTC.
    widget.hours = json.dumps({"timezone": "UTC", "days": {"fri": [["10:00", "17:00"]]}})
    widget.save()
    assert not controller.chats.online(widget)
    controller.clock.advance(hours=1)
    assert controller.chats.online(widget)
    widget.hours = json.dumps({"timezone": "America/New_York", "days": {"fri": [["09:00", "17:00"]]}})
    widget.save()
    assert not controller.chats.online(widget)  # 10:00 UTC is 05:00 in New York
    controller.clock.advance(hours=4)
    assert controller.chats.online(widget)


def test_visitors_learn_when_the_chat_hours_open_within_the_recheck(world, controller, widget):
    # T0 is a Friday, 09:00 UTC: closed until 10:00.
    widget.hours = json.dumps({"timezone": "UTC", "days": {"fri": [["10:00", "17:00"]]}})
    widget.save()
    assert visitor_of(controller, widget) and not controller.chats.online(widget)
    told = lambda: [d for e, d in controller.bus.published if e == "chat.visitor_frame" and d["visitor_id"] is None]  # noqa: E731
    controller.clock.advance(hours=1)
    for _ in range(ONLINE_RECHECK_SWEEPS - 1):
        controller.chats.sweep()
    assert told() == []
    controller.chats.sweep()
    company = world["a"]["company"].id
    assert told() == [{"company_id": company, "visitor_id": None, "frame": {"type": "online", "online": True}}]
    for _ in range(ONLINE_RECHECK_SWEEPS):
        controller.chats.sweep()
    assert len(told()) == 1  # told once, not at every recheck


# -- Respond, messages both ways, End Chat -----------------------------------------------------------------------


def test_respond_messages_both_ways_and_end_chat(make_client, world, controller, widget):
    agent1 = world["a"]["agents"][0]
    agent1.chat_display_name = "Sam"
    agent1.save()
    visitor = visitor_of(controller, widget)
    chat, _ = start(controller, widget, visitor)
    agent = signed_in(make_client, "agent1@a.example")
    status, body = agent.post(f"/api/v1/interactions/{chat.id}/respond")
    assert (status, body["status"], body["agent"]["id"]) == (200, "active", agent1.id)
    assert {"type": "agent", "chat_display_name": "Sam"} in frames_to(controller, visitor)
    assert agent.get("/api/v1/inbox")[1]["active"][0]["id"] == chat.id

    status, sent = agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": "Yes, we do!"})
    assert (status, sent["direction"], sent["status"], sent["agent_id"]) == (201, "outbound", "sent", agent1.id)
    assert frames_to(controller, visitor)[-1] == {"type": "message", "message": sent}
    assert published(controller, "message.sent")[-1]["message"] == sent
    said = controller.chats.say(Visitor.get_by_id(visitor.id), "Great, thanks")
    assert published(controller, "message.received")[-1]["message"]["id"] == said.id
    status, thread = agent.get(f"/api/v1/interactions/{chat.id}/messages")
    assert [(m["direction"], m["body"]) for m in thread] == [
        ("inbound", "Do you ship to Canada?"),
        ("outbound", "Yes, we do!"),
        ("inbound", "Great, thanks"),
    ]
    assert agent.post(f"/api/v1/interactions/{chat.id}/typing")[1] == {"interaction_id": chat.id, "sent": True}
    assert frames_to(controller, visitor)[-1] == {"type": "typing", "agent_name": "Sam"}

    status, body = agent.post(f"/api/v1/interactions/{chat.id}/close")
    assert (status, body["status"], body["outcome"], body["chat"]["ended_by"]) == (200, "recent", "answered", "agent")
    assert frames_to(controller, visitor)[-1] == {"type": "ended", "by": "agent"}
    assert agent.get("/api/v1/inbox")[1]["recent"][0]["id"] == chat.id
    status, body = agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": "Still there?"})
    assert (status, body["error"]) == (409, "chat-ended")
    with pytest.raises(ApiError) as refused:
        controller.chats.say(Visitor.get_by_id(visitor.id), "Hello?")
    assert refused.value.error == "no-chat"


def test_two_agents_respond_at_once_and_one_gets_it(make_client, world, controller, widget, monkeypatch):
    """Agent 2's request read the chat while it still waited; agent 1's Respond moved it first: agent 2 gets 409,
    the chat is agent 1's, moved once."""
    chat, _ = start(controller, widget)
    me, colleague = world["a"]["agents"]
    one, two = signed_in(make_client, "agent1@a.example"), signed_in(make_client, "agent2@a.example")
    respond, held = controller.chats.respond, []

    def agent_1_first(interaction, agent):
        if agent.id == colleague.id:
            held.append(interaction.status)
            assert one.post(f"/api/v1/interactions/{chat.id}/respond")[0] == 200
        return respond(interaction, agent)

    monkeypatch.setattr(controller.chats, "respond", agent_1_first)
    status, body = two.post(f"/api/v1/interactions/{chat.id}/respond")
    assert held == ["incoming"]
    assert status == 409 and body["error"] in ("illegal-transition", "conflict")
    stored = Interaction.get_by_id(chat.id)
    assert (stored.status, stored.agent_id) == ("active", me.id)
    moves = InteractionTransition.select().where(InteractionTransition.interaction == chat.id)
    assert [(t.event, t.to_status) for t in moves] == [("respond", "active")]
    # The one who lost sees it leave their Incoming: the update says it is nowhere in their inbox.
    updated = published(controller, "interaction.updated")[-1]
    assert updated["interaction"]["agent"]["id"] == me.id and updated["incoming_for"] == []


def test_an_agent_of_another_team_cannot_respond(make_client, world, controller, widget):
    other = Team.create(company=world["a"]["company"], name="Sales")
    widget.team = other
    widget.save()
    TeamMember.create(team=other, agent=world["a"]["agents"][0])
    chat, _ = start(controller, widget)
    status, body = signed_in(make_client, "agent2@a.example").post(f"/api/v1/interactions/{chat.id}/respond")
    assert (status, body["error"]) == (403, "not-offered")


def test_writing_in_a_waiting_chat_responds_to_it(make_client, world, controller, widget):
    chat, _ = start(controller, widget)
    agent = signed_in(make_client, "agent2@a.example")
    assert agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": "Hi there"})[0] == 201
    stored = Interaction.get_by_id(chat.id)
    assert (stored.status, stored.agent_id) == ("active", world["a"]["agents"][1].id)


def test_a_call_is_no_conversation(make_client, world, controller):
    call = world["a"]["interactions"][0]
    agent = signed_in(make_client, "agent1@a.example")
    for verb in ("respond", "close", "typing"):
        status, body = agent.post(f"/api/v1/interactions/{call.id}/{verb}")
        assert (status, body["error"]) == (409, "not-a-conversation"), verb


def test_a_message_longer_than_the_chat_limit_is_refused(make_client, world, controller, widget):
    chat, _ = start(controller, widget)
    agent = signed_in(make_client, "agent1@a.example")
    status, body = agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": "x" * 2001})
    assert (status, body["error"]) == (422, "invalid-fields")
    assert Message.select().where(Message.interaction == chat.id).count() == 1


def test_html_in_names_and_messages_is_kept_as_text(make_client, world, controller, widget):
    """The server never renders what a visitor typed: it is stored and served exactly as typed, as JSON strings
    (the widget and the app put it in the page as text)."""
    chat, _ = start(controller, widget, body=HOSTILE, name=HOSTILE)
    agent = signed_in(make_client, "agent1@a.example")
    status, thread = agent.get(f"/api/v1/interactions/{chat.id}/messages")
    assert thread[0]["body"] == HOSTILE
    assert agent.get(f"/api/v1/interactions/{chat.id}")[1]["lead"]["name"] == HOSTILE
    response = agent.http.get(f"/api/v1/interactions/{chat.id}/messages")
    assert response.mimetype == "application/json" and "nosniff" in response.headers["X-Content-Type-Options"]


# -- the visitor's side ------------------------------------------------------------------------------------------


def test_the_visitor_ends_a_waiting_chat_it_is_abandoned(world, controller, widget):
    visitor = visitor_of(controller, widget)
    chat, _ = start(controller, widget, visitor)
    controller.chats.end(visitor)
    stored = Interaction.get_by_id(chat.id)
    assert (stored.status, stored.outcome) == ("recent", "abandoned")
    assert ChatSession.get(ChatSession.interaction == chat.id).ended_by == "visitor"
    assert frames_to(controller, visitor)[-1] == {"type": "ended", "by": "visitor"}


def test_a_visitor_who_leaves_shows_as_gone_and_comes_back(world, controller, widget):
    visitor = visitor_of(controller, widget)
    chat, _ = start(controller, widget, visitor)
    controller.chats.connected(visitor, False)
    assert published(controller, "interaction.updated")[-1]["interaction"]["chat"]["visitor_left_at"] is not None
    controller.chats.connected(visitor, True)
    assert published(controller, "interaction.updated")[-1]["interaction"]["chat"]["visitor_left_at"] is None
    controller.chats.navigate(visitor, Page(url="https://shop.example/checkout", title="Checkout"))
    chat_now = published(controller, "interaction.updated")[-1]["interaction"]["chat"]
    assert (chat_now["page_url"], chat_now["page_title"]) == ("https://shop.example/checkout", "Checkout")


def test_a_known_key_finds_the_visitor_and_their_chat_an_unknown_one_gets_a_new_visitor(world, controller, widget):
    first = controller.chats.visit(widget, None, PAGE)
    chat, _ = start(controller, widget, first.visitor)
    again = controller.chats.visit(widget, first.key, PAGE)
    assert (again.visitor.id, again.key, again.chat.id) == (first.visitor.id, first.key, chat.id)
    assert [m.body for m in again.messages] == ["Do you ship to Canada?"]
    stranger = controller.chats.visit(widget, "guessed-key-guessed-key", PAGE)
    assert stranger.visitor.id != first.visitor.id and stranger.key != "guessed-key-guessed-key"
    assert stranger.chat is None and stranger.messages == []
    # Only the key's hash is stored.
    assert Visitor.get_by_id(first.visitor.id).key_hash != first.key and len(first.key) == 22
    # Another company's widget does not know this visitor.
    other = controller.chats.visit(controller.chats.widget_of(world["b"]["company"]), first.key, PAGE)
    assert other.visitor.id != first.visitor.id and other.chat is None


def test_nobody_responds_in_time_the_chat_is_missed_and_the_visitor_told(make_client, world, controller, widget):
    visitor = visitor_of(controller, widget)
    chat, _ = start(controller, widget, visitor)
    controller.clock.advance(seconds=119)
    assert controller.chats.sweep() == 0
    controller.clock.advance(seconds=1)
    assert controller.chats.sweep() == 1
    assert controller.chats.sweep() == 0  # once
    stored = Interaction.get_by_id(chat.id)
    assert (stored.status, stored.outcome) == ("recent", "missed")
    assert frames_to(controller, visitor)[-1] == {"type": "missed"}
    assert chat.id in ids(signed_in(make_client, "agent2@a.example").get("/api/v1/inbox")[1]["recent"])


def test_the_offline_form_becomes_a_form_in_the_teams_incoming(make_client, world, controller, widget):
    for agent in world["a"]["agents"]:
        agent.status = "offline"
        agent.save()
    visitor = visitor_of(controller, widget)
    with pytest.raises(ApiError) as refused:
        controller.chats.offline_form(widget, visitor, Contact(body="Call me back"), PAGE)
    assert refused.value.error == "contact-required"
    form, message = controller.chats.offline_form(
        widget, visitor, Contact(name="Ada", phone="+14045550142", body="Call me back"), PAGE
    )
    assert (form.kind, form.status, form.team_id, form.lead_number) == (
        "form",
        "incoming",
        world["a"]["team"].id,
        "+14045550142",
    )
    agent1 = world["a"]["agents"][0]
    agent1.status = "available"
    agent1.save()
    agent = signed_in(make_client, "agent1@a.example")
    row = next(i for i in agent.get("/api/v1/inbox")[1]["incoming"] if i["id"] == form.id)
    assert row["last_message"]["body"] == "Call me back" and message.body == "Call me back"

    # An agent takes it to get back to the visitor (by phone or text: a form takes no reply), then closes it.
    status, body = agent.post(f"/api/v1/interactions/{form.id}/respond")
    assert (status, body["status"], body["agent"]["id"]) == (200, "active", agent1.id)
    assert [m["body"] for m in agent.get(f"/api/v1/interactions/{form.id}/messages")[1]] == ["Call me back"]
    status, body = agent.post(f"/api/v1/interactions/{form.id}/messages", {"body": "Hi Ada"})
    assert (status, body["error"]) == (409, "form-no-reply")
    assert agent.post(f"/api/v1/interactions/{form.id}/typing")[1] == {"interaction_id": form.id, "sent": False}
    status, body = agent.post(f"/api/v1/interactions/{form.id}/close")
    assert (status, body["status"], body["outcome"]) == (200, "recent", "answered")
    assert frames_to(controller, visitor) == []  # the visitor is in no chat: nothing to tell them


# -- the widget's settings, the snippet, the iframe -------------------------------------------------------------


def test_admins_set_the_widget_and_get_the_snippet(make_client, world, controller):
    admin = signed_in(make_client, "admin@a.example")
    status, widget = admin.get("/api/v1/chat-widget")
    assert status == 200 and len(widget["public_key"]) == 22
    assert widget["snippet"] == f'<script src="http://localhost/s/{widget["public_key"]}.js" async></script>'
    status, changed = admin.patch(
        "/api/v1/chat-widget",
        {
            "allowed_origins": ["https://WWW.Shop.example:443/", "http://shop.example:8080"],
            "greeting": "Hello!",
            "prechat": {"name": "required", "phone": "optional", "email": "off"},
            "team_id": world["a"]["team"].id,
            "hours": {"timezone": "Europe/London", "days": {"mon": [["09:00", "17:30"]]}},
        },
    )
    assert status == 200, changed
    assert changed["allowed_origins"] == ["https://www.shop.example", "http://shop.example:8080"]
    assert (changed["greeting"], changed["team_id"], changed["prechat"]["name"]) == (
        "Hello!",
        world["a"]["team"].id,
        "required",
    )
    status, renewed = admin.patch("/api/v1/chat-widget", {"new_key": True})
    assert renewed["public_key"] != widget["public_key"]
    for bad in (
        {"allowed_origins": ["javascript:alert(1)"]},
        {"color": "red"},
        {"hours": {"days": {"mon": [["9", "5"]]}}},
    ):
        status, body = admin.patch("/api/v1/chat-widget", bad)
        assert (status, body["error"]) == (422, "invalid-fields"), bad
    agent = signed_in(make_client, "agent1@a.example")
    assert agent.patch("/api/v1/chat-widget", {"greeting": "Hi"})[0] == 403


@pytest.fixture
def widget_files(tmp_path, monkeypatch):
    """The widget's files as web/widget/ holds them (the widget's own code is not under test here)."""
    from leadcenter.chats import http

    (tmp_path / "snippet.js").write_text("(function(){var origin='__LC_ORIGIN__', key=\"__LC_KEY__\";})();\n")
    (tmp_path / "widget.html").write_text('<!doctype html><script src="/widget/widget.js"></script>\n')
    monkeypatch.setattr(http, "WIDGET", tmp_path)
    monkeypatch.setattr(http, "SNIPPET", tmp_path / "snippet.js")
    return tmp_path


def test_the_snippet_carries_the_key_and_origin_and_is_cached(client, world, controller, widget, widget_files):
    response = client.http.get(f"/s/{widget.public_key}.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    text = response.get_data(as_text=True)
    assert f'origin="http://localhost", key="{widget.public_key}"' in text
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert client.http.get("/s/aaaaaaaaaaaaaaaaaaaaaa.js").status_code == 404
    widget.enabled = False
    widget.save()
    assert client.http.get(f"/s/{widget.public_key}.js").status_code == 404


def test_the_snippets_status_is_readable_from_the_allowed_origins_only(client, world, controller, widget):
    ChatWidget.update(allowed_origins="https://www.shop.example").execute()
    response = client.http.get(f"/s/{widget.public_key}.json", headers={"Origin": "https://www.shop.example"})
    assert response.status_code == 200
    assert response.get_json() == {"online": True, "color": widget.color, "position": widget.position}
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"
    assert response.headers["Cache-Control"] == "no-store"
    for origin in ("https://evil.example", "null", None):
        refused = client.http.get(f"/s/{widget.public_key}.json", headers={"Origin": origin} if origin else {})
        assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers


def test_only_the_allowed_origins_may_frame_the_widget(client, world, controller, widget, widget_files):
    response = client.http.get(f"/w/{widget.public_key}")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    ChatWidget.update(allowed_origins="https://www.shop.example\nhttp://shop.example:8080").execute()
    response = client.http.get(f"/w/{widget.public_key}")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.shop.example http://shop.example:8080" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "X-Frame-Options" not in response.headers
    # The app itself still may not be framed.
    assert client.http.get("/").headers["X-Frame-Options"] == "DENY"


def test_the_timer_uses_the_widgets_timeout(world, controller, widget):
    widget.response_timeout_seconds = 30
    widget.save()
    chat, _ = start(controller, widget)
    controller.clock.advance(seconds=30)
    assert controller.chats.sweep() == 1
    assert Interaction.get_by_id(chat.id).ended_at == T0.replace(second=30)


def test_only_a_move_into_or_out_of_offline_makes_the_visitors_availability_asked_again(
    world, controller, widget, monkeypatch
):
    chats, agent = controller.chats, world["a"]["agents"][0]
    asked = []
    monkeypatch.setattr(chats, "online", lambda w: asked.append(w.company_id) or agent.status != "offline")

    def moved(status: str) -> None:
        agent.status = status
        chats.on_agent_changed(
            Event(
                "agent.status_changed",
                {"company_id": agent.company_id, "agent": {"id": agent.id, "status": status}},
                1,
                T0,
            )
        )

    moved("on_call")  # no visitor was told anything yet: nobody to tell
    assert asked == []
    visitor_of(controller, widget)  # a visitor's widget is told who is online
    asked.clear()
    for status in ("wrap_up", "available", "on_call"):  # a call's moves
        moved(status)
    assert asked == []
    moved("offline")
    moved("available")
    assert asked == [agent.company_id, agent.company_id]
    frames = [d["frame"] for name, d in controller.bus.published if name == "chat.visitor_frame"]
    assert frames[-2:] == [{"type": "online", "online": False}, {"type": "online", "online": True}]
