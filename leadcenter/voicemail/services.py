"""Finding a message Asterisk's app_voicemail left, and announcing mailboxes' new-message counts.

app_voicemail writes ``spool/voicemail/leadcenter/<mailbox>/INBOX/msgNNNN.{wav,txt}``; the .txt names the caller's
channel (``callerchan``) and the message's length (``duration``), which is how a message is tied to its call.
Mailboxes are named ``companyN`` and ``agentN`` (pbx/names.py). A message in an agent's own mailbox is that agent's
alone (``Interaction.mailbox_agent``): it waits in their Incoming until they mark it handled, and, when they chose
it, reaches their email with the recording attached.
"""

from __future__ import annotations

import concurrent.futures
import configparser
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from leadcenter.accounts.models import User
from leadcenter.agents.models import Agent
from leadcenter.events import Bus, Event
from leadcenter.interactions.models import Interaction
from leadcenter.mail import Attachment, Content, Email, Mailer
from leadcenter.pbx import names
from leadcenter.telephony.service import carried_out
from leadcenter.voicemail import notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    audio: Path
    seconds: int


def inbox_dir(asterisk_dir: Path, mailbox: str) -> Path:
    return asterisk_dir / "spool" / "voicemail" / names.VOICEMAIL_CONTEXT / mailbox / "INBOX"


def _messages(folder: Path):
    """(audio, the .txt's [message] values) of each message in a mailbox folder, newest first."""
    for info in sorted(folder.glob("msg*.txt"), reverse=True):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(info.read_text(errors="replace"))
        except (OSError, configparser.Error) as exc:
            log.warning("voicemail %s unreadable: %s", info, exc)
            continue
        yield info.with_suffix(".wav"), (dict(parser["message"]) if parser.has_section("message") else {})


def find_message(asterisk_dir: Path, mailbox: str, channel: str) -> Message | None:
    """The message the caller on ``channel`` left in ``mailbox``, if they left one."""
    for audio, message in _messages(inbox_dir(asterisk_dir, mailbox)):
        if message.get("callerchan") == channel and audio.exists():
            return Message(audio, int(message.get("duration", "0") or 0))
    return None


def message_id(audio: Path) -> str | None:
    """The msg_id app_voicemail gave the message whose audio is ``audio`` (how AMI names a message)."""
    return next((m.get("msg_id") for a, m in _messages(audio.parent) if a == audio), None)


def find_by_id(folder: Path, msg_id: str) -> Path | None:
    """The audio of the message ``msg_id`` in a mailbox folder."""
    return next((a for a, m in _messages(folder) if m.get("msg_id") == msg_id and a.exists()), None)


def mailbox_owner(mailbox: str, company_id: int) -> int | None:
    """The id of the agent whose own mailbox ``mailbox`` is, when that agent is of ``company_id``; None for the
    company's mailbox (and for a mailbox whose agent is gone or of another company)."""
    agent_id = names.parse_agent_mailbox(mailbox)
    if agent_id is None:
        return None
    return agent_id if Agent.select().where(Agent.id == agent_id, Agent.company == company_id).exists() else None


def mark_handled(interaction: Interaction, agent: Agent, at: dt.datetime) -> bool:
    """The agent dealt with a message in their own mailbox: it leaves their Incoming for their Recent. False when it
    was marked before (compare-and-set: two tabs clicking together mark it once)."""
    if interaction.mailbox_agent_id != agent.id:
        raise NotYours(interaction.id)
    changed = (
        Interaction.update(handled_at=at)
        .where(Interaction.id == interaction.id, Interaction.handled_at.is_null())
        .execute()
    )
    if changed:
        interaction.handled_at = at
    return bool(changed)


class MailboxVerbs(Protocol):
    """What filing a handled message asks of the telephony layer (telephony/service.py)."""

    def move_voicemail(self, mailbox: str, message_id: str, folder: str, to_folder: str) -> Any: ...

    def submit(self, verb: Any) -> concurrent.futures.Future: ...


class HandledMessages:
    """A message its agent marked handled goes from the mailbox's INBOX to Old (AMI VoicemailMove, waited for by
    the web request): the agent's desk phone's light goes off once no new message is left, and the interaction's
    audio follows the file (app_voicemail numbers it anew in Old, and may give its INBOX number to the next one)."""

    def __init__(self, telephony: MailboxVerbs, data_dir: Path):
        self.telephony, self.data_dir = telephony, data_dir

    def file(self, interaction: Interaction) -> bool:
        """False (the light stays on; logged) when the message is not in an INBOX or Asterisk did not move it."""
        audio = self.data_dir / (interaction.voicemail or "")
        msg_id = message_id(audio) if audio.parent.name == "INBOX" else None
        if msg_id is None or interaction.mailbox_agent_id is None:
            return False
        mailbox = names.agent_mailbox(interaction.mailbox_agent_id)
        verb = self.telephony.move_voicemail(mailbox, msg_id, "INBOX", "Old")
        if not carried_out(self.telephony, verb, f"voicemail {interaction.id}: not moved to Old"):
            return False
        moved = find_by_id(audio.parent.parent / "Old", msg_id)
        if moved is None:
            log.warning("voicemail %s: message %s moved, but not found in Old", interaction.id, msg_id)
            return False
        interaction.voicemail = str(moved.relative_to(self.data_dir))
        Interaction.update(voicemail=interaction.voicemail).where(Interaction.id == interaction.id).execute()
        return True


class NotYours(Exception):
    """The interaction is not a message in this agent's own mailbox."""


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


class VoicemailEmails:
    """A message left in an agent's own mailbox -> an email to that agent with the recording attached, when they
    chose it (``Agent.email_voicemail``) and SMTP is configured. On the event dispatcher thread it only queues a row
    in the mail outbox (keyed by message and agent: the same event seen twice queues it once)."""

    def __init__(self, bus: Bus, mailer: Mailer, data_dir: Path, app_url: str):
        self.mailer, self.data_dir, self.app_url = mailer, data_dir, app_url
        bus.subscribe("interaction.updated", self.on_updated)

    def on_updated(self, event: Event) -> None:
        data = event.data["interaction"]
        if not self.mailer.enabled or data["outcome"] != "voicemail" or data.get("mailbox_agent_id") is None:
            return
        message = Interaction.get_or_none(Interaction.id == data["id"], Interaction.company == event.data["company_id"])
        if message is None or message.mailbox_agent_id is None or not message.voicemail:
            return
        agent = (
            Agent.select(Agent, User)
            .join(User)
            .where(Agent.id == message.mailbox_agent_id, Agent.email_voicemail == True, User.active == True)  # noqa: E712
            .first()
        )
        if agent is None:
            return
        recording = Attachment(self.data_dir / message.voicemail, f"voicemail-{message.id}.wav")
        email = Email(agent.user.email, agent.display_name, voicemail_email(message, self.app_url), (recording,))
        if self.mailer.queue(f"voicemail:{message.id}:agent:{agent.id}", email):
            log.info("voicemail %s: email queued for agent %s", message.id, agent.id)


def voicemail_email(message: Interaction, app_url: str) -> Content:
    caller = message.lead.name or message.lead_number or "A caller"
    seconds = message.duration_seconds or 0
    line = message.tracking_number
    facts = [
        ("Caller", " ".join(p for p in (message.lead.name, message.lead_number) if p)),
        ("Called", " ".join(p for p in ((line.name, line.number) if line else ()) if p)),
        ("Length", f"{seconds // 60}:{seconds % 60:02d}"),
        ("Came from", message.source),
    ]
    return Content(
        subject=f"Voicemail from {caller}",
        intro=f"{caller} left a message in your mailbox; the recording is attached, and it waits in your Incoming.",
        facts=tuple((label, value) for label, value in facts if value),
        action=("Open Lead Center", app_url),
    )
