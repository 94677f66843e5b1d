"""What the web layer needs of the controller: the composition root hands create_app an object with these parts,
and views reach it through ``controller()``. Tests hand in their own (tests/support.py) built from the same
domain services, so the web layer never depends on how the controller is put together."""
from __future__ import annotations

import concurrent.futures
from typing import Any, Protocol, cast

from flask import current_app

from leadcenter.agents.availability import Availability
from leadcenter.agents.presence import Presence
from leadcenter.calls.control import CallControl
from leadcenter.chats.services import Chats
from leadcenter.clock import Clock
from leadcenter.config import Settings
from leadcenter.credentials import Secrets
from leadcenter.dialplans.services import Asterisk as DialplanAsterisk
from leadcenter.events import Bus
from leadcenter.mail import Mailer
from leadcenter.monitors.services import Monitors
from leadcenter.calls.conference import Conferences
from leadcenter.pbx.process import Instance
from leadcenter.teams.services import QueueBoard
from leadcenter.sms.smpp import SmppLink
from leadcenter.texts.services import Texts
from leadcenter.trunks.services import TrunkStates
from leadcenter.visits.services import Visits
from leadcenter.voicemail.services import HandledMessages


class Controller(Protocol):
    settings: Settings
    secrets: Secrets
    instance: Instance
    presence: Presence
    availability: Availability
    call_control: CallControl
    monitors: Monitors
    conferences: Conferences
    queue_board: QueueBoard
    trunk_states: TrunkStates
    texts: Texts
    smscs: list[SmppLink]
    chats: Chats
    visits: Visits
    mailer: Mailer  # off (enabled False) without an SMTP host
    handled_messages: HandledMessages  # agents' own voicemail marked handled, filed in their mailbox's Old

    # Read-only, so that a stand-in's may be narrower (a test clock, a bus that records what is published).
    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def dialplans(self) -> DialplanAsterisk:
        """Asterisk reading a custom context before it is saved; the generated dialplan."""

    def reconfigure(self) -> concurrent.futures.Future:
        """Render Asterisk's configuration from the database again and reload what changed."""

    def reconfigure_checked(self, contexts: list[str]) -> concurrent.futures.Future:
        """As reconfigure, then check that Asterisk's dialplan has these contexts: the future raises
        AsteriskRefused (telephony.service) with Asterisk's message otherwise."""

    def health(self) -> dict[str, Any]:
        """The database, Asterisk and SMSC links as they are now; ``ok`` when all answer."""


def controller() -> Controller:
    """The controller serving the current request."""
    return cast(Controller, current_app.extensions["controller"])
