"""Serving the app: one Hypercorn server on an asyncio loop in the main thread, for both listeners.

The plain HTTP listener (``http.host:port``, loopback by default) and the HTTPS one (``http.https_host:https_port``)
are two binds of the same server, serving the same ASGI application (gateway.py): the Flask app in a pool of
``http.request_threads`` threads, and the websockets (event streams, softphone relays) as coroutines on the loop,
so an open socket costs a file descriptor and a little memory, never a thread.

Slow and abusive clients are bounded by the server, the same way on both listeners: a request head (or a TLS
handshake) must arrive whole within ``http.header_timeout_seconds`` of connecting or of the previous response, and
may be at most MAX_HEAD bytes; any read may wait at most ``http.read_timeout_seconds`` (websockets are pinged every
PING_INTERVAL, so live clients always answer); a body must arrive within ``http.body_timeout_seconds`` (gateway.py);
websocket messages are at most MAX_MESSAGE bytes. HTTP/1.1 only is offered over TLS (HTTP/2 stays reachable by
prior knowledge, with its streams per connection capped). No Server header.

The controller is built once, in this process, by the factory the caller (cli, the composition root) hands to
``serve``: the web layer does not import the composition root. The server's loop is not the controller's (the
telephony loop thread owns AMI and ARI). SIGINT or SIGTERM: websockets are closed (1001), requests in flight get
GRACEFUL_SECONDS, then the controller stops.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import resource
import signal
import socket
import ssl
import sys
from typing import Awaitable, Callable, Protocol

from flask import Flask
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

from leadcenter.config import Settings
from leadcenter.web.gateway import Gateway
from leadcenter.web.tls import certificate_files

log = logging.getLogger(__name__)

PING_INTERVAL = 20.0  # seconds between pings on every websocket
GRACEFUL_SECONDS = 5.0  # how long requests in flight may finish when the server stops
# Then what is left is given this long: connections whose websocket has closed but whose ping timer has not woken
# (Hypercorn's pinger sleeps out its interval), and idle keep-alive connections.
LINGER_SECONDS = 0.5
MAX_HEAD = 32 * 1024  # request line and headers (an 8 KiB target, hardening.MAX_URI, and cookies fit)
MAX_MESSAGE = 64 * 1024  # a websocket message (a SIP INVITE with a WebRTC offer is a few kB)
H2_STREAMS = 32  # concurrent requests on one HTTP/2 connection
BACKLOG = 1024
# Objects allocated between two collections of the youngest generation (Python's default: 700); see serve().
GC_YOUNG_THRESHOLD = 10_000
# How long a thread computing keeps the GIL from the loop (Python's default: 5 ms); see serve().
SWITCH_INTERVAL = 0.0005


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound now: a port in use fails before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


class _NoCompression(PerMessageDeflate):
    """Declines permessage-deflate, which browsers always offer. With it, every socket keeps a compressor (the
    server's RSS grew by about 170 KiB per idle visitor socket against 64 KiB without) and every frame is deflated
    again for every socket it goes to: an event fanned out to 50 agents' streams was compressed 50 times, a third of
    the loop's time with 500 visitors chatting (bench chat, docs/benchmarks.md). The frames are small JSON."""

    def accept(self, offer: str) -> None:
        return None


# Hypercorn offers no setting for it: the extensions a websocket accepts are the ones it names in ws_stream.
ws_stream.PerMessageDeflate = _NoCompression  # type: ignore[misc]


class WebServer:
    def __init__(self, settings: Settings, app: Flask, plain: socket.socket, secure: socket.socket | None = None):
        http = settings.http
        self.gateway = Gateway(app, http.request_threads, http.body_timeout_seconds, http.proxy_networks())
        self.addresses = {"http": plain.getsockname()[:2], "https": secure.getsockname()[:2] if secure else None}
        config = Config()
        # Hypercorn owns the sockets from here (fd:// binds; the Python objects let go of them).
        config.insecure_bind = [f"fd://{plain.detach()}"]
        if secure is not None:
            certificate, key = certificate_files(settings)
            config.certfile, config.keyfile = str(certificate), str(key)
            config.bind = [f"fd://{secure.detach()}"]
            config.alpn_protocols = ["http/1.1"]
        else:
            config.bind = config.insecure_bind
            config.insecure_bind = []
        config.keep_alive_timeout = http.header_timeout_seconds
        config.ssl_handshake_timeout = http.header_timeout_seconds
        config.read_timeout = http.read_timeout_seconds
        config.h11_max_incomplete_size = MAX_HEAD
        config.h2_max_concurrent_streams = H2_STREAMS
        config.h2_max_header_list_size = MAX_HEAD
        config.websocket_max_message_size = MAX_MESSAGE
        config.websocket_ping_interval = PING_INTERVAL
        config.graceful_timeout = LINGER_SECONDS
        config.backlog = BACKLOG
        config.include_server_header = False
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        self.config = config

    async def serve(self, stopped: Callable[[], Awaitable]) -> None:
        """Serve until ``stopped()`` returns; then close the websockets and let requests in flight finish."""
        async def shutdown_trigger():
            await stopped()
            await self.gateway.shut_down(GRACEFUL_SECONDS)

        asyncio.get_running_loop().set_exception_handler(_quiet_tls_errors)
        await hypercorn_serve(self.gateway, self.config, shutdown_trigger=shutdown_trigger, mode="asgi")

    async def serve_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await self.serve(stop.wait)


def _quiet_tls_errors(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """A client that breaks off TLS (a failed handshake, data after close_notify) is no error of ours: Hypercorn's
    own runner drops these too."""
    if not isinstance(context.get("exception"), ssl.SSLError):
        loop.default_exception_handler(context)


class Served(Protocol):
    """What the server needs of the controller: its app, and to start and stop it."""

    web: Flask

    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve(settings: Settings, build_controller: Callable[[Settings], Served]) -> None:
    """Bind the listeners, build the controller and serve until Ctrl-C or SIGTERM; then stop everything."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # until the loop runs: stop, don't die
    try:
        http = settings.http
        plain = listen(http.host, http.port)
        secure = listen(http.https_host, http.https_port) if http.https_port else None
        _allow_open_files(http.websockets_max + http.visitor_sockets_max)
        controller = build_controller(settings)
        controller.start()
        # A full collection stops every thread while it walks every live container: with 500 visitor sockets open
        # about 200,000, 100-900 ms on the 2-core bench machine, every few seconds under chat traffic, each pause
        # seen by every chat message and ringing call (bench chat). Collecting the young generation less often lets
        # the objects of a request or an event die young rather than be promoted: no full collection in that run.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        # The loop gives up the GIL at every send (one per frame and socket: a chat message is about 100 frames on
        # the agents' streams) and, while a request thread or the dispatcher computes, waited up to the switch
        # interval to get it back (cProfile: 123 us a loopback send). A shorter interval hands it back sooner.
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            server = WebServer(settings, controller.web, plain, secure)
            # What start-up built (modules, the app, the models) lives as long as the process: out of the
            # collector's sight, a full collection walks only what serving made.
            gc.freeze()
            asyncio.run(server.serve_until_signalled())
        finally:
            controller.stop()
    except KeyboardInterrupt:
        pass


def _allow_open_files(websockets: int) -> None:
    """Every websocket is a file descriptor (a relay two): raise the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < 2 * websockets + 256:
        log.warning("open files are limited to %s: fewer than http.websockets_max (%s) websockets may open",
                    hard, websockets)
