"""What the agents endpoints accept and answer."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Literal

from pydantic import RootModel

from leadcenter.accounts.schemas import Device, Name, not_sent
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.wire import Schema, UtcDateTime


class AgentOut(Schema):
    id: int
    user_id: int
    display_name: str  # on calls (caller id) and in the agent list
    chat_display_name: str  # what leads see in chats
    status: str  # available | unavailable | offline
    status_reason: str  # why unavailable: on_call | wrap_up ("Rejoin the Queue" ends it) | missed (let a call ring out)
    status_changed_at: UtcDateTime
    # What colleagues see and ringing follows: the status with the ring device's state (agents/presence.py):
    # available | ringing | on_call | wrap_up | missed | unreachable | offline. Only "available" is offered calls.
    presence: str
    presence_since: UtcDateTime  # when that presence began (agents/presence.py)
    ring_device: str
    devices: list[str]  # the devices with a SIP account

    @classmethod
    def from_rows(cls, agents: list[Agent], presence: Callable[[Agent], tuple[str, dt.datetime]]) -> list[AgentOut]:
        """``presence``: each agent's presence and since when (Presence.seen)."""
        devices = defaultdict(list)
        for credential in (
            SipCredential.select()
            .order_by(SipCredential.device)
            .where(SipCredential.agent.in_([a.id for a in agents]), SipCredential.enabled)
        ):
            devices[credential.agent_id].append(credential.device)
        seen = {a.id: presence(a) for a in agents}
        return [
            cls(
                id=a.id,
                user_id=a.user_id,
                display_name=a.display_name,
                chat_display_name=a.chat_display_name,
                status=a.status,
                status_reason=a.status_reason,
                status_changed_at=a.status_changed_at,
                presence=seen[a.id][0],
                presence_since=seen[a.id][1],
                ring_device=a.ring_device,
                devices=devices[a.id],
            )
            for a in agents
        ]

    @classmethod
    def from_row(cls, agent: Agent, presence: Callable[[Agent], tuple[str, dt.datetime]]) -> AgentOut:
        return cls.from_rows([agent], presence)[0]


class MyAgentOut(AgentOut):
    """The signed-in agent's own profile: what colleagues see, and their own choices."""

    email_new_chats: bool  # an email for each chat offered to me
    email_missed_chats: bool  # an email for each chat nobody answered, and each offline form, of my team
    email_voicemail: bool  # an email with the recording for each message left in my own mailbox
    email_address: str  # where they go: my sign-in email
    email_configured: bool  # whether this installation sends email at all (an SMTP server is configured)

    @classmethod
    def mine(
        cls, agent: Agent, presence: Callable[[Agent], tuple[str, dt.datetime]], email_configured: bool
    ) -> MyAgentOut:
        return cls(
            **AgentOut.from_row(agent, presence).model_dump(),
            email_new_chats=agent.email_new_chats,
            email_missed_chats=agent.email_missed_chats,
            email_voicemail=agent.email_voicemail,
            email_address=agent.user.email,
            email_configured=email_configured,
        )


class AgentList(RootModel[list[AgentOut]]):
    pass


class AgentChanges(Schema):
    display_name: Name = not_sent()
    chat_display_name: Name = not_sent()
    ring_device: Device = not_sent("one of the agent's devices")


class MyAgentChanges(Schema):
    """What agents set themselves (Unavailable is the queue's to set: on a call, in wrap-up), and which chats they
    get emails about (and whether their voicemail reaches their email)."""

    chat_display_name: Name = not_sent()
    status: Literal["available", "offline"] = not_sent()
    email_new_chats: bool = not_sent()
    email_missed_chats: bool = not_sent()
    email_voicemail: bool = not_sent()


class SipAccount(Schema):
    device: str
    username: str
    password: str


class AgentSipOut(Schema):
    """What a desk phone (or softphone) needs to register as one of the agent's devices."""

    agent_id: int
    registrar_host: str
    registrar_port: int
    accounts: list[SipAccount]

    @classmethod
    def from_row(cls, agent: Agent, host: str, port: int) -> AgentSipOut:
        return cls(
            agent_id=agent.id,
            registrar_host=host,
            registrar_port=port,
            accounts=[
                SipAccount(device=c.device, username=c.username, password=c.password)
                for c in agent.sip_credentials.where(SipCredential.enabled).order_by(SipCredential.device)
            ],
        )


class IceServer(Schema):
    """A TURN relay as RTCPeerConnection takes it, with a credential that expires (coturn's shared-secret scheme)."""

    urls: list[str]
    username: str
    credential: str


class SoftphoneOut(Schema):
    """What the signed-in agent's browser softphone registers with: its SIP account, and the app's own websocket
    path that relays SIP to Asterisk (same origin as the app, so it is WSS whenever the app is HTTPS); and how its
    calls' media get through: the TURN relays (none without [turn] urls: Asterisk's host candidates only, a LAN),
    whether every call must go through them (relay) or may go direct (all), and after how many seconds to ask
    again for fresh credentials (0: nothing to refresh)."""

    username: str
    password: str
    sip_uri: str
    display_name: str
    websocket_path: str
    ice_servers: list[IceServer]
    ice_transport_policy: Literal["all", "relay"]
    ice_refresh_seconds: int
