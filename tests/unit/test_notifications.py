"""Chat email notifications (leadcenter/notifications) over the real chats services and the real mail outbox, read
back from a real SMTP server on loopback (aiosmtpd): who gets which email (the agents' choices, the chat's team,
Offline agents, another company's agents), what it says, markup and line breaks from the visitor, each email
once; and the agent's two choices through GET|PATCH /api/v1/me/agent."""

from __future__ import annotations

import pytest
from support import Clock, StandInController, SyncBus

from leadcenter.agents.models import Agent
from leadcenter.chats.schemas import Contact, Page
from leadcenter.chats.services import Chats
from leadcenter.config import SmtpSettings
from leadcenter.interactions import notifier
from leadcenter.mail import Mailer, OutboundEmail
from leadcenter.notifications.services import ChatEmails

APP = "https://leads.example/"
PAGE = Page(url="https://shop.example/pricing", title="Pricing", referrer="https://www.google.com/search?q=x")
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bus(clock):
    return SyncBus(clock)


@pytest.fixture
def mailer(database, smtp, clock):
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", from_address="leads@center.test")
    return Mailer(settings, clock)


@pytest.fixture
def chats(world, bus, mailer, clock):
    ChatEmails(bus, mailer, APP)
    return Chats(bus, clock)


@pytest.fixture
def widget(world, chats):
    """Company A's widget, offering its chats to Team A (agent 1 and agent 2)."""
    widget = chats.widget_of(world["a"]["company"])
    widget.team = world["a"]["team"]
    widget.save()
    return widget


def choose(agent: Agent, **choices) -> None:
    Agent.update(**choices).where(Agent.id == agent.id).execute()


def start(chats, widget, body="Do you ship to Canada?", **fields):
    visitor = chats.visit(widget, None, PAGE).visitor
    interaction, _ = chats.start(widget, visitor, Contact(body=body, **fields), PAGE)
    return visitor, interaction


def sent(mailer, smtp):
    """Every email the SMTP server has received, once the outbox has sent what is due."""
    mailer.send_due()
    return smtp.received


def by_recipient(received) -> dict:
    return {r.rcpt_tos[0]: r for r in received}


def test_a_new_chat_emails_the_agents_it_is_offered_to_who_chose_it(world, chats, widget, mailer, smtp):
    agent1, agent2 = world["a"]["agents"]
    choose(agent1, email_new_chats=True)  # agent 2 keeps the default: no new-chat emails
    start(chats, widget, name="Ann Visitor", email="ann@visitor.example")
    [email] = sent(mailer, smtp)
    assert email.rcpt_tos == ["agent1@a.example"]
    assert email.message["To"] == f"{agent1.display_name} <agent1@a.example>"
    assert email.message["Subject"] == "New chat from Ann Visitor"
    text = email.part("plain")
    assert "Ann Visitor started a chat and is waiting for an answer in Incoming." in text
    assert "> Do you ship to Canada?" in text
    assert "Page: Pricing (https://shop.example/pricing)" in text
    assert "Email: ann@visitor.example" in text and "Came from: Google organic" in text
    assert f"Respond in Lead Center: {APP}" in text
    assert f'<a href="{APP}">Respond in Lead Center</a>' in email.part("html")


def test_an_offline_agent_gets_no_new_chat_email(world, chats, widget, mailer, smtp):
    agent1, agent2 = world["a"]["agents"]
    choose(agent1, email_new_chats=True, status="offline")  # not offered chats while Offline
    start(chats, widget, name="Ann")
    assert sent(mailer, smtp) == []


def test_a_missed_chat_emails_its_team_offline_agents_too_once(world, chats, widget, mailer, smtp, clock, bus):
    agent1, agent2 = world["a"]["agents"]
    choose(agent2, status="offline")  # both keep the default: missed-chat emails on
    visitor, chat = start(chats, widget, name="Ann")
    chats.say(visitor, "Hello? Anyone there?")
    assert sent(mailer, smtp) == []  # a waiting chat is no missed chat (and new-chat emails are off)
    clock.advance(seconds=121)
    assert chats.sweep() == 1
    emails = by_recipient(sent(mailer, smtp))
    assert set(emails) == {"agent1@a.example", "agent2@a.example"}
    for email in emails.values():
        assert email.message["Subject"] == "Missed chat from Ann"
        text = email.part("plain")
        assert "Nobody responded to Ann's chat in time" in text
        assert "> Do you ship to Canada?\n\n> Hello? Anyone there?" in text
    # The missed chat changes again later (classified, say): nobody is told twice.
    chat = type(chat).get_by_id(chat.id)
    notifier.changed(bus, chat)
    assert len(sent(mailer, smtp)) == 2 and OutboundEmail.select().count() == 2


def test_an_agent_who_turned_missed_chat_emails_off_gets_none(world, chats, widget, mailer, smtp, clock):
    agent1, agent2 = world["a"]["agents"]
    choose(agent2, email_missed_chats=False)
    start(chats, widget, name="Ann")
    clock.advance(seconds=121)
    chats.sweep()
    assert [r.rcpt_tos for r in sent(mailer, smtp)] == [["agent1@a.example"]]


def test_an_offline_form_emails_the_team_who_chose_missed_chat_emails(world, chats, widget, mailer, smtp):
    for agent in world["a"]["agents"]:
        choose(agent, status="offline")  # nobody online: the visitor gets the offline form
    visitor = chats.visit(widget, None, PAGE).visitor
    chats.offline_form(widget, visitor, Contact(name="Ann", phone="(404) 555-0199", body="Call me back"), PAGE)
    emails = by_recipient(sent(mailer, smtp))
    assert set(emails) == {"agent1@a.example", "agent2@a.example"}
    text = emails["agent1@a.example"].part("plain")
    assert emails["agent1@a.example"].message["Subject"] == "Message from Ann while nobody was online"
    assert "Phone: +14045550199" in text and "> Call me back" in text


def test_a_form_of_the_site_emails_the_team_with_its_name_and_fields(world, chats, widget, mailer, smtp):
    # Sent whoever is online: agent 1 is available, and the team still gets the form as a missed-chat email.
    fields = Contact.model_construct(name="Ann", phone="(404) 555-0199", email="", body="Service: Roofs\nWhen: May")
    chats.site_form(widget, None, "Quote request", fields, PAGE)
    emails = by_recipient(sent(mailer, smtp))
    assert set(emails) == {"agent1@a.example", "agent2@a.example"}
    assert emails["agent1@a.example"].message["Subject"] == "Quote request from Ann"
    text = emails["agent1@a.example"].part("plain")
    assert 'Ann sent the website form "Quote request"' in text and "Phone: +14045550199" in text
    assert "> Service: Roofs" in text and "When: May" in text


def test_markup_and_line_breaks_from_the_visitor_are_text_in_the_email(world, chats, widget, mailer, smtp, clock):
    name = f"{HOSTILE}\r\nBcc: eve@evil.example"
    start(chats, widget, body=f"Hi {HOSTILE}", name=name)
    clock.advance(seconds=121)
    chats.sweep()
    emails = sent(mailer, smtp)
    assert sorted(r.rcpt_tos[0] for r in emails) == ["agent1@a.example", "agent2@a.example"]
    for email in emails:
        assert email.rcpt_tos != ["eve@evil.example"] and email.message["Bcc"] is None
        assert email.message["Subject"].strip() == f"Missed chat from {HOSTILE} Bcc: eve@evil.example"
        page = email.part("html")
        assert "<script" not in page and "<img" not in page
        assert "Hi &lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_no_email_goes_to_another_companys_agents_or_to_those_who_left(world, chats, mailer, smtp, clock):
    from leadcenter.accounts.models import Membership, User

    widget = chats.widget_of(world["a"]["company"])  # no team: every agent of company A
    b_widget = chats.widget_of(world["b"]["company"])
    agent1, agent2 = world["a"]["agents"]
    User.update(active=False).where(User.id == agent2.user_id).execute()  # deactivated: signs in no more
    chats.widget_of(world["b"]["company"])
    for agent in (*world["a"]["agents"], *world["b"]["agents"]):
        choose(agent, email_new_chats=True)
    start(chats, widget, name="Ann")
    clock.advance(seconds=121)
    chats.sweep()
    assert [(r.rcpt_tos, r.message["Subject"]) for r in sent(mailer, smtp)] == [
        (["agent1@a.example"], "New chat from Ann"),
        (["agent1@a.example"], "Missed chat from Ann"),
    ]
    # Company B's chat reaches B's agents only; an agent removed from B no longer gets any.
    Membership.delete().where(Membership.user == world["b"]["agents"][1].user_id).execute()
    start(chats, b_widget, name="Bea")
    assert [r.rcpt_tos for r in sent(mailer, smtp)[2:]] == [["agent1@b.example"]]


def test_without_smtp_nothing_is_queued(world, bus, clock):
    ChatEmails(bus, Mailer(SmtpSettings(), clock), APP)
    chats = Chats(bus, clock)
    widget = chats.widget_of(world["a"]["company"])
    for agent in world["a"]["agents"]:
        choose(agent, email_new_chats=True)
    start(chats, widget, name="Ann")
    clock.advance(seconds=121)
    chats.sweep()
    assert OutboundEmail.select().count() == 0


# -- the agent's choices ------------------------------------------------------------------------------------------


def test_an_agent_reads_and_changes_their_email_choices(world, client):
    client.sign_in("agent1@a.example")
    status, me = client.get("/api/v1/me/agent")
    assert status == 200
    assert (me["email_new_chats"], me["email_missed_chats"]) == (False, True)  # the defaults
    assert (me["email_address"], me["email_configured"]) == ("agent1@a.example", False)  # no SMTP server here
    status, me = client.patch("/api/v1/me/agent", {"email_new_chats": True, "email_missed_chats": False})
    assert status == 200 and (me["email_new_chats"], me["email_missed_chats"]) == (True, False)
    agent = Agent.get_by_id(world["a"]["agents"][0].id)
    assert (agent.email_new_chats, agent.email_missed_chats) == (True, False)
    # One choice at a time leaves the other as it was; what colleagues see of the agent carries neither.
    status, me = client.patch("/api/v1/me/agent", {"email_missed_chats": True})
    assert (me["email_new_chats"], me["email_missed_chats"]) == (True, True)
    status, agents = client.get("/api/v1/agents")
    assert all("email_new_chats" not in a and "email_address" not in a for a in agents)


@pytest.mark.parametrize("body", [{"email_new_chats": None}, {"email_missed_chats": "maybe"}])
def test_an_email_choice_that_is_not_a_boolean_is_refused(world, client, body):
    client.sign_in("agent1@a.example")
    status, error = client.patch("/api/v1/me/agent", body)
    assert status == 422 and error["error"] == "invalid-fields" and set(error["fields"]) == set(body)
    agent = Agent.get_by_id(world["a"]["agents"][0].id)
    assert (agent.email_new_chats, agent.email_missed_chats) == (False, True)


def test_the_profile_says_whether_email_is_configured(world, tmp_path):
    from support import ApiClient

    env = {"LEADCENTER_SMTP_HOST": "127.0.0.1", "LEADCENTER_SMTP_FROM_ADDRESS": "leads@center.test"}
    client = ApiClient(StandInController(tmp_path / "asterisk", env).app().test_client())
    client.sign_in("agent1@a.example")
    assert client.get("/api/v1/me/agent")[1]["email_configured"] is True
