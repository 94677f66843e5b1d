"""Website chat: the widget's settings, its visitors, and their chats through the interaction lifecycle.

A chat is an interaction of kind ``chat`` (its ``team`` the widget's), waiting in the Incoming of the agents the
widget names (its team, or every agent of the company) who are not Offline, as calls wait for those their flow
offers them to. Visitor verbs (called by the visitor websocket, web/visitors.py, in a request thread): ``visit``
(a page opened the widget), ``start`` (the pre-chat fields and the first message), ``say``, ``navigate``,
``visitor_typing``, ``end``, ``offline_form`` (when nobody is online: a ``form`` interaction in Incoming instead),
``connected`` (the visitor's pages come and go); ``site_form`` (a form of the site's own, sent by the snippet: a
``form`` interaction as the offline form's). Agent verbs (the conversation endpoints): ``respond``, ``reply``,
``close`` (End Chat), ``agent_typing``. ``sweep`` moves a chat nobody responded to within the widget's timeout to
Recent as missed.

Every message is stored, in one transaction with what it moves, before anything is published or acknowledged: a
restart loses nothing, and the visitor's widget reloads the chat from ``visit``.

Events: ``interaction.created`` / ``interaction.updated`` (with the chat: page, visitor gone), ``message.received``
(the visitor's; to the agents whose Incoming holds the chat while it waits) and ``message.sent`` (an agent's),
``chat.visitor_typing``, and for the visitor's pages ``chat.visitor_frame`` (chats/notifier.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from leadcenter import memo
from leadcenter.accounts.models import Company
from leadcenter.agents.models import Agent
from leadcenter.chats import notifier as chat_events
from leadcenter.chats.models import ChatSession, ChatWidget, Visitor, key_hash
from leadcenter.chats.schemas import BODY_LIMIT, DAYS, Contact, Page
from leadcenter.clock import Clock
from leadcenter.db import database
from leadcenter.errors import ApiError, invalid
from leadcenter.events import Bus, Event
from leadcenter.interactions import lifecycle, notifier
from leadcenter.interactions.models import Interaction, Message
from leadcenter.interactions.services import chat_audience, incoming_for, messages_of
from leadcenter.leads.models import Lead
from leadcenter.leads.services import find_or_create_by_number, index_lead
from leadcenter.phones import InvalidNumber, to_e164
from leadcenter.texts import notifier as message_events
from leadcenter.timers import Sweeper
from leadcenter.visits.services import announce, attribute
from leadcenter.visits.sources import classify

SWEEP_SECONDS = 1.0
# Availability moves tell the visitors at once; the chat hours' edges and team changes reach them within this many
# sweeps (one recheck of the companies whose visitors were told).
ONLINE_RECHECK_SWEEPS = 30
DEFAULT_TIMEOUT_SECONDS = 120  # a chat's widget's response timeout, when the widget is gone
OPEN = ("incoming", "active")  # a chat that has not ended
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ChatRefused(ApiError):
    """A visitor's frame or an agent's verb that must not happen; ``field`` is the pre-chat field at fault."""

    def __init__(self, error_id: str, message: str, field: str | None = None):
        super().__init__(error_id, message, {field: message} if field else None)


def new_public_key() -> str:
    return secrets.token_urlsafe(16)  # 128 bits, 22 characters


def _enabled_widget(public_key: str) -> ChatWidget | None:
    return ChatWidget.get_or_none(ChatWidget.public_key == public_key, ChatWidget.enabled == True)  # noqa: E712


def session_of(interaction: Interaction) -> ChatSession | None:
    return ChatSession.get_or_none(ChatSession.interaction == interaction)


def open_chat(visitor: Visitor) -> Interaction | None:
    """The visitor's chat that has not ended (a visitor has at most one)."""
    return (
        Interaction.select()
        .join(ChatSession)
        .where(ChatSession.visitor == visitor, Interaction.kind == "chat", Interaction.status.in_(OPEN))
        .order_by(Interaction.id.desc())
        .first()
    )


def is_open(widget: ChatWidget, now: dt.datetime) -> bool:
    """Within the widget's chat hours (always, without hours)."""
    if not widget.hours:
        return True
    hours = json.loads(widget.hours)
    local = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(hours.get("timezone", "UTC")))
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours["days"].get(DAYS[local.weekday()], ()))


@dataclass
class Welcome:
    """What a page that opens the widget is told: who the visitor is, whether anyone answers, their chat."""

    visitor: Visitor
    key: str  # the visitor's key: the one sent, or a new one when it was unknown
    online: bool
    chat: Interaction | None
    messages: list[Message]


class Chats:
    def __init__(self, bus: Bus, clock: Clock, remember_seconds: float = memo.SECONDS):
        self.bus = bus
        self.clock = clock
        self.timers = Sweeper("chats-timers", self.sweep, SWEEP_SECONDS)  # the response timeouts
        self._told_online: dict[int, bool] = {}  # company id -> what its visitors' widgets were last told
        self._offline: dict[int, bool] = {}  # agent id -> whether they were Offline at their last status change
        self._told_lock = threading.Lock()
        self._widgets: memo.Recent[str, ChatWidget | None] = memo.Recent(remember_seconds)
        # A team's settings route the chats; any node's edit (cluster.py) makes each node read it afresh.
        bus.subscribe("team.*", lambda event: self.widget_changed(), everywhere=True)
        self._sweeps = 0
        bus.subscribe("agent.status_changed", self.on_agent_changed)

    # -- the widget ------------------------------------------------------------------------------------------
    @staticmethod
    def widget_of(company: Company) -> ChatWidget:
        """The company's widget, made with the defaults the first time it is asked for."""
        widget = ChatWidget.get_or_none(ChatWidget.company == company)
        if widget is None:
            widget, _ = ChatWidget.get_or_create(company=company, defaults={"public_key": new_public_key()})
        return widget

    def widget_by_key(self, public_key: str) -> ChatWidget | None:
        """The enabled widget with this public key (read by every public request of the site: remembered for a
        second, forgotten at once when ``widget_changed``)."""
        return self._widgets.get(public_key, _enabled_widget)

    def widget_changed(self) -> None:
        """A widget's key, origins or switch changed: the next public request reads it afresh."""
        self._widgets.forget()

    def online(self, widget: ChatWidget) -> bool:
        """Someone would get a chat now: within the hours, and an agent the widget names is not Offline."""
        if not is_open(widget, self.clock()):
            return False
        audience = chat_audience(widget.company_id, widget.team_id)
        return Agent.select().where(Agent.id.in_(list(audience) or [0]), Agent.status != "offline").exists()

    def on_agent_changed(self, event: Event) -> None:
        """An agent's availability moved: the company's visitors learn at once whether a chat would be answered.
        Only a move into or out of Offline can change that (each call moves its agent three times, none of them
        Offline: asking at each was a fifth of the event dispatcher's time under a busy queue)."""
        agent = event.data["agent"]
        offline = agent["status"] == "offline"
        with self._told_lock:
            was_offline = self._offline.get(agent["id"])
            self._offline[agent["id"]] = offline
        if was_offline is None or was_offline != offline:
            self.recheck_online([event.data["company_id"]])

    def recheck_online(self, company_ids: list[int]) -> None:
        """Tell the visitors of each company whose chat availability is no longer what their widgets were told
        (``online {online}``: the widget swaps the pre-chat form and the offline form). A company none of whose
        visitors was told anything yet has nobody to tell."""
        for company_id in company_ids:
            with self._told_lock:
                if company_id not in self._told_online:
                    continue
            widget = ChatWidget.get_or_none(ChatWidget.company == company_id)
            online = widget is not None and widget.enabled and self.online(widget)
            with self._told_lock:
                changed = self._told_online.get(company_id, online) != online
                if company_id in self._told_online:
                    self._told_online[company_id] = online
            if changed:
                chat_events.to_company_visitors(self.bus, company_id, {"type": "online", "online": online})

    # -- the visitor's verbs ---------------------------------------------------------------------------------
    def visit(self, widget: ChatWidget, visitor_key: str | None, page: Page) -> Welcome:
        """A page opened the widget: the visitor (a new one, with a new key, for a key this company does not know:
        a key is never taken from the client), their open chat with its messages, and whether anyone is online."""
        now = self.clock()
        visitor = None
        if visitor_key:
            visitor = Visitor.get_or_none(
                Visitor.company == widget.company_id, Visitor.key_hash == key_hash(visitor_key)
            )
        if visitor is None:
            visitor_key = secrets.token_urlsafe(16)
            visitor = Visitor.create(company=widget.company_id, key_hash=key_hash(visitor_key), last_seen_at=now)
        else:
            Visitor.update(last_seen_at=now).where(Visitor.id == visitor.id).execute()
        assert visitor_key is not None
        chat = open_chat(visitor)
        if chat is not None:
            self._moved_page(chat, page)
        online = self.online(widget)
        with self._told_lock:
            self._told_online[widget.company_id] = online
        return Welcome(visitor, visitor_key, online, chat, messages_of(chat) if chat else [])

    def start(self, widget: ChatWidget, visitor: Visitor, contact: Contact, page: Page) -> tuple[Interaction, Message]:
        """A new chat: its lead (found by the pre-chat phone or email, or made), the interaction in Incoming for
        the widget's agents, its session and first message, stored together."""
        self._check_prechat(widget, contact)
        if not self.online(widget):
            raise ChatRefused("nobody-online", "nobody can answer a chat now: leave your details in the form")
        interaction, message = self._received(widget, visitor, contact, page, "chat")
        notifier.changed(self.bus, interaction, created=True)
        message_events.message(self.bus, interaction.company_id, message, incoming_for(interaction))
        chat_events.message_to_visitor(self.bus, interaction.company_id, visitor.id, message)
        return interaction, message

    def offline_form(
        self, widget: ChatWidget, visitor: Visitor, contact: Contact, page: Page
    ) -> tuple[Interaction, Message]:
        """Nobody online (or out of hours): the visitor's details and message become a form interaction waiting in
        the Incoming of the widget's agents, for someone to get back to them."""
        self._check_prechat(widget, contact)
        if not (contact.phone or contact.email):
            raise ChatRefused("contact-required", "leave a phone number or an email to be contacted", "phone")
        interaction, message = self._received(widget, visitor, contact, page, "form")
        notifier.changed(self.bus, interaction, created=True)
        message_events.message(self.bus, interaction.company_id, message, incoming_for(interaction))
        return interaction, message

    def site_form(
        self, widget: ChatWidget, visitor_key: str | None, form_name: str, contact: Contact, page: Page
    ) -> Interaction:
        """A form of the business's own site (``data-leadcenter-form``, sent by the snippet): a form interaction
        in the Incoming of the widget's agents, as the offline form is, with the visitor's attribution. The
        visitor is the one of the key (a new one for a key the company does not know, or None: a browser that asks
        not to be tracked, whose form comes with no visits). A phone that is no number stays in the fields only."""
        visitor = None
        if visitor_key:
            visitor = Visitor.get_or_none(
                Visitor.company == widget.company_id, Visitor.key_hash == key_hash(visitor_key)
            )
        if visitor is None:
            visitor = Visitor.create(
                company=widget.company_id, key_hash=key_hash(secrets.token_urlsafe(16)), last_seen_at=self.clock()
            )
        if contact.phone:
            try:
                to_e164(contact.phone, widget.company.default_region)
            except InvalidNumber:
                contact = contact.model_copy(update={"phone": ""})
        if contact.email and not _EMAIL.fullmatch(contact.email):
            contact = contact.model_copy(update={"email": ""})
        interaction, message = self._received(widget, visitor, contact, page, "form", form_name)
        notifier.changed(self.bus, interaction, created=True)
        message_events.message(self.bus, interaction.company_id, message, incoming_for(interaction))
        return interaction

    def say(self, visitor: Visitor, body: str) -> Message:
        """A message from the visitor in their open chat, stored before it is acknowledged."""
        _check_body(body)
        with database.atomic():
            chat = open_chat(visitor)
            if chat is None:
                raise ChatRefused("no-chat", "this visitor has no chat going: start one")
            message = Message.create(
                interaction=chat, direction="inbound", body=body, status="received", created_at=self.clock()
            )
        notifier.changed(self.bus, chat)  # its newest message
        waiting = incoming_for(chat) if chat.status == "incoming" else None
        message_events.message(self.bus, chat.company_id, message, waiting)
        chat_events.message_to_visitor(self.bus, chat.company_id, visitor.id, message)
        return message

    def navigate(self, visitor: Visitor, page: Page) -> None:
        chat = open_chat(visitor)
        if chat is not None:
            self._moved_page(chat, page)

    def visitor_typing(self, visitor: Visitor) -> None:
        chat = open_chat(visitor)
        if chat is not None:
            agents = [chat.agent_id] if chat.status == "active" and chat.agent_id else incoming_for(chat)
            chat_events.visitor_typing(self.bus, chat, agents)

    def end(self, visitor: Visitor) -> Interaction | None:
        """The visitor ended their chat: answered if an agent had it, abandoned if nobody had responded yet."""
        chat = open_chat(visitor)
        if chat is None:
            return None
        event = "close" if chat.status == "active" else "abandon"
        self._ends(chat, event, "visitor")
        return chat

    def connected(self, visitor: Visitor, connected: bool) -> None:
        """The visitor's first page opened (True) or their last one closed (False): their open chat shows them
        there or gone, and what an agent sends meanwhile waits for them in the chat."""
        chat = open_chat(visitor)
        if chat is None:
            return
        left = None if connected else self.clock()
        was_gone = ChatSession.visitor_left_at.is_null(False) if connected else ChatSession.visitor_left_at.is_null()
        written = ChatSession.update(visitor_left_at=left).where(ChatSession.interaction == chat, was_gone).execute()
        if written:
            notifier.changed(self.bus, chat)

    # -- the agent's verbs -----------------------------------------------------------------------------------
    def respond(self, interaction: Interaction, agent: Agent) -> Interaction:
        """Respond: the waiting chat (or form) becomes the agent's (IllegalTransition or Conflict otherwise: one
        winner)."""
        if agent.id not in chat_audience(interaction.company_id, interaction.team_id):
            raise ChatRefused("not-offered", "this chat is offered to another team")
        lifecycle.move(interaction, "respond", self.clock(), agent=agent)
        notifier.changed(self.bus, interaction)
        self._tell_visitor(interaction, {"type": "agent", "chat_display_name": _chat_name(agent)})
        return interaction

    def reply(self, interaction: Interaction, agent: Agent | None, body: str) -> Message:
        """An agent's message to the visitor: writing in a waiting chat responds to it; an ended chat takes none."""
        _check_body(body)
        if interaction.kind == "form":
            raise ChatRefused("form-no-reply", "the visitor left a form, not a chat: call or text them back")
        if interaction.status == "recent":
            raise ChatRefused("chat-ended", "this chat has ended: the visitor is no longer in it")
        if interaction.status == "incoming":
            if agent is None:
                raise ApiError("not-an-agent", "only agents respond to chats")
            self.respond(interaction, agent)
        now = self.clock()
        message = Message.create(
            interaction=interaction,
            direction="outbound",
            body=body,
            agent=agent,
            status="sent",
            sent_at=now,
            created_at=now,
        )
        notifier.changed(self.bus, interaction)  # its newest message
        message_events.message(self.bus, interaction.company_id, message)
        session = session_of(interaction)
        if session is not None:
            chat_events.message_to_visitor(self.bus, interaction.company_id, session.visitor_id, message)
        return message

    def close(self, interaction: Interaction) -> Interaction:
        """End Chat (or close a form): the active chat goes to Recent, and the visitor is told."""
        self._ends(interaction, "close", "agent")
        return interaction

    def agent_typing(self, interaction: Interaction, agent: Agent) -> bool:
        """Tell the visitor the agent is typing; False when there is nobody to tell."""
        session = session_of(interaction)
        if interaction.kind != "chat" or session is None or interaction.status != "active" or session.visitor_left_at:
            return False
        chat_events.to_visitor(
            self.bus, interaction.company_id, session.visitor_id, {"type": "typing", "agent_name": _chat_name(agent)}
        )
        return True

    # -- the timer -------------------------------------------------------------------------------------------
    def sweep(self) -> int:
        """A chat nobody responded to within its widget's timeout goes to Recent as missed; the visitor is offered
        the offline form (and, every ONLINE_RECHECK_SWEEPS, the visitors learn of the hours' edges). Returns how
        many moved."""
        self._sweeps += 1
        if self._sweeps % ONLINE_RECHECK_SWEEPS == 0:
            with self._told_lock:
                told = list(self._told_online)
            self.recheck_online(told)
        now = self.clock()
        moved = 0
        waiting = list(Interaction.select().where(Interaction.kind == "chat", Interaction.status == "incoming"))
        timeouts = {
            widget.company_id: widget.response_timeout_seconds
            for widget in ChatWidget.select(ChatWidget.company, ChatWidget.response_timeout_seconds).where(
                ChatWidget.company.in_(list({chat.company_id for chat in waiting}))
            )
        }
        for chat in waiting:
            timeout = timeouts.get(chat.company_id, DEFAULT_TIMEOUT_SECONDS)
            if chat.status_changed_at + dt.timedelta(seconds=timeout) > now:
                continue
            try:
                self._ends(chat, "miss", "timeout", {"type": "missed"})
            except (lifecycle.IllegalTransition, lifecycle.Conflict):
                continue  # responded to (or ended) meanwhile
            moved += 1
        return moved

    # -- inside ----------------------------------------------------------------------------------------------
    def _ends(self, chat: Interaction, event: str, by: str, frame: dict[str, Any] | None = None) -> None:
        with database.atomic():
            lifecycle.move(chat, event, self.clock())
            ChatSession.update(ended_by=by).where(ChatSession.interaction == chat).execute()
        notifier.changed(self.bus, chat)
        self._tell_visitor(chat, frame or {"type": "ended", "by": by})

    def _tell_visitor(self, chat: Interaction, frame: dict[str, Any]) -> None:
        session = session_of(chat) if chat.kind == "chat" else None  # a form's visitor is in no chat to tell
        if session is not None:
            chat_events.to_visitor(self.bus, chat.company_id, session.visitor_id, frame)

    def _moved_page(self, chat: Interaction, page: Page) -> None:
        if not page.url:
            return
        written = (
            ChatSession.update(page_url=page.url, page_title=page.title)
            .where(ChatSession.interaction == chat, ChatSession.page_url != page.url)
            .execute()
        )
        if written:
            notifier.changed(self.bus, chat)

    @staticmethod
    def _check_prechat(widget: ChatWidget, contact: Contact) -> None:
        modes = json.loads(widget.prechat)
        for field in ("name", "phone", "email"):
            if modes.get(field) == "required" and not getattr(contact, field).strip():
                raise ChatRefused("prechat-required", f"the {field} is required", field)
        if contact.email and not _EMAIL.fullmatch(contact.email):
            raise ChatRefused("prechat-invalid", "this is not an email address", "email")

    def _received(
        self, widget: ChatWidget, visitor: Visitor, contact: Contact, page: Page, kind: str, form_name: str = ""
    ) -> tuple[Interaction, Message]:
        """The lead, the interaction (Incoming, for the widget's team), its session and the first message, in one
        transaction."""
        company = widget.company
        now = self.clock()
        phone = ""
        if contact.phone:
            try:
                phone = to_e164(contact.phone, company.default_region)
            except InvalidNumber as exc:
                raise ChatRefused("prechat-invalid", str(exc), "phone") from None
        with database.atomic():  # IMMEDIATE: two pages starting at once are serialised, and the second refused
            if kind == "chat" and open_chat(visitor) is not None:
                raise ChatRefused("chat-open", "this visitor's chat is still going: say something in it instead")
            lead = self._lead(company, visitor, contact, phone, now)
            Visitor.update(
                lead=lead,
                name=contact.name or visitor.name,
                phone=phone or visitor.phone,
                email=contact.email or visitor.email,
                last_seen_at=now,
            ).where(Visitor.id == visitor.id).execute()
            interaction = Interaction.create(
                company=company,
                lead=lead,
                kind=kind,
                direction="inbound",
                status="incoming",
                started_at=now,
                status_changed_at=now,
                team=widget.team_id,
                lead_number=phone,
                # the visitor's session, if any, has the better answer (attribute, below): their landing page's
                source=classify(page.url, page.referrer).source,
                landing_page=page.url,
                referrer=page.referrer,
            )
            attribution = attribute(interaction, now, visitor=visitor)
            ChatSession.create(
                interaction=interaction,
                visitor=visitor,
                page_url=page.url,
                page_title=page.title,
                referrer=page.referrer,
                form_name=form_name,
            )
            message = Message.create(
                interaction=interaction, direction="inbound", body=contact.body, status="received", created_at=now
            )
        announce(self.bus, attribution)  # the visitor's visits that joined the lead's timeline
        return interaction, message

    @staticmethod
    def _lead(company: Company, visitor: Visitor, contact: Contact, phone: str, now: dt.datetime) -> Lead:
        """The pre-chat phone finds the lead as a call or text from it would; else the email; else the visitor's
        lead from an earlier chat; else a new one."""
        lead: Lead | None = None
        if phone:
            lead = find_or_create_by_number(company, phone, now, contact.name)
        else:
            if contact.email:
                lead = (
                    Lead.select()
                    .where(Lead.company == company, Lead.email == contact.email, Lead.merged_into.is_null())
                    .order_by(Lead.id)
                    .first()
                )
            if lead is None and visitor.lead_id is not None:
                lead = Lead.get_or_none(Lead.id == visitor.lead_id)
                while lead is not None and lead.merged_into_id is not None:
                    lead = Lead.get_or_none(Lead.id == lead.merged_into_id)
        if lead is None:
            lead = Lead.create(company=company, name=contact.name, email=contact.email, created_at=now, updated_at=now)
            index_lead(lead)
            return lead
        changed = False
        if contact.name and not lead.name:
            lead.name, changed = contact.name, True
        if contact.email and not lead.email:
            lead.email, changed = contact.email, True
        if changed:
            lead.updated_at = now
            lead.save()
            index_lead(lead)
        return lead


def _check_body(body: str) -> None:
    if not body.strip():
        raise invalid({"body": "the message is empty"})
    if len(body) > BODY_LIMIT:
        raise invalid({"body": f"at most {BODY_LIMIT} characters"})


def _chat_name(agent: Agent) -> str:
    return agent.chat_display_name or agent.display_name
