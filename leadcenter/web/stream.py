"""The live event stream: one websocket per browser tab at ``/api/v1/events``, carrying its company's domain events.

Wire format: JSON text frames ``{"seq": 41, "event": "interaction.created", "data": {...}, "at": "...+00:00"}``.
``seq`` is the event bus's sequence number, which counts every event published (any company, any kind): a client
sees gaps, never a seq twice or out of order. Datetimes in ``data`` are ISO 8601 as the REST API writes them
(naive means UTC); ``at``, when the event was published, is ISO 8601 with its UTC offset.

Opening a stream:

- Origin: a browser sends the session cookie with any page's websocket, so the ``Origin`` must be the app's own
  (scheme://host[:port] of the request) or one of ``http.allowed_origins``; anything else is refused with HTTP 403
  before the upgrade. A client sending no Origin is not a browser: it may connect only with an API key
  (``Authorization: Bearer``).
- Who: the session cookie (signed in, company picked) or the API key, as for the REST API. Otherwise the upgrade
  is accepted and the socket closed at once with 4401: a page cannot read the status of a refused upgrade, it can
  read a close code.
- The first frame is ``stream.hello`` with data ``{seq, company_id, role, stream}``: the stream's position now and
  the id of this run of the controller. Reconnecting with ``?since=<seq>&stream=<id>`` replays the company's
  buffered events after ``since``, then continues live, with neither gap nor duplicate. When the buffer no longer
  reaches back to ``since``, or the controller restarted meanwhile (new stream id, seq counting from 1 again),
  ``stream.reset`` (data ``{seq, stream, reason}``) comes instead of the replay: reload over REST, then apply the
  live events that follow.
- The client's checkpoint is a (stream, seq) pair: taken from ``stream.hello`` when it connected without ``since``
  (then it loads its snapshot over REST), from ``stream.reset``, and its seq advanced by every event applied. A
  hello answering a ``since`` carries that ``since`` as its seq, so a connection lost before the reset or the
  replay arrives is retried from the same checkpoint.

Scope: the public events of the catalogue (catalogue.py, served at ``/api/events.json``), each to the streams its
audience names, and only to the company in its data: the whole company, its supervisors, its admins, or the agents
an event names; an interaction event reaches every stream of the company, with ``section`` telling each user where
the interaction now is in their own inbox. Internal events (the telephony layer's: channels, raw caller IDs) never
leave the controller: clients learn about calls from the ``interaction.*`` events.

Delivery: the hub subscribes to every event on the bus. On the dispatcher thread it encodes each event once and
puts it, without waiting, in each stream's bounded queue; a stream whose queue is full is lagging: it gets no more
events and is closed with 4008, and its client reconnects with ``since``. So a slow or dead client never delays the
dispatcher or the other streams. Each stream's coroutine sends from its queue; a send that cannot complete within
gateway.SEND_TIMEOUT ends the stream, and the server's pings (server.PING_INTERVAL) with its read timeout find
peers that vanished without closing.

Capacity: a stream holds no thread; it is a coroutine on the web server's event loop (gateway.py), and the hub
hands it frames with one wake-up of the loop however many arrive at once. Streams and softphone relays count
together against the limits per principal, per company and for the server (capacity.py).

Close codes: 4401 not signed in, no company picked or a bad API key (the reason is the REST error id:
``not-signed-in``, ``company-not-selected``, ``invalid-api-key``), or, about RECHECK_SECONDS after it happened, the
session was signed out or the key revoked, or the user's role or membership changed (reason ``session-ended``);
4008 lagging, reconnect with since; 1013 try again later, the reason says which limit (capacity.py;
``capacity-reclaimed``: the server was full and this company over its share); 1008 the client sent a message (the
stream is one-way); 1001 the server is shutting down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
import secrets
import threading
from collections import deque
from typing import Callable

from flask import Blueprint, Flask, request

from leadcenter import catalogue
from leadcenter.catalogue import Viewer
from leadcenter.clock import Clock, system
from leadcenter.config import HttpSettings
from leadcenter.errors import ApiError, invalid
from leadcenter.events import Event
from leadcenter.web import auth
from leadcenter.web.capacity import Capacity, Refused
from leadcenter.web.gateway import WebSocket, handshake
from leadcenter.wire import utc_iso

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1000  # events waiting for one stream before the stream counts as lagging
REPLAY_BUFFER_SIZE = 5000  # the last events kept, all companies together, for reconnecting clients
# How often an open stream's session or API key is checked again (sign-out elsewhere, revocation): SessionWatch.
RECHECK_SECONDS = 5.0
TICK = 0.25  # seconds between the watch's looks for checks due
BATCH = 32  # checks at most a tick

LAGGING = 4008
NOT_AUTHENTICATED = 4401
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
GOING_AWAY = 1001

_SEQ = re.compile(r"[0-9]{1,18}")


def _json_value(value):
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    # An event that cannot be encoded would be lost to every client; its text is better than nothing.
    return str(value)


def encode(seq: int, name: str, data: dict, at: dt.datetime) -> str:
    return json.dumps(
        {"seq": seq, "event": name, "data": data, "at": utc_iso(at)}, default=_json_value, separators=(",", ":")
    )


class Frame:
    """An event as the streams send it: encoded once for each variant of its audience that a stream receives."""

    def __init__(self, event: Event, kind: catalogue.EventType):
        self.seq, self.company_id = event.seq, event.data["company_id"]
        self.event, self.kind = event, kind
        self._texts: dict = {}  # variant -> the frame's text (filled under the hub's lock)

    def text_for(self, viewer: Viewer) -> str | None:
        """The frame as this viewer gets it; None when it is not theirs."""
        variant = self.kind.audience.variant(self.event.data, viewer)
        if variant is None:
            return None
        text = self._texts.get(variant)
        if text is None:
            data = self.kind.audience.data(self.event.data, variant)
            text = self._texts[variant] = encode(self.seq, self.event.name, data, self.event.at)
        return text


class Subscription:
    """One open stream: whose it is, and the frames waiting for it. ``wake`` is called (on the dispatcher thread)
    after frames were added or the stream became lagging; it must not wait."""

    def __init__(self, viewer: Viewer, queue_size: int, wake: Callable[[], None] = lambda: None):
        self.viewer = viewer
        self.queue_size = queue_size
        self.frames: deque[str] = deque()  # appended on the dispatcher thread, taken on the loop
        self.lagging = False
        self.wake = wake

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; False (and lagging from now on) when the queue is full."""
        if len(self.frames) >= self.queue_size:
            self.lagging = True
            return False
        self.frames.append(text)
        return True


class Hub:
    """Fans the bus's events out to the open streams and keeps the recent ones for reconnecting clients.

    One lock guards the buffer, the last seq seen and the set of subscriptions: a stream is registered under the
    same lock its replay is read under, so every event is either in its replay or in its queue, never both.
    """

    def __init__(
        self, queue_size: int = CLIENT_QUEUE_SIZE, buffer_size: int = REPLAY_BUFFER_SIZE, clock: Clock = system
    ):
        self.clock = clock
        self.queue_size, self.buffer_size = queue_size, buffer_size
        self.stream_id = secrets.token_hex(8)  # tells a reconnecting client whether its seq is from this run
        self._lock = threading.Lock()
        self._buffer: deque[Frame] = deque()
        self._evicted_through: dict[int, int] = {}  # company id -> the highest seq of theirs dropped from the buffer
        self._seq = 0  # the last event this hub has seen
        self._gap_through = 0  # events up to this seq may have missed this node (its cluster listener was down)
        self._subscriptions: set[Subscription] = set()

    def fan_out(self, event: Event) -> None:
        """The bus subscriber (immediate: on the publishing thread, as the event is numbered): never waits on a
        client."""
        kind = catalogue.BY_NAME.get(event.name)
        if kind is None or not kind.public or "company_id" not in event.data:
            if kind is None:
                log.error("event %s is not in the catalogue: no stream gets it", event.name)
            with self._lock:
                self._seq = event.seq
            return
        frame = Frame(event, kind)
        try:  # what a supervisor and an agent would get of it: a frame kept for replay must be readable by all
            for probe in (Viewer(frame.company_id, "admin", None), Viewer(frame.company_id, "agent", 0)):
                variant = kind.audience.variant(event.data, probe)
                if variant is not None:
                    kind.audience.data(event.data, variant)
        except (KeyError, TypeError, AttributeError) as wrong:  # a notifier's bug: no frame rather than a broken hub
            log.error("event %s #%s lacks what its audience reads: no stream gets it: %r", event.name, event.seq, wrong)
            with self._lock:
                self._seq = event.seq
            return
        with self._lock:
            self._seq = event.seq
            if len(self._buffer) >= self.buffer_size:
                evicted = self._buffer.popleft()
                self._evicted_through[evicted.company_id] = evicted.seq
            self._buffer.append(frame)
            woken: list[Subscription] = []
            lagging: list[Subscription] = []
            for subscription in self._subscriptions:
                if subscription.viewer.company_id != frame.company_id:
                    continue
                text = frame.text_for(subscription.viewer)
                if text is None:
                    continue
                (woken if subscription.offer(text) else lagging).append(subscription)
            self._subscriptions.difference_update(lagging)
        for subscription in woken + lagging:  # a lagging one wakes to close
            subscription.wake()
        for subscription in lagging:
            log.warning(
                "an event stream of company %s (%s) is lagging: closing it",
                subscription.viewer.company_id,
                subscription.viewer.role,
            )

    def attach(
        self,
        viewer: Viewer,
        since: int | None = None,
        stream_id: str | None = None,
        wake: Callable[[], None] = lambda: None,
    ) -> tuple[Subscription, list[str]]:
        """Register a stream; returns it with the frames to send before its queue: hello, then the replay after
        ``since`` or a reset."""
        subscription = Subscription(viewer, self.queue_size, wake)
        company_id, role = viewer.company_id, viewer.role
        now = self.clock()
        with self._lock:
            hello = {"seq": self._seq, "company_id": company_id, "role": role, "stream": self.stream_id}
            opening = [encode(self._seq if since is None else since, "stream.hello", hello, now)]
            if since is not None:
                reason = self._cannot_replay(company_id, since, stream_id)
                if reason:
                    opening.append(
                        encode(
                            self._seq,
                            "stream.reset",
                            {"seq": self._seq, "stream": self.stream_id, "reason": reason},
                            now,
                        )
                    )
                else:
                    replay = (f.text_for(viewer) for f in self._buffer if f.seq > since and f.company_id == company_id)
                    opening.extend(text for text in replay if text is not None)
            self._subscriptions.add(subscription)
        return subscription, opening

    def _cannot_replay(self, company_id: int, since: int, stream_id: str | None) -> str | None:
        if (stream_id is not None and stream_id != self.stream_id) or since > self._seq:
            return "the controller restarted since"
        if self._evicted_through.get(company_id, 0) > since:
            return "events after since are no longer buffered"
        if self._gap_through > since:
            return "other nodes' events may have been missed"
        return None

    def lost_events(self) -> None:
        """Other nodes' events may have been lost to this node (cluster.py: its listener connected again): every
        open stream is closed as lagging, and its reconnection with ``since`` gets ``stream.reset``."""
        with self._lock:
            self._gap_through = self._seq + 1
            closing, self._subscriptions = list(self._subscriptions), set()
            for subscription in closing:
                subscription.lagging = True
        for subscription in closing:
            subscription.wake()
        if closing:
            log.warning("other nodes' events may have been missed: %d streams closed to reload", len(closing))

    def detach(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def streams(self) -> int:
        with self._lock:
            return len(self._subscriptions)


def install(app: Flask, controller, capacity: Capacity) -> Hub:
    """Serve the stream on ``app`` from ``controller.bus``'s events."""
    hub = Hub(CLIENT_QUEUE_SIZE, REPLAY_BUFFER_SIZE, controller.clock)
    # Every node's events, to this node's clients, as they are published.
    controller.bus.subscribe("*", hub.fan_out, everywhere=True, immediate=True)
    app.extensions["event_stream"] = hub
    sessions = app.extensions["websocket_sessions"] = SessionWatch(app)
    allowed = allowed_origins(controller.settings.http)

    bp = Blueprint("events", __name__, url_prefix="/api/v1")

    @bp.get("/events", websocket=True)
    def events():
        """The handshake: the Origin and the query before the upgrade (403, 422), the identity after it (4401)."""
        check_origin(allowed, "the event stream")
        since = request.args.get("since")
        if since is not None and not _SEQ.fullmatch(since):
            raise invalid({"since": "the seq of the last event received, a whole number"})
        upgrade = handshake()
        try:
            principal = auth.current()
        except ApiError as refused:
            return upgrade.refuse(NOT_AUTHENTICATED, refused.error)
        return upgrade.accept(
            functools.partial(
                _serve,
                hub,
                capacity,
                sessions,
                principal,
                int(since) if since is not None else None,
                request.args.get("stream"),
            )
        )

    app.register_blueprint(bp)
    return hub


def _origin(url: str) -> str:
    return url.strip().rstrip("/").lower()


def allowed_origins(settings: HttpSettings) -> set[str]:
    return {_origin(o) for o in settings.allowed_origins.split(",") if o.strip()}


def check_origin(allowed: set[str], what: str, api_keys: bool = True) -> None:
    """Before a websocket upgrade: a browser's page must be the app's own (or an allowed origin); a client that
    sends no Origin is no browser and may connect only with an API key (when ``api_keys``)."""
    origin = request.headers.get("Origin")
    if origin is None:
        if not (api_keys and request.headers.get("Authorization", "").startswith("Bearer ")):
            raise ApiError("origin-required", "a browser must send Origin; other clients use an API key")
    elif _origin(origin) not in allowed | {_origin(request.host_url)}:
        raise ApiError("origin-not-allowed", f"pages from {origin} may not open {what} (see http.allowed_origins)")


def principal_key(principal: auth.Principal) -> tuple:
    """Whose websockets count together: a user's (all their sessions), or an API key's."""
    if principal.api_key is not None:
        return ("key", principal.api_key.id)
    assert principal.user is not None, "a principal is an API key or a user"
    return ("user", principal.user.id)


async def hold_place(capacity: Capacity, principal: auth.Principal, ws: WebSocket, what: str):
    """The websocket's place under the capacity rules; None, and the socket closed with 1013 and the limit as its
    reason, when there is none."""
    try:
        return await ws.in_thread(capacity.take, principal.company.id, principal_key(principal), ws.reclaim)
    except Refused as full:
        log.warning("%s of company %s refused: %s", what, principal.company.id, full)
        await ws.close(TRY_AGAIN_LATER, str(full))
        return None


async def closed_by_server(ws: WebSocket) -> bool:
    """Close the socket when the server stops, its session ended or the capacity rules took its place back; True
    when it did."""
    if ws.closing:
        await ws.close(GOING_AWAY, "the server is shutting down")
    elif ws.session_ended:
        await ws.close(NOT_AUTHENTICATED, "session-ended")
    elif ws.reclaimed:
        await ws.close(TRY_AGAIN_LATER, "capacity-reclaimed: the server is full; retry later")
    else:
        return False
    return True


class SessionWatch:
    """Ends the websockets whose session or API key is no longer good (signed out elsewhere, password changed,
    removed from the company, role changed, key revoked), about RECHECK_SECONDS after it changed.

    Each credential is checked once per RECHECK_SECONDS however many sockets share it (an agent's tab holds two),
    and the checks due are done together in one request thread every TICK, at most BATCH at a time, so a crowd of
    sockets opened at once spreads its checks out. Each socket checking on its own cost two thread handoffs a
    check: with 500 sockets open that alone took the ring-to-screen p99 from 26 ms to 130 ms."""

    def __init__(self, app: Flask):
        self.app = app
        self._watched: dict[WebSocket, tuple[tuple, auth.Principal]] = {}
        self._checked: dict[tuple, float] = {}  # credential -> when it was last checked (loop time)
        self._task: asyncio.Task | None = None

    def watch(self, ws: WebSocket, principal: auth.Principal) -> None:
        """On the loop: until ``forget``, ``ws.end_session()`` is called once its credential stops being good."""
        credential = (
            ws.environ.get("HTTP_AUTHORIZATION") or ws.environ.get("HTTP_COOKIE", ""),
            principal.company.id,
            principal.role,
        )
        self._watched[ws] = (credential, principal)
        self._checked.setdefault(credential, asyncio.get_running_loop().time())  # the handshake just checked it
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def forget(self, ws: WebSocket) -> None:
        self._watched.pop(ws, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._watched:
            await asyncio.sleep(TICK)
            due = {}
            for ws, (credential, principal) in self._watched.items():
                if credential not in due and loop.time() - self._checked[credential] >= RECHECK_SECONDS:
                    due[credential] = (ws.environ, principal)
            live = {credential for credential, _ in self._watched.values()}
            self._checked = {credential: at for credential, at in self._checked.items() if credential in live}
            if not due:
                continue
            due = dict(sorted(due.items(), key=lambda item: self._checked[item[0]])[:BATCH])
            try:
                ended = await next(iter(self._watched)).in_thread(self._ended, due)
            except Exception:  # the database did not answer: try again next time
                log.exception("re-checking the sessions of %s websockets failed", len(due))
                continue
            for credential in due:
                self._checked[credential] = loop.time()
            for ws, (credential, _) in list(self._watched.items()):
                if credential in ended:
                    ws.end_session()

    def _ended(self, checks: dict) -> set:
        """In a request thread: the credentials no longer good, each checked in its own handshake's context."""
        ended = set()
        for credential, (environ, principal) in checks.items():
            with self.app.request_context(dict(environ)):
                if not still_allowed(principal):
                    ended.add(credential)
        return ended


async def _serve(
    hub: Hub,
    capacity: Capacity,
    sessions: SessionWatch,
    principal: auth.Principal,
    since: int | None,
    stream_id: str | None,
    ws: WebSocket,
) -> None:
    hold = await hold_place(capacity, principal, ws, "event stream")
    if hold is None:
        return
    viewer = Viewer(principal.company.id, principal.role, principal.agent.id if principal.agent else None)
    subscription, opening = hub.attach(viewer, since, stream_id, wake=ws.bell.ring)
    sessions.watch(ws, principal)
    client = _Client(ws)
    try:
        for text in opening:
            await ws.send(text)
        await _send_events(ws, subscription, client)
    except (TimeoutError, OSError) as exc:  # the client stopped reading, or the connection broke
        log.info("event stream of company %s ended: %r", principal.company.id, exc)
    finally:
        client.stop()
        sessions.forget(ws)
        hub.detach(subscription)
        capacity.release(hold)


class _Client:
    """Watches what the client sends: any message breaks the protocol; reading nothing means it left."""

    def __init__(self, ws: WebSocket):
        self.left = self.spoke = False
        self._ws = ws
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        message = await self._ws.receive()
        self.left, self.spoke = message is None, message is not None
        self._ws.bell.ring()

    def stop(self) -> None:
        self._task.cancel()


async def _send_events(ws: WebSocket, subscription: Subscription, client: _Client) -> None:
    while not client.left:
        if client.spoke:
            await ws.close(POLICY_VIOLATION, "this stream takes no messages")
            return
        if await closed_by_server(ws):
            return
        if subscription.lagging:
            await ws.close(LAGGING, "lagging: reconnect with ?since=<the last seq received>")
            return
        if subscription.frames:
            await ws.send(subscription.frames.popleft())
            continue
        await ws.bell.wait()


def still_allowed(principal: auth.Principal) -> bool:
    """Signed out, password changed, removed from the company, role changed, API key revoked: the stream ends."""
    try:
        now = auth.current()
    except ApiError:
        return False
    return (now.company.id, now.role) == (principal.company.id, principal.role)
