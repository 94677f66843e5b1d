"""AMI over panoramisk, with our reconnect backoff, action time-outs and a connected/ready state.

panoramisk keeps retrying the TCP connection by itself and logs in again after each connect; we turn its
fixed retry delay into a backoff and report "ready" only after login, when actions can be sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from panoramisk import Manager
from panoramisk.message import Message

from leadcenter.telephony.backoff import Backoff

log = logging.getLogger(__name__)


class AmiError(RuntimeError):
    pass


class _Manager(Manager):
    backoff: Backoff

    def connection_made(self, f):
        if f.exception() is not None:
            self.reconnect_timeout = self.backoff.next()
        super().connection_made(f)

    def connection_lost(self, exc):
        self.reconnect_timeout = self.backoff.next()
        super().connection_lost(exc)


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: Callable[[Message], None],
        on_ready: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
    ):
        self._config = dict(host=host, port=port, username=username, secret=secret)
        self._on_event = on_event
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._manager: _Manager | None = None
        self.ready = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff()
        self._manager = _Manager(
            loop=loop,
            ping_delay=5,
            ping_interval=5,
            reconnect_timeout=0,
            on_login=self._logged_in,
            on_disconnect=self._disconnected,
            log=logging.getLogger("leadcenter.telephony.ami.panoramisk"),
            events="on",
            **self._config,
        )
        self._manager.backoff = backoff
        self._manager.register_event("*", lambda manager, message: self._on_event(message))
        self._manager.connect()

    def stop(self) -> None:
        if self._manager is not None:
            # No reconnect once we close on purpose: this instance's handler is replaced.
            self._manager.connection_lost = lambda exc: None  # type: ignore[method-assign]
            self._manager.close()
            self.ready = False

    def _logged_in(self, manager: _Manager) -> None:
        manager.backoff.reset()
        self.ready = True
        log.info("AMI logged in")
        self._ready_task = asyncio.ensure_future(self._on_ready())  # held: the loop keeps only a weak reference

    def _disconnected(self, manager: _Manager, exc) -> None:
        if self.ready:
            log.warning("AMI connection lost")
        self.ready = False
        self._on_lost()

    async def action(self, action: dict, as_list: bool = False, timeout: float = 10.0):
        """Send an action; returns its response (or all its messages with as_list); raises AmiError."""
        if not self.ready or self._manager is None:
            raise AmiError(f"AMI not connected (action {action.get('Action')})")
        try:
            response = await asyncio.wait_for(self._manager.send_action(dict(action), as_list=as_list), timeout)
        except TimeoutError:
            raise AmiError(f"AMI action {action.get('Action')} timed out after {timeout} s") from None
        first = response[0] if isinstance(response, list) else response
        if first.get("Response") == "Error":
            raise AmiError(f"AMI action {action.get('Action')} failed: {first.get('Message')}")
        return response
