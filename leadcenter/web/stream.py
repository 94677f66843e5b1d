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

Scope: only domain events whose data carries ``company_id`` are sent, and only to that company's streams. The
telephony layer's own events (``telephony.*``, ``call.*``, ``queue_member.*``: channels, raw caller IDs) never are:
clients learn about calls from the ``interaction.*`` events the call recorder publishes. Every role sees all of its company's events, except that an agent's stream skips
events whose data has ``for_agents`` (a list of agent ids) not naming them: a new incoming call goes to the agents
of its call flow, a Decline to the agent who declined.

Delivery: the hub subscribes to every event on the bus. On the dispatcher thread it encodes each event once and
puts it, without waiting, in each stream's bounded queue; a stream whose queue is full is lagging: it gets no more
events and is closed with 4008, and its client reconnects with ``since``. So a slow or dead client never delays the
dispatcher or the other streams. Each stream's own thread sends from its queue; a send that cannot complete within
SEND_TIMEOUT ends the stream, and pings every PING_INTERVAL find peers that vanished without closing.

Threads: each open stream holds one web thread for its whole life (gunicorn's gthread worker has ``http.threads``,
256 by default), and so does each softphone's SIP relay (sip_relay.py). At most ``threads - REQUEST_THREADS``
streams and relays together are open at once (more are closed with 1013, try again later), so that API requests
always find a thread.

Close codes: 4401 not signed in, no company picked or a bad API key (the reason is the REST error id:
``not-signed-in``, ``company-not-selected``, ``invalid-api-key``), or, within RECHECK_SECONDS, the session was
signed out or the key revoked, or the user's role or membership changed (reason ``session-ended``); 4008 lagging, reconnect with since; 1013 too many
streams, retry later; 1008 the client sent a message (the stream is one-way).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import queue
import re
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request
from flask_sock import Sock

from leadcenter.clock import Clock, system
from leadcenter.config import HttpSettings
from leadcenter.events import Event
from leadcenter.web import auth
from leadcenter.web.api import ApiError, invalid, utc_iso

# Events of the telephony layer, for the controller's own services only.
TELEPHONY_EVENTS = ("telephony.", "call.", "queue_member.")
log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1000  # events waiting for one stream's thread before the stream counts as lagging
REPLAY_BUFFER_SIZE = 5000  # the last events kept, all companies together, for reconnecting clients
REQUEST_THREADS = 16  # web threads kept free of streams for API requests
PING_INTERVAL = 25.0  # seconds
SEND_TIMEOUT = 10.0  # seconds a send may wait for the client to make room
POLL_SECONDS = 0.5  # how often an idle stream's thread looks whether its socket closed
# How often an open stream checks that its session or API key is still good (sign-out elsewhere, revocation).
RECHECK_SECONDS = 5.0
CLOSE_TIMEOUT = 2.0  # seconds a closing stream waits for the client to answer its close

LAGGING = 4008
NOT_AUTHENTICATED = 4401
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008

_SEQ = re.compile(r"[0-9]{1,18}")


def _json_value(value):
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    # An event that cannot be encoded would be lost to every client; its text is better than nothing.
    return str(value)


def encode(seq: int, name: str, data: dict, at: dt.datetime) -> str:
    return json.dumps({"seq": seq, "event": name, "data": data, "at": utc_iso(at)},
                      default=_json_value, separators=(",", ":"))


@dataclass(frozen=True)
class Frame:
    """An event as the streams send it, with what decides who gets it."""
    seq: int
    company_id: int
    for_agents: frozenset[int] | None  # None: every stream of the company
    text: str


class Subscription:
    """One open stream: whose it is, and the frames waiting for its thread."""

    def __init__(self, company_id: int, role: str, agent_id: int | None, queue_size: int):
        self.company_id, self.role, self.agent_id = company_id, role, agent_id
        self.frames: queue.Queue[str] = queue.Queue(queue_size)
        self.lagging = False

    def wants(self, frame: Frame) -> bool:
        if frame.company_id != self.company_id:
            return False
        return frame.for_agents is None or self.role != "agent" or self.agent_id in frame.for_agents

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; False (and lagging from now on) when the queue is full."""
        try:
            self.frames.put_nowait(text)
            return True
        except queue.Full:
            self.lagging = True
            return False


class TooManyStreams(Exception):
    pass


class Hub:
    """Fans the bus's events out to the open streams and keeps the recent ones for reconnecting clients.

    One lock guards the buffer, the last seq seen and the set of subscriptions: a stream is registered under the
    same lock its replay is read under, so every event is either in its replay or in its queue, never both.
    """

    def __init__(self, queue_size: int = CLIENT_QUEUE_SIZE, buffer_size: int = REPLAY_BUFFER_SIZE,
                 max_streams: int = HttpSettings.threads - REQUEST_THREADS, clock: Clock = system):
        self.clock = clock
        self.queue_size, self.buffer_size, self.max_streams = queue_size, buffer_size, max_streams
        self.stream_id = secrets.token_hex(8)  # tells a reconnecting client whether its seq is from this run
        self._lock = threading.Lock()
        self._buffer: deque[Frame] = deque()
        self._evicted_through: dict[int, int] = {}  # company id -> the highest seq of theirs dropped from the buffer
        self._seq = 0  # the last event this hub has seen
        self._subscriptions: set[Subscription] = set()
        self._relays = 0  # softphone SIP relays (sip_relay.py): they hold web threads too

    def fan_out(self, event: Event) -> None:
        """The bus subscriber (dispatcher thread): never waits on a client."""
        company_id = event.data.get("company_id")
        if company_id is None or event.name.startswith(TELEPHONY_EVENTS):
            with self._lock:
                self._seq = event.seq
            return
        audience = event.data.get("for_agents")
        frame = Frame(event.seq, company_id, None if audience is None else frozenset(audience),
                      encode(event.seq, event.name, event.data, event.at))
        with self._lock:
            self._seq = event.seq
            if len(self._buffer) >= self.buffer_size:
                evicted = self._buffer.popleft()
                self._evicted_through[evicted.company_id] = evicted.seq
            self._buffer.append(frame)
            lagging = [s for s in self._subscriptions if s.wants(frame) and not s.offer(frame.text)]
            self._subscriptions.difference_update(lagging)
        for subscription in lagging:
            log.warning("an event stream of company %s (%s) is lagging: closing it", subscription.company_id,
                        subscription.role)

    def attach(self, company_id: int, role: str, agent_id: int | None, since: int | None = None,
               stream_id: str | None = None) -> tuple[Subscription, list[str]]:
        """Register a stream; returns it with the frames to send before its queue: hello, then the replay after
        ``since`` or a reset."""
        subscription = Subscription(company_id, role, agent_id, self.queue_size)
        now = self.clock()
        with self._lock:
            if len(self._subscriptions) + self._relays >= self.max_streams:
                raise TooManyStreams(f"{len(self._subscriptions)} streams and {self._relays} relays are open")
            hello = {"seq": self._seq, "company_id": company_id, "role": role, "stream": self.stream_id}
            opening = [encode(self._seq if since is None else since, "stream.hello", hello, now)]
            if since is not None:
                reason = self._cannot_replay(company_id, since, stream_id)
                if reason:
                    opening.append(encode(self._seq, "stream.reset",
                                          {"seq": self._seq, "stream": self.stream_id, "reason": reason}, now))
                else:
                    opening.extend(f.text for f in self._buffer if f.seq > since and subscription.wants(f))
            self._subscriptions.add(subscription)
        return subscription, opening

    def _cannot_replay(self, company_id: int, since: int, stream_id: str | None) -> str | None:
        if (stream_id is not None and stream_id != self.stream_id) or since > self._seq:
            return "the controller restarted since"
        if self._evicted_through.get(company_id, 0) > since:
            return "events after since are no longer buffered"
        return None

    def detach(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @contextlib.contextmanager
    def holding_thread(self):
        """For another long-lived websocket (a SIP relay): counted with the streams against ``max_streams``."""
        with self._lock:
            if len(self._subscriptions) + self._relays >= self.max_streams:
                raise TooManyStreams(f"{len(self._subscriptions)} streams and {self._relays} relays are open")
            self._relays += 1
        try:
            yield
        finally:
            with self._lock:
                self._relays -= 1

    def streams(self) -> int:
        with self._lock:
            return len(self._subscriptions)


def install(app: Flask, controller) -> Hub:
    """Serve the stream on ``app`` from ``controller.bus``'s events."""
    settings = controller.settings.http
    hub = Hub(CLIENT_QUEUE_SIZE, REPLAY_BUFFER_SIZE, max(1, settings.threads - REQUEST_THREADS), controller.clock)
    controller.bus.subscribe("*", hub.fan_out)
    app.extensions["event_stream"] = hub
    # The ping also makes SEND_TIMEOUT safe: with a ping interval simple_websocket's reader thread waits in
    # select() and only reads a readable socket, so the socket timeout never cuts an idle but healthy stream.
    # The same options serve the softphone's SIP relay (sip_relay.py): it needs the "sip" subprotocol and room
    # for an INVITE with a WebRTC offer; this stream takes no messages at all, whatever their size.
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": PING_INTERVAL, "max_message_size": 64 * 1024,
                                         "subprotocols": ["sip"]}
    allowed = allowed_origins(settings)

    bp = Blueprint("events", __name__, url_prefix="/api/v1")
    bp.before_request(lambda: _admit(allowed))
    Sock(app).route("/events", bp=bp)(_serve)
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
            raise ApiError(403, "origin-required", "a browser must send Origin; other clients use an API key")
    elif _origin(origin) not in allowed | {_origin(request.host_url)}:
        raise ApiError(403, "origin-not-allowed", f"pages from {origin} may not open {what} "
                                                  "(see http.allowed_origins)")


def _admit(allowed: set[str]) -> None:
    """Before the upgrade: the Origin and the query (the identity comes after, with a close code)."""
    check_origin(allowed, "the event stream")
    since = request.args.get("since")
    if since is not None and not _SEQ.fullmatch(since):
        raise invalid({"since": "the seq of the last event received, a whole number"})


def _serve(ws) -> None:
    hub: Hub = current_app.extensions["event_stream"]
    ws.sock.settimeout(SEND_TIMEOUT)
    try:
        principal = auth.current()
    except ApiError as refused:
        close(ws, NOT_AUTHENTICATED, refused.error)
        return
    since = request.args.get("since")
    try:
        subscription, opening = hub.attach(principal.company.id, principal.role,
                                           principal.agent.id if principal.agent else None,
                                           int(since) if since is not None else None, request.args.get("stream"))
    except TooManyStreams as full:
        log.warning("event stream refused: %s", full)
        close(ws, TRY_AGAIN_LATER, "too many event streams are open; retry later")
        return
    checked = time.monotonic()
    try:
        for text in opening:
            ws.send(text)
        while ws.connected:
            if time.monotonic() - checked > RECHECK_SECONDS:
                if not still_allowed(principal):
                    close(ws, NOT_AUTHENTICATED, "session-ended")
                    return
                checked = time.monotonic()
            if ws.receive(timeout=0) is not None:
                close(ws, POLICY_VIOLATION, "this stream takes no messages")
                return
            try:
                text = subscription.frames.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if subscription.lagging:
                close(ws, LAGGING, "lagging: reconnect with ?since=<the last seq received>")
                return
            ws.send(text)
    except OSError as exc:  # the send timed out or the connection broke: nobody is listening any more
        log.info("event stream of company %s ended: %r", subscription.company_id, exc)
        _end(ws)
    finally:
        hub.detach(subscription)


def still_allowed(principal: auth.Principal) -> bool:
    """Signed out, password changed, removed from the company, role changed, API key revoked: the stream ends."""
    try:
        now = auth.current()
    except ApiError:
        return False
    return (now.company.id, now.role) == (principal.company.id, principal.role)


def close(ws, code: int, reason: str) -> None:
    """Send a close code the client can read, give the client CLOSE_TIMEOUT to answer, then end the connection."""
    try:
        ws.close(code, reason)
    except OSError:
        pass
    ws.thread.join(CLOSE_TIMEOUT)  # simple_websocket's reader thread ends once it has read the client's answer
    _end(ws)


def _end(ws) -> None:
    """Shut the socket down, so the client sees the end now and the server's leftover reads return at once.

    Servers do not all close the socket as soon as the handler returns: werkzeug's (tests, development) first reads
    what the client sent, until the client closes, while the client waits for the server to close first.
    """
    try:
        ws.sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass
