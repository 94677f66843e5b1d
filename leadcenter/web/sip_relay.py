"""The browser softphone's SIP over WebSocket, relayed from the app's own origin to Asterisk's /ws.

Why a relay: browsers grant the microphone only to secure origins, so agents on other machines use the app over
HTTPS, and a page served over HTTPS may only open wss:// websockets. Relaying SIP through the app gives the
softphone the app's origin, certificate and port; Asterisk's HTTP server (ARI, /ws) stays on loopback.

Who may open it: the app's own pages (Origin checked before the upgrade, as for the event stream), signed in as an
agent with a softphone; otherwise the socket is closed with 4401 before anything reaches Asterisk. Asterisk still
authenticates every REGISTER and INVITE with the agent's SIP password. Like the event stream, a relay ends about
RECHECK_SECONDS after its session ended (sign-out elsewhere, removal from the company; stream.SessionWatch).

Which Asterisk: the agent's company's home node when Kamailio is in front of several (config.company_asterisks: its
queues ring the agents registered there), else the next node that takes the connection (its standby, where Kamailio
sends the company's calls meanwhile); a relay to a standby is closed once the home node takes connections again and
the agent is on no call, so that the softphone registers at home again (JsSIP reconnects by itself).

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
from leadcenter.config import AsteriskLink, Settings, company_asterisks
from leadcenter.errors import ApiError
from leadcenter.interactions.models import Interaction
from leadcenter.web import auth, stream
from leadcenter.web.capacity import Capacity
from leadcenter.web.gateway import WebSocket, handshake

log = logging.getLogger(__name__)

PATH = "/sip"
MAX_MESSAGE = 64 * 1024  # an INVITE with a WebRTC offer is a few kB (the server refuses larger messages too)
CONNECT_TIMEOUT = 5.0
NO_SOFTPHONE = 4403
ASTERISK_UNREACHABLE = 1011
HOME_AGAIN = 1012  # "service restart": the softphone reconnects, to the home node
HOME_CHECK_SECONDS = 10.0  # how often a relay to a standby node asks whether the home node is back


def install(app: Flask, controller, capacity: Capacity) -> None:
    allowed = stream.allowed_origins(controller.settings.http)
    settings = controller.settings
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
        return upgrade.accept(functools.partial(_relay, capacity, app.extensions["websocket_sessions"], settings,
                                                principal), subprotocol="sip")

    app.register_blueprint(bp)


async def _relay(capacity: Capacity, sessions: stream.SessionWatch, settings: Settings,
                 principal: auth.Principal, ws: WebSocket) -> None:
    agent = principal.agent
    assert agent is not None, "the handshake refuses a principal without a softphone"
    hold = await stream.hold_place(capacity, principal, ws, "softphone relay")
    if hold is None:
        return
    sessions.watch(ws, principal)
    try:
        asterisks = company_asterisks(settings, agent.company_id)
        connected = await _connect(asterisks, agent.id)
        if connected is None:
            await ws.close(ASTERISK_UNREACHABLE, "asterisk-unreachable")
            return
        upstream, link = connected
        async with upstream:
            await _pass_messages(ws, upstream, agent, home=asterisks[0] if link != asterisks[0] else None)
    finally:
        sessions.forget(ws)
        capacity.release(hold)


async def _connect(asterisks: tuple[AsteriskLink, ...], agent_id: int):
    """The SIP websocket of the first of ``asterisks`` that takes it, and which; None when none does."""
    for link in asterisks:
        try:
            upstream = await connect(_ws_url(link), subprotocols=[Subprotocol("sip")], open_timeout=CONNECT_TIMEOUT,
                                     max_size=MAX_MESSAGE, compression=None, proxy=None)
            return upstream, link
        except (OSError, WebSocketException, TimeoutError) as exc:
            log.warning("softphone relay of agent %s: Asterisk %s unreachable: %s", agent_id, link.node, exc)
    return None


def _ws_url(link: AsteriskLink) -> str:
    host = f"[{link.host}]" if ":" in link.host else link.host
    return f"ws://{host}:{link.http_port}/ws"


async def _home_again(home: AsteriskLink, agent_id: int) -> None:
    """Returns once the home node takes connections again and the agent is on no call (theirs would drop)."""
    while True:
        await asyncio.sleep(HOME_CHECK_SECONDS)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(home.host, home.http_port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            continue
        writer.close()
        if not await asyncio.to_thread(_on_a_call, agent_id):
            return


def _on_a_call(agent_id: int) -> bool:
    return Interaction.select().where(
        Interaction.agent == agent_id, Interaction.status == "active", Interaction.kind == "call").exists()


async def _pass_messages(ws: WebSocket, upstream, agent: Agent, home: AsteriskLink | None = None) -> None:
    """Until either side ends it; with ``home`` (the relay is to a standby node), until that node is back."""
    async def to_asterisk() -> None:
        while (message := await ws.receive()) is not None:
            await upstream.send(message)

    async def to_browser() -> None:
        async for message in upstream:
            await ws.send(message)

    pumps = [asyncio.create_task(to_asterisk()), asyncio.create_task(to_browser())]
    if home is not None:
        pumps.append(asyncio.create_task(_home_again(home, agent.id)))
    for pump in pumps:
        pump.add_done_callback(lambda _: ws.bell.ring())
    try:
        while True:
            if pumps[0].done():  # the browser left (or Asterisk stopped taking messages)
                return
            if pumps[1].done():  # Asterisk ended it: tell the softphone, which reconnects
                await ws.close(1000, "")
                return
            if home is not None and pumps[2].done():
                log.info("softphone relay of agent %s: the home node is back: reconnecting there", agent.id)
                await ws.close(HOME_AGAIN, "home-node-back")
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
