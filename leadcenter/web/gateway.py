"""The ASGI application the server runs: the Flask app (WSGI) in a bounded pool of threads, websockets on the loop.

HTTP requests: the body is read on the event loop, so a slow upload holds no thread: at most MAX_BODY bytes, within
``http.body_timeout_seconds`` plus a second for every MIN_BODY_RATE bytes received (a large upload on a slow line
gets through, a trickle does not), spooled to a temporary file past SPOOL_BYTES. Then the Flask app runs in one of
``http.request_threads`` threads; its response goes back in chunks of up to CHUNK_BYTES, each handed to the loop
and waited for, so a slow reader of a long export holds its thread while the socket takes the data, for at most
SEND_TIMEOUT a chunk, and a client that leaves stops the export. What the gateway refuses (a body too large or
too slow) it tells the Flask app in the environ, which answers with the API's JSON error (hardening.py).

Websockets: the handshake is an ordinary request to the Flask app, so the Origin, the query and the identity are
checked, and refusals answered, by the same code and with the same JSON errors and headers as the rest of the
API. The view decides with the request's ``Upgrade`` (``handshake()``): ``accept(run)``, then ``run(socket)``
serves the socket as a coroutine on the loop (no thread is held while it is open), or ``refuse(code, reason)``:
accepted and closed at once with a close code, which a page can read (it cannot read a refused upgrade's status).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import ipaddress
import logging
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, request

from leadcenter.config import IPNetwork

from leadcenter.errors import ApiError
from leadcenter.web.api import UPLOAD_BYTES

log = logging.getLogger(__name__)

MAX_BODY = UPLOAD_BYTES  # the largest body any endpoint takes (a greeting's WAV); the app limits each endpoint
SPOOL_BYTES = 1024 * 1024  # a body larger than this waits in a temporary file, not in memory
MIN_BODY_RATE = 32 * 1024  # bytes a second: each earns a slow upload more time (256 kbit/s, a poor uplink)
CHUNK_BYTES = 64 * 1024  # response bytes handed to the loop at once
SEND_TIMEOUT = 10.0  # seconds a client may take to accept a response chunk or a websocket frame

# What the gateway tells the Flask app in the environ (hardening.py turns it into the JSON error).
BODY_REFUSED = "leadcenter.body_refused"  # "too-large" or "too-slow"
UPGRADE = "leadcenter.upgrade"  # the Upgrade of a websocket handshake


# -- the Flask side of a websocket handshake ---------------------------------------------------------------------

Handler = Callable[["WebSocket"], Awaitable[None]]


@dataclass
class Upgrade:
    """A websocket handshake, as the Flask view decides it."""
    offered: list[str] = field(default_factory=list)  # the subprotocols the client asked for
    run: Handler | None = None
    subprotocol: str | None = None

    def accept(self, run: Handler, subprotocol: str | None = None) -> Response:
        self.run = run
        self.subprotocol = subprotocol if subprotocol in self.offered else None
        return Response(status=204)  # never sent: the gateway upgrades instead

    def refuse(self, code: int, reason: str) -> Response:
        """Accept, then close at once with ``code``."""
        return self.accept(_closed_at_once(code, reason), None)


def _closed_at_once(code: int, reason: str) -> Handler:
    async def close(ws: WebSocket) -> None:
        await ws.close(code, reason)
    return close


def handshake() -> Upgrade:
    """The Upgrade of this request; a plain HTTP request to a websocket's path gets 426."""
    upgrade = request.environ.get(UPGRADE)
    if upgrade is None:
        raise ApiError("websocket-required", "this is a websocket: open it with an Upgrade: websocket request",
                       headers={"Upgrade": "websocket"})
    return upgrade


# -- the loop side ------------------------------------------------------------------------------------------------

class Bell:
    """Wakes a coroutine on ``loop`` from any thread. A ring before the wait is not lost, and any number of rings
    before the coroutine runs cost one wake-up (one call_soon_threadsafe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._event = asyncio.Event()
        self._pending = False

    def ring(self) -> None:
        if self._pending:
            return
        self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass

    def _deliver(self) -> None:
        self._pending = False
        self._event.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Until a ring, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        self._event.clear()


class WebSocket:
    """An accepted websocket, for its handler (a coroutine on the loop). ``environ`` is its handshake's.

    Whatever needs the handler's attention rings ``bell``: frames from another thread, ``reclaim()`` (the capacity
    rules took its place, capacity.py), ``end_session()`` (its session or key is no longer good) and the server
    shutting down (``closing``)."""

    def __init__(self, receive, send, gateway: Gateway, environ: dict):
        self._receive, self._send, self._gateway, self.environ = receive, send, gateway, environ
        self.bell = Bell(asyncio.get_running_loop())
        self.reclaimed = self.session_ended = self.closing = False

    def reclaim(self) -> None:
        """Any thread: the handler is to close with 1013 (try again later)."""
        self.reclaimed = True
        self.bell.ring()

    def end_session(self) -> None:
        """The handler is to close with 4401 (session ended)."""
        self.session_ended = True
        self.bell.ring()

    def shut_down(self) -> None:
        self.closing = True
        self.bell.ring()

    async def receive(self) -> str | bytes | None:
        """The client's next message; None once it has gone."""
        message = await self._receive()
        if message["type"] == "websocket.receive":
            return message["text"] if message.get("text") is not None else message.get("bytes", b"")
        return None

    async def send(self, message: str | bytes) -> None:
        """Raises TimeoutError when the client does not take it within SEND_TIMEOUT (it stopped reading)."""
        async with asyncio.timeout(SEND_TIMEOUT):
            await self._send({"type": "websocket.send", "bytes": message} if isinstance(message, bytes)
                             else {"type": "websocket.send", "text": message})

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SEND_TIMEOUT):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def in_thread(self, function: Callable, *args):
        """Run blocking work (the database) in a request thread."""
        return await self._gateway.in_thread(function, *args)


def client_address(peer: str, forwarded_for: str | None, proxies: tuple[IPNetwork, ...]) -> str:
    """Who the request is from: the TCP peer, or, when the peer is a trusted proxy, the last X-Forwarded-For address
    that is not itself a trusted proxy (each proxy appends the address it got the request from; what comes before
    the first trusted hop is the client's own writing, so it is read from the right)."""
    hops = [hop.strip() for hop in (forwarded_for or "").split(",")] if proxies and _within(peer, proxies) else []
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage (or an obfuscated name): the last good address is the client
        address = hop
        if not _within(hop, proxies):
            break
    return address


def _within(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class Gateway:
    def __init__(
        self, app: Flask, request_threads: int, body_timeout: float, proxies: tuple[IPNetwork, ...] = ()
    ):
        self.app = app
        self.body_timeout = body_timeout
        self.proxies = proxies  # trusted reverse proxies: their requests count for the client they forward
        self.pool = concurrent.futures.ThreadPoolExecutor(request_threads, thread_name_prefix="web")
        self._sockets: set[WebSocket] = set()
        self._active = 0  # requests and websockets being served
        self._idle = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        self._active += 1
        self._idle.clear()
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            elif scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def shut_down(self, timeout: float) -> None:
        """On the loop, when the server stops: every open websocket's handler closes it (1001, going away); then
        wait, at most ``timeout`` seconds, for them and the requests in flight to finish."""
        for ws in list(self._sockets):
            ws.shut_down()
        if self._active:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._idle.wait()

    def websockets(self) -> int:
        return len(self._sockets)

    async def in_thread(self, function: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)

    # -- HTTP ------------------------------------------------------------------------------------------------------

    async def _http(self, scope, receive, send) -> None:
        body = await self._read_body(scope, receive)
        if body is None:  # the client left before its request was complete
            return
        environ = _environ(scope, *body, self.proxies)
        gone = asyncio.Event()

        async def watch() -> None:  # the client hangs up: the response (an export) stops at its next chunk
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.pool, self._respond, environ, send, asyncio.get_running_loop(), gone)
        except ClientGone:
            log.debug("%s %s: the client stopped reading or left", scope["method"], scope["path"])
        finally:
            watcher.cancel()
            body[0].close()

    async def _read_body(self, scope, receive) -> tuple[io.IOBase, int, str | None] | None:
        """The body (a file), its length and what is wrong with it; None when the client left."""
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            # Not read: the connection closes after the answer, so the rest is never looked at.
            return io.BytesIO(), 0, "too-large"
        body = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
        size, refused = 0, None
        began = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(began + self.body_timeout) as deadline:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        body.close()
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > MAX_BODY:
                        refused = "too-large"
                        break
                    body.write(chunk)
                    if not message.get("more_body"):
                        break
                    deadline.reschedule(began + self.body_timeout + size / MIN_BODY_RATE)
        except TimeoutError:
            refused = "too-slow"
        body.seek(0)
        return body, (0 if refused else size), refused

    def _respond(self, environ: dict, send, loop: asyncio.AbstractEventLoop, gone: asyncio.Event) -> None:
        """In a request thread: run the Flask app, hand its response to the loop chunk by chunk."""
        response: dict[str, Any] = {"head": None, "sent": False}

        def start_response(status: str, headers, exc_info=None):
            if exc_info is not None and response["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            response["head"] = {"type": "http.response.start", "status": int(status.split(" ", 1)[0]),
                                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]}
            return _no_write

        def deliver(body: bytes, more: bool) -> None:
            if gone.is_set():
                raise ClientGone()
            messages = [] if response["sent"] else [response["head"]]
            messages.append({"type": "http.response.body", "body": body, "more_body": more})
            future = asyncio.run_coroutine_threadsafe(_send_all(send, messages), loop)
            try:
                future.result(SEND_TIMEOUT)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise ClientGone() from None
            response["sent"] = True

        result = self.app(environ, start_response)
        try:
            pending, size = [], 0
            for chunk in result:
                pending.append(chunk)
                size += len(chunk)
                if size >= CHUNK_BYTES:
                    deliver(b"".join(pending), True)
                    pending, size = [], 0
            deliver(b"".join(pending), False)
        finally:
            if hasattr(result, "close"):
                result.close()

    # -- websockets --------------------------------------------------------------------------------------------------

    async def _websocket(self, scope, receive, send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        environ = _environ(scope, io.BytesIO(), 0, None, self.proxies)
        environ[UPGRADE] = upgrade = Upgrade(offered=list(scope.get("subprotocols") or ()))
        status, headers, body = await asyncio.get_running_loop().run_in_executor(self.pool, self._call, environ)
        if upgrade.run is None:  # refused before the upgrade (Origin, query, no such path): the app's answer
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        ws = WebSocket(receive, send, self, {k: v for k, v in environ.items() if k != UPGRADE})
        await send({"type": "websocket.accept", "subprotocol": upgrade.subprotocol})
        self._sockets.add(ws)
        try:
            await upgrade.run(ws)
        finally:
            self._sockets.discard(ws)

    def _call(self, environ: dict) -> tuple[int, list, bytes]:
        """In a request thread: the whole response of a (small) request."""
        head: list[Any] = []  # the status and the headers

        def start_response(status: str, headers, exc_info=None):
            head[:] = [int(status.split(" ", 1)[0]),
                       [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]]

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return head[0], head[1], body

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


class ClientGone(Exception):
    """The client left or stopped reading: the response is abandoned."""


def _no_write(data: bytes) -> None:
    raise NotImplementedError("return the body from the WSGI app; write() is not supported")


async def _send_all(send, messages: list[dict]) -> None:
    for message in messages:
        await send(message)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _environ(scope, body, length: int, refused: str | None, proxies: tuple[IPNetwork, ...] = ()) -> dict:
    """The WSGI environ of an ASGI request (PEP 3333: strings are latin-1 decoded bytes)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    forwarded = ",".join(value.decode("latin-1") for key, value in scope["headers"] if key == b"x-forwarded-for")
    address = client_address(str(client[0]), forwarded, proxies)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    environ = {
        "REQUEST_METHOD": scope.get("method", "GET"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": (raw_path + (b"?" + query if query else b"")).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": address,
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"]),
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if refused:
        environ[BODY_REFUSED] = refused
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if "_" in name or name in ("content-length", "transfer-encoding"):
            # X_Forwarded and X-Forwarded would both be HTTP_X_FORWARDED: refuse the ambiguity, as nginx does
            continue
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if key in environ:
            value = environ[key] + ("; " if name == "cookie" else ",") + value
        environ[key] = value
    return environ
