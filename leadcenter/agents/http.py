"""The agents API: the company's agents (colleagues, for everyone), their settings (admins), the signed-in agent's
own profile and status, and the SIP accounts of an agent's devices (admins, to set up a desk phone)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from leadcenter import turn
from leadcenter.accounts.http import bus, dump, reconfigure_if, save_changes
from leadcenter.agents import availability, notifier
from leadcenter.agents.models import RING_DEVICES, Agent, SipCredential, current_agents
from leadcenter.agents.schemas import (
    AgentChanges,
    AgentList,
    AgentOut,
    AgentSipOut,
    IceServer,
    MyAgentChanges,
    MyAgentOut,
    SoftphoneOut,
)
from leadcenter.audit.services import record
from leadcenter.credentials import generate_password, turn_secret
from leadcenter.db import database
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.web import ports, sip_relay
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal

bp = Blueprint("agents", __name__, url_prefix="/api/v1")

# What the rendered configuration shows of an agent: the caller id of their endpoints, the queue interface.
RENDERED = {"display_name", "ring_device"}


def _presence():
    """Each agent's presence now (their status and their phone), as colleagues see it."""
    return ports.controller().presence.seen


def _agent(principal: Principal, agent_id: int) -> Agent:
    agent = current_agents(principal.company).where(Agent.id == agent_id).first()
    if agent is None:
        raise not_found("agent")
    return agent


def _my_agent(principal: Principal) -> Agent:
    if principal.agent is None:
        raise ApiError("not-an-agent", f"you have no agent profile in {principal.company.name}")
    return principal.agent


@endpoint(bp, "GET", "/agents", response=AgentList, summary="The company's agents and their status")
def list_agents(principal: Principal):
    return AgentList(
        AgentOut.from_rows(list(current_agents(principal.company).order_by(Agent.display_name, Agent.id)), _presence())
    )


@endpoint(bp, "GET", "/agents/<int:agent_id>", role="supervisor", response=AgentOut, summary="An agent")
def get_agent(principal: Principal, agent_id: int):
    return AgentOut.from_row(_agent(principal, agent_id), _presence())


@endpoint(
    bp,
    "PATCH",
    "/agents/<int:agent_id>",
    role="admin",
    body=AgentChanges,
    response=AgentOut,
    summary="Change an agent's names or the device the queue rings",
)
def update_agent(principal: Principal, agent_id: int, body: AgentChanges):
    changes = body.model_dump(exclude_unset=True)
    with database.atomic():
        agent = _agent(principal, agent_id)
        if (
            "ring_device" in changes
            and not agent.sip_credentials.where(
                SipCredential.device == changes["ring_device"], SipCredential.enabled
            ).exists()
        ):
            raise invalid({"ring_device": f"the agent has no {changes['ring_device']} device"})
        before = AgentOut.from_row(agent, _presence())
        save_changes(agent, changes)
        record(
            principal,
            "updated",
            "agent",
            agent.id,
            dump(before),
            dump(AgentOut.from_row(agent, _presence())),
            agent.display_name,
        )
    notifier.updated(bus(), agent, _presence())
    reconfigure_if(bool(RENDERED & changes.keys()))
    return AgentOut.from_row(agent, _presence())


@endpoint(
    bp,
    "GET",
    "/agents/<int:agent_id>/sip",
    role="admin",
    response=AgentSipOut,
    summary="The SIP accounts of an agent's devices, to set up a desk phone",
)
def get_agent_sip(principal: Principal, agent_id: int):
    settings = ports.controller().settings.asterisk
    return AgentSipOut.from_row(_agent(principal, agent_id), settings.sip_host, settings.sip_port)


def _device(device: str) -> str:
    if device not in RING_DEVICES:
        raise not_found("device")
    return device


@endpoint(
    bp,
    "PUT",
    "/agents/<int:agent_id>/devices/<device>",
    role="admin",
    response=AgentSipOut,
    summary="Give an agent a device (webrtc or desk) with a new SIP account, or a new password for the one it has "
    "(the old one stops registering): the answer shows that account",
)
def renew_device(principal: Principal, agent_id: int, device: str):
    device = _device(device)
    with database.atomic():
        agent = _agent(principal, agent_id)
        before = AgentOut.from_row(agent, _presence())
        credential = SipCredential.get_or_none(SipCredential.agent == agent, SipCredential.device == device)
        if credential is None:
            credential = SipCredential.create(agent=agent, device=device, password=generate_password())
        else:
            credential.password, credential.enabled = generate_password(), True
            credential.save()
        after = AgentOut.from_row(agent, _presence())
        record(
            principal,
            "sip_account_renewed" if device in before.devices else "device_added",
            "agent",
            agent.id,
            dump(before),
            dump(after),
            f"{agent.display_name}: {device}",
        )
    notifier.updated(bus(), agent, _presence())
    reconfigure_if(True)
    settings = ports.controller().settings.asterisk
    shown = AgentSipOut.from_row(agent, settings.sip_host, settings.sip_port)
    return shown.model_copy(update={"accounts": [a for a in shown.accounts if a.device == device]})


@endpoint(
    bp,
    "DELETE",
    "/agents/<int:agent_id>/devices/<device>",
    role="admin",
    status=204,
    summary="Take a device from an agent: its SIP account stops registering (not the device the queue rings)",
)
def remove_device(principal: Principal, agent_id: int, device: str):
    device = _device(device)
    with database.atomic():
        agent = _agent(principal, agent_id)
        if agent.ring_device == device:
            raise ApiError("in-use", f"the queue rings {agent.display_name}'s {device} device: pick another first")
        before = AgentOut.from_row(agent, _presence())
        if not SipCredential.delete().where(SipCredential.agent == agent, SipCredential.device == device).execute():
            raise not_found("device")
        record(
            principal,
            "device_removed",
            "agent",
            agent.id,
            dump(before),
            dump(AgentOut.from_row(agent, _presence())),
            f"{agent.display_name}: {device}",
        )
    notifier.updated(bus(), agent, _presence())
    reconfigure_if(True)


def _mine(agent: Agent) -> MyAgentOut:
    return MyAgentOut.mine(agent, _presence(), email_configured=bool(ports.controller().settings.smtp.host))


@endpoint(bp, "GET", "/me/agent", response=MyAgentOut, summary="The signed-in user's agent profile")
def get_my_agent(principal: Principal):
    return _mine(_my_agent(principal))


@endpoint(
    bp,
    "GET",
    "/me/softphone",
    response=SoftphoneOut,
    summary="The signed-in agent's browser softphone account and the websocket it registers over",
)
def get_my_softphone(principal: Principal):
    agent = _my_agent(principal)
    credential = agent.sip_credentials.where(SipCredential.device == "webrtc", SipCredential.enabled).first()
    if credential is None:
        raise ApiError("no-softphone", "you have no browser softphone; ask an admin to add one")
    settings = ports.controller().settings
    return SoftphoneOut(
        username=credential.username,
        password=credential.password,
        sip_uri=f"sip:{credential.username}@{settings.asterisk.sip_host}",
        display_name=agent.display_name,
        websocket_path=sip_relay.PATH,
        **_ice(credential.username),
    )


def _ice(who: str) -> dict:
    """The softphone's TURN relays, with a credential of its own (``who``: its SIP username, which coturn's log then
    shows) that the app replaces halfway through its lifetime, so a call begun at any time in a long shift finds a
    valid one."""
    controller = ports.controller()
    settings = controller.settings.turn
    if not settings.enabled:
        return {"ice_servers": [], "ice_transport_policy": "all", "ice_refresh_seconds": 0}
    lifetime = settings.credential_seconds
    issued = turn.credential(
        turn_secret(controller.settings, controller.secrets),
        who,
        controller.clock(),
        dt.timedelta(seconds=lifetime),
    )
    return {
        "ice_servers": [
            IceServer(urls=list(settings.url_list), username=issued.username, credential=issued.credential)
        ],
        "ice_transport_policy": "relay" if settings.relay_only else "all",
        "ice_refresh_seconds": lifetime // 2,
    }


@endpoint(
    bp,
    "PATCH",
    "/me/agent",
    response=MyAgentOut,
    body=MyAgentChanges,
    summary="Change one's chat name or email notifications, or go Available or Offline",
)
def update_my_agent(principal: Principal, body: MyAgentChanges):
    agent = _my_agent(principal)
    if body.chat_display_name is not None:
        agent.chat_display_name = body.chat_display_name
        Agent.update(chat_display_name=agent.chat_display_name).where(Agent.id == agent.id).execute()
        notifier.updated(bus(), agent, _presence())
    emails = body.model_dump(include={"email_new_chats", "email_missed_chats", "email_voicemail"}, exclude_none=True)
    if emails:
        # Only the agent's own choices: colleagues see nothing of them, so nothing is published.
        Agent.update(**emails).where(Agent.id == agent.id).execute()
        for field, value in emails.items():
            setattr(agent, field, value)
    if body.status is not None:
        # agent.status_changed goes out; the pause keeper applies it to the queues and to the flag ring-agents
        # steps read. No re-render for a status.
        try:
            ports.controller().availability.choose(agent, body.status, ports.controller().clock())
        except availability.IllegalMove as exc:
            raise ApiError("on-a-call", f"{exc}; change it once the call has ended") from None
    return _mine(agent)
