"""Email: a durable outbox of notification emails and the thread that sends it over SMTP (the standard library's
smtplib and email packages).

An email is stored first (an ``email_outbox`` row, in the caller's transaction, once per key: the same event seen
twice queues it once), then sent by one thread (``mail-outbox``, a Sweeper every second): ``queued`` -> ``sent``,
or back to ``queued`` with a later ``next_attempt_at`` when the server cannot take it now (unreachable, a 4xx
answer, a dropped connection: the backoff doubles from RETRY_FIRST to RETRY_MAX, and the email is given up as
``failed`` GIVE_UP after it was queued), or ``failed`` with the server's answer when it refuses the email for good
(a 5xx answer). Rows are the only state: after a restart the unsent ones are simply due. An email whose answer was
lost in a crash may go twice; it keeps its Message-ID, so a mail client shows it once.

What an email says is plain values (``Content``); this module writes it as text and as HTML, escaping every value
there and nowhere else, and puts names and subjects on one line before they become headers (a CR or LF in a
visitor's name never starts a header of its own). Files attached (a voicemail's recording) are stored as their
paths and read when the email is written: an outbox row stays small, and a file gone by then fails that email
(``cannot be written``) rather than sending it without what it was for. Infrastructure: it knows nothing of chats or
agents.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import mimetypes
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from peewee import CharField, DateTimeField, IntegerField, IntegrityError, TextField

from leadcenter.clock import Clock
from leadcenter.config import SmtpSettings
from leadcenter.db import BaseModel, database
from leadcenter.timers import Sweeper

log = logging.getLogger(__name__)

SEND_EVERY = 1.0  # seconds between looks at the outbox
BATCH = 50  # emails sent over one connection at most
RETRY_FIRST, RETRY_MAX = 10.0, 900.0  # seconds of backoff after a temporary failure, doubling per attempt
GIVE_UP = dt.timedelta(hours=24)  # a notification nobody could deliver for a day is no longer news


class OutboundEmail(BaseModel):
    """One email to one recipient, stored before it is sent. ``key`` names what it is about and for whom (the
    caller's choice, e.g. ``chat-missed:12:agent:3``): an email is queued once per key."""

    key = CharField(unique=True)
    to_address = CharField()
    to_name = CharField(default="")
    subject = CharField()
    text = TextField()
    html = TextField()
    message_id = CharField()  # the Message-ID header, the same on every attempt
    attachments = TextField(default="[]")  # JSON: [[path, file name], ...], read when the email is written
    status = CharField(default="queued")  # queued | sent | failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    queued_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    error = CharField(default="")  # the last failure: the server's answer, or why it could not be reached

    class Meta:
        table_name = "email_outbox"
        indexes = ((("status", "next_attempt_at"), False),)


@dataclass(frozen=True)
class Content:
    """What an email says, as plain text values; ``render`` writes it as text and HTML."""

    subject: str
    intro: str  # the first paragraph
    facts: tuple[tuple[str, str], ...] = ()  # (label, value) lines: Name, Phone, Page...
    quotes: tuple[str, ...] = ()  # messages quoted as they were written
    action: tuple[str, str] | None = None  # (label, http(s) URL): the link to act on it


@dataclass(frozen=True)
class Attachment:
    path: Path  # read when the email is written
    filename: str  # as the recipient sees it


@dataclass(frozen=True)
class Email:
    to_address: str
    to_name: str
    content: Content
    attachments: tuple[Attachment, ...] = ()


def one_line(value: str) -> str:
    """``value`` with every run of whitespace and control characters (CR, LF, tab...) as one space: a header
    value that cannot end its header."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def web_link(url: str) -> str | None:
    """``url`` when it is an http(s) address (an email never links anything else), else None."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def render(content: Content) -> tuple[str, str]:
    """The plain text and the HTML of an email. Every value is escaped for HTML here (text and attributes
    alike): a name or a message shows as the characters it is, whatever markup it holds."""
    e = html.escape
    text = [content.intro, ""]
    body = [f"<p>{e(content.intro)}</p>"]
    if content.facts:
        text += [f"{label}: {value}" for label, value in content.facts] + [""]
        rows = "".join(
            f'<tr><th align="left" style="padding-right:1em">{e(label)}</th><td>{e(value)}</td></tr>'
            for label, value in content.facts
        )
        body.append(f"<table>{rows}</table>")
    for quote in content.quotes:
        text += ["> " + line for line in quote.splitlines() or [""]] + [""]
        body.append(
            '<blockquote style="margin:1em 0;padding-left:1em;border-left:3px solid #ccc;white-space:pre-wrap">'
            f"{e(quote)}</blockquote>"
        )
    if content.action is not None and (url := web_link(content.action[1])) is not None:
        label = content.action[0]
        text.append(f"{label}: {url}")
        body.append(f'<p><a href="{e(url)}">{e(label)}</a></p>')
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{"".join(body)}</body></html>'
    )
    return "\n".join(text).rstrip() + "\n", page


def compose(row: OutboundEmail, sender: str, date: dt.datetime) -> EmailMessage:
    """The message of an outbox row, from ``sender``, dated ``date`` (naive UTC), with its files attached;
    ValueError when the recipient's address cannot be written in a header or a file cannot be read."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = Address(display_name=one_line(row.to_name), addr_spec=one_line(row.to_address))
    message["Subject"] = one_line(row.subject)
    message["Date"] = format_datetime(date.replace(tzinfo=dt.UTC))
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to it
    message.set_content(row.text)
    message.add_alternative(row.html, subtype="html")
    for path, filename in json.loads(row.attachments or "[]"):
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"attachment {filename} unreadable: {exc.strerror or exc}") from None
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=one_line(filename))
    return message


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts - 1)))


class Mailer:
    """The outbox and its sender thread. Off (``enabled`` False: nothing is queued) while no SMTP host is set."""

    def __init__(self, settings: SmtpSettings, clock: Clock):
        self.settings = settings
        self.clock = clock
        self.sender = Sweeper("mail-outbox", self.send_due, SEND_EVERY)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.host)

    def start(self) -> None:
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()

    # -- queueing (any thread, inside the caller's transaction) ------------------------------------------------
    def queue(self, key: str, email: Email) -> bool:
        """Store ``email`` for sending, unless an email with this key was queued before (False then, and while
        email is off)."""
        if not self.enabled:
            return False
        text, page = render(email.content)
        now = self.clock()
        domain = parseaddr(self.settings.from_address)[1].rpartition("@")[2] or None
        try:
            with database.atomic():  # a savepoint inside the caller's transaction: a repeated key spoils nothing
                OutboundEmail.create(
                    key=key,
                    to_address=email.to_address,
                    to_name=email.to_name,
                    subject=email.content.subject,
                    text=text,
                    html=page,
                    message_id=make_msgid("leadcenter", domain),
                    attachments=json.dumps([[str(a.path), a.filename] for a in email.attachments]),
                    next_attempt_at=now,
                    queued_at=now,
                )
        except IntegrityError:
            return False
        return True

    # -- the sender thread -------------------------------------------------------------------------------------
    def send_due(self) -> int:
        """Send the emails that are due over one connection; how many the server took."""
        due = list(
            OutboundEmail.select()
            .where(OutboundEmail.status == "queued", OutboundEmail.next_attempt_at <= self.clock())
            .order_by(OutboundEmail.id)
            .limit(BATCH)
        )
        if not due:
            return 0
        sent = 0
        pending = list(due)
        try:
            with self._connect() as smtp:
                while pending:
                    row = pending[0]
                    try:
                        message = compose(row, self.settings.from_address, self.clock())
                    except ValueError as exc:
                        self._failed(row, f"cannot be written: {exc}")
                    else:
                        try:
                            smtp.send_message(message)
                        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                            self._refused(row, *_answer(exc))
                        else:
                            self._sent(row)
                            sent += 1
                    pending.pop(0)
        except (OSError, smtplib.SMTPException) as exc:  # unreachable, TLS, login, a dropped connection
            reason = _reason(exc)
            log.warning("mail: the server cannot take email now (%s); %s email(s) wait", reason, len(pending))
            for row in pending:
                self._later(row, reason)
        return sent

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file or None)
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                smtp.starttls(context=context)  # a server without STARTTLS is an error: never plain instead
            if s.username:
                smtp.login(s.username, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _sent(self, row: OutboundEmail) -> None:
        OutboundEmail.update(status="sent", sent_at=self.clock(), attempts=OutboundEmail.attempts + 1, error="").where(
            OutboundEmail.id == row.id
        ).execute()

    def _refused(self, row: OutboundEmail, code: int, answer: str) -> None:
        reason = f"{code} {answer}".strip()
        if 500 <= code < 600:
            log.warning("mail: email %s refused for good: %s", row.id, reason)
            self._failed(row, reason)
        else:
            self._later(row, reason)

    def _later(self, row: OutboundEmail, reason: str) -> None:
        now = self.clock()
        if now - row.queued_at >= GIVE_UP:
            self._failed(row, f"gave up after {GIVE_UP}: {reason}")
            return
        attempts = row.attempts + 1
        OutboundEmail.update(attempts=attempts, next_attempt_at=now + retry_delay(attempts), error=reason[:255]).where(
            OutboundEmail.id == row.id
        ).execute()

    def _failed(self, row: OutboundEmail, reason: str) -> None:
        OutboundEmail.update(status="failed", attempts=OutboundEmail.attempts + 1, error=reason[:255]).where(
            OutboundEmail.id == row.id
        ).execute()


def _answer(exc: smtplib.SMTPException) -> tuple[int, str]:
    """The server's code and text in a refusal of one email."""
    text: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
    else:
        assert isinstance(exc, smtplib.SMTPResponseException)
        code, text = exc.smtp_code, exc.smtp_error
    return code, text.decode(errors="replace") if isinstance(text, bytes) else text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_answer(exc)[1]}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
