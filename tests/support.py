"""What the unit tests share besides fixtures (conftest.py): the fixtures' password, a browser-like API client,
and the stand-in controller the web app runs over in unit tests (no Asterisk: the integration tests use the
real one). A module of its own because every test directory may have a conftest.py of its own."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from leadcenter import asterisk_config, config
from leadcenter.agents.availability import Availability
from leadcenter.agents.presence import Presence
from leadcenter.calls.conference import Conferences
from leadcenter.calls.control import CallControl
from leadcenter.calls.services import OfferBook
from leadcenter.chats.services import Chats
from leadcenter.credentials import Secrets
from leadcenter.events import Bus, Event, EventBus
from leadcenter.mail import Mailer
from leadcenter.monitors.services import Monitors
from leadcenter.pbx.process import Instance
from leadcenter.teams.services import QueueBoard
from leadcenter.teamview.services import call_began
from leadcenter.telephony.ari import AriError
from leadcenter.telephony.service import AsteriskRefused
from leadcenter.texts.outbox import Outbox
from leadcenter.texts.services import Texts
from leadcenter.trunks.services import TrunkStates
from leadcenter.visits.services import Visits
from leadcenter.voicemail.services import HandledMessages
from leadcenter.web.app import create_app

PASSWORD = "correct horse battery"
# The unit tests' "now": every clock they hand the code starts here, whatever the date is (see test_clock.py).
T0 = dt.datetime(2026, 11, 27, 9, 0, 0)


class Clock:
    """A clock the test sets: starts at T0, moves only when told."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


class RecordingBus(EventBus):
    """Collects what the code under test publishes instead of delivering it; what a test hands to ``deliver`` reaches
    the subscribers at once."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, name: str, **data: Any) -> None:  # type: ignore[override]
        self.published.append((name, data))

    def names(self) -> list[str]:
        return [name for name, _ in self.published]


def delivering(world):
    """The recorder's own internal events (call.leg_*) are delivered too, as the dispatcher does: queued, each after
    the handler that published it has returned."""
    bus, deliver = world["bus"], world["bus"].deliver
    pending: collections.deque[Event] = collections.deque()

    def publish(name, **data):
        bus.published.append((name, data))
        if name.startswith("call."):
            pending.append(Event(name, data, 0, data.get("at") or dt.datetime.min))

    def deliver_then_what_it_published(event):
        deliver(event)
        while pending:
            deliver(pending.popleft())

    bus.publish, bus.deliver = publish, deliver_then_what_it_published
    world["deliver_alone"] = deliver  # one event, leaving what its handler published queued
    return world


Verb = tuple[str, tuple, dict]  # a telephony verb as the stand-in makes it: (its name, arguments, keyword arguments)


# calls/conference.py's verbs (telephony/service.py)
CONFERENCE_VERBS = ("consult", "complete_consult", "merge_consult", "cancel_consult", "add_to_conference")


class StandInTelephony:
    """The telephony layer's verbs without Asterisk: each is recorded as (verb, arguments) and carried out at once,
    or refused as Asterisk refuses one (the call ended meanwhile) while ``fails`` is set."""

    def __init__(self) -> None:
        self.verbs: list[tuple[str, tuple]] = []
        self.made: list[Verb] = []  # the same with their keyword arguments
        self.fails = False
        # What Asterisk's carrying out a verb makes happen before it answers (by the verb's name): e.g. the tracker
        # seeing the channels move and publishing it, while the caller waits for the verb's result.
        self.meanwhile: dict[str, Callable[[], None]] = {}

    def __getattr__(self, verb: str) -> Callable[..., Verb]:
        if verb not in (
            "redirect",
            "hangup",
            "hang_up_call",
            "next_step",
            "transfer",
            "place_outbound",
            "reload",
            "spy",
            "move_voicemail",
            "set_variable",
            "follow_parties",
            *CONFERENCE_VERBS,
        ):
            raise AttributeError(verb)
        return lambda *args, **kwargs: (verb, args, kwargs)

    def submit(self, call: Verb) -> concurrent.futures.Future[None]:
        verb, args, kwargs = call
        self.verbs.append((verb, args))
        self.made.append(call)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self.fails:
            done.set_exception(AriError("Channel not found", 404))
        else:
            self.meanwhile.get(verb, lambda: None)()
            done.set_result(None)
        return done

    def named(self, verb: str) -> list[tuple]:
        return [args for name, args in self.verbs if name == verb]


class StandInDialplans:
    """Asterisk's reading of a custom context, for the unit tests: the generated dialplan as rendered from the
    database, and the complaints a test says Asterisk has (``said``; ``unreachable`` raises as a stopped Asterisk
    would); ``read`` keeps each (context, text) asked about."""

    def __init__(self, settings: config.Settings, secrets: Secrets):
        self.settings, self.secrets = settings, secrets
        self.said: list[str] = []
        self.unreachable = False
        self.read: list[tuple[str, str]] = []

    def generated(self) -> dict[str, str]:
        return asterisk_config.generated_dialplan(self.settings, self.secrets)

    def complaints(self, context: str, text: str) -> list[str]:
        from leadcenter.dialplans.services import DialplanUnchecked

        if self.unreachable:
            raise DialplanUnchecked("Asterisk could not read the dialplan: AMI not connected")
        self.read.append((context, text))
        return list(self.said)


class StandInController:
    """What the web app needs of the controller (web/ports.py), without Asterisk: the real domain services over a
    telephony stand-in that records the verbs they ask of Asterisk, settings, secrets, a bus that records what is
    published, an instance directory for the files Asterisk would read, and a reconfigure() that counts how often
    Asterisk's config would have been re-rendered."""

    def __init__(self, asterisk_dir: Path, env: dict[str, str] | None = None, bus: Bus | None = None):
        """``env``: settings as environment variables; ``bus``: a real one instead of the recording one."""
        self.settings = config.load(env=env or {})
        # external: files are owned by the user running the tests, not the Asterisk root's asterisk user
        self.instance = Instance(asterisk_dir, asterisk_dir, external=True)
        self.secrets = Secrets(ami_secret="x", ari_secret="y", session_key="unit-test-session-key")
        self.bus: Bus = bus if bus is not None else RecordingBus()
        self.clock = Clock()
        # Texts with no SMSC: what is sent stays queued in the outbox, where the tests look at it.
        self.outbox = Outbox(self.bus, on_text=lambda delivery: None, clock=self.clock)
        self.smscs: list = []  # no SMPP bind: tests that need one add a stand-in
        self.texts = Texts(self.bus, self.outbox, served_numbers=None, clock=self.clock)
        # Tests sweep the chats' timers with chats.sweep() and the visits' retention with visits.sweep(). The rows the
        # public requests read are not remembered here (remember_seconds=0): tests change them and look at once, and
        # the recording bus tells nobody of a change; test_memo.py checks the remembering.
        self.chats = Chats(self.bus, self.clock, remember_seconds=0)
        self.visits = Visits(self.bus, self.clock, remember_seconds=0)
        self.queue_board = QueueBoard(self.bus, self.clock)
        self.trunk_states = TrunkStates(self.bus, self.clock)  # tests tell it with telephony.trunks events
        self.presence = Presence(self.bus, call_began)  # tests tell it device states with on_device_state
        self.availability = Availability(self.bus, self.presence.seen)
        self.telephony = StandInTelephony()
        self.offers = OfferBook()  # tests say whose phone rings for which call with offers.offer
        self.call_control = CallControl(self.telephony, self.offers, self.presence.reachable, self.bus, self.clock)
        self.monitors = Monitors(self.bus, self.telephony, self.clock)
        self.conferences = Conferences(self.bus, self.telephony, self.clock, self.presence.of)
        self.mailer = Mailer(self.settings.smtp, self.clock)  # queues to the outbox; nothing sends it
        self.handled_messages = HandledMessages(self.telephony, self.settings.data_dir)
        self.reconfigured = 0
        self.dialplans = StandInDialplans(self.settings, self.secrets)
        self.checked: list[list[str]] = []  # the contexts each reconfigure_checked() checked
        self.refusal: str | None = None  # what Asterisk answers reconfigure_checked() with, as it would refuse

    def reconfigure_checked(self, contexts: list[str]) -> concurrent.futures.Future[None]:
        """After reconfigure() (which the config rows already asked for), check the contexts: refused while
        ``refusal`` is set."""
        self.checked.append(contexts)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self.refusal is not None:
            done.set_exception(AsteriskRefused(self.refusal))
        else:
            done.set_result(None)
        return done

    def reconfigure(self) -> concurrent.futures.Future[None]:
        self.reconfigured += 1
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.set_result(None)
        return done

    def health(self) -> dict[str, Any]:
        return {"ok": True, "database": "ok", "asterisk": {"ami": "connected", "ari": "connected"}}

    def app(self) -> Flask:
        """The web app over this controller (web/ports.py's Controller, which the checker holds it to)."""
        return create_app(self)


@contextlib.contextmanager
def live_controller(asterisk_dir: Path, env: dict[str, str] | None = None) -> Iterator[StandInController]:
    """A stand-in controller over a real event bus, dispatching on its own thread (what the event stream and the
    visitor sockets need), with these settings."""
    bus = EventBus()
    controller = StandInController(asterisk_dir, env, bus)
    bus.start()
    try:
        yield controller
    finally:
        bus.stop()


class ApiClient:
    """A browser-like client: signs in through the API and sends the CSRF token on unsafe requests."""

    def __init__(self, flask_client):
        self.http = flask_client
        self.csrf = None
        self.bearer = None

    def sign_in(self, email: str, password: str = PASSWORD, company_id: int | None = None):
        self.csrf = self.http.get("/api/v1/session").get_json()["csrf_token"]
        body: dict[str, str | int] = {"email": email, "password": password}
        if company_id is not None:
            body["company_id"] = company_id
        status, data = self.post("/api/v1/session", body)
        assert status == 200, data
        self.csrf = data["csrf_token"]
        return data

    def request(self, method: str, path: str, body=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        if self.bearer:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        response = self.http.open(path, method=method, json=body, headers=headers, **kwargs)
        return response.status_code, response.get_json(silent=True)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


class Serving:
    """The production web server (leadcenter/web/server.py: Hypercorn, the gateway, the Flask app) on loopback
    ports the kernel picks, its loop in a thread of its own; ``https`` adds the TLS listener (with the certificate
    ``settings`` name)."""

    def __init__(self, settings, app, https: bool = False):
        import asyncio

        from leadcenter.web.server import WebServer, listen

        self.server = WebServer(settings, app, listen("127.0.0.1", 0), listen("127.0.0.1", 0) if https else None)
        self.http = "{}:{}".format(*self.server.addresses["http"])
        self.https = "{}:{}".format(*self.server.addresses["https"]) if https else None
        self.gateway = self.server.gateway
        # Hypercorn's pinger outlives a closed websocket until its next ping: each test would stop in LINGER_SECONDS.
        self.server.config.websocket_ping_interval = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="test-web", daemon=True)

    async def _serve(self):
        import asyncio

        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self.server.serve(self._stop.wait)

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the web server did not stop within 10 s"


WAIT = 5.0  # seconds any single expected websocket frame may take


def open_socket(
    address: str,
    path: str,
    *,
    cookie: str | None = None,
    origin: str | None = "own",
    headers: dict | None = None,
    **options,
):
    """A websocket client of the server at ``address`` (host:port); a browser's page of the app by default. No
    keepalive pings: their thread joins the reader thread as close() does, and two joins of one thread race in
    CPython 3.11 ("release unlocked lock", python/cpython#116372); the shifted-clock runs' timed waits made it show."""
    from websockets.sync.client import connect
    from websockets.typing import Origin

    headers = dict(headers or {})
    if cookie:
        headers["Cookie"] = cookie
    options.setdefault("ping_interval", None)
    options.setdefault("compression", None)
    sent = f"http://{address}" if origin == "own" else origin
    return connect(
        f"ws://{address}{path}",
        origin=Origin(sent) if sent is not None else None,
        additional_headers=headers,
        proxy=None,
        open_timeout=WAIT,
        **options,
    )


def frames(ws, count: int, timeout: float = WAIT) -> list[dict]:
    """The next ``count`` JSON frames."""
    import json
    import time

    deadline = time.monotonic() + timeout
    received: list[dict] = []
    while len(received) < count:
        try:
            received.append(json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic()))))
        except TimeoutError:
            raise AssertionError(f"{len(received)} of {count} frames arrived in {timeout} s") from None
    return received


def close_code(ws, timeout: float = WAIT) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    import time

    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + timeout
    try:
        while True:
            ws.recv(timeout=max(0.0, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, f"the connection ended without a close frame: {closed!r}"
        return closed.rcvd.code, closed.rcvd.reason


ATTRIBUTION = ("source", "medium", "campaign", "keywords", "click_id", "landing_page", "referrer")


def attribution(interaction: dict) -> tuple:
    """Where an interaction (as the API and the events carry it) says its lead came from."""
    return tuple(interaction[field] for field in ATTRIBUTION)


def spring_ad(landing: str) -> tuple:
    """The attribution of the tests' visitor who came from the Google ad of the spring campaign to ``landing``."""
    return ("Google Ads", "cpc", "spring", "roof repair", "EAIa", landing, "https://www.google.com/")


def signed_in(make_client, email: str, password: str = PASSWORD) -> ApiClient:
    """A new client of the app (``make_client``), signed in as ``email``."""
    client = make_client()
    client.sign_in(email, password)
    return client


class SyncBus(EventBus):
    """The event bus, delivering each event on the publisher's thread before publish returns."""

    def publish(self, name: str, **data) -> Event:
        event = Event(name, data, 0, self.clock())
        self.deliver(event)
        return event


CALL = "1700000000.41"  # the lead channel's unique id of the ``call`` fixture (conftest.py)


def reachable(controller: StandInController, *agents, state: str = "NOT_INUSE") -> None:
    """Their ring devices are registered and free (or in ``state``, as Asterisk names device states): a call can
    ring them."""
    for agent in agents:
        controller.presence.on_device_state(
            Event(
                "telephony.device_state",
                {"endpoint": agent.endpoint_name(agent.ring_device), "agent_id": agent.id, "state": state},
                0,
                T0,
            )
        )


def eventually(condition, seconds: float = 5.0) -> bool:
    """Whether ``condition()`` holds within ``seconds`` (polled every 20 ms; a timed wait on an Event, which the
    shifted-clock runs' libfaketime leaves working)."""
    pause = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return condition()


def config_sections(text: str) -> list[dict]:
    """Each [section] of a rendered Asterisk file as its settings (values as written, escapes kept), with its name."""
    sections: list[dict] = []
    for line in text.splitlines():
        if line.startswith("["):
            sections.append({"name": line[1:].split("]")[0]})
        elif " = " in line and sections:
            key, value = line.split(" = ", 1)
            sections[-1][key] = value
    return sections
