"""Finding a message Asterisk's app_voicemail left, and announcing mailboxes' new-message counts.

app_voicemail writes ``spool/voicemail/leadcenter/<mailbox>/INBOX/msgNNNN.{wav,txt}``; the .txt names the caller's
channel (``callerchan``) and the message's length (``duration``), which is how a message is tied to its call.
Mailboxes are named ``companyN`` and ``agentN`` (pbx/names.py).
"""

from __future__ import annotations

import configparser
import logging
from dataclasses import dataclass
from pathlib import Path

from leadcenter.agents.models import Agent
from leadcenter.events import Bus, Event
from leadcenter.pbx import names
from leadcenter.voicemail import notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    audio: Path
    seconds: int


def inbox_dir(asterisk_dir: Path, mailbox: str) -> Path:
    return asterisk_dir / "spool" / "voicemail" / names.VOICEMAIL_CONTEXT / mailbox / "INBOX"


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
    if (company_id := names.parse_company_mailbox(mailbox)) is not None:
        return company_id, None
    if (agent_id := names.parse_agent_mailbox(mailbox)) is not None:
        agent = Agent.get_or_none(Agent.id == agent_id)
        return (agent.company_id, agent.id) if agent else (None, None)
    return None, None


class MailboxCounter:
    """Asterisk's MessageWaiting -> ``voicemail.count_changed`` for the mailbox's company (and agent)."""

    def __init__(self, bus: Bus):
        self.bus = bus
        bus.subscribe("voicemail.waiting", self.on_waiting)

    def on_waiting(self, event: Event) -> None:
        company_id, agent_id = mailbox_company(event.data["mailbox"])
        if company_id is not None:
            notifier.count_changed(
                self.bus, company_id, agent_id, event.data["mailbox"], event.data["new"], event.data["old"]
            )
