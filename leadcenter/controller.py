"""The composition root: one place that builds and wires the database, the event bus, the telephony layer
(AMI + ARI on one asyncio loop thread), the domain services and the web app.

Threads: the asyncio loop thread (AMI, ARI, every Asterisk verb); the event dispatcher thread (domain services
and the event streams' fan-out); for texts, an SMPP session thread per SMSC (smpplib is blocking: it reads the
bind and stores what arrives), the outbox pump and the Incoming-timer sweeper; the chats' response-timer sweeper;
the teams' wrap-up timer;
the mail outbox's sender and the weekly summaries' sweeper (when SMTP is configured); the web server's request
threads (they hand Asterisk work to the loop with ``telephony.submit`` and never wait on it while holding anything).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import logging
import threading
from collections.abc import Callable
from typing import cast

from peewee import Database

from leadcenter import clock, cluster, credentials, db, generations, mail, migrations
from leadcenter.agents.availability import Availability
from leadcenter.agents.presence import Presence
from leadcenter.agents.services import PauseKeeper
from leadcenter.asterisk_config import AsteriskConfig, DialplanCheck
from leadcenter.callbacks.services import Callbacks
from leadcenter.calls.conference import Conferences
from leadcenter.calls.control import CallControl
from leadcenter.calls.services import CallRecorder, call_node
from leadcenter.chats.services import Chats
from leadcenter.config import Settings, asterisk_links, company_asterisks, system_name
from leadcenter.events import EventBus
from leadcenter.health import Health
from leadcenter.monitors.services import Monitors
from leadcenter.notifications.services import ChatEmails
from leadcenter.pbx.process import Instance
from leadcenter.reports.summary import WeeklySummaries
from leadcenter.sms.smpp import SmppLink
from leadcenter.teams.services import QueueBoard, WrapUpTimer
from leadcenter.teamview import services as teamview
from leadcenter.telephony.ami import AmiError
from leadcenter.telephony.ari import AriError
from leadcenter.telephony.nodes import Nodes
from leadcenter.telephony.service import AsteriskRefused, Telephony
from leadcenter.texts.outbox import Outbox
from leadcenter.texts.services import Texts
from leadcenter.trunks.services import TrunkStates
from leadcenter.visits.services import Visits
from leadcenter.voicemail.services import HandledMessages, MailboxCounter, VoicemailEmails

log = logging.getLogger(__name__)


class LoopThread:
    """An asyncio event loop running in its own thread."""

    def __init__(self, name: str = "telephony-loop"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def run(self, coroutine, timeout: float = 10.0):
        """Run a coroutine on the loop and wait for it (start-up and shutdown only)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


# The telephony layer's verbs a web node may ask the controller node for (its public coroutines), and the errors
# its refusals are raised again as on the web node.
FORWARDED_VERBS = frozenset(
    name
    for name, member in inspect.getmembers(Telephony, inspect.iscoroutinefunction)
    if not name.startswith("_") and name not in ("start", "stop", "resync")
)
FORWARDED_ERRORS = {kind.__name__: kind for kind in (AmiError, AriError, AsteriskRefused, TimeoutError)}


class Controller:
    """``web_only``: a web node (cluster.py): the web app over the shared PostgreSQL database; its verbs are
    carried out by the controller node, and none of the controller's threads run here."""

    def __init__(self, settings: Settings, web_only: bool = False):
        self.settings = settings
        self.web_only = web_only
        self.secrets = credentials.load_or_create(settings.data_dir)
        self.database: Database = db.open_database(settings.database.url, str(settings.database_path))
        db.bind(self.database)
        migrations.migrate()
        self.clustered = db.is_postgresql(self.database)  # on SQLite there is one node and no cluster code runs
        if web_only and not self.clustered:
            raise ValueError("a web node (--web-only) needs the PostgreSQL database of its controller node")
        self.node = cluster.new_node_id()
        self.instance = Instance.from_settings(settings)
        # Every domain but texts reads the system clock; texts may be shifted (tests of its 12-hour timers).
        self.clock = clock.system
        self.bus = EventBus(self.clock)
        self.loop = LoopThread()
        if web_only:
            self.remote = cluster.RemoteTelephony(self.database, self.node, FORWARDED_VERBS, FORWARDED_ERRORS)
            # The same verbs by the same names: whoever holds it hands them to submit() and gets a future.
            self.telephony = cast(Telephony, self.remote)
        else:
            self.telephony = self._telephony(settings)
        self.presence = Presence(self.bus, teamview.call_began, keeps_view=not web_only)
        self.availability = Availability(self.bus, self.presence.seen)
        self.calls = CallRecorder(
            self.bus, self._recording_path, settings.asterisk_dir, settings.data_dir, self.clock, self.availability
        )
        self.call_control = CallControl(
            self.telephony, self.calls.offers, self.presence.reachable, self.bus, self.clock, self._home_node
        )
        self.monitors = Monitors(self.bus, self.telephony, self.clock)
        self.conferences = Conferences(self.bus, self.telephony, self.clock, self.presence.of)
        self.callbacks = Callbacks(self.bus, self.telephony, self.clock, home=self._home_node)
        self.mailboxes = MailboxCounter(self.bus)
        self.queue_board = QueueBoard(self.bus, self.clock)
        self.trunk_states = TrunkStates(self.bus, self.clock, keeps_view=not web_only)
        self.pauses = PauseKeeper(self.bus, self.telephony, self.availability)
        self.wrap_up = WrapUpTimer(self.availability, self.clock)  # teams whose wrap-up ends by itself
        self._build_texts(settings)
        self.chats = Chats(self.bus, self.clock)
        self.mailer = mail.Mailer(settings.smtp, self.clock)  # off without an SMTP host
        self.chat_emails = ChatEmails(self.bus, self.mailer, settings.app_url)
        self.voicemail_emails = VoicemailEmails(self.bus, self.mailer, settings.data_dir, settings.app_url)
        self.handled_messages = HandledMessages(self.telephony, settings.data_dir)
        self.weekly_summaries = WeeklySummaries(self.mailer, self.clock, settings.app_url)
        self.visits = Visits(self.bus, self.clock)
        self.asterisk_config = AsteriskConfig(settings, self.secrets, self.instance, self.telephony, self.clock)
        if web_only:  # Asterisk's files are the controller node's: it renders them and reloads
            self.reconfigure = lambda: self.remote.submit(cluster.ForwardedVerb("reconfigure", (), {}))
            self.reconfigure_checked = lambda contexts: self.remote.submit(
                cluster.ForwardedVerb("reconfigure_checked", (contexts,), {})
            )
        else:
            self.reconfigure = self.asterisk_config.apply
            self.reconfigure_checked = self.asterisk_config.apply_checked
        self.dialplans = DialplanCheck(self.asterisk_config)
        edge = None if web_only else self.asterisk_config.edge  # a web node runs no Kamailio
        followed = isinstance(self.telephony, Nodes) and self.telephony.followed
        self.health = Health(self.database, self.telephony, self.smscs, self.outbox, edge, followed)
        from leadcenter.web.app import create_app  # the web layer depends on the controller, not the reverse
        from leadcenter.web.limits import Limits, SharedLimits

        # Several nodes count their clients' rates and websockets together, in the database (web/limits.py).
        self.limits = SharedLimits(self.database, self.node) if self.clustered else Limits()
        self.web = create_app(self, self.limits)
        self.relay = cluster.EventRelay(self.database, self.bus, self.node) if self.clustered else None
        self.listener = self._build_cluster(self.relay) if self.relay is not None else None

    def _telephony(self, settings: Settings) -> Telephony:
        """One Telephony per Asterisk the controller drives; several nodes behind the router that sends each verb
        to its call's node (telephony/nodes.py), with the same verbs."""
        links = asterisk_links(settings)
        if len(links) == 1:
            return Telephony(settings, self.secrets, self.bus, self.clock, link=links[0])
        nodes = [Telephony(settings, self.secrets, self.bus, self.clock, link=link) for link in links]
        own = system_name(settings) or links[0].node
        # On PostgreSQL the other nodes' followers render and reload their files (generations.py).
        return cast(Telephony, Nodes(nodes, own, call_node, self._home_node, followed=self.clustered))

    def _home_node(self, company_id: int) -> str:
        """The Asterisk node a company's outbound calls are placed on: its home ("": the one Asterisk)."""
        return company_asterisks(self.settings, company_id)[0].node

    def _build_cluster(self, relay: cluster.EventRelay) -> cluster.Listener:
        """This node's part of the cluster: its events to the others (``relay``), theirs to its streams, and the
        verbs: asked (a web node) or carried out (the controller node)."""
        from leadcenter.web.auth import SharedAttemptLimiter

        self.web.extensions["sign_in_limiter"] = SharedAttemptLimiter(self.database)  # every node's failures count
        self.bus.subscribe("*", relay.send, immediate=True)
        handlers = {cluster.EVENTS_CHANNEL: relay.received}
        hub = self.web.extensions["event_stream"]
        if self.web_only:
            handlers[cluster.DONE_CHANNEL] = self.remote.done
            return cluster.Listener(
                self.settings.database.url, handlers, on_gap=hub.lost_events, tick=self._ticking(self.remote.tick)
            )
        verbs = cluster.VerbServer(self.database, self._verb_handlers())
        handlers[cluster.VERBS_CHANNEL] = verbs.asked
        if isinstance(self.telephony, Nodes):
            handlers[generations.APPLIED_CHANNEL] = self._node_applied
        listener = cluster.Listener(
            self.settings.database.url,
            handlers,
            on_connected=verbs.on_connected,
            on_gap=hub.lost_events,
            tick=self._ticking(verbs.tick),
        )
        verbs.wake = listener.wake
        return listener

    def _node_applied(self, payload: str) -> None:
        """A follower loaded a generation of its node's files: resynchronise that node."""
        applied = json.loads(payload)
        log.info("node %s applied generation %s", applied["node"], applied["generation"])
        nodes = cast(Nodes, self.telephony)
        nodes.submit(nodes.resync_node(applied["node"]))

    def _ticking(self, tick: Callable[[], None]) -> Callable[[], None]:
        """The listener's tick: ``tick``, then the shared limits' heartbeat, each whatever the other did."""

        def both() -> None:
            try:
                tick()
            finally:
                self.limits.tick()

        return both

    def _verb_handlers(self) -> dict:
        def on_loop(name: str):
            return lambda *args, **kwargs: self.telephony.submit(getattr(self.telephony, name)(*args, **kwargs))

        handlers = {name: on_loop(name) for name in FORWARDED_VERBS}
        handlers["reconfigure"] = self.asterisk_config.apply
        handlers["reconfigure_checked"] = self.asterisk_config.apply_checked
        return handlers

    def _build_texts(self, settings: Settings) -> None:
        """The texts domain over one SMPP bind per configured SMSC, each sending for its tracking numbers; without
        an SMSC, sends are refused as unavailable."""
        texts_clock = clock.shifted(dt.timedelta(seconds=settings.texts.clock_offset_seconds), self.clock)
        self.outbox = Outbox(self.bus, on_text=lambda delivery: self.texts.receive(delivery), clock=texts_clock)
        self.smscs = [SmppLink(smsc, self.outbox.listener(smsc.name), smsc.name, self.clock) for smsc in settings.smscs]
        routes = [
            frozenset(n.strip() for n in link.settings.numbers.split(",") if n.strip()) or None for link in self.smscs
        ]
        for link, numbers in zip(self.smscs, routes, strict=True):
            self.outbox.attach(link, numbers)
        # A link that names no numbers sends for every tracking number; otherwise only the named ones can text.
        served = None if None in routes else frozenset().union(*filter(None, routes))
        idle = settings.texts.active_idle_hours
        self.texts: Texts = Texts(
            self.bus,
            self.outbox,
            served,
            texts_clock,
            dt.timedelta(hours=settings.texts.incoming_timeout_hours),
            dt.timedelta(hours=idle) if idle > 0 else None,
            enabled=bool(self.smscs),
        )

    def _recording_path(self, inside: str) -> str:
        return str(self.instance.host_path(inside).relative_to(self.settings.data_dir))

    def start(self) -> None:
        self.bus.start()
        if self.relay is not None and self.listener is not None:
            self.relay.start()
            self.listener.start()
        if self.web_only:
            log.info("web node %s started", self.node)
            return
        self.loop.start()
        self.loop.run(self.telephony.start())
        self.texts.timers.start()
        self.chats.timers.start()
        self.wrap_up.timers.start()
        self.callbacks.timers.start()
        if self.mailer.enabled:
            self.mailer.start()
            self.weekly_summaries.timers.start()
        self.visits.timers.start()
        if self.smscs:
            self.outbox.recover()
            for link in self.smscs:
                link.start()
            self.outbox.start()
        log.info("controller started")

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        if self.web_only:
            self.bus.wait_idle(5)
            self.bus.stop()
            self._stop_relay()
            self.database.close()
            return
        try:
            self.outbox.stop()
            for link in self.smscs:
                link.stop()
            self.texts.timers.stop()
            self.chats.timers.stop()
            self.wrap_up.timers.stop()
            self.callbacks.timers.stop()
            self.weekly_summaries.timers.stop()
            self.mailer.stop()
            self.visits.timers.stop()
            self.loop.run(self.telephony.stop())
        finally:
            self.loop.stop()
            self.bus.wait_idle(5)
            self.bus.stop()
            self._stop_relay()
            self.database.close()
        log.info("controller stopped")

    def _stop_relay(self) -> None:
        """After the bus: the last events it delivered reach the other nodes."""
        if self.relay is not None:
            self.relay.stop()
