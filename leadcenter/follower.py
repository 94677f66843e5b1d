"""`leadcenter asterisk follow`: another Asterisk node's files rendered and reloaded for it, whenever the controller
applies a change (docs/architecture.md, "Every node's files rendered for it"; the generations: generations.py).

It runs on the node's host with that node's settings (data directory, [asterisk] ports) over the installation's
PostgreSQL database: it renders the node's files from the database (asterisk_config.write), has its Asterisk load
them (started here, or the changed modules reloaded over its console), and records the generation it applied. It
listens for the controller's announcements (cluster.Listener on ``generations.CHANGED_CHANNEL``), renders again after
a gap in its connection (announcements sent meanwhile are lost to it), and also reads the generation every
``LOOK_SECONDS`` and retries a failed render every ``RETRY_SECONDS``: nothing the controller announced is missed.
A failed render or reload is logged and recorded (its node's row says why: /healthz); its Asterisk keeps the files
it had, which a failed render did not touch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from peewee import DatabaseError

from leadcenter import generations
from leadcenter.clock import Clock

log = logging.getLogger(__name__)

LOOK_SECONDS = 5.0  # the generation read even without an announcement
RETRY_SECONDS = 2.0  # after a failure, the next try


class Follower:
    """``render()`` writes the node's files and returns the modules to reload; ``reload(modules)`` has its Asterisk
    load them. Both raise on failure (any exception: it is recorded with its message). Called from one thread."""

    def __init__(
        self,
        node: str,
        render: Callable[[], set[str]],
        reload: Callable[[set[str]], None],
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.node, self.render, self.reload, self.clock, self.monotonic = node, render, reload, clock, monotonic
        self.applied: int | None = None  # the generation loaded; None: render whatever the count says
        self.failing = False
        # Modules whose files were written but whose reload failed: the next render finds those files unchanged.
        self.unloaded: set[str] = set()
        self._next_look = 0.0

    def catch_up(self, force: bool = False) -> bool:
        """Render and reload when the controller announced a generation this node has not applied (``force``:
        whatever it announced, e.g. after a gap); True when it applied one."""
        self._next_look = self.monotonic() + (RETRY_SECONDS if self.failing else LOOK_SECONDS)
        try:
            generation = generations.current()  # before rendering: a change after this read is announced again
            if generation == self.applied and not force:
                return False
            modules = self.unloaded | self.render()
            self.unloaded = modules
            self.reload(modules)
            self.unloaded = set()
            generations.applied(self.node, generation, modules, self.clock())
        except Exception as exc:  # noqa: BLE001 - whatever failed (a flow, a file, Asterisk), its row says why
            self._failed(exc)
            return False
        if self.failing:
            log.info("node %s: Asterisk's files are right again", self.node)
        self.applied, self.failing = generation, False
        self._next_look = self.monotonic() + LOOK_SECONDS
        log.info(
            "node %s: generation %s applied%s",
            self.node,
            generation,
            f" (changed: {', '.join(sorted(modules))})" if modules else " (no file changed)",
        )
        return True

    def _failed(self, exc: Exception) -> None:
        self.failing = True
        self._next_look = self.monotonic() + RETRY_SECONDS
        error = f"{type(exc).__name__}: {exc}"
        log.error("node %s: Asterisk's files not applied: %s (trying again in %.0f s)", self.node, error, RETRY_SECONDS)
        try:
            generations.failed(self.node, error, self.clock())
        except DatabaseError as record_error:
            log.error("node %s: could not record the failure either: %s", self.node, record_error)

    # -- the listener's callbacks ----------------------------------------------------------------------------------
    def announced(self, payload: str) -> None:
        self.catch_up()

    def on_gap(self) -> None:
        self.catch_up(force=True)

    def tick(self) -> None:
        if self.monotonic() >= self._next_look:
            self.catch_up(force=self.failing)
