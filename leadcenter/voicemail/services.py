"""Finding a message Asterisk's app_voicemail left, and announcing mailboxes' new-message counts.

app_voicemail writes ``spool/voicemail/leadcenter/<mailbox>/INBOX/msgNNNN.{wav,txt}``; the .txt names the caller's
channel (``callerchan``) and the message's length (``duration``), which is how a message is tied to its call.
Mailboxes are named ``companyN`` and ``agentN`` (see pbx/configure.py). A mailbox's own greeting is its
``unavail.wav`` (VoiceMail's ``u`` option plays it instead of the standard one): 8 kHz, mono, 16-bit.
"""
from __future__ import annotations

import configparser
import io
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

from leadcenter.agents.models import Agent
from leadcenter.events import Event, EventBus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    audio: Path
    seconds: int


GREETING_RATE = 8000
GREETING_SECONDS = (0.5, 60)


class GreetingError(ValueError):
    pass


def greeting_path(mailbox: str) -> str:
    """The greeting's path under spool/."""
    return f"voicemail/leadcenter/{mailbox}/unavail.wav"


def check_greeting(data: bytes) -> float:
    """The greeting's length in seconds; GreetingError unless it is a WAV Asterisk plays as it is."""
    try:
        with wave.open(io.BytesIO(data)) as audio:
            shape = (audio.getnchannels(), audio.getsampwidth(), audio.getframerate())
            seconds = audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError) as exc:
        raise GreetingError(f"not a WAV file: {exc}") from None
    if shape != (1, 2, GREETING_RATE):
        raise GreetingError(f"the greeting must be mono, 16-bit, {GREETING_RATE} Hz (got {shape[0]} channel(s), "
                            f"{8 * shape[1]}-bit, {shape[2]} Hz)")
    low, high = GREETING_SECONDS
    if not low <= seconds <= high:
        raise GreetingError(f"the greeting must last {low} to {high} seconds, not {seconds:.1f}")
    return seconds


def inbox_dir(asterisk_dir: Path, mailbox: str) -> Path:
    return asterisk_dir / "spool" / "voicemail" / "leadcenter" / mailbox / "INBOX"


def find_message(asterisk_dir: Path, mailbox: str, channel: str) -> Message | None:
    """The message the caller on ``channel`` left in ``mailbox``, if they left one."""
    for info in sorted(inbox_dir(asterisk_dir, mailbox).glob("msg*.txt"), reverse=True):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(info.read_text(errors="replace"))
        except configparser.Error as exc:
            log.warning("voicemail %s unreadable: %s", info, exc)
            continue
        message = parser["message"] if parser.has_section("message") else {}
        audio = info.with_suffix(".wav")
        if message.get("callerchan") == channel and audio.exists():
            return Message(audio, int(message.get("duration", "0") or 0))
    return None


def mailbox_company(mailbox: str) -> tuple[int | None, int | None]:
    """(company id, agent id) of a mailbox name."""
    if mailbox.startswith("company") and mailbox[7:].isdigit():
        return int(mailbox[7:]), None
    if mailbox.startswith("agent") and mailbox[5:].isdigit():
        agent = Agent.get_or_none(Agent.id == int(mailbox[5:]))
        return (agent.company_id, agent.id) if agent else (None, None)
    return None, None


class MailboxCounter:
    """Asterisk's MessageWaiting -> ``voicemail.count_changed`` for the mailbox's company (and agent)."""

    def __init__(self, bus: EventBus):
        self.bus = bus
        bus.subscribe("voicemail.waiting", self.on_waiting)

    def on_waiting(self, event: Event) -> None:
        company_id, agent_id = mailbox_company(event.data["mailbox"])
        if company_id is not None:
            self.bus.publish("voicemail.count_changed", company_id=company_id, agent_id=agent_id,
                             mailbox=event.data["mailbox"], new=event.data["new"], old=event.data["old"])
