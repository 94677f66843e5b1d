"""Telephony: AMI and ARI on the controller's asyncio loop, verbs for the rest of the controller, events out.

Everything here runs on the loop thread. Other threads (web requests, the event dispatcher) call ``submit``,
which hands a verb to the loop and returns a concurrent Future; they never block the loop.

Events: ``telephony.connected`` / ``telephony.lost`` (link: ami|ari), ``telephony.synced`` (calls, members,
availability flags, agents' device states: what Asterisk has right now, after every (re)connect and every
SYNC_SECONDS), ``telephony.trunks`` (every trunk's registration and qualify result, at each resync and after
Registry / ContactStatus events), and the tracker's ``call.*``, ``queue_member.*`` and ``telephony.device_state``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Protocol

from leadcenter.clock import Clock
from leadcenter.config import AsteriskLink, Settings, one_asterisk
from leadcenter.credentials import Secrets
from leadcenter.events import EventBus
from leadcenter.pbx import names
from leadcenter.telephony.ami import AmiClient, AmiError
from leadcenter.telephony.ari import AriClient, AriError
from leadcenter.telephony.tracker import CallTracker, as_int

log = logging.getLogger(__name__)

SYNC_SECONDS = 30.0
TelephonyError = (AmiError, AriError)
VERB_WAIT = 5.0  # seconds a web request waits for Asterisk to carry out a verb it asked for
# AMI events after which a queue's live figures are read again (debounced by QUEUE_SETTLE).
QUEUE_CHANGES = {
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueMemberStatus",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
}
QUEUE_SETTLE = 0.2
# AMI events after which the trunks' registrations and qualify results are read again (debounced the same way).
TRUNK_CHANGES = {"Registry", "ContactStatus"}
# Asterisk's device states by number (QueueStatus gives numbers, DeviceStateChange the names).
DEVICE_STATES = ("UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD")


def _ari_time(stamp: str) -> dt.datetime:
    # ARI: 2026-11-26T23:50:01.123+0000
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(dt.UTC).replace(tzinfo=None)


class AsteriskRefused(Exception):
    """Asterisk did not take a configuration: its own words are the message."""


def node_stamped(publish: Callable[..., object], node: str) -> Callable[..., object]:
    """``publish``, with the node's name in its call, link and queue events (none for node "": the one Asterisk's events
    are as they were)."""

    def stamped(name: str, **data) -> object:
        if node and name.startswith(("call.", "telephony.", "queue.")):
            data["node"] = node
        return publish(name, **data)

    return stamped


class Telephony:
    """One Asterisk's links and verbs. ``link``: which Asterisk (default: [asterisk]'s, node ""); a node's name goes
    into its ``call.*`` and ``telephony.*`` events as ``node`` (none for node "": one Asterisk, events as ever)."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        bus: EventBus,
        clock: Clock,
        ari_app: str = names.ARI_APP,
        link: AsteriskLink | None = None,
    ):
        a = link or one_asterisk(settings)
        self.node = a.node
        self.bus = bus
        self.clock = clock
        self._publish = node_stamped(bus.publish, self.node)
        self.tracker = CallTracker(self._publish, clock)
        self.ami = AmiClient(
            a.host,
            a.ami_port,
            names.AMI_USER,
            secrets.ami_secret,
            on_event=self._ami_event,
            on_ready=lambda: self._link_ready("ami"),
            on_lost=lambda: self._link_lost("ami"),
        )
        self.ari = AriClient(
            a.host,
            a.http_port,
            names.ARI_USER,
            secrets.ari_secret,
            ari_app,
            on_event=self._ari_event,
            on_ready=lambda: self._link_ready("ari"),
            on_lost=lambda: self._link_lost("ari"),
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.synced_at: dt.datetime | None = None
        self._sync_lock: asyncio.Lock | None = None
        self._periodic: asyncio.Task | None = None
        self._dirty_queues: set[str] = set()
        self._queue_flush: asyncio.TimerHandle | None = None
        self._trunk_flush: asyncio.TimerHandle | None = None

    # -- life cycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._sync_lock = asyncio.Lock()
        await self.ami.start()
        await self.ari.start()
        self._periodic = asyncio.create_task(self._sync_periodically(), name="telephony-sync")

    async def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
        self.ami.stop()
        await self.ari.stop()

    def submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        """Run a verb on the loop from any other thread."""
        assert self.loop is not None, "telephony not started"
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        future.add_done_callback(log_failure)
        return future

    def status(self) -> dict:
        return {
            "ami": "connected" if self.ami.ready else "disconnected",
            "ari": "connected" if self.ari.ready else "disconnected",
            "synced_at": self.synced_at.isoformat() + "Z" if self.synced_at else None,
        }

    @property
    def connected(self) -> bool:
        return self.ami.ready and self.ari.ready

    # -- links -------------------------------------------------------------------------------------------------
    async def _link_ready(self, link: str) -> None:
        self._publish("telephony.connected", link=link)
        # Both links coming up at once would resync twice: one running resync serves both.
        assert self._sync_lock is not None, "telephony not started"
        if self.connected and not self._sync_lock.locked():
            await self.resync()

    def _link_lost(self, link: str) -> None:
        self.synced_at = None
        self._publish("telephony.lost", link=link)

    def _ami_event(self, message) -> None:
        self.tracker.handle(message)
        if message.get("Event") in QUEUE_CHANGES and message.get("Queue"):
            self._dirty_queues.add(message["Queue"])
            if self._queue_flush is None:
                assert self.loop is not None, "telephony not started"
                self._queue_flush = self.loop.call_later(QUEUE_SETTLE, self._flush_queues)
        # Registry is always a trunk's (nothing else registers out); ContactStatus also comes for agents' phones.
        about_trunk = message.get("Event") == "Registry" or names.parse_trunk_endpoint(message.get("AOR")) is not None
        if message.get("Event") in TRUNK_CHANGES and about_trunk and self._trunk_flush is None:
            assert self.loop is not None, "telephony not started"
            self._trunk_flush = self.loop.call_later(QUEUE_SETTLE, self._flush_trunks)

    def _flush_trunks(self) -> None:
        self._trunk_flush = None
        self.submit(self.publish_trunk_states())

    async def publish_trunk_states(self) -> None:
        """Read every trunk's outbound registration and qualify result now and publish telephony.trunks."""
        self._publish("telephony.trunks", trunks=await self._trunk_states())

    def _flush_queues(self) -> None:
        queues, self._dirty_queues, self._queue_flush = self._dirty_queues, set(), None
        for queue in sorted(queues):
            self.submit(self.publish_queue_status(queue))

    async def publish_queue_status(self, queue: str | None = None) -> None:
        """Read a queue's (or every queue's) callers and members now and publish queue.status for each."""
        for name, status in (await self._queue_status(queue)).items():
            self._publish("queue.status", queue=name, **status)

    def _ari_event(self, event: dict) -> None:
        log.debug("ARI %s", event.get("type"))

    async def _sync_periodically(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            if self.connected:
                try:
                    await self.resync()
                except TelephonyError as exc:
                    log.warning("periodic resync failed: %s", exc)

    # -- resynchronisation -------------------------------------------------------------------------------------
    async def resync(self) -> None:
        """Read what Asterisk has now (lead calls, queue members) and publish it as telephony.synced."""
        assert self._sync_lock is not None
        async with self._sync_lock:
            self.tracker.sync_started()
            read_at = self.clock()
            channels = await self.ari.request("GET", "/channels")
            calls = self._lead_calls(channels)
            queues = await self._queue_status()
            available = await self._available_flags()
            devices = await self._agent_devices()
            members = [member for status in queues.values() for member in status["members"]]
            self.tracker.synced(calls)
            # An outbound call placed while Asterisk was read is up, though not in what it said: its interaction,
            # made before its channel, is not one that ended.
            listed = {call["channel_id"] for call in calls}
            calls += [{"channel_id": c, "outbound": True} for c in sorted(self.tracker.outbound_calls() - listed)]
            self.synced_at = self.clock()
            # read_at: calls that began after it are not in ``calls`` although they are up.
            self._publish(
                "telephony.synced",
                calls=calls,
                members=members,
                available=available,
                devices=devices,
                monitors=[c["id"] for c in channels if names.parse_monitor_channel_id(c["id"]) is not None],
                channels=[c["id"] for c in channels],
                read_at=read_at,
            )
            for name, status in queues.items():
                self._publish("queue.status", queue=name, **status)
            await self.publish_trunk_states()
            log.info("resynchronised: %d call(s) up, %d queue member(s)", len(calls), len(members))

    def _lead_calls(self, channels: list[dict]) -> list[dict]:
        calls = []
        for channel in channels:
            variables = channel.get("channelvars") or {}
            if variables.get("LC_OUTBOUND"):  # an agent's outbound call: its interaction exists already
                calls.append({"channel_id": channel["id"], "outbound": True})
                continue
            if variables.get("LC_CALL"):  # the lead's channel of an agent's outbound call, which they answered
                # (and recorded, lc-outbound records it on that channel: the recording follows the lead)
                calls.append(
                    {
                        "channel_id": variables["LC_CALL"],
                        "outbound": True,
                        "lead_channel_id": channel["id"],
                        "recording": variables.get("LC_RECORDING") or None,
                    }
                )
                continue
            if names.parse_trunk_channel(channel["name"]) is None or not variables.get("LC_NUMBER"):
                continue
            calls.append(
                {
                    "channel_id": channel["id"],
                    "channel": channel["name"],
                    "caller_number": channel["caller"]["number"],
                    "caller_name": channel["caller"]["name"],
                    "company_id": int(variables["LC_COMPANY"]),
                    "number_id": int(variables["LC_NUMBER"]),
                    "flow_id": int(variables["LC_FLOW"]) if variables.get("LC_FLOW") else None,
                    "started_at": _ari_time(channel["creationtime"]),
                    # A queue call names its member; a call an agent took outside a queue, the agent's endpoint.
                    "agent_id": (
                        names.parse_queue_member(variables.get("MEMBERNAME"))
                        or names.parse_endpoint(variables.get(names.ANSWERED_BY))
                    ),
                    "queue": variables.get("LC_QUEUE") or None,
                    "recording": variables.get("LC_RECORDING") or None,
                }
            )
        # An answered outbound call is its lead's channel, whether the agent's channel it was placed from is up too.
        answered = {call["channel_id"] for call in calls if call.get("lead_channel_id")}
        return [call for call in calls if call.get("lead_channel_id") or call["channel_id"] not in answered]

    async def _available_flags(self) -> dict[int, bool]:
        """Which agents the dialplan's ring-agents steps may ring (AstDB family names.AVAILABLE_FAMILY), by agent
        id."""
        try:
            messages = await self.ami.action({"Action": "DBGetTree", "Family": names.AVAILABLE_FAMILY}, as_list=True)
        except AmiError as exc:
            if "not found" in str(exc).lower():  # nothing written yet
                return {}
            raise
        return {
            agent: m.get("Val") == "1"
            for m in messages
            if m.get("Event") == "DBGetTreeResponse" and (agent := names.parse_available_key(m.get("Key"))) is not None
        }

    async def _agent_devices(self) -> dict[str, str]:
        """The device state of every agent endpoint (webrtc7, desk7 -> NOT_INUSE, UNAVAILABLE, ...)."""
        messages = await self.ami.action({"Action": "DeviceStateList"}, as_list=True)
        return {
            endpoint: m.get("State", "")
            for m in messages
            if m.get("Event") == "DeviceStateChange" and (endpoint := names.parse_interface(m.get("Device")))
        }

    async def _listed(self, action: dict) -> list:
        """An AMI list action's events; none when Asterisk says it has none of them (an error for some actions)."""
        try:
            return await self.ami.action(action, as_list=True)
        except AmiError as exc:
            if "no " in str(exc).lower() or "not found" in str(exc).lower():
                return []
            raise

    async def _trunk_states(self) -> dict[int, dict]:
        """By trunk id: its registration's status as Asterisk words it (Registered, Unregistered, Rejected; absent:
        it does not register) and its AOR contact's qualify result (reachable True/False, None: not qualified).
        PJSIPShowContacts lists registered contacts only, not a trunk's static one: each trunk endpoint's own
        detail has it."""
        trunks: dict[int, dict] = {}
        for m in await self._listed({"Action": "PJSIPShowRegistrationsOutbound"}):
            trunk = names.parse_trunk_endpoint(m.get("ObjectName"))
            if m.get("Event") == "OutboundRegistrationDetail" and trunk is not None:
                trunks.setdefault(trunk, {})["registration"] = m.get("Status", "")
        endpoints = [
            m.get("ObjectName")
            for m in await self._listed({"Action": "PJSIPShowEndpoints"})
            if m.get("Event") == "EndpointList" and names.parse_trunk_endpoint(m.get("ObjectName")) is not None
        ]
        for endpoint in endpoints:
            for m in await self._listed({"Action": "PJSIPShowEndpoint", "Endpoint": endpoint}):
                trunk = names.parse_trunk_endpoint(m.get("AOR"))
                if m.get("Event") == "ContactStatusDetail" and trunk is not None:
                    status = m.get("Status", "")
                    roundtrip = as_int(m.get("RoundtripUsec"))
                    trunks.setdefault(trunk, {}).update(
                        reachable={"Reachable": True, "Unreachable": False}.get(status),
                        roundtrip_ms=round(roundtrip / 1000, 1) if roundtrip and status == "Reachable" else None,
                    )
        return trunks

    async def _queue_status(self, queue: str | None = None) -> dict[str, dict]:
        """Per queue: callers waiting, the longest wait, and each member (pause state, device state, in a call)."""
        action = {"Action": "QueueStatus", **({"Queue": queue} if queue else {})}
        queues: dict[str, dict] = {}
        for m in await self.ami.action(action, as_list=True):
            if m.get("Event") not in ("QueueParams", "QueueMember", "QueueEntry"):
                continue
            status = queues.setdefault(m.get("Queue"), {"waiting": 0, "longest_wait_seconds": 0, "members": []})
            if m["Event"] == "QueueEntry":
                status["waiting"] += 1
                status["longest_wait_seconds"] = max(status["longest_wait_seconds"], as_int(m.get("Wait")) or 0)
            elif m["Event"] == "QueueMember":
                status["members"].append(
                    {
                        "queue": m.get("Queue"),
                        "interface": m.get("Location"),
                        "agent_id": names.parse_queue_member(m.get("Name")),
                        "paused": m.get("Paused") == "1",
                        "reason": m.get("PausedReason", ""),
                        "device_state": _device_state(m.get("Status")),
                        "in_call": m.get("InCall") == "1",
                    }
                )
        return queues

    # -- verbs -------------------------------------------------------------------------------------------------
    async def originate(
        self,
        endpoint: str,
        *,
        context: str,
        extension: str,
        caller_id: str = "",
        variables: dict | None = None,
        timeout: int = 30,
        channel_id: str | None = None,
    ) -> str:
        """Call ``endpoint`` (PJSIP/desk7); when it answers it continues at context/extension. Returns its id
        (``channel_id`` when given: the caller then knows it before the channel exists)."""
        channel = await self.ari.request(
            "POST",
            "/channels",
            endpoint=endpoint,
            context=context,
            extension=extension,
            priority=1,
            callerId=caller_id or None,
            timeout=timeout,
            channelId=channel_id,
            json={"variables": variables or {}},
        )
        return channel["id"]

    async def place_outbound(
        self,
        channel_id: str,
        endpoint: str,
        lead_number: str,
        *,
        variables: dict,
        caller_id: str,
        ring_seconds: int = 30,
    ) -> None:
        """An agent's outbound call: ring their device as channel ``channel_id``; once they answer, lc-outbound
        dials the lead. The tracker follows the channel from before it exists, so no event of it is missed."""
        self.tracker.track_outbound(channel_id)
        self.tracker.placing.add(channel_id)
        try:
            await self.originate(
                endpoint,
                context=names.OUTBOUND_CONTEXT,
                extension=lead_number,
                caller_id=caller_id,
                variables=variables,
                timeout=ring_seconds,
                channel_id=channel_id,
            )
        except TelephonyError:
            self.tracker.forget(channel_id)
            raise
        finally:
            self.tracker.placing.discard(channel_id)

    async def place_callback(self, place_id: str, dial_id: str, lead_number: str, *, variables: dict) -> None:
        """A queue callback: a Local channel pair whose first half (``place_id``) waits in the queue at the lead's
        place (lc-callback-place); when an agent answers it, the second half (``dial_id``), ringing until then, goes on
        in lc-callback-dial and dials the lead. The tracker follows the place from before it exists."""
        self.tracker.track_callback(place_id)
        try:
            await self.ari.request(
                "POST",
                "/channels",
                endpoint=names.callback_local(),
                context=names.CALLBACK_DIAL_CONTEXT,
                extension=lead_number,
                priority=1,
                timeout=-1,  # the place waits in the queue as long as it takes
                channelId=dial_id,
                json={"variables": variables},
            )
        except TelephonyError:
            self.tracker.forget(place_id)
            raise

    async def spy(self, channel_id: str, endpoint: str, call_channel_id: str, mode: str, group: str) -> None:
        """Ring a supervisor's device (PJSIP/desk9) as channel ``channel_id``; once it answers it spies (lc-monitor,
        the extension is the mode) on the agent's channel of the call ``call_channel_id`` (its id): the one bridged
        with the lead's channel, or the call's own before the lead of an outbound call answered; within ChanSpy group
        ``group``."""
        channel = await self.ari.request("GET", f"/channels/{self.tracker.lead_channel(call_channel_id)}")
        target = channel["name"]
        if names.parse_channel(target) is None:  # the lead's channel: the agent is on the other side of its bridge
            answer = await self.ari.request("GET", f"/channels/{channel['id']}/variable", variable="BRIDGEPEER")
            target = answer.get("value", "")
        if names.parse_channel(target) is None:
            raise AriError(f"call {call_channel_id} is bridged to no agent ({target!r})")
        await self.originate(
            endpoint,
            context=names.MONITOR_CONTEXT,
            extension=mode,
            caller_id='"Monitor" <monitor>',
            variables={
                "LC_SPY_TARGET": target,
                "LC_SPY_GROUP": group,
                # The supervisor asked for this call: their phone picks it up by itself (the browser softphone
                # does; desk phones that honour answer-after do), as an agent's own outbound call.
                "PJSIP_HEADER(add,Call-Info)": "<sip:leadcenter>;answer-after=0",
            },
            channel_id=channel_id,
        )

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up a channel; ``reason`` (normal, busy, no_answer, ...) is the cause the other side sees."""
        await self.ari.request("DELETE", f"/channels/{channel_id}", reason=reason)

    async def hang_up_call(self, call_id: str) -> None:
        """End a lead's call (``call_id``: interaction.channel_id): the lead's channel is hung up, everyone's with
        it."""
        await self.hangup(self.tracker.lead_channel(call_id))

    async def redirect(self, channel: str, context: str, extension: str, priority: int | str = 1) -> None:
        """Send a channel (its name or its id) to another place in the dialplan (a priority or a label), out of
        whatever app it is in."""
        await self.ami.action(
            {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": extension, "Priority": priority}
        )

    async def follow_parties(self, parties: dict[str, str]) -> None:
        """Follow these channels (party -> the lead channel of their call) until they hang up (``call.party_left``):
        the parties on calls a restarted controller learns of from the database."""
        self.tracker.follow(parties)

    async def set_variable(self, name: str, value: str, channel_id: str = "") -> None:
        """Set a variable of a channel (``channel_id``: its id or name), or a global one (no channel)."""
        await self.ami.action(
            {"Action": "Setvar", "Variable": name, "Value": value, **({"Channel": channel_id} if channel_id else {})}
        )

    # -- consult transfers and conferences (dialplans/conference.conf) ----------------------------------------
    async def _variable(self, channel_id: str, name: str) -> str:
        answer = await self.ari.request("GET", f"/channels/{channel_id}/variable", variable=name)
        return answer.get("value", "")

    async def _agent_of(self, lead_channel_id: str) -> str:
        """The agent's channel (its name) bridged with the lead's."""
        agent = await self._variable(lead_channel_id, "BRIDGEPEER")
        if names.parse_channel(agent) is None:
            raise AriError(f"call {lead_channel_id} is bridged to no agent ({agent!r})")
        return agent

    async def in_conference(self, lead_channel_id: str) -> bool:
        """Whether the lead's channel is in its call's conference already (consulting, or more than two on it)."""
        channel = await self.ari.request("GET", f"/channels/{lead_channel_id}")
        return channel.get("dialplan", {}).get("context") == names.CONF_LEAD_CONTEXT

    async def consult(
        self, call_id: str, interaction_id: int, dial: str, caller_id: str = "", agent_channel: str = ""
    ) -> None:
        """The agent on the call ``call_id`` (``agent_channel``, their leg's id; "": the channel bridged with the
        lead's) consults someone: the lead waits in the call's conference (hold music, or whoever else is on), the
        agent's channel dials ``dial`` (PJSIP/webrtc7, PJSIP/+1404...@trunk1) with ``caller_id`` (empty: the
        lead's)."""
        lead_channel_id = self.tracker.lead_channel(call_id)
        agent = agent_channel or await self._agent_of(lead_channel_id)
        for name, value in (
            ("LC_CONSULT_TO", dial),
            ("LC_CONSULT_CALL", call_id),
            ("LC_CONSULT_CID", caller_id),
        ):
            await self.ami.action({"Action": "Setvar", "Channel": agent, "Variable": name, "Value": value})
        consult = {"Context": names.CONSULT_CONTEXT, "Exten": str(interaction_id), "Priority": 1}
        if await self.in_conference(lead_channel_id):
            await self.ami.action({"Action": "Redirect", "Channel": agent, **consult})
            return
        await self._lead_into_conference(lead_channel_id, interaction_id, agent, consult)

    async def _lead_into_conference(
        self, lead_channel_id: str, interaction_id: int, agent_channel: str, agent_to: dict
    ) -> None:
        """The lead into its call's conference and, in the same Redirect, the agent's channel to ``agent_to``
        (Context, Exten, Priority): moved one at a time, the first to leave their bridge would hang the other up."""
        await self.ami.action(
            {
                "Action": "Redirect",
                "Channel": lead_channel_id,
                "Context": names.CONF_LEAD_CONTEXT,
                "Exten": str(interaction_id),
                "Priority": 1,
                "ExtraChannel": agent_channel,
                **{f"Extra{key}": value for key, value in agent_to.items()},
            }
        )

    async def consult_channels(self, interaction_id: int) -> tuple[str, str]:
        """The consulting agent's channel and the consulted party's (ids; "" when none), as lc-consult keeps them."""
        agent, peer = names.consult_variables(interaction_id)
        return (
            (await self.ari.request("GET", "/asterisk/variable", variable=agent)).get("value", ""),
            (await self.ari.request("GET", "/asterisk/variable", variable=peer)).get("value", ""),
        )

    async def _consulted(self, interaction_id: int) -> tuple[str, str]:
        agent, peer = await self.consult_channels(interaction_id)
        if not agent or not peer:
            raise AriError(f"call {interaction_id} has no consult going on")
        if (await self.ari.request("GET", f"/channels/{peer}")).get("state") != "Up":
            raise AriError(f"the consulted party of call {interaction_id} has not answered")
        return agent, peer

    async def complete_consult(self, interaction_id: int) -> None:
        """The consulted colleague takes the call: the agent's channel hangs up, and lc-consult's Dial (option F)
        sends the colleague into the conference with the lead."""
        agent, _ = await self._consulted(interaction_id)
        await self.hangup(agent)

    async def merge_consult(self, interaction_id: int) -> None:
        """The agent and the consulted party both join the lead."""
        agent, peer = await self._consulted(interaction_id)
        await self.ami.action(
            {
                "Action": "Redirect",
                "Channel": peer,
                "Context": names.CONF_AGENT_CONTEXT,
                "Exten": str(interaction_id),
                "Priority": 1,
                "ExtraChannel": agent,
                "ExtraContext": names.CONF_AGENT_CONTEXT,
                "ExtraExten": str(interaction_id),
                "ExtraPriority": 1,
            }
        )

    async def cancel_consult(self, interaction_id: int) -> None:
        """The consulted party's leg (ringing or answered) is hung up; lc-consult sends the agent back to the lead."""
        _, peer = await self.consult_channels(interaction_id)
        if not peer:
            raise AriError(f"call {interaction_id} has no consult going on")
        await self.hangup(peer)

    async def add_to_conference(
        self,
        call_id: str,
        interaction_id: int,
        dial: str,
        *,
        agent: bool,
        channel_id: str,
        caller_id: str = "",
        variables: dict | None = None,
    ) -> None:
        """Bring ``dial`` into the call (an agent marked, an external party not): the lead and its agent move into
        the call's conference first if they are not there yet."""
        lead_channel_id = self.tracker.lead_channel(call_id)
        if not await self.in_conference(lead_channel_id):
            on_call = await self._agent_of(lead_channel_id)
            into_conference = {"Context": names.CONF_AGENT_CONTEXT, "Exten": str(interaction_id), "Priority": 1}
            await self._lead_into_conference(lead_channel_id, interaction_id, on_call, into_conference)
        await self.originate(
            dial,
            context=names.CONF_AGENT_CONTEXT if agent else names.CONF_PARTY_CONTEXT,
            extension=str(interaction_id),
            caller_id=caller_id,
            variables=variables,
            channel_id=channel_id,
        )

    async def transfer(self, call_id: str, context: str, extension: str, variables: dict[str, str]) -> None:
        """Send a lead's call to a transfer context, with the variables it reads set on its channel first."""
        channel_id = self.tracker.lead_channel(call_id)
        for name, value in variables.items():
            await self.ami.action({"Action": "Setvar", "Channel": channel_id, "Variable": name, "Value": value})
        await self.redirect(channel_id, context, extension)

    async def queue_entries(self, queue: str) -> list[tuple[str, int]]:
        """The callers waiting in a queue, in its order: (their channel's unique id, seconds waited there)."""
        entries = [
            m
            for m in await self.ami.action({"Action": "QueueStatus", "Queue": queue}, as_list=True)
            if m.get("Event") == "QueueEntry" and m.get("Queue") == queue
        ]
        entries.sort(key=lambda m: as_int(m.get("Position")) or 0)
        return [(m.get("Uniqueid", ""), as_int(m.get("Wait")) or 0) for m in entries]

    async def move_voicemail(self, mailbox: str, message_id: str, folder: str, to_folder: str) -> None:
        """Move a message between a mailbox's folders (AMI VoicemailMove; ``message_id`` is the msg_id app_voicemail
        wrote): Asterisk numbers it in the new folder and tells the phones whose message-waiting light follows the
        mailbox."""
        await self.ami.action(
            {
                "Action": "VoicemailMove",
                "Context": names.VOICEMAIL_CONTEXT,
                "Mailbox": mailbox,
                "Folder": folder,
                "ID": message_id,
                "ToFolder": to_folder,
            }
        )

    async def set_available(self, agent_id: int, available: bool) -> None:
        """Whether ring-agents steps ring this agent (queues follow pause instead)."""
        await self.ami.action(
            {
                "Action": "DBPut",
                "Family": names.AVAILABLE_FAMILY,
                "Key": names.available_key(agent_id),
                "Val": "1" if available else "0",
            }
        )

    async def next_step(self, channel_id: str) -> None:
        """Send a lead's call on to its flow's next step at once (out of the queue it waits in, whoever rings)."""
        variables = {}
        for name in ("LC_FLOW", "LC_STEP"):
            answer = await self.ari.request("GET", f"/channels/{channel_id}/variable", variable=name)
            variables[name] = answer.get("value", "")
        if not variables["LC_FLOW"].isdigit() or not variables["LC_STEP"].isdigit():
            raise AriError(f"channel {channel_id} is in no flow step ({variables})")
        await self.redirect(
            channel_id,
            names.flow_context(int(variables["LC_FLOW"])),
            "s",
            priority=names.after_step_label(int(variables["LC_STEP"])),
        )

    async def pause(self, interface: str, paused: bool, reason: str = "") -> None:
        """Pause or unpause a member in every queue it belongs to."""
        await self.ami.action(
            {"Action": "QueuePause", "Interface": interface, "Paused": str(paused).lower(), "Reason": reason}
        )

    async def start_recording(self, channel: str, file: str) -> None:
        await self.ami.action({"Action": "MixMonitor", "Channel": channel, "File": file, "Options": "b"})

    async def stop_recording(self, channel: str) -> None:
        await self.ami.action({"Action": "StopMixMonitor", "Channel": channel})

    async def reload_dialplan(self) -> None:
        """Have pbx_config read the dialplan files again (nothing else: no resync)."""
        await self.ami.action({"Action": "Reload", "Module": "pbx_config.so"})

    async def has_context(self, context: str) -> bool:
        """Whether the running dialplan has this context (AMI ShowDialPlan)."""
        try:
            await self.ami.action({"Action": "ShowDialPlan", "Context": context}, as_list=True)
        except AmiError as exc:
            if "Did not find context" in str(exc):
                return False
            raise
        return True

    async def reload_checked(self, modules: set[str], contexts: list[str]) -> None:
        """Reload what changed, then check that Asterisk's dialplan has each of ``contexts``; raises AsteriskRefused
        with Asterisk's message when the reload failed or a context is not there. With AMI down there is nothing to
        ask: Asterisk reads the written files when it comes back (and resync follows)."""
        if not self.ami.ready:
            return
        try:
            await self.reload(modules | {"pbx_config.so"})
            missing = [context for context in contexts if not await self.has_context(context)]
        except AmiError as exc:
            raise AsteriskRefused(str(exc)) from None
        if missing:
            raise AsteriskRefused(f"the dialplan has no context {', '.join(missing)} after the reload")

    async def reload(self, modules: set[str]) -> None:
        """Reload what changed (module names from asterisk_config.reload_for), then resync (a queue reload resets
        pauses)."""
        for module in sorted(modules):
            if module == "app_queue.so":
                await self.ami.action({"Action": "QueueReload", "Members": "yes", "Rules": "yes", "Parameters": "yes"})
            elif module == "all":
                await self.ami.action({"Action": "Reload"})
            else:
                await self.ami.action({"Action": "Reload", "Module": module})
        if "res_pjsip.so" in modules:
            await self._register_again()
        if modules:
            self._publish("telephony.reloaded", modules=sorted(modules))
            await self.resync()

    async def _register_again(self) -> None:
        """Have every refused trunk registration try again at once: a reload that changed only its password keeps
        the registration as it was, whose next try would be minutes away (PJSIPRegister unregisters, then
        registers)."""
        for m in await self._listed({"Action": "PJSIPShowRegistrationsOutbound"}):
            name = m.get("ObjectName")
            if (
                m.get("Event") == "OutboundRegistrationDetail"
                and names.parse_trunk_endpoint(name) is not None
                and m.get("Status") == "Rejected"
            ):
                await self.ami.action({"Action": "PJSIPRegister", "Registration": name})


def _device_state(number: str | None) -> str:
    index = as_int(number)
    return DEVICE_STATES[index] if index is not None and 0 <= index < len(DEVICE_STATES) else "UNKNOWN"


class Submits(Protocol):
    def submit(self, coroutine: Coroutine) -> concurrent.futures.Future: ...


def carried_out(telephony: Submits, verb: Coroutine, failure: str) -> bool:
    """Run a verb on the loop for a web request and wait for it; False (logged as ``failure``) when Asterisk
    refused it or did not answer within VERB_WAIT."""
    try:
        telephony.submit(verb).result(VERB_WAIT)
    except (*TelephonyError, TimeoutError) as exc:
        log.warning("%s: %s", failure, exc)
        return False
    return True


def log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("telephony verb failed: %s", future.exception())
