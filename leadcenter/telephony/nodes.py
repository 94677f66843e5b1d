"""Several Asterisk nodes driven at once (issue 18: Kamailio in front of them): one ``Telephony`` per node on the one
telephony loop, and ``Nodes``, which has the verbs of one ``Telephony`` and hands each to the node it concerns.

Where a verb goes (``ROUTES``): a call's or a channel's verb to the node the call is on (``locate``: the
interaction's recorded node, asked on the caller's thread, where the database is; else the node whose tracker
follows it), then, should that node not have the channel, to the others in turn: Asterisk refuses a verb on a
channel it does not have, so a wrong guess costs a refusal, never a wrong action. An agent's pause and availability
flag, reloads and reads go to every node (an agent is a member of the queues on all of them); an outbound call or a
callback to the company's home node; what reads or writes this installation's own files to its own node.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from leadcenter.telephony.service import Telephony, TelephonyError, log_failure

log = logging.getLogger(__name__)

EVERY = "every node"
OWN = "own node"
HOME = "home node"
# Verb -> where it goes: EVERY, OWN, HOME (the company in variables["LC_COMPANY"]), or the name of the argument that
# names the call (a channel id, a call id, an interaction id): its node first, then the others.
ROUTES: dict[str, str] = {
    "publish_trunk_states": EVERY,
    "publish_queue_status": EVERY,
    "resync": EVERY,
    "reload": EVERY,
    "pause": EVERY,
    "set_available": EVERY,
    "follow_parties": EVERY,  # each node's tracker keeps the parties of the calls it follows
    "queue_entries": EVERY,
    "originate": OWN,
    "reload_dialplan": OWN,
    "has_context": OWN,
    "reload_checked": OWN,
    "move_voicemail": OWN,
    "place_outbound": HOME,
    "place_callback": HOME,
    "spy": "call_channel_id",
    "hangup": "channel_id",
    "hang_up_call": "call_id",
    "redirect": "channel",
    "set_variable": "channel_id",  # none: a global variable, on every node
    "in_conference": "lead_channel_id",
    "consult": "call_id",
    "consult_channels": "interaction_id",
    "complete_consult": "interaction_id",
    "merge_consult": "interaction_id",
    "cancel_consult": "interaction_id",
    "add_to_conference": "call_id",
    "transfer": "call_id",
    "next_step": "channel_id",
    "start_recording": "channel",
    "stop_recording": "channel",
}
# Of an argument, its position in the verb's signature (after self).
_POSITIONS = {
    name: list(inspect.signature(getattr(Telephony, name)).parameters)[1:].index(key)
    for name, key in ROUTES.items()
    if key not in (EVERY, OWN, HOME)
}


class Nodes:
    """The verbs of a ``Telephony`` over several: ``nodes`` in [kamailio] nodes' order, ``own`` the node whose files
    this installation writes, ``locate`` a call's node by its channel id (str) or interaction id (int) (None:
    unknown), ``home`` a company's home node. ``followed``: the other nodes' files are rendered by their followers
    (`leadcenter asterisk follow`, on PostgreSQL), which reload them: a reload goes to the own node only, and a
    node is resynchronised when its follower says it applied a change (``resync_node``); otherwise a reload goes to
    every node, whose files were rendered for it by hand."""

    def __init__(
        self,
        nodes: Sequence[Telephony],
        own: str,
        locate: Callable[[str | int], str | None],
        home: Callable[[int], str],
        followed: bool = False,
    ):
        self.nodes = {telephony.node: telephony for telephony in nodes}
        self.own, self.locate, self.home, self.followed = self.nodes[own], locate, home, followed

    def __getattr__(self, name: str) -> Callable[..., Coroutine]:
        route = ROUTES.get(name)
        if route is None:
            raise AttributeError(name)
        return lambda *args, **kwargs: self._routed(name, route, args, kwargs)

    def _routed(self, name: str, route: str, args: tuple, kwargs: dict) -> Coroutine:
        if name == "reload" and self.followed:
            route = OWN
        if route == EVERY:
            return self._on_every(name, args, kwargs)
        if route == OWN:
            return getattr(self.own, name)(*args, **kwargs)
        if route == HOME:
            company = int(kwargs["variables"]["LC_COMPANY"])
            return getattr(self.nodes[self.home(company)], name)(*args, **kwargs)
        position = _POSITIONS[name]
        key = args[position] if len(args) > position else kwargs.get(route, "")
        if name == "set_variable" and not key:
            return self._on_every(name, args, kwargs)
        return self._where_it_is(name, key, args, kwargs)

    def _in_order(self, key: str | int) -> list[Telephony]:
        """The nodes, the one ``key`` is on first."""
        node = self.locate(key)
        if node not in self.nodes and isinstance(key, str):
            node = next((t.node for t in self.nodes.values() if t.tracker.follows(key)), None)
        first = self.nodes.get(node) if node is not None else None
        return ([first] if first else []) + [t for t in self.nodes.values() if t is not first]

    async def _where_it_is(self, name: str, key: str | int, args: tuple, kwargs: dict) -> Any:
        """On the node ``key`` is on, else on the others in turn; refused everywhere, the first node's refusal (the
        likeliest node's words)."""
        refusals: list[Exception] = []
        for telephony in self._in_order(key):
            try:
                return await getattr(telephony, name)(*args, **kwargs)
            except TelephonyError as exc:
                log.info("%s %s: refused on node %s (%s)", name, key, telephony.node, exc)
                refusals.append(exc)
        raise refusals[0]

    async def _on_every(self, name: str, args: tuple, kwargs: dict) -> Any:
        """On every node whose links are up (each node that comes back resyncs, and what it has is put right then);
        on every node when none is, so that the refusal is Asterisk's. Lists (queue_entries) are joined."""
        up = [t for t in self.nodes.values() if t.connected] or list(self.nodes.values())
        results = await asyncio.gather(*(getattr(t, name)(*args, **kwargs) for t in up), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        lists = [r for r in results if isinstance(r, list)]
        if results and len(lists) == len(results):
            return [item for r in lists for item in r]
        return None

    async def resync_node(self, name: str) -> None:
        """Read again what node ``name`` has (its follower reloaded its files: a queue reload resets pauses); an
        unknown name (a node no longer in [kamailio] nodes) is ignored."""
        telephony = self.nodes.get(name)
        if telephony is None:
            log.warning("node %s applied a change but the controller does not drive it: not in [kamailio] nodes", name)
            return
        await telephony.resync()

    # -- what the controller and /healthz ask of the telephony layer ---------------------------------------------
    async def start(self) -> None:
        for telephony in self.nodes.values():
            await telephony.start()

    async def stop(self) -> None:
        for telephony in self.nodes.values():
            await telephony.stop()

    def submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        """Run a verb on the loop from any other thread (every node's is the same loop)."""
        assert self.own.loop is not None, "telephony not started"
        future = asyncio.run_coroutine_threadsafe(coroutine, self.own.loop)
        future.add_done_callback(log_failure)
        return future

    @property
    def connected(self) -> bool:
        """Whether some node's links are up: verbs can be carried out, and (each company's set being its home node
        and the next, Kamailio's failover) a carrier's call is answered by a node the controller follows."""
        return any(t.connected for t in self.nodes.values())

    def status(self) -> dict:
        """``ami`` and ``ari``: connected when every node's is; and each node's own."""
        nodes = {name: t.status() for name, t in self.nodes.items()}
        return {
            "ami": "connected" if all(s["ami"] == "connected" for s in nodes.values()) else "disconnected",
            "ari": "connected" if all(s["ari"] == "connected" for s in nodes.values()) else "disconnected",
            "synced_at": min((s["synced_at"] for s in nodes.values() if s["synced_at"]), default=None),
            "nodes": nodes,
        }
