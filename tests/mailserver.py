"""A real SMTP server on loopback for the tests: aiosmtpd on a port the kernel picks, its asyncio loop in a thread of
its own. It keeps every message it accepted (parsed, with its envelope), and answers as a test scripts it: a
refusal for some recipients (at RCPT), or a list of answers to the next messages' DATA. With a certificate it
offers STARTTLS and requires it (or speaks TLS from the first byte, ``implicit_tls``), and with a password it
requires a login over TLS."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult

SENDER = "leads@acme.example"  # the From the integration tests give Lead Center's emails


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The text of the ``text/<subtype>`` part (lines ending in LF, as written)."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_type() == f"text/{subtype}", f"no text/{subtype} part"
        return body.get_content().replace("\r\n", "\n")


class MailServer:
    def __init__(
        self,
        certificate: tuple[str, str] | None = None,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        """``certificate``: (PEM certificate, PEM key) for TLS; ``login``: the one (username, password) taken."""
        self.tls: ssl.SSLContext | None = None
        if certificate is not None:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(*certificate)
        self.implicit_tls = implicit_tls
        self.login = login
        self.logins: list[tuple[str, str]] = []  # every login tried, as (username, password)
        self.received: list[Received] = []
        self.refused_recipients: dict[str, str] = {}  # address -> the RCPT answer, e.g. "550 5.1.1 no such user"
        self.data_answers: list[str] = []  # the next messages' DATA answers, in order (then 250)
        self.connections = 0
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-smtp", daemon=True)
        self.port = 0

    # -- aiosmtpd's handler hooks -----------------------------------------------------------------------------
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused_recipients:
            return self.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answers:
            answer = self.data_answers.pop(0)
            if not answer.startswith("250"):
                return answer
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._changed:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    # -- running ----------------------------------------------------------------------------------------------
    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        tried = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(tried)
        return AuthResult(success=tried == self.login)

    def _factory(self):
        self.connections += 1
        starttls = self.tls if not self.implicit_tls else None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")  # implicit TLS: it is
            return self._smtp(starttls)

    def _smtp(self, starttls: ssl.SSLContext | None) -> SMTP:
        return SMTP(
            self,
            hostname="mail.test",
            decode_data=False,
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=self._authenticate if self.login else None,
            auth_required=self.login is not None,
            auth_require_tls=not self.implicit_tls,  # over implicit TLS aiosmtpd cannot tell: every byte is TLS
        )

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        listening = self.loop.create_server(self._factory, "127.0.0.1", 0, ssl=self.tls if self.implicit_tls else None)
        server = self.loop.run_until_complete(listening)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def __enter__(self) -> MailServer:
        self._thread.start()
        assert self._ready.wait(5), "the SMTP server did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The messages received once there are at least ``count``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} emails arrived in {timeout} s")
                self._changed.wait(left)
            return list(self.received)
