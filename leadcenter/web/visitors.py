"""The website visitors' websocket: ``/api/v1/visitor?key=<the widget's public key>``, opened by the chat widget's
iframe (``/w/<key>``, served from Lead Center's origin) on the company's site.

Opening: the key must be an enabled widget's (404 otherwise) and the ``Origin`` Lead Center's own or one of the
widget's allowed origins (403 ``origin-not-allowed`` before the upgrade); nobody signs in: what a socket may read is
what its visitor key opens, the visitor's own chat, and nothing else of the company. Sockets are counted apart from
the agents' event streams and relays (a ``Capacity`` of their own: per client address, per company, for the
server), so a flood of visitors never takes an agent's stream or another company's visitors' room; refusals close
with 1013.

Frames are JSON text, each with a ``type``. The visitor's first is ``hello {visitor: <key or null>, page: {url,
title, referrer}}`` (within HELLO_SECONDS, else 1008); the server answers ``welcome {visitor: <key>, widget:
{greeting, color, position, prechat}, online, chat: {id, status, agent, ended_by, messages: [...]} | null}``. The
visitor's key is the one sent when this company knows it, else a new one: the widget keeps it in the site's own
storage and sends it with every hello, so the chat goes on across pages, tabs and reconnects. Then, from the
visitor: ``start {name?, phone?, email?, body, client_id?}``, ``say {body, client_id?}``, ``typing {}``,
``offline_form {name?, phone?, email?, body, client_id?}``, ``end {}``, ``page {url, title, referrer}``; from the
server: ``message {message}`` (either side's, to every open page of the visitor), ``typing {agent_name}``, ``agent
{chat_display_name}`` (who responded), ``ended {by}``, ``missed {}`` (nobody responded in time: offer the offline
form), ``online {online}`` (whether a chat would be answered now changed), ``ack {client_id, message_id}`` once what was sent is stored (the ``message`` frame of the same message may
come before or after it: the id says it is one), ``error {error, message, fields}`` for a refused frame (the ids
of errors.py: ``nobody-online`` -> show the offline form, ``prechat-required``, ``too-many-messages``...).

Limits: a message is at most 2000 characters; a visitor (all their pages together) sends at most RATE_MESSAGES
messages (start, say, offline_form) in RATE_SECONDS, on every node (limits.py: the hub's ``messages``); ``typing``
is passed on at most once per TYPING_SECONDS.

Delivery to visitors: the chats domain publishes ``chat.visitor_frame`` (internal) with the visitor's id (or none:
then for every open page of the company's visitors, e.g. ``online {online}`` when someone came online or the last
one went); the hub, on the dispatcher thread, queues the frame for each open page of that visitor without waiting (a page whose queue
is full is closed with 4008 and reconnects) and rings its coroutine. Database work runs in the request threads.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
import threading
from typing import Any

from flask import Blueprint, Flask, request
from pydantic import ValidationError

from leadcenter.chats.models import ChatWidget, Visitor
from leadcenter.chats.schemas import (End, Hello, Navigate, OfflineForm, Page, Say, Start, Typing, VisitorFrameIn,
                                      origins)
from leadcenter.chats.services import Chats
from leadcenter.errors import ApiError, not_found
from leadcenter.events import Event
from leadcenter.texts.schemas import MessageOut
from leadcenter.web.capacity import Capacity, Refused
from leadcenter.web.gateway import WebSocket, handshake
from leadcenter.web.limits import Window
from leadcenter.web.stream import LAGGING, POLICY_VIOLATION, TRY_AGAIN_LATER, check_origin, closed_by_server

log = logging.getLogger(__name__)

HELLO_SECONDS = 10.0  # a socket that has not said hello by then is closed
QUEUE_SIZE = 200  # frames waiting for one page before it counts as lagging
RATE_MESSAGES, RATE_SECONDS = 10, 10.0
TYPING_SECONDS = 2.0


class OpenPage:
    """One open page of a visitor: the frames waiting for it. ``offer`` runs on any thread and never waits."""

    def __init__(self, ws: WebSocket, company_id: int):
        self.ws = ws
        self.company_id = company_id
        self.frames: collections.deque[str] = collections.deque()
        self.lagging = False

    def offer(self, text: str) -> None:
        if len(self.frames) >= QUEUE_SIZE:
            self.lagging = True
        else:
            self.frames.append(text)
        self.ws.bell.ring()


class VisitorHub:
    """The open pages of each visitor, and how fast each visitor writes (``messages``: its pages together, on every
    node when the limits are shared, limits.py)."""

    def __init__(self, messages: Window) -> None:
        self.messages = messages
        self._lock = threading.Lock()
        self._pages: dict[int, set[OpenPage]] = {}

    def fan_out(self, event: Event) -> None:
        """The bus subscriber (immediate: on the publishing thread): the frame to every open page of the visitor (or,
        without one, of every visitor of the company)."""
        visitor_id, company_id = event.data["visitor_id"], event.data["company_id"]
        with self._lock:
            if visitor_id is None:
                pages = [page for open in self._pages.values() for page in open if page.company_id == company_id]
            else:
                pages = list(self._pages.get(visitor_id, ()))
        if pages:
            text = json.dumps(event.data["frame"], separators=(",", ":"))
            for page in pages:
                page.offer(text)

    def attach(self, visitor_id: int, page: OpenPage) -> bool:
        """True when it is the visitor's first open page."""
        with self._lock:
            pages = self._pages.setdefault(visitor_id, set())
            pages.add(page)
            return len(pages) == 1

    def detach(self, visitor_id: int, page: OpenPage) -> bool:
        """True when it was the visitor's last open page."""
        with self._lock:
            pages = self._pages.get(visitor_id, set())
            pages.discard(page)
            if pages:
                return False
            self._pages.pop(visitor_id, None)
        self.messages.forget(visitor_id)
        return True

    def pages(self) -> int:
        with self._lock:
            return sum(len(pages) for pages in self._pages.values())


def install(app: Flask, controller, capacity: Capacity) -> VisitorHub:
    """Serve the visitor websocket on ``app``; ``capacity`` is the visitors' own."""
    hub = VisitorHub(app.extensions["limits"].window("visitor_messages", RATE_MESSAGES, RATE_SECONDS))
    controller.bus.subscribe("chat.visitor_frame", hub.fan_out, everywhere=True, immediate=True)
    app.extensions["visitors"] = hub
    chats: Chats = controller.chats
    bp = Blueprint("visitors", __name__, url_prefix="/api/v1")

    @bp.get("/visitor", websocket=True)
    def visitor():
        """The handshake: the widget's key and the Origin before the upgrade (404, 403)."""
        key = request.args.get("key", "")
        widget = chats.widget_by_key(key) if 0 < len(key) <= 64 else None
        if widget is None:
            raise not_found("chat widget")
        check_origin(set(origins(widget.allowed_origins)), "the chat widget", api_keys=False)
        upgrade = handshake()
        address = request.remote_addr or ""
        return upgrade.accept(functools.partial(_serve, hub, capacity, chats, widget.id, widget.company_id, address))

    app.register_blueprint(bp)
    return hub


async def _serve(hub: VisitorHub, capacity: Capacity, chats: Chats, widget_id: int, company_id: int,
                 address: str, ws: WebSocket) -> None:
    try:
        hold = await ws.in_thread(capacity.take, company_id, ("address", address), ws.reclaim)
    except Refused as full:
        log.warning("a visitor socket of company %s from %s refused: %s", company_id, address, full)
        await ws.close(TRY_AGAIN_LATER, str(full))
        return
    try:
        hello = await _hello(ws)
        if hello is None:
            return
        session = _Session(hub, chats, widget_id, company_id, ws, hello.page)
        await session.run(hello)
    except (TimeoutError, OSError) as exc:  # the page stopped reading, or the connection broke
        log.info("a visitor socket of company %s ended: %r", company_id, exc)
    finally:
        capacity.release(hold)


async def _hello(ws: WebSocket) -> Hello | None:
    """The visitor's hello; None (and the socket closed with 1008) for anything else or nothing in time."""
    try:
        async with asyncio.timeout(HELLO_SECONDS):
            text = await ws.receive()
    except TimeoutError:
        await ws.close(POLICY_VIOLATION, "hello-required: say hello first")
        return None
    if text is None:
        return None
    try:
        return Hello.model_validate_json(text)
    except ValidationError:
        await ws.close(POLICY_VIOLATION, "hello-required: the first frame must be hello")
        return None


def _error(refused: ApiError, client_id: str | None = None) -> dict[str, Any]:
    """A refused frame, answered with the client_id it carried (the widget matches it to what it sent)."""
    return {"type": "error", "error": refused.error, "message": refused.message, "fields": refused.fields,
            "client_id": client_id}


def _client_id(text: str | bytes) -> str | None:
    """The client_id of a frame that did not validate, if it is JSON with one."""
    try:
        sent = json.loads(text)
    except ValueError:
        return None
    client_id = sent.get("client_id") if isinstance(sent, dict) else None
    return client_id if isinstance(client_id, str) and len(client_id) <= 64 else None


class _Session:
    """One open page: reads the visitor's frames in order (each one's database work in a request thread) while the
    frames for the page are sent as they come."""

    def __init__(self, hub: VisitorHub, chats: Chats, widget_id: int, company_id: int, ws: WebSocket, page: Page):
        self.hub, self.chats, self.widget_id, self.ws = hub, chats, widget_id, ws
        self.page = page  # the page the visitor is on (chats.schemas.Page)
        self.outbox = OpenPage(ws, company_id)
        self.visitor_id = 0
        self.last_typing = -TYPING_SECONDS
        self.left = False

    async def run(self, hello: Hello) -> None:
        welcome, self.visitor_id = await self.ws.in_thread(self._welcome, hello)
        first = self.hub.attach(self.visitor_id, self.outbox)
        try:
            await self.ws.send(json.dumps(welcome, separators=(",", ":")))
            if first:
                await self.ws.in_thread(self._connected, True)
            reader = asyncio.create_task(self._read())
            try:
                await self._write()
            finally:
                reader.cancel()
        finally:
            if self.hub.detach(self.visitor_id, self.outbox):
                await self.ws.in_thread(self._connected, False)

    async def _write(self) -> None:
        while not self.left:
            if await closed_by_server(self.ws):
                return
            if self.outbox.lagging:
                await self.ws.close(LAGGING, "lagging: reconnect and say hello again")
                return
            if self.outbox.frames:
                await self.ws.send(self.outbox.frames.popleft())
                continue
            await self.ws.bell.wait()

    async def _read(self) -> None:
        try:
            while True:
                text = await self.ws.receive()
                if text is None:
                    break
                reply = await self._handle(text)
                if reply is not None:
                    self.outbox.offer(json.dumps(reply, separators=(",", ":")))
        finally:
            self.left = True
            self.ws.bell.ring()

    async def _handle(self, text: str | bytes) -> dict[str, Any] | None:
        try:
            frame = VisitorFrameIn.model_validate_json(text).root
        except ValidationError as wrong:
            fields = {".".join(str(p) for p in e["loc"][1:]) or "": e["msg"] for e in wrong.errors()[:5]}
            refused = ApiError("invalid-frame", "not a frame of the chat protocol", fields)
            return _error(refused, _client_id(text))
        loop = asyncio.get_running_loop()
        client_id = frame.client_id if isinstance(frame, Start | Say | OfflineForm) else None
        if isinstance(frame, Typing):
            if loop.time() - self.last_typing < TYPING_SECONDS:
                return None
            self.last_typing = loop.time()
        if isinstance(frame, Navigate):
            self.page = Page(url=frame.url, title=frame.title, referrer=frame.referrer)
        try:
            return await self.ws.in_thread(self._carry_out, frame)
        except ApiError as refused:
            return _error(refused, client_id)
        except Exception:  # the database did not answer: the widget may send it again
            log.exception("a visitor's %s frame failed", frame.type)
            return _error(ApiError("internal-error", "that did not work: try again"), client_id)

    # -- in a request thread ---------------------------------------------------------------------------------------

    def _widget(self) -> ChatWidget:
        return ChatWidget.get_by_id(self.widget_id)

    def _visitor(self) -> Visitor:
        return Visitor.get_by_id(self.visitor_id)

    def _welcome(self, hello: Hello) -> tuple[dict[str, Any], int]:
        widget = self._widget()
        welcome = self.chats.visit(widget, hello.visitor, hello.page)
        chat = None
        if welcome.chat is not None:
            agent = welcome.chat.agent if welcome.chat.agent_id is not None else None
            chat = {
                "id": welcome.chat.id,
                "status": welcome.chat.status,
                "agent": (agent.chat_display_name or agent.display_name) if agent else None,
                "messages": [MessageOut.from_row(m).model_dump(mode="json") for m in welcome.messages],
            }
        frame = {
            "type": "welcome",
            "visitor": welcome.key,
            "widget": {
                "greeting": widget.greeting,
                "color": widget.color,
                "position": widget.position,
                "prechat": json.loads(widget.prechat),
            },
            "online": welcome.online,
            "chat": chat,
        }
        return frame, welcome.visitor.id

    def _connected(self, connected: bool) -> None:
        self.chats.connected(self._visitor(), connected)

    def _carry_out(self, frame: Start | OfflineForm | Say | Typing | End | Navigate) -> dict[str, Any] | None:
        if isinstance(frame, Start | Say | OfflineForm) and not self.hub.messages.take(self.visitor_id):
            raise ApiError("too-many-messages", "too many messages at once: wait a few seconds")
        visitor = self._visitor()
        if isinstance(frame, Start):
            _, message = self.chats.start(self._widget(), visitor, frame, self.page)
            return {"type": "ack", "client_id": frame.client_id, "message_id": message.id}
        if isinstance(frame, Say):
            message = self.chats.say(visitor, frame.body)
            return {"type": "ack", "client_id": frame.client_id, "message_id": message.id}
        if isinstance(frame, OfflineForm):
            _, message = self.chats.offline_form(self._widget(), visitor, frame, self.page)
            return {"type": "ack", "client_id": frame.client_id, "message_id": message.id}
        if isinstance(frame, Typing):
            self.chats.visitor_typing(visitor)
        elif isinstance(frame, End):
            self.chats.end(visitor)
        elif isinstance(frame, Navigate):
            self.chats.navigate(visitor, self.page)
        return None

