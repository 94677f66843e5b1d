"""The composition root: one place that builds and wires the database, the event bus, the telephony layer
(AMI + ARI on one asyncio loop thread), the domain services and the web app.

Threads: the asyncio loop thread (AMI, ARI, every Asterisk verb); the event dispatcher thread (domain services
and, later, websocket fan-out); for texts, an SMPP session thread per SMSC (smpplib is blocking: it reads the
bind and stores what arrives), the outbox pump and the Incoming-timer sweeper; the web server's threads (requests; they hand Asterisk work to the loop with
``telephony.submit`` and never wait on it while holding anything).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading

from peewee import SqliteDatabase

from leadcenter import asterisk_config, clock, credentials, db, migrations
from leadcenter.agents.presence import Presence
from leadcenter.agents.services import PauseKeeper
from leadcenter.calls.services import CallRecorder, everyone_declined
from leadcenter.config import Settings
from leadcenter.events import EventBus
from leadcenter.pbx import names
from leadcenter.pbx.process import Instance
from leadcenter.sms.smpp import SmppLink
from leadcenter.teams.services import QueueBoard
from leadcenter.telephony.service import Telephony, TelephonyError
from leadcenter.texts.outbox import Outbox
from leadcenter.texts.services import Texts
from leadcenter.voicemail.services import MailboxCounter

log = logging.getLogger(__name__)

AGENT_RING_SECONDS = 30  # an outbound call rings the agent's own device this long before it is given up
VERB_WAIT = 5.0  # seconds a web request waits for Asterisk to carry out a verb it asked for


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


class Controller:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.secrets = credentials.load_or_create(settings.data_dir)
        self.database: SqliteDatabase = db.open_sqlite(str(settings.database_path))
        db.bind(self.database)
        migrations.migrate()
        self.instance = Instance.from_settings(settings)
        # Every domain but texts reads the system clock; texts may be shifted (tests of its 12-hour timers).
        self.clock = clock.system
        self.bus = EventBus(self.clock)
        self.loop = LoopThread()
        self.telephony = Telephony(settings, self.secrets, self.bus, self.clock)
        self.calls = CallRecorder(self.bus, self._recording_path, settings.asterisk_dir, settings.data_dir, self.clock)
        self.mailboxes = MailboxCounter(self.bus)
        self.queue_board = QueueBoard(self.bus, self.clock)
        self.pauses = PauseKeeper(self.bus, self.telephony)
        self.presence = Presence(self.bus)
        self._build_texts(settings)
        from leadcenter.web.app import create_app  # the web layer depends on the controller, not the reverse
        self.web = create_app(self)

    def _build_texts(self, settings: Settings) -> None:
        """The texts domain over one SMPP bind per configured SMSC, each sending for its tracking numbers; without
        an SMSC, sends are refused as unavailable."""
        texts_clock = clock.shifted(dt.timedelta(seconds=settings.texts.clock_offset_seconds), self.clock)
        self.outbox = Outbox(self.bus, on_text=lambda delivery: self.texts.receive(delivery), clock=texts_clock)
        self.smscs = [SmppLink(smsc, self.outbox.listener(smsc.name), smsc.name, self.clock) for smsc in settings.smscs]
        routes = [frozenset(n.strip() for n in link.settings.numbers.split(",") if n.strip()) or None
                  for link in self.smscs]
        for link, numbers in zip(self.smscs, routes):
            self.outbox.attach(link, numbers)
        # A link that names no numbers sends for every tracking number; otherwise only the named ones can text.
        served = None if None in routes else frozenset().union(*routes)
        idle = settings.texts.active_idle_hours
        self.texts = Texts(self.bus, self.outbox, served, texts_clock,
                           dt.timedelta(hours=settings.texts.incoming_timeout_hours),
                           dt.timedelta(hours=idle) if idle > 0 else None, enabled=bool(self.smscs))

    def _recording_path(self, inside: str) -> str:
        return str(self.instance.host_path(inside).relative_to(self.settings.data_dir))

    def start(self) -> None:
        self.bus.start()
        self.loop.start()
        self.loop.run(self.telephony.start())
        self.texts.start()
        if self.smscs:
            self.outbox.recover()
            for link in self.smscs:
                link.start()
            self.outbox.start()
        log.info("controller started")

    def stop(self) -> None:
        try:
            self.outbox.stop()
            for link in self.smscs:
                link.stop()
            self.texts.stop()
            self.loop.run(self.telephony.stop())
        finally:
            self.loop.stop()
            self.bus.wait_idle(5)
            self.bus.stop()
            self.database.close()
        log.info("controller stopped")

    def reconfigure(self):
        """Render Asterisk's files from the database and reload what changed (call after admin edits)."""
        modules = asterisk_config.write(self.settings, self.secrets, self.instance)
        return self.telephony.submit(self.telephony.reload(modules))

    def answer(self, interaction, agent) -> str:
        """The agent presses Answer on an incoming call. If their phone rings for it they pick it up there
        ("ringing"). Otherwise the call leaves the queue or step it is in and rings their phone at once, asking it
        to pick up by itself (dialplan lc-answer), so that the queue stops offering it elsewhere ("called");
        "gone" when Asterisk could not move it (it ended or was answered meanwhile)."""
        if self.calls.offers.ringing(interaction.channel_id, agent.id) is not None:
            return "ringing"
        moved = self._carry_out(
            self.telephony.redirect(interaction.channel_id, names.ANSWER_CONTEXT,
                                    agent.endpoint_name(agent.ring_device)),
            f"call {interaction.channel_id} not moved to agent {agent.id}")
        return "called" if moved else "gone"

    def hang_up(self, interaction) -> None:
        """End the call: the lead's channel is hung up, the agent's leg with it; the recorder concludes it."""
        self.telephony.submit(self.telephony.hangup(interaction.channel_id))

    def decline(self, interaction, agent) -> tuple[bool, bool]:
        """The agent declines an incoming call: their ringing leg, if it rings, is hung up so the flow moves on
        at once (next agent, or the next step) instead of after the ring time; and once every agent it is
        offered to has declined, a call waiting in a queue goes on to the flow's next step (a ring-agents step ends
        by itself when its last leg is hung up). Returns (a leg was hung up, the call went on)."""
        if not interaction.channel_id:
            return False, False
        passed_on = (self.calls.offers.in_queue(interaction.channel_id)
                     and everyone_declined(interaction, self.presence.reachable))
        if passed_on:  # leaving the queue cancels the ringing leg too (and app_queue rings nobody else)
            self.telephony.submit(self.telephony.next_step(interaction.channel_id))
        leg = self.calls.offers.ringing(interaction.channel_id, agent.id)
        if leg is not None and not passed_on:
            self.telephony.submit(self.telephony.hangup(leg, reason="busy"))
        return leg is not None, passed_on

    def place_call(self, interaction, record: bool) -> bool:
        """An agent's outbound call: ring their device, then (lc-outbound) dial the lead on the tracking number's
        trunk with that number as caller ID, recorded when asked. False when Asterisk did not take the call."""
        number, agent = interaction.tracking_number, interaction.agent
        variables = {"LC_OUTBOUND": "1", "LC_COMPANY": str(number.company_id), "LC_NUMBER": str(number.id),
                     "LC_TRUNK": number.trunk.endpoint_name, "LC_CALLER_ID": number.number,
                     "LC_RECORD": "1" if record else "0",
                     # The agent's device learns which interaction rings, and (as lc-auto-answer says it) to
                     # pick up at once: the agent asked for this call.
                     "PJSIP_HEADER(add,X-LC-Call)": interaction.channel_id,
                     "PJSIP_HEADER(add,Call-Info)": "<sip:leadcenter>;answer-after=0"}
        return self._carry_out(
            self.telephony.place_outbound(interaction.channel_id, agent.queue_interface, interaction.lead_number,
                                          variables=variables, caller_id=f'"" <{interaction.lead_number}>',
                                          ring_seconds=AGENT_RING_SECONDS),
            f"outbound call {interaction.channel_id} of agent {agent.id} not placed")

    def _carry_out(self, verb, failure: str) -> bool:
        """Run a verb on the loop for a web request and wait for it; False (logged) when Asterisk refused it or
        did not answer within VERB_WAIT."""
        try:
            self.telephony.submit(verb).result(VERB_WAIT)
        except (*TelephonyError, TimeoutError) as exc:
            log.warning("%s: %s", failure, exc)
            return False
        return True

    def health(self) -> dict:
        try:
            self.database.execute_sql("SELECT 1").fetchone()
            database_ok = True
        except Exception as exc:  # any failure to answer means unhealthy; say which
            log.warning("health: database: %s", exc)
            database_ok = False
        telephony = self.telephony.status()
        return {"ok": database_ok and self.telephony.connected,
                "database": "ok" if database_ok else "unavailable",
                "asterisk": telephony,
                "sms": self.sms_status()}

    def sms_status(self) -> dict:
        """Each SMPP bind's state and counters and the outbox backlog; ``state`` is ``bound`` when every bind is
        (texting's health does not make the controller unhealthy: calls go on without an SMSC)."""
        if not self.smscs:
            return {"state": "off"}
        bound = [link.bound for link in self.smscs]
        state = "bound" if all(bound) else ("partly bound" if any(bound) else "down")
        return {"state": state, "smscs": [link.status() for link in self.smscs], "outbox": self.outbox.backlog()}
