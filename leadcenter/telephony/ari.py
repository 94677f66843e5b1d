"""A small asyncio ARI client: REST calls over httpx and the event WebSocket, reconnecting with backoff.

(PyPI's ari-py is Python 2 only.) Events are handed to ``on_event`` as decoded JSON dicts in arrival order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable

import httpx
import websockets
from websockets.asyncio.client import connect

from leadcenter.telephony.backoff import Backoff

log = logging.getLogger(__name__)


class AriError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AriClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        app: str,
        on_event: Callable[[dict], None],
        on_ready: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
    ):
        self._base = f"http://{host}:{port}/ari"
        self._ws_url = f"ws://{host}:{port}/ari/events?app={app}&subscribeAll=false"
        self._auth = (username, password)
        self.app = app
        self._on_event = on_event
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task | None = None
        self.ready = False

    async def start(self) -> None:
        self._http = httpx.AsyncClient(base_url=self._base, auth=self._auth, timeout=10.0)
        self._task = asyncio.create_task(self._events(), name="ari-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
        self.ready = False

    async def _events(self) -> None:
        backoff = Backoff()
        headers = {"Authorization": "Basic " + base64.b64encode(":".join(self._auth).encode()).decode()}
        while True:
            try:
                async with connect(
                    self._ws_url,
                    additional_headers=headers,
                    open_timeout=5,
                    ping_interval=10,
                    ping_timeout=10,
                    max_size=2**22,
                ) as ws:
                    backoff.reset()
                    self.ready = True
                    log.info("ARI event stream connected (app %s)", self.app)
                    self._ready_task = asyncio.ensure_future(self._on_ready())  # held: the loop keeps only a weak one
                    async for message in ws:
                        self._on_event(json.loads(message))
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                if self.ready:
                    log.warning("ARI event stream lost: %s", exc)
            finally:
                if self.ready:
                    self.ready = False
                    self._on_lost()
            await asyncio.sleep(backoff.next())

    async def request(self, method: str, path: str, json: dict | None = None, **params):
        """One REST call; returns the decoded JSON (None for 204) or raises AriError."""
        if self._http is None:
            raise AriError("ARI client not started")
        try:
            response = await self._http.request(
                method, path, params={k: v for k, v in params.items() if v is not None}, json=json
            )
        except httpx.HTTPError as exc:
            raise AriError(f"ARI {method} {path}: {exc}") from None
        if response.status_code >= 400:
            raise AriError(f"ARI {method} {path}: {response.status_code} {response.text.strip()}", response.status_code)
        return response.json() if response.content else None
