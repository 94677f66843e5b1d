"""Invitations: how an account joins a company. An admin invites an email; the membership exists once the
account's owner accepts, signed in. So an admin can neither put someone else's account in their company nor learn
whether an email has an account: the answer, and the time it takes, are the same either way.

An email with no account gets one at once, with the name and password the admin hands over (as before); its
first sign-in accepts the invitation (``new_account``), since whoever signs in with those credentials is whom the
admin meant. An existing account is left as it is (its name and password are its owner's) until its owner accepts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from leadcenter.accounts.models import Company, Invitation, Membership, User
from leadcenter.accounts.services import add_member, hash_password
from leadcenter.agents.models import Agent
from leadcenter.agents.services import agent_profile
from leadcenter.credentials import generate_password
from leadcenter.db import database


class AlreadyMember(Exception):
    pass


class AlreadyInvited(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    devices: tuple[str, ...] = ("webrtc",)
    ring_device: str = "webrtc"
    display_name: str | None = None


def invite(
    company: Company,
    email: str,
    name: str,
    password: str | None,
    role: str,
    agent: AgentSpec | None,
    invited_by: User | None,
) -> Invitation:
    """Invite ``email`` to ``company``; AccountError for a password too short, AlreadyMember, AlreadyInvited.
    Without ``password`` a new account gets one nobody knows, until its owner sets theirs (passwords.py's link)."""
    # Hashed for an existing account too: the answer takes as long either way.
    hashed = hash_password(password if password is not None else generate_password())
    with database.atomic():
        user = User.get_or_none(User.email == email)
        new_account = user is None
        if new_account:
            user = User.create(email=email, name=name, password_hash=hashed)
        elif Membership.select().where(Membership.user == user, Membership.company == company).exists():
            raise AlreadyMember(email)
        if Invitation.select().where(Invitation.user == user, Invitation.company == company).exists():
            raise AlreadyInvited(email)
        return Invitation.create(
            company=company,
            user=user,
            role=role,
            new_account=new_account,
            agent_json=json.dumps(dataclasses.asdict(agent)) if agent else None,
            invited_by=invited_by,
        )


def agent_spec(invitation: Invitation) -> AgentSpec | None:
    if invitation.agent_json is None:
        return None
    spec = json.loads(invitation.agent_json)
    return AgentSpec(tuple(spec["devices"]), spec["ring_device"], spec.get("display_name"))


def accept(invitation: Invitation, now: dt.datetime) -> Agent | None:
    """The owner's yes: the membership, and the agent profile the admin asked for (or, for someone who was an agent
    of the company before, their old profile back); returns the agent profile, if any."""
    with database.atomic():
        company, user = invitation.company, invitation.user
        add_member(user, company, invitation.role)
        spec = agent_spec(invitation)
        if spec is None and Agent.select().where(Agent.company == company, Agent.user == user).exists():
            spec = AgentSpec()
        agent = (
            agent_profile(company, user, spec.devices, spec.ring_device, spec.display_name, now=now) if spec else None
        )
        invitation.delete_instance()
    return agent


def pending_for(user: User) -> list[Invitation]:
    return list(
        Invitation.select(Invitation, Company)
        .join(Company)
        .where(Invitation.user == user)
        .order_by(Company.name, Invitation.id)
    )
