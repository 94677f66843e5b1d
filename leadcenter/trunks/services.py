"""A trunk's columns as an admin's change makes them (the API and the CLI), and what each trunk is right now.

What each trunk is right now, from Asterisk: its outbound registration and whether the carrier answers qualify.

    registered  it registers, the carrier accepted the registration, and (when qualified) still answers
    reachable   it does not register; the carrier answers qualify OPTIONS
    failing     the registration is refused, lost or unanswered, or the carrier stopped answering OPTIONS
    unknown     nothing tells: it does not register and is not qualified, or Asterisk is not reached

Asterisk tells (telephony.trunks: at every resync and after its Registry and ContactStatus events); this keeps the
last word per trunk and publishes ``trunk.state_changed`` for the trunk's company when a trunk's state changes.
Written on the dispatcher thread, read from web threads."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace

from leadcenter.clock import Clock
from leadcenter.errors import ApiError, invalid
from leadcenter.events import Bus, Event
from leadcenter.flows.services import flows_naming
from leadcenter.tracking_numbers.models import TrackingNumber
from leadcenter.trunks import notifier
from leadcenter.trunks.models import Trunk, peer_address
from leadcenter.trunks.schemas import TrunkStateOut


def _refuse_taken_address(host: str, port: int, transport: str, trunk_id: int | None = None) -> None:
    """Asterisk tells trunks apart by address and port alone, and a trunk over TCP or TLS by its address alone (its
    carrier calls in from any port): a second trunk there, in any company, would take the first one's calls (and
    send its calls through the first one's carrier). Compared as addresses, so rows from before only IP addresses
    were accepted count however they were written. (``trunk_id or 0``: a new trunk has no id yet, and no row has
    id 0.)"""
    address = peer_address(host)
    others = Trunk.select(Trunk.host, Trunk.port, Trunk.transport).where(Trunk.id != (trunk_id or 0))
    for other in others:
        if peer_address(other.host) != address:
            continue
        if other.port == port:
            raise ApiError(
                "address-taken",
                f"a trunk at {address}:{port} exists already",
                {"host": "another trunk has this address and port"},
            )
        if transport != "udp" or other.transport != "udp":
            raise ApiError(
                "address-taken",
                f"a trunk at {address} exists already, and a carrier over TCP or TLS is known by its address alone",
                {"host": "another trunk has this address (over TCP or TLS, any port is the same trunk)"},
            )


def trunk_columns(trunk: Trunk, changes: dict, *, tls_on: bool) -> dict:
    """The changes as Trunk columns: an address no other trunk has; a registering trunk's username and password
    (a password not sent stays as it was: it is never shown to be sent back); TLS only when Asterisk has SIP over
    TLS (``tls_on``: its transport is the one a trunk over TLS connects through)."""
    _refuse_taken_address(
        changes.get("host", trunk.host),
        changes.get("port", trunk.port),
        changes.get("transport", trunk.transport),
        trunk.id,
    )
    if changes.get("transport") == "tls" and not tls_on:
        raise invalid({"transport": "SIP over TLS is off on this installation ([asterisk] sip_tls_port = 0)"})
    if "codecs" in changes:
        changes["codecs"] = ",".join(changes["codecs"])
    if not changes.get("password", True):  # "" sent: as not sent
        del changes["password"]
    if changes.get("auth", trunk.auth) == "register":
        missing = {
            field: "a trunk that registers needs its " + field
            for field in ("username", "password")
            if not changes.get(field, getattr(trunk, field))
        }
        if missing:
            raise invalid(missing)
    elif changes.get("auth") == "ip":  # no longer registers: its credentials are not kept
        changes.update(username="", password="")
    return changes


def state_of(registers: bool, registration: str | None, reachable: bool | None) -> str:
    if reachable is False:
        return "failing"
    if registers:
        if registration is None:  # Asterisk has not said yet
            return "unknown"
        return "registered" if registration == "Registered" else "failing"
    return "reachable" if reachable else "unknown"


@dataclass(frozen=True)
class Reported:
    """What Asterisk last said of a trunk."""

    registration: str | None = None
    reachable: bool | None = None
    roundtrip_ms: float | None = None


def _health(said: Reported) -> tuple[bool, bool]:
    """Unreachable, then a registration that failed, say worst."""
    return (said.reachable is not False, said.registration in (None, "Registered"))


class TrunkStates:
    def __init__(self, bus: Bus, clock: Clock, keeps_view: bool = True):
        self.bus, self.clock = bus, clock
        self._lock = threading.Lock()
        self._reported: dict[int, Reported] = {}  # every node's, the worst of each trunk
        self._by_node: dict[str, dict[int, Reported]] = {}  # Asterisk node ("": the one) -> what it last said
        self._shown: dict[int, tuple[str, dt.datetime | None]] = {}  # trunk id -> (state, since)
        if not keeps_view:  # a web node's (cluster.py): the controller node keeps the view, for every node's edits
            return
        bus.subscribe("telephony.trunks", self.on_trunks)
        bus.subscribe("telephony.lost", self.on_lost)
        for verb in ("created", "updated"):  # it may register now, or no longer
            bus.subscribe(f"trunk.{verb}", self.on_trunk_changed, everywhere=True)
        bus.subscribe("trunk.deleted", self.on_trunk_deleted, everywhere=True)

    def of(self, trunk: Trunk) -> TrunkStateOut:
        with self._lock:
            reported = self._reported.get(trunk.id, Reported())
            since = self._shown.get(trunk.id, ("unknown", None))[1]
        return TrunkStateOut(
            trunk=trunk.id,
            state=state_of(trunk.auth == "register", reported.registration, reported.reachable),
            registration=reported.registration if trunk.auth == "register" else None,
            reachable=reported.reachable,
            roundtrip_ms=reported.roundtrip_ms,
            since=since,
        )

    def on_trunks(self, event: Event) -> None:
        reported = {
            int(trunk): Reported(t.get("registration"), t.get("reachable"), t.get("roundtrip_ms"))
            for trunk, t in event.data["trunks"].items()
        }
        with self._lock:
            self._by_node[event.data.get("node", "")] = reported
            self._reported = self._worst()
        self._refresh(Trunk.select())

    def on_lost(self, event: Event) -> None:
        if event.data.get("link") == "ami":
            with self._lock:
                self._by_node.pop(event.data.get("node", ""), None)
                self._reported = self._worst()
            self._refresh(Trunk.select())

    def _worst(self) -> dict[int, Reported]:
        """Each trunk as the Asterisk node that says worst of it (several nodes: one that cannot reach the carrier
        fails the calls it places); called with the lock held."""
        worst: dict[int, Reported] = {}
        for reported in self._by_node.values():
            for trunk_id, said in reported.items():
                kept = worst.get(trunk_id)
                if kept is None or _health(said) < _health(kept):
                    worst[trunk_id] = said
        return worst

    def on_trunk_changed(self, event: Event) -> None:
        trunk_id = event.data["trunk"]["id"]
        with self._lock:  # the registration of before says nothing of the new settings
            if trunk_id in self._reported:
                self._reported[trunk_id] = replace(self._reported[trunk_id], registration=None)
        self._refresh(Trunk.select().where(Trunk.id == trunk_id))

    def on_trunk_deleted(self, event: Event) -> None:
        with self._lock:
            self._reported.pop(event.data["trunk_id"], None)
            self._shown.pop(event.data["trunk_id"], None)

    def _refresh(self, trunks) -> None:
        for trunk in trunks:
            now = self.of(trunk).state
            with self._lock:
                before = self._shown.get(trunk.id, ("unknown", None))[0]
                if now == before:
                    continue
                self._shown[trunk.id] = (now, self.clock())
            notifier.state_changed(self.bus, trunk, self.of(trunk))


def trunk_users(trunk: Trunk) -> list[str]:
    """What a trunk cannot be deleted under: the tracking numbers on it and the flows whose forward steps name it."""
    numbers = TrackingNumber.select().where(TrackingNumber.trunk == trunk).order_by(TrackingNumber.id)
    return [f"tracking number {n.number}" for n in numbers] + [
        f"flow {f.name!r}" for f in flows_naming(trunk.company, trunk=trunk.id)
    ]
