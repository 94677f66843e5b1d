"""The browser softphone's SIP over WebSocket, relayed from the app's own origin to Asterisk's /ws.

Why a relay: browsers grant the microphone only to secure origins, so agents on other machines use the app over
HTTPS, and a page served over HTTPS may only open wss:// websockets. Relaying SIP through the app gives the
softphone the app's origin, certificate and port; Asterisk's HTTP server (ARI, /ws) stays on loopback.

Who may open it: the app's own pages (Origin checked before the upgrade, as for the event stream), signed in as an
agent with a softphone; otherwise the socket is closed with 4401 before anything reaches Asterisk. Asterisk still
authenticates every REGISTER and INVITE with the agent's SIP password. Like the event stream, a relay ends about
RECHECK_SECONDS after its session ended (sign-out elsewhere, removal from the company; stream.SessionWatch).

A relay holds no thread: two coroutines on the web server's event loop pass messages each way, each waiting until
the other side takes it. Relays count with the event streams against the limits per principal, per company and for
the server (capacity.py); refused, the socket closes with 1013 and JsSIP reconnects later.
"""
from __future__ import annotations

import asyncio
import functools
import logging

from flask import Blueprint, Flask
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

from leadcenter.agents.models import Agent, SipCredential
from leadcenter.config import AsteriskSettings
from leadcenter.errors import ApiError
from leadcenter.web import auth, stream
from leadcenter.web.capacity import Capacity
from leadcenter.web.gateway import WebSocket, handshake

log = logging.getLogger(__name__)

PATH = "/sip"
MAX_MESSAGE = 64 * 1024  # an INVITE with a WebRTC offer is a few kB (the server refuses larger messages too)
CONNECT_TIMEOUT = 5.0
NO_SOFTPHONE = 4403
ASTERISK_UNREACHABLE = 1011


def install(app: Flask, controller, capacity: Capacity) -> None:
    allowed = stream.allowed_origins(controller.settings.http)
    asterisk = controller.settings.asterisk
    bp = Blueprint("sip_relay", __name__)

    @bp.get(PATH, websocket=True)
    def sip():
        """The handshake: the app's own Origin before the upgrade (403); a signed-in agent with a softphone after
        it (4401, 4403)."""
        stream.check_origin(allowed, "the softphone's SIP websocket", api_keys=False)
        upgrade = handshake()
        try:
            principal = auth.current()
        except ApiError as refused:
            return upgrade.refuse(stream.NOT_AUTHENTICATED, refused.error)
        if principal.agent is None or not principal.agent.sip_credentials.where(
                SipCredential.device == "webrtc", SipCredential.enabled).exists():
            return upgrade.refuse(NO_SOFTPHONE, "no-softphone")
        return upgrade.accept(functools.partial(_relay, capacity, app.extensions["websocket_sessions"], asterisk,
                                                principal), subprotocol="sip")

    app.register_blueprint(bp)


async def _relay(capacity: Capacity, sessions: stream.SessionWatch, asterisk: AsteriskSettings,
                 principal: auth.Principal, ws: WebSocket) -> None:
    agent = principal.agent
    assert agent is not None, "the handshake refuses a principal without a softphone"
    hold = await stream.hold_place(capacity, principal, ws, "softphone relay")
    if hold is None:
        return
    sessions.watch(ws, principal)
    try:
        try:
            upstream = await connect(f"ws://{asterisk.host}:{asterisk.http_port}/ws", subprotocols=[Subprotocol("sip")],
                                     open_timeout=CONNECT_TIMEOUT, max_size=MAX_MESSAGE, compression=None,
                                     proxy=None)
        except (OSError, WebSocketException, TimeoutError) as exc:
            log.warning("softphone relay of agent %s: Asterisk unreachable: %s", agent.id, exc)
            await ws.close(ASTERISK_UNREACHABLE, "asterisk-unreachable")
            return
        async with upstream:
            await _pass_messages(ws, upstream, agent)
    finally:
        sessions.forget(ws)
        capacity.release(hold)


async def _pass_messages(ws: WebSocket, upstream, agent: Agent) -> None:
    async def to_asterisk() -> None:
        while (message := await ws.receive()) is not None:
            await upstream.send(message)

    async def to_browser() -> None:
        async for message in upstream:
            await ws.send(message)

    pumps = [asyncio.create_task(to_asterisk()), asyncio.create_task(to_browser())]
    for pump in pumps:
        pump.add_done_callback(lambda _: ws.bell.ring())
    try:
        while True:
            if pumps[0].done():  # the browser left (or Asterisk stopped taking messages)
                return
            if pumps[1].done():  # Asterisk ended it: tell the softphone, which reconnects
                await ws.close(1000, "")
                return
            if await stream.closed_by_server(ws):
                return
            await ws.bell.wait()
    finally:
        for pump in pumps:
            pump.cancel()
        failures = [r for r in await asyncio.gather(*pumps, return_exceptions=True) if isinstance(r, Exception)]
        if failures:  # a broken connection or a message not taken in time
            log.info("softphone relay of agent %s ended: %r", agent.id, failures[0])
