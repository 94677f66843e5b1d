"""The mail outbox (leadcenter/mail.py) against a real SMTP server on loopback (aiosmtpd, tests/mailserver.py): what
the server receives (envelope, headers, the text and HTML parts), markup and line breaks in values, the server's
temporary and permanent refusals, an unreachable server, and emails queued before a restart."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import pytest
from mailserver import MailServer
from support import T0, Clock

from leadcenter import config
from leadcenter.mail import Content, Email, Mailer, OutboundEmail

SENDER = "Lead Center <leads@center.test>"
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
CONTENT = Content(
    subject="Missed chat from Ann",
    intro="Nobody responded to Ann's chat in time.",
    facts=(("Name", "Ann"), ("Page", "Pricing (https://shop.example/pricing)")),
    quotes=("Do you ship to Canada?\nAnd to Mexico?",),
    action=("Open Lead Center", "https://leads.example:8443/"),
)


def settings(port: int, **extra) -> config.SmtpSettings:
    """The test server's settings: plain SMTP unless ``extra`` says otherwise."""
    return config.SmtpSettings(
        **{"host": "127.0.0.1", "port": port, "security": "none", "from_address": SENDER, **extra}
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def mailer(database, smtp, clock):
    return Mailer(settings(smtp.port), clock)


def row(key: str = "k") -> OutboundEmail:
    return OutboundEmail.get(OutboundEmail.key == key)


def test_an_email_reaches_the_server_with_its_headers_and_both_parts(mailer, smtp):
    assert mailer.queue("k", Email("ann@agents.example", "Ann Agent", CONTENT))
    assert mailer.send_due() == 1
    [received] = smtp.wait(1)
    assert received.mail_from == "leads@center.test" and received.rcpt_tos == ["ann@agents.example"]
    message = received.message
    assert (message["From"], message["To"], message["Subject"]) == (
        SENDER,
        "Ann Agent <ann@agents.example>",
        "Missed chat from Ann",
    )
    assert message["Date"].datetime == T0.replace(tzinfo=dt.UTC)  # the injected clock's time
    assert message["Message-ID"] == row().message_id and message["Message-ID"].endswith("@center.test>")
    assert message["Auto-Submitted"] == "auto-generated"
    text = received.part("plain")
    assert "Nobody responded to Ann's chat in time." in text
    assert "Page: Pricing (https://shop.example/pricing)" in text
    assert "> Do you ship to Canada?\n> And to Mexico?" in text
    assert "Open Lead Center: https://leads.example:8443/" in text
    page = received.part("html")
    assert "<p>Nobody responded to Ann&#x27;s chat in time.</p>" in page
    assert "Do you ship to Canada?\nAnd to Mexico?</blockquote>" in page
    assert '<a href="https://leads.example:8443/">Open Lead Center</a>' in page
    assert (row().status, row().attempts, row().sent_at, row().error) == ("sent", 1, T0, "")


def test_markup_in_every_value_is_text_in_the_html_part(mailer, smtp):
    content = Content(
        subject=f"Missed chat from {HOSTILE}",
        intro=f"{HOSTILE} wrote",
        facts=((f"Name {HOSTILE}", HOSTILE), ("Page", 'https://shop.example/?q="><script>alert(3)</script>')),
        quotes=(HOSTILE,),
        action=("Open", 'https://leads.example/"><img src=x onerror=alert(4)>'),
    )
    mailer.queue("k", Email("ann@agents.example", HOSTILE, content))
    mailer.send_due()
    [received] = smtp.wait(1)
    page = received.part("html")
    for markup in ("<script", "<img", 'onerror="'):
        assert markup not in page
    assert '<a href="https://leads.example/&quot;&gt;&lt;img src=x onerror=alert(4)&gt;">Open</a>' in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert received.message["Subject"].strip() == f"Missed chat from {HOSTILE}"  # a header is text already
    assert HOSTILE in received.part("plain")  # plain text is never read as markup


def test_only_web_addresses_become_links():
    from leadcenter.mail import render

    for url in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "//evil.example/", "file:///x"):
        text, page = render(Content(subject="s", intro="i", action=("Open", url)))
        assert "<a " not in page and url not in text


def test_a_line_break_in_a_name_or_a_subject_makes_no_header_of_its_own(mailer, smtp):
    content = Content(subject="Missed chat\r\nBcc: eve@evil.example\r\nX-Injected: yes", intro="hello")
    name = "Ann\r\nBcc: eve@evil.example\nCc: mallory@evil.example\r\n\r\n<b>body</b>"
    mailer.queue("k", Email("ann@agents.example", name, content))
    mailer.send_due()
    [received] = smtp.wait(1)
    assert received.rcpt_tos == ["ann@agents.example"]
    message = received.message
    assert message["Bcc"] is None and message["Cc"] is None and message["X-Injected"] is None
    assert message["Subject"] == "Missed chat Bcc: eve@evil.example X-Injected: yes"
    assert message["To"].addresses[0].addr_spec == "ann@agents.example"
    assert message["To"].addresses[0].display_name == "Ann Bcc: eve@evil.example Cc: mallory@evil.example <b>body</b>"


def test_a_temporary_refusal_is_tried_again_after_a_backoff_then_sent(mailer, smtp, clock):
    smtp.data_answers = ["451 4.3.0 try again later", "452 4.3.1 still busy"]
    mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
    assert mailer.send_due() == 0
    assert (row().status, row().attempts, row().error) == ("queued", 1, "451 4.3.0 try again later")
    assert row().next_attempt_at == T0 + dt.timedelta(seconds=10)
    connections = smtp.connections
    assert mailer.send_due() == 0 and smtp.connections == connections  # not due yet: the server is left alone
    clock.advance(seconds=10)
    assert mailer.send_due() == 0
    assert (row().attempts, row().next_attempt_at) == (2, clock.now + dt.timedelta(seconds=20))  # doubled
    clock.advance(seconds=20)
    assert mailer.send_due() == 1
    assert len(smtp.wait(1)) == 1 and (row().status, row().attempts, row().error) == ("sent", 3, "")


def test_a_permanent_refusal_is_recorded_and_never_tried_again(mailer, smtp, clock):
    smtp.refused_recipients["gone@agents.example"] = "550 5.1.1 no such user"
    mailer.queue("gone", Email("gone@agents.example", "Gone", CONTENT))
    mailer.queue("ann", Email("ann@agents.example", "Ann", CONTENT))
    assert mailer.send_due() == 1  # the other email goes over the same connection
    assert (row("gone").status, row("gone").error) == ("failed", "550 5.1.1 no such user")
    [received] = smtp.wait(1)
    assert received.rcpt_tos == ["ann@agents.example"]
    smtp.data_answers = ["554 5.7.1 message refused as spam"]
    mailer.queue("spam", Email("ann@agents.example", "Ann", CONTENT))
    mailer.send_due()
    assert (row("spam").status, row("spam").error) == ("failed", "554 5.7.1 message refused as spam")
    clock.advance(days=2)
    connections = smtp.connections
    assert mailer.send_due() == 0 and smtp.connections == connections
    assert len(smtp.received) == 1


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_emails_wait_while_the_server_is_unreachable_and_go_after_a_restart(file_database, smtp, clock):
    # The controller runs with its SMTP server down: the email waits, backing off.
    down = Mailer(settings(free_port(), timeout_seconds=2), clock)
    down.queue("k", Email("ann@agents.example", "Ann", CONTENT))
    assert down.send_due() == 0
    assert row().status == "queued" and row().error.startswith("ConnectionRefusedError")
    clock.advance(seconds=10)
    down.send_due()
    assert (row().attempts, row().next_attempt_at) == (2, clock.now + dt.timedelta(seconds=20))
    # A restart with the server reachable: the sender thread finds the email due and sends it.
    clock.advance(seconds=20)
    restarted = Mailer(settings(smtp.port), clock)
    restarted.start()
    try:
        [received] = smtp.wait(1)
    finally:
        restarted.stop()
    assert received.rcpt_tos == ["ann@agents.example"] and row().status == "sent"
    assert received.message["Message-ID"] == row().message_id  # the same on every attempt


# A self-signed certificate for 127.0.0.1 (valid from three days before it was made, for a century).
CERTIFICATE = tuple(str(Path(__file__).parent / "fixtures" / f"smtp-test.{ext}") for ext in ("crt", "key"))
LOGIN = ("leads@center.test", "s3cret pass")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_over_tls_with_a_login_the_email_goes_through(database, clock, security):
    implicit = security == "tls"
    with MailServer(certificate=CERTIFICATE, implicit_tls=implicit, login=LOGIN) as server:
        username, password = LOGIN
        mailer = Mailer(
            settings(server.port, security=security, username=username, password=password, ca_file=CERTIFICATE[0]),
            clock,
        )
        mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
        assert mailer.send_due() == 1
        assert server.logins == [LOGIN] and len(server.wait(1)) == 1


def test_a_server_certificate_nobody_vouches_for_gets_nothing(database, clock):
    with MailServer(certificate=CERTIFICATE) as server:
        # starttls, with the system's authorities
        mailer = Mailer(settings(server.port, security="starttls", username="u", password="p"), clock)
        mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
        assert mailer.send_due() == 0
        assert row().status == "queued" and "CERTIFICATE_VERIFY_FAILED" in row().error
        assert server.logins == [] and server.received == []


def test_starttls_never_falls_back_to_plain_text(database, clock, smtp):
    # The test's plain server offers no STARTTLS: the password and the email stay here.
    mailer = Mailer(settings(smtp.port, security="starttls", username="u", password="p"), clock)
    mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
    assert mailer.send_due() == 0
    assert row().status == "queued" and "STARTTLS" in row().error
    assert smtp.received == []


def test_an_email_nobody_could_deliver_for_a_day_is_given_up(database, clock):
    mailer = Mailer(settings(free_port(), timeout_seconds=2), clock)
    mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
    clock.advance(hours=24)
    assert mailer.send_due() == 0
    assert row().status == "failed" and row().error.startswith("gave up after 1 day")


def test_an_email_is_queued_once_per_key(mailer, smtp):
    assert mailer.queue("chat-missed:1:agent:1", Email("ann@agents.example", "Ann", CONTENT))
    assert not mailer.queue("chat-missed:1:agent:1", Email("ann@agents.example", "Ann", CONTENT))
    assert mailer.send_due() == 1 and OutboundEmail.select().count() == 1


def test_without_a_host_email_is_off(database, clock):
    mailer = Mailer(config.SmtpSettings(), clock)
    assert not mailer.enabled
    assert not mailer.queue("k", Email("ann@agents.example", "Ann", CONTENT))
    assert OutboundEmail.select().count() == 0


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ('[smtp]\nsecurity = "ssl"\n', "security must be one of none, starttls, tls"),
        ('[smtp]\nhost = "mail.example"\n', "from_address is required"),
        (
            '[smtp]\nhost = "mail.example"\nfrom_address = "a@b.example"\nsecurity = "none"\nusername = "u"\n',
            "needs security starttls or tls",
        ),
    ],
)
def test_smtp_settings_that_cannot_work_are_refused(tmp_path, toml, error):
    path = tmp_path / "leadcenter.toml"
    path.write_text(toml)
    with pytest.raises(config.ConfigError, match=error):
        config.load(path, env={})


def test_the_smtp_password_is_never_shown(tmp_path):
    path = tmp_path / "leadcenter.toml"
    path.write_text(
        '[smtp]\nhost = "mail.example"\nfrom_address = "a@b.example"\nusername = "u"\npassword = "s3cret"\n'
    )
    settings = config.load(path, env={})
    assert settings.smtp.password == "s3cret"
    shown = config.describe(settings)
    assert "s3cret" not in shown and 'password = "(set)"  # LEADCENTER_SMTP_PASSWORD' in shown


def test_links_in_emails_point_at_the_app():
    assert config.load(env={}).app_url == "https://127.0.0.1:8443/"
    assert config.load(env={"LEADCENTER_HTTP_HTTPS_PORT": "0"}).app_url == "http://127.0.0.1:8080/"
    assert config.load(env={"LEADCENTER_SMTP_APP_URL": "https://leads.example/"}).app_url == "https://leads.example/"
