"""The agents API: the company's agents (colleagues, for everyone), their settings (admins), the signed-in agent's
own profile and status, and the SIP accounts of an agent's devices (admins, to set up a desk phone)."""
from __future__ import annotations

from flask import Blueprint, current_app, request, send_file

from leadcenter.agents import availability
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.agents.schemas import (AgentChanges, AgentList, AgentOut, AgentSipOut, MyAgentChanges,
                                      SoftphoneOut)
from leadcenter.agents.services import current_agents
from leadcenter.companies.http import changed, save_changes
from leadcenter.db import database
from leadcenter.voicemail import services as voicemail
from leadcenter.web import sip_relay
from leadcenter.web.api import ApiError, endpoint, invalid, not_found
from leadcenter.web.auth import Principal

bp = Blueprint("agents", __name__, url_prefix="/api/v1")

# What the rendered configuration shows of an agent: the caller id of their endpoints, the queue interface.
RENDERED = {"display_name", "ring_device"}


def _agent(principal: Principal, agent_id: int) -> Agent:
    agent = current_agents(principal.company).where(Agent.id == agent_id).first()
    if agent is None:
        raise not_found("agent")
    return agent


def _my_agent(principal: Principal) -> Agent:
    if principal.agent is None:
        raise ApiError(404, "not-an-agent", f"you have no agent profile in {principal.company.name}")
    return principal.agent


@endpoint(bp, "GET", "/agents", response=AgentList, summary="The company's agents and their status")
def list_agents(principal: Principal):
    return AgentList(AgentOut.from_rows(list(current_agents(principal.company).order_by(Agent.display_name,
                                                                                         Agent.id))))


@endpoint(bp, "GET", "/agents/<int:agent_id>", role="supervisor", response=AgentOut, summary="An agent")
def get_agent(principal: Principal, agent_id: int):
    return AgentOut.from_row(_agent(principal, agent_id))


@endpoint(bp, "PATCH", "/agents/<int:agent_id>", role="admin", body=AgentChanges, response=AgentOut,
          summary="Change an agent's names or the device the queue rings")
def update_agent(principal: Principal, agent_id: int, body: AgentChanges):
    changes = body.model_dump(exclude_unset=True)
    with database.atomic():
        agent = _agent(principal, agent_id)
        if "ring_device" in changes and not agent.sip_credentials.where(
                SipCredential.device == changes["ring_device"], SipCredential.enabled).exists():
            raise invalid({"ring_device": f"the agent has no {changes['ring_device']} device"})
        save_changes(agent, changes)
    changed(principal, "agent.updated", asterisk=bool(RENDERED & changes.keys()), agent_id=agent.id,
            fields=sorted(changes))
    return AgentOut.from_row(agent)


@endpoint(bp, "GET", "/agents/<int:agent_id>/sip", role="admin", response=AgentSipOut,
          summary="The SIP accounts of an agent's devices, to set up a desk phone")
def get_agent_sip(principal: Principal, agent_id: int):
    settings = current_app.controller.settings.asterisk
    return AgentSipOut.from_row(_agent(principal, agent_id), settings.sip_host, settings.sip_port)


@endpoint(bp, "GET", "/me/agent", response=AgentOut, summary="The signed-in user's agent profile")
def get_my_agent(principal: Principal):
    return AgentOut.from_row(_my_agent(principal))


@endpoint(bp, "GET", "/me/softphone", response=SoftphoneOut,
          summary="The signed-in agent's browser softphone account and the websocket it registers over")
def get_my_softphone(principal: Principal):
    agent = _my_agent(principal)
    credential = agent.sip_credentials.where(SipCredential.device == "webrtc", SipCredential.enabled).first()
    if credential is None:
        raise ApiError(404, "no-softphone", "you have no browser softphone; ask an admin to add one")
    host = current_app.controller.settings.asterisk.sip_host
    return SoftphoneOut(username=credential.username, password=credential.password,
                        sip_uri=f"sip:{credential.username}@{host}", display_name=agent.display_name,
                        websocket_path=sip_relay.PATH)


@endpoint(bp, "PATCH", "/me/agent", response=AgentOut, body=MyAgentChanges,
          summary="Change one's chat name, or go Available or Offline")
def update_my_agent(principal: Principal, body: MyAgentChanges):
    agent = _my_agent(principal)
    if body.chat_display_name is not None:
        agent.chat_display_name = body.chat_display_name
        Agent.update(chat_display_name=agent.chat_display_name).where(Agent.id == agent.id).execute()
        changed(principal, "agent.updated", asterisk=False, agent_id=agent.id, fields=["chat_display_name"])
    if body.status is not None:
        # agent.status_changed goes out; the pause keeper applies it to the queues. No re-render for a status:
        # ring_agents steps, which dial only the agents Available at render time, catch up at the next one.
        try:
            availability.choose(agent, body.status, current_app.controller.bus)
        except availability.IllegalMove as exc:
            raise ApiError(409, "on-a-call", f"{exc}; change it once the call has ended") from None
    return AgentOut.from_row(agent)


# -- my voicemail greeting --------------------------------------------------------------------------------------

def _greeting_file(agent: Agent):
    settings = current_app.controller.settings
    return settings.data_dir / agent.voicemail_greeting if agent.voicemail_greeting else None


@endpoint(bp, "PUT", "/me/voicemail-greeting", status=204,
          summary="Set my voicemail greeting: the body is a WAV, mono, 16-bit, 8 kHz, 0.5 to 60 s "
                  "(Content-Type audio/wav; the app converts what the agent records or picks)")
def put_my_greeting(principal: Principal):
    agent = _my_agent(principal)
    if request.mimetype not in ("audio/wav", "audio/x-wav", "audio/wave"):
        raise ApiError(415, "wav-required", "send the greeting as audio/wav")
    data = request.get_data()
    try:
        voicemail.check_greeting(data)
    except voicemail.GreetingError as exc:
        raise invalid({"greeting": str(exc)}) from None
    controller = current_app.controller
    path = controller.instance.write_spool_file(voicemail.greeting_path(f"agent{agent.id}"), data)
    Agent.update(voicemail_greeting=str(path.relative_to(controller.settings.data_dir))).where(
        Agent.id == agent.id).execute()
    changed(principal, "agent.updated", asterisk=False, agent_id=agent.id, fields=["voicemail_greeting"])


@endpoint(bp, "GET", "/me/voicemail-greeting", summary="My voicemail greeting (audio; 404 with the standard one)")
def get_my_greeting(principal: Principal):
    path = _greeting_file(_my_agent(principal))
    if path is None or not path.is_file():
        raise ApiError(404, "no-greeting", "you use the standard greeting")
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@endpoint(bp, "DELETE", "/me/voicemail-greeting", status=204, summary="Go back to the standard greeting")
def delete_my_greeting(principal: Principal):
    agent = _my_agent(principal)
    path = _greeting_file(agent)
    if path is not None:
        path.unlink(missing_ok=True)
        Agent.update(voicemail_greeting=None).where(Agent.id == agent.id).execute()
        changed(principal, "agent.updated", asterisk=False, agent_id=agent.id, fields=["voicemail_greeting"])
