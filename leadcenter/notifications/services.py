"""Email notifications of website chats, to each agent who wants them (their profile's two choices), at their
sign-in address.

- A new chat (``interaction.created`` of kind chat): to the agents it is offered to (the event's ``incoming_for``:
  the widget's team, not Offline) who chose new-chat emails: who, their first message, the page, a link to the app.
- A missed chat (``interaction.updated``: the chat moved to Recent as missed by the response timer) and a form
  (``interaction.created`` of kind form: the chat's offline form, when nobody was online, or a form of the site's
  own sent by the snippet): to every agent of the widget's team who chose missed-chat emails, Offline ones too
  (email reaches them while they are away), with what the visitor wrote.

The subscriber runs on the event dispatcher thread and only queues rows in the mail outbox (leadcenter/mail.py),
keyed by what and whom, so an event seen twice (a missed chat updated again later) queues nothing more; the
outbox's own thread talks to the SMTP server. Recipients are read from the company the event names and its current
agents only: no email ever goes to another company's agent.
"""

from __future__ import annotations

import logging

from peewee import Field

from leadcenter.accounts.models import User
from leadcenter.agents.models import Agent, current_agents
from leadcenter.chats.models import ChatSession, Visitor
from leadcenter.events import Bus, Event
from leadcenter.interactions.models import Interaction, Message
from leadcenter.interactions.services import chat_audience
from leadcenter.mail import Content, Email, Mailer

log = logging.getLogger(__name__)

QUOTED = 20  # messages of the visitor's quoted in a missed chat's email at most
ANONYMOUS = "A website visitor"


class ChatEmails:
    def __init__(self, bus: Bus, mailer: Mailer, app_url: str):
        self.mailer = mailer
        self.app_url = app_url
        bus.subscribe("interaction.created", self.on_created)
        bus.subscribe("interaction.updated", self.on_updated)

    def on_created(self, event: Event) -> None:
        data = event.data["interaction"]
        if not self.mailer.enabled or data["kind"] not in ("chat", "form"):
            return
        chat = _interaction(event)
        if chat is None:
            return
        if chat.kind == "chat":
            agents = _recipients(chat.company_id, set(event.data["incoming_for"]), Agent.email_new_chats)
            self._tell(chat, agents, "chat-new", _new_chat)
        else:
            self._tell(chat, _team_wanting_missed(chat), "chat-form", _offline_form)

    def on_updated(self, event: Event) -> None:
        data = event.data["interaction"]
        if not self.mailer.enabled or (data["kind"], data["status"], data["outcome"]) != ("chat", "recent", "missed"):
            return
        chat = _interaction(event)
        if chat is None:
            return
        self._tell(chat, _team_wanting_missed(chat), "chat-missed", _missed_chat)

    def _tell(self, chat: Interaction, agents: list[Agent], what: str, write) -> None:
        if not agents:
            return
        content = write(_Visit.of(chat), self.app_url)
        queued = sum(
            self.mailer.queue(
                f"{what}:{chat.id}:agent:{agent.id}", Email(agent.user.email, agent.display_name, content)
            )
            for agent in agents
        )
        if queued:
            log.info("%s %s: %s email(s) queued", what, chat.id, queued)


def _interaction(event: Event) -> Interaction | None:
    return Interaction.get_or_none(
        Interaction.id == event.data["interaction"]["id"], Interaction.company == event.data["company_id"]
    )


def _recipients(company_id: int, agent_ids: set[int], choice: Field) -> list[Agent]:
    """The company's current agents among ``agent_ids`` who chose these emails and can still sign in, each with
    their user (the address)."""
    if not agent_ids:
        return []
    return list(
        current_agents(company_id)  # type: ignore[arg-type]  # an id stands for the company in a query
        .select_extend(User)
        .join_from(Agent, User)
        .where(Agent.id.in_(sorted(agent_ids)), choice == True, User.active == True)  # noqa: E712
        .order_by(Agent.id)
    )


def _team_wanting_missed(chat: Interaction) -> list[Agent]:
    """Every agent the chat was for (the widget's team, Offline or not) who chose missed-chat emails."""
    return _recipients(chat.company_id, chat_audience(chat.company_id, chat.team_id), Agent.email_missed_chats)


class _Visit:
    """What the emails say about a chat: who, how to reach them, where they were, what they wrote."""

    def __init__(self, chat: Interaction, session: ChatSession | None, visitor: Visitor | None, said: list[str]):
        self.chat, self.session, self.said = chat, session, said
        self.name = (visitor.name if visitor else "") or chat.lead.name
        self.phone = chat.lead_number or (visitor.phone if visitor else "")
        self.email = visitor.email if visitor else ""

    @classmethod
    def of(cls, chat: Interaction) -> _Visit:
        session = ChatSession.get_or_none(ChatSession.interaction == chat)
        visitor = Visitor.get_or_none(Visitor.id == session.visitor_id) if session else None
        said = [
            m.body
            for m in Message.select(Message.body)
            .where(Message.interaction == chat, Message.direction == "inbound")
            .order_by(Message.created_at, Message.id)
            .limit(QUOTED)
        ]
        return cls(chat, session, visitor, said)

    @property
    def who(self) -> str:
        return self.name or ANONYMOUS

    def facts(self) -> tuple[tuple[str, str], ...]:
        page = self.session.page_title if self.session else ""
        url = self.session.page_url if self.session else self.chat.landing_page
        rows = [
            ("Name", self.name),
            ("Phone", self.phone),
            ("Email", self.email),
            ("Page", " ".join(p for p in (page, f"({url})" if page and url else url) if p)),
            ("Came from", self.chat.source),
        ]
        return tuple((label, value) for label, value in rows if value)


def _new_chat(visit: _Visit, app_url: str) -> Content:
    return Content(
        subject=f"New chat from {visit.who}",
        intro=f"{visit.who} started a chat and is waiting for an answer in Incoming.",
        facts=visit.facts(),
        quotes=tuple(visit.said[:1]),
        action=("Respond in Lead Center", app_url),
    )


def _missed_chat(visit: _Visit, app_url: str) -> Content:
    return Content(
        subject=f"Missed chat from {visit.who}",
        intro=(
            f"Nobody responded to {visit.who}'s chat in time: it is in Recent as missed, and they were offered the "
            "form to leave their details."
        ),
        facts=visit.facts(),
        quotes=tuple(visit.said),
        action=("Open Lead Center", app_url),
    )


def _offline_form(visit: _Visit, app_url: str) -> Content:
    form = visit.session.form_name if visit.session else ""
    if form:  # a form of the site's own, sent whoever is online
        return Content(
            subject=f"{form} from {visit.who}",
            intro=f'{visit.who} sent the website form "{form}"; it waits in Incoming.',
            facts=visit.facts(),
            quotes=tuple(visit.said),
            action=("Open Lead Center", app_url),
        )
    return Content(
        subject=f"Message from {visit.who} while nobody was online",
        intro=f"{visit.who} left a message on the website while nobody was online; it waits in Incoming.",
        facts=visit.facts(),
        quotes=tuple(visit.said),
        action=("Open Lead Center", app_url),
    )
