"""Chat emails end to end: `leadcenter run` configured with a real SMTP server on loopback (aiosmtpd,
tests/mailserver.py); a visitor on the company's site (a websocket client speaking the widget's protocol, from an
allowed origin) starts a chat nobody responds to; when the widget's response timeout runs out the visitor is told
`missed`, and the agents' email arrives at the SMTP server with what the visitor wrote, their name as text. An agent
chooses new-chat emails in her profile (Chromium) and gets one for the next chat; without SMTP the profile says
so."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from browser import Browser
from harness import wait_for
from mailserver import SENDER
from playwright.sync_api import expect
from websockets.sync.client import connect
from websockets.typing import Origin

from leadcenter.accounts.models import User
from leadcenter.agents.models import Agent

ADMIN, ALICE = "admin@acme.example", "alice@acme.example"
SITE = "http://shop.test:8000"  # the business's site, where the widget's iframe is embedded
TIMEOUT = 15  # the widget's response timeout (the least it accepts)
NAME = "<b>Vera</b> Visitor"
BODY = "Do you deliver <script>alert(1)</script> to Atlanta?"


@pytest.fixture
def widget(emailing):
    """The demo company's widget, on the test site's origin, with the shortest response timeout; put back after."""
    system, _ = emailing
    with contextlib.closing(system.sign_in(ADMIN)) as admin:
        before = admin.get("/api/v1/chat-widget").json()
        answer = admin.patch(
            "/api/v1/chat-widget",
            json={"allowed_origins": [SITE], "response_timeout_seconds": TIMEOUT, "enabled": True},
        )
        assert answer.status_code == 200, answer.text
    yield answer.json()
    with contextlib.closing(system.sign_in(ADMIN)) as admin:
        admin.patch(
            "/api/v1/chat-widget",
            json={k: before[k] for k in ("allowed_origins", "response_timeout_seconds", "enabled")},
        )


def frame(ws, kind: str, timeout: float) -> dict:
    """The next frame of this type (others are skipped), within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} frame within {timeout} s")
        received = json.loads(ws.recv(timeout=left))
        if received["type"] == kind:
            return received


@contextlib.contextmanager
def visitor(system, widget):
    """A visitor's page on the site with the widget open: the visitor socket, hello said, welcome read."""
    host = system.url.removeprefix("http://")
    with connect(
        f"ws://{host}/api/v1/visitor?key={widget['public_key']}",
        origin=Origin(SITE),
        proxy=None,
        open_timeout=5,
        ping_interval=None,
    ) as ws:
        page = {"url": f"{SITE}/pricing", "title": "Pricing", "referrer": ""}
        ws.send(json.dumps({"type": "hello", "visitor": None, "page": page}))
        welcome = frame(ws, "welcome", 5)
        assert welcome["online"] is True, welcome  # the demo's agents are Available
        yield ws


def start_chat(ws, name: str, body: str) -> None:
    ws.send(json.dumps({"type": "start", "name": name, "body": body, "client_id": "c1"}))
    assert frame(ws, "ack", 5)["client_id"] == "c1"


def test_a_chat_nobody_answers_sends_the_missed_chat_email(emailing, widget):
    system, smtp = emailing
    with visitor(system, widget) as ws:
        start_chat(ws, NAME, BODY)
        # Nobody responds: the response timer moves the chat to Recent as missed (swept every second).
        frame(ws, "missed", TIMEOUT + 10)
    received = smtp.wait(2, timeout=15)  # Alice's and Bob's: missed-chat emails are on by default
    emails = {r.rcpt_tos[0]: r for r in received}
    assert set(emails) == {"alice@acme.example", "bob@acme.example"}
    email = emails["alice@acme.example"]
    assert email.mail_from == SENDER
    assert email.message["Subject"] == f"Missed chat from {NAME}"
    assert email.message["To"] == "Alice Agent <alice@acme.example>"
    text = email.part("plain")
    assert f"> {BODY}" in text and f"{SITE}/pricing" in text and f"{system.url}/" in text
    page = email.part("html")
    assert "<script" not in page and "<b>" not in page
    assert "&lt;b&gt;Vera&lt;/b&gt; Visitor" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    chat = system.wait_interaction(kind="chat", status="recent", outcome="missed")
    assert chat.lead.name == NAME


@pytest.fixture
def alice_as_she_was(running):
    """Alice's email choices and chat name, put back after the test."""
    alice = Agent.select().join(User).where(User.email == ALICE).get()
    yield alice
    Agent.update(
        email_new_chats=alice.email_new_chats,
        email_missed_chats=alice.email_missed_chats,
        chat_display_name=alice.chat_display_name,
    ).where(Agent.id == alice.id).execute()


def test_an_agent_chooses_new_chat_emails_in_her_profile_and_gets_one(emailing, widget, alice_as_she_was):
    system, smtp = emailing
    with Browser(microphone=False) as browser:
        app = browser.agent(system, ALICE, wait_registered=False)
        page = app.page
        page.get_by_role("button", name="Profile").click()
        choices = page.locator("#profile fieldset", has_text="Email me")
        expect(choices).to_contain_text("Sent to alice@acme.example.")
        offered, missed = choices.get_by_label("when a chat is offered to me"), choices.get_by_label("when nobody")
        expect(offered).not_to_be_checked()
        expect(missed).to_be_checked()  # the defaults
        offered.check()
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#profile .saved-marker")).to_have_text("Saved")
        wait_for(lambda: Agent.get_by_id(alice_as_she_was.id).email_new_chats, 5, what="her choice saved")
        # Her profile changes under her (an admin renames her chat name: agent.updated carries what colleagues see
        # of her): the form shows the new name and still her own choices.
        with contextlib.closing(system.sign_in(ADMIN)) as admin:
            answer = admin.patch(f"/api/v1/agents/{alice_as_she_was.id}", json={"chat_display_name": "Alice at Acme"})
            assert answer.status_code == 200, answer.text
        expect(page.get_by_label("Chat display name")).to_have_value("Alice at Acme")
        expect(offered).to_be_checked()
        expect(missed).to_be_checked()
        assert app.errors == []
    with visitor(system, widget) as ws:
        start_chat(ws, "Nick New", "Is the shop open on Sundays?")
        [email] = smtp.wait(1, timeout=10)  # hers only: Bob keeps the default (no new-chat emails)
        ws.send(json.dumps({"type": "end"}))  # nobody else's Incoming keeps it
        frame(ws, "ended", 5)
    assert email.rcpt_tos == [ALICE] and email.message["Subject"] == "New chat from Nick New"
    assert "> Is the shop open on Sundays?" in email.part("plain")


def test_without_smtp_the_profile_says_email_is_not_set_up(running, alice_as_she_was):
    with Browser(microphone=False) as browser:
        page = browser.agent(running, ALICE, wait_registered=False).page
        page.get_by_role("button", name="Profile").click()
        choices = page.locator("#profile fieldset", has_text="Email me")
        expect(choices).to_contain_text("Email is not set up on this server")
        expect(choices.get_by_label("when a chat is offered to me")).to_be_disabled()
        expect(choices.get_by_label("when nobody")).to_be_disabled()
