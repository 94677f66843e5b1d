"""The visitor websocket (web/visitors.py) over the production web server (support.Serving) and a real event bus:
a visitor chats with an agent who uses the REST API and the event stream; Origin rules; what an anonymous visitor
can read; the message rate; reconnecting; the visitors' own capacity."""

from __future__ import annotations

import json
import threading
import time

import pytest
from support import WAIT, ApiClient, Serving, close_code, frames, live_controller, open_socket
from websockets.exceptions import InvalidStatus

from leadcenter.chats.models import ChatSession
from leadcenter.chats.schemas import Contact, Page
from leadcenter.errors import ApiError
from leadcenter.interactions.models import Interaction, Message

SITE = "https://www.shop.example"
PAGE = {"url": f"{SITE}/pricing", "title": "Pricing", "referrer": ""}


@pytest.fixture
def database(file_database):
    return file_database


@pytest.fixture
def controller(tmp_path):
    with live_controller(tmp_path / "asterisk", {"LEADCENTER_HTTP_VISITOR_SOCKETS_PER_ADDRESS": "3"}) as controller:
        yield controller


@pytest.fixture
def widget(world, controller):
    widget = controller.chats.widget_of(world["a"]["company"])
    widget.allowed_origins = SITE
    widget.team = world["a"]["team"]
    widget.save()
    return widget


def visit(sockets, server, widget, origin="own", key=None, page=PAGE):
    """A page's widget: the socket, and the welcome frame answering its hello."""
    ws = sockets.enter_context(open_socket(server, f"/api/v1/visitor?key={widget.public_key}", origin=origin))
    ws.send(json.dumps({"type": "hello", "visitor": key, "page": page}))
    welcome = frames(ws, 1)[0]
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


def send(ws, **frame):
    ws.send(json.dumps(frame))


def next_of(ws, kind: str, body: str | None = None, timeout: float = WAIT) -> dict:
    """The next frame of this type (and, for a message, with this body); the others are passed over (the message
    frame of one's own message may come before or after its ack)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} frame in {timeout} s")
        frame = frames(ws, 1, left)[0]
        if frame["type"] == kind and (body is None or frame["message"]["body"] == body):
            return frame


def agent_client(app, email):
    client = ApiClient(app.test_client())
    client.sign_in(email)
    return client


def test_a_visitor_chats_with_an_agent_from_start_to_end_chat(
    server, app, controller, world, widget, cookie_of, sockets
):
    agent1 = world["a"]["agents"][0]
    agent1.chat_display_name = "Sam"
    agent1.save()
    events = sockets.enter_context(open_socket(server, "/api/v1/events", cookie=cookie_of("agent1@a.example")))
    frames(events, 1)  # hello
    ws, welcome = visit(sockets, server, widget, origin=SITE)
    assert welcome["online"] is True and welcome["chat"] is None and len(welcome["visitor"]) == 22
    assert welcome["widget"]["greeting"] == widget.greeting
    send(ws, type="start", name="Ada", body="Do you ship to Canada?", client_id="c1")
    ack = next_of(ws, "ack")
    stored = Message.get_by_id(ack["message_id"])  # stored before acknowledged
    assert (ack["client_id"], stored.body) == ("c1", "Do you ship to Canada?")
    chat_id = stored.interaction_id

    # The agent's Incoming gets it live, with the visit.
    created = next_of_event(events, "interaction.created")
    assert (created["data"]["interaction"]["id"], created["data"]["section"]) == (chat_id, "incoming")
    assert created["data"]["interaction"]["chat"]["page_url"] == PAGE["url"]

    agent = agent_client(app, "agent1@a.example")
    assert agent.post(f"/api/v1/interactions/{chat_id}/respond")[0] == 200
    assert next_of(ws, "agent") == {"type": "agent", "chat_display_name": "Sam"}
    agent.post(f"/api/v1/interactions/{chat_id}/typing")
    assert next_of(ws, "typing") == {"type": "typing", "agent_name": "Sam"}
    status, sent = agent.post(f"/api/v1/interactions/{chat_id}/messages", {"body": "Yes, we do!"})
    assert status == 201 and next_of(ws, "message", "Yes, we do!")["message"] == sent

    send(ws, type="say", body="Great", client_id="c2")
    ack = next_of(ws, "ack")
    assert next_of_event(events, "message.received", "Great")["data"]["message"]["id"] == ack["message_id"]

    assert agent.post(f"/api/v1/interactions/{chat_id}/close")[0] == 200
    assert next_of(ws, "ended") == {"type": "ended", "by": "agent"}
    ws.close()
    events.close()


def next_of_event(ws, name: str, body: str | None = None) -> dict:
    """The next event of this name (and, for a message, with this body) on an agent's event stream."""
    deadline = time.monotonic() + WAIT
    while True:
        frame = frames(ws, 1, max(0.01, deadline - time.monotonic()))[0]
        if frame["event"] == name and (body is None or frame["data"]["message"]["body"] == body):
            return frame


def test_the_chat_goes_on_across_pages_and_reconnects(server, app, controller, world, widget, sockets):
    ws, welcome = visit(sockets, server, widget)
    send(ws, type="start", body="Hello?", client_id="c1")
    next_of(ws, "ack")
    ws.close()
    chat = Interaction.select().where(Interaction.kind == "chat").get()
    assert wait_for(lambda: ChatSession.get(ChatSession.interaction == chat).visitor_left_at is not None)
    agent = agent_client(app, "agent2@a.example")
    agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": "Sent while you were away"})
    # Another page of the site, the same visitor key: the whole conversation, and the visitor is back.
    other_page = {"url": f"{SITE}/checkout", "title": "Checkout", "referrer": ""}
    ws, again = visit(sockets, server, widget, key=welcome["visitor"], page=other_page)
    assert again["visitor"] == welcome["visitor"]
    assert again["chat"]["id"] == chat.id and again["chat"]["status"] == "active"
    assert [m["body"] for m in again["chat"]["messages"]] == ["Hello?", "Sent while you were away"]
    assert wait_for(lambda: ChatSession.get(ChatSession.interaction == chat).visitor_left_at is None)
    assert ChatSession.get(ChatSession.interaction == chat).page_url == other_page["url"]
    ws.close()


def wait_for(condition, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        threading.Event().wait(0.02)
    return condition()


def test_an_anonymous_visitor_cannot_read_another_visitors_chat(server, app, controller, world, widget, sockets):
    alice, alice_welcome = visit(sockets, server, widget)
    send(alice, type="start", body="my order number is 1234", client_id="a1")
    next_of(alice, "ack")
    # A visitor with no key, or a guessed one, is someone new: no chat, and none of Alice's frames.
    alice_key = alice_welcome["visitor"]
    almost = alice_key[:-1] + ("B" if alice_key.endswith("A") else "A")
    for key in (None, "A" * 22, almost):
        mallory, welcome = visit(sockets, server, widget, key=key)
        assert welcome["chat"] is None and welcome["visitor"] != alice_welcome["visitor"]
        chat = Interaction.select().where(Interaction.kind == "chat").get()
        agent = agent_client(app, "agent1@a.example")
        agent.post(f"/api/v1/interactions/{chat.id}/messages", {"body": f"for Alice only ({key})"})
        next_of(alice, "message", f"for Alice only ({key})")
        send(mallory, type="say", body="anything?")
        assert next_of(mallory, "error")["error"] == "no-chat"
        mallory.close()
    alice.close()


@pytest.mark.parametrize("origin", ["https://evil.example", "http://www.shop.example", "null", None])
def test_another_origin_is_refused_before_the_upgrade(server, world, widget, origin):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, f"/api/v1/visitor?key={widget.public_key}", origin=origin)
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"] in ("origin-not-allowed", "origin-required")


def test_an_unknown_or_disabled_widget_is_refused(server, world, widget):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, "/api/v1/visitor?key=aaaaaaaaaaaaaaaaaaaaaa")
    assert refused.value.response.status_code == 404
    widget.enabled = False
    widget.save()
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, f"/api/v1/visitor?key={widget.public_key}")
    assert refused.value.response.status_code == 404


def test_the_first_frame_must_be_hello(server, world, widget, sockets):
    ws = sockets.enter_context(open_socket(server, f"/api/v1/visitor?key={widget.public_key}"))
    send(ws, type="say", body="hi")
    assert close_code(ws) == (1008, "hello-required: the first frame must be hello")


def test_bad_frames_are_refused_and_the_socket_goes_on(server, world, widget, sockets):
    ws, _ = visit(sockets, server, widget)
    ws.send("not json")
    assert next_of(ws, "error")["error"] == "invalid-frame"
    send(ws, type="say", body="x" * 2001)
    assert next_of(ws, "error")["error"] == "invalid-frame"
    send(ws, type="start", body="fine")
    assert next_of(ws, "ack")["message_id"] > 0
    ws.close()


def test_a_visitor_sending_too_fast_is_refused_beyond_the_rate(server, world, widget, sockets):
    ws, _ = visit(sockets, server, widget)
    send(ws, type="start", body="1", client_id="1")
    next_of(ws, "ack")
    for n in range(2, 11):
        send(ws, type="say", body=str(n), client_id=str(n))
    send(ws, type="say", body="11", client_id="11")
    acks, refused = 0, []
    while acks + len(refused) < 10:
        frame = frames(ws, 1)[0]
        if frame["type"] == "ack":
            acks += 1
        elif frame["type"] == "error":
            refused.append(frame["error"])
    assert (acks, refused) == (9, ["too-many-messages"])
    assert Message.select().count() == 10
    ws.close()


def test_nobody_online_the_visitor_gets_the_offline_form(server, app, world, widget, sockets):
    for agent in world["a"]["agents"]:
        agent.status = "offline"
        agent.save()
    ws, welcome = visit(sockets, server, widget)
    assert welcome["online"] is False
    send(ws, type="start", body="Hello?")
    assert next_of(ws, "error")["error"] == "nobody-online"
    send(ws, type="offline_form", name="Ada", phone="+14045550142", body="Call me", client_id="f1")
    assert next_of(ws, "ack")["client_id"] == "f1"
    form = Interaction.get(Interaction.kind == "form")
    assert (form.status, form.team_id) == ("incoming", world["a"]["team"].id)
    ws.close()


def test_visitors_learn_at_once_when_the_last_agent_goes_offline_and_when_one_comes_back(
    server, app, controller, world, widget, sockets
):
    agent1, agent2 = world["a"]["agents"]
    agent2.status = "offline"
    agent2.save()
    ws, welcome = visit(sockets, server, widget)
    assert welcome["online"] is True
    ws_b, _ = visit(sockets, server, controller.chats.widget_of(world["b"]["company"]))
    agent = agent_client(app, "agent1@a.example")
    assert agent.patch("/api/v1/me/agent", {"status": "offline"})[0] == 200
    assert next_of(ws, "online") == {"type": "online", "online": False}
    assert agent.patch("/api/v1/me/agent", {"status": "available"})[0] == 200
    assert next_of(ws, "online") == {"type": "online", "online": True}
    with pytest.raises(AssertionError):  # company B's visitors are told nothing of company A's agents
        next_of(ws_b, "online", timeout=0.5)


def test_visitor_sockets_have_their_own_limit_per_address(server, app, world, widget, cookie_of, sockets):
    opened = [visit(sockets, server, widget)[0] for _ in range(3)]
    refused = sockets.enter_context(open_socket(server, f"/api/v1/visitor?key={widget.public_key}"))
    assert close_code(refused)[0] == 1013
    # The agents' streams are counted apart: still open to them.
    events = sockets.enter_context(open_socket(server, "/api/v1/events", cookie=cookie_of("agent1@a.example")))
    assert frames(events, 1)[0]["event"] == "stream.hello"
    events.close()
    for ws in opened:
        ws.close()


def test_a_restart_mid_chat_loses_nothing(tmp_path, database, world, widget, sockets):
    """The controller stops mid-chat (every socket closed with 1001); a new one over the same database: the visitor
    reconnects with their key and gets the whole chat, the agent carries on in it."""

    with live_controller(tmp_path / "asterisk") as first:
        app = first.app()
        with Serving(first.settings, app) as serving:
            ws, welcome = visit(sockets, serving.http, widget)
            send(ws, type="start", body="Hello?", client_id="c1")
            next_of(ws, "ack")
            chat = Interaction.get(Interaction.kind == "chat")
            agent_client(app, "agent1@a.example").post(f"/api/v1/interactions/{chat.id}/respond")
            next_of(ws, "agent")
        assert close_code(ws)[0] == 1001
    with live_controller(tmp_path / "asterisk") as second:
        app = second.app()
        with Serving(second.settings, app) as serving:
            ws, again = visit(sockets, serving.http, widget, key=welcome["visitor"])
            assert (again["chat"]["id"], again["chat"]["status"]) == (chat.id, "active")
            assert [m["body"] for m in again["chat"]["messages"]] == ["Hello?"]
            status, sent = agent_client(app, "agent1@a.example").post(
                f"/api/v1/interactions/{chat.id}/messages", {"body": "Back again"}
            )
            assert status == 201 and next_of(ws, "message", "Back again")["message"] == sent
            ws.close()


def test_two_pages_starting_a_chat_at_once_make_one_chat(world, controller, widget):
    """The visitor's two tabs press Start together: one chat, the other page refused with chat-open (the check is
    in the transaction that makes the chat, which SQLite serialises: BEGIN IMMEDIATE)."""
    visitor = controller.chats.visit(widget, None, Page(**PAGE)).visitor
    ready = threading.Barrier(2)
    outcomes: list[str] = []

    def start(body: str) -> None:
        ready.wait(WAIT)
        try:
            controller.chats.start(widget, visitor, Contact(body=body), Page(**PAGE))
            outcomes.append("started")
        except ApiError as refused:
            outcomes.append(refused.error)

    pages = [threading.Thread(target=start, args=(f"Hello from tab {n}",)) for n in (1, 2)]
    for page in pages:
        page.start()
    for page in pages:
        page.join(WAIT)
    assert sorted(outcomes) == ["chat-open", "started"]
    assert Interaction.select().where(Interaction.kind == "chat").count() == 1
