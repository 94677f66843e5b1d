"""The browser softphone's SIP over WebSocket, relayed from the app's own origin to Asterisk's /ws.

Why a relay: browsers grant the microphone only to secure origins, so agents on other machines use the app over
HTTPS, and a page served over HTTPS may only open wss:// websockets. Relaying SIP through the app gives the
softphone the app's origin, certificate and port; Asterisk's HTTP server (ARI, /ws) stays on loopback.

Who may open it: the app's own pages (Origin checked before the upgrade, as for the event stream), signed in as an
agent with a softphone; otherwise the socket is closed with 4401 before anything reaches Asterisk. Asterisk still
authenticates every REGISTER and INVITE with the agent's SIP password. Like the event stream, a relay ends within
RECHECK_SECONDS of its session ending (sign-out elsewhere, removal from the company).

Each relay holds one web thread (the browser -> Asterisk direction), counted with the event streams against the
web threads they may take (stream.py), and one thread of its own (the way back).
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Flask, current_app
from flask_sock import Sock
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from leadcenter.agents.models import SipCredential
from leadcenter.web import auth, stream
from leadcenter.web.api import ApiError

log = logging.getLogger(__name__)

PATH = "/sip"
MAX_MESSAGE = 64 * 1024  # an INVITE with a WebRTC offer is a few kB
CONNECT_TIMEOUT = 5.0
NO_SOFTPHONE = 4403
ASTERISK_UNREACHABLE = 1011


def install(app: Flask, controller) -> None:
    allowed = stream.allowed_origins(controller.settings.http)
    bp = Blueprint("sip_relay", __name__)
    bp.before_request(lambda: stream.check_origin(allowed, "the softphone's SIP websocket", api_keys=False))
    Sock(app).route(PATH, bp=bp)(_relay)
    app.register_blueprint(bp)


def _relay(ws) -> None:
    try:
        principal = auth.current()
    except ApiError as refused:
        stream.close(ws, stream.NOT_AUTHENTICATED, refused.error)
        return
    if principal.agent is None or not principal.agent.sip_credentials.where(
            SipCredential.device == "webrtc", SipCredential.enabled).exists():
        stream.close(ws, NO_SOFTPHONE, "no-softphone")
        return
    try:
        with current_app.extensions["event_stream"].holding_thread():
            _relay_for(ws, principal)
    except stream.TooManyStreams as full:
        log.warning("softphone relay refused: %s", full)
        stream.close(ws, stream.TRY_AGAIN_LATER, "too many websockets are open; retry later")


def _relay_for(ws, principal: auth.Principal) -> None:
    settings = current_app.controller.settings.asterisk
    try:
        upstream = connect(f"ws://{settings.host}:{settings.http_port}/ws", subprotocols=["sip"],
                           open_timeout=CONNECT_TIMEOUT, max_size=MAX_MESSAGE, compression=None)
    except (OSError, WebSocketException) as exc:
        log.warning("softphone relay of agent %s: Asterisk unreachable: %s", principal.agent.id, exc)
        stream.close(ws, ASTERISK_UNREACHABLE, "asterisk-unreachable")
        return
    back = threading.Thread(target=_to_browser, args=(upstream, ws), daemon=True,
                            name=f"sip-relay-{principal.agent.id}")
    back.start()
    checked = time.monotonic()
    try:
        while ws.connected and back.is_alive():
            message = ws.receive(timeout=stream.POLL_SECONDS)
            if message is not None:
                upstream.send(message)
            if time.monotonic() - checked > stream.RECHECK_SECONDS:
                if not stream.still_allowed(principal):
                    stream.close(ws, stream.NOT_AUTHENTICATED, "session-ended")
                    return
                checked = time.monotonic()
    except (OSError, WebSocketException) as exc:
        log.info("softphone relay of agent %s ended: %r", principal.agent.id, exc)
    finally:
        upstream.close()
        back.join(CONNECT_TIMEOUT)
        if ws.connected:  # Asterisk ended it: tell the softphone, which reconnects
            stream.close(ws, 1000, "")


def _to_browser(upstream, ws) -> None:
    try:
        for message in upstream:
            ws.send(message)
    except (OSError, WebSocketException) as exc:
        log.info("softphone relay: the way back ended: %r", exc)
