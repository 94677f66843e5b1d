"""The accounts API: the company itself, its users (members with a role) and its API keys.

Also what every admin endpoint shares: ``changed`` after a write, and the ``in_use`` refusal.
"""

from __future__ import annotations

from flask import Blueprint

from leadcenter import mail
from leadcenter.accounts import invitations, notifier, passwords
from leadcenter.accounts.models import ApiKey, Company, Invitation, Membership, PasswordLink, User
from leadcenter.accounts.schemas import (
    ApiKeyList,
    ApiKeyOut,
    CompanyChanges,
    CompanyProfile,
    InvitationList,
    InvitationOut,
    IssuedApiKey,
    IssuedInvitation,
    MemberChanges,
    MemberList,
    MemberOut,
    NewAgentProfile,
    NewApiKey,
    NewMember,
    PasswordLinkOut,
)
from leadcenter.accounts.services import AccountError, end_sessions
from leadcenter.agents.models import Agent, SipCredential
from leadcenter.agents.services import agent_profile
from leadcenter.audit.services import record
from leadcenter.db import database
from leadcenter.errors import ApiError, invalid, not_found
from leadcenter.events import Publisher
from leadcenter.flows.services import flows_naming
from leadcenter.teams.models import TeamMember
from leadcenter.web import ports
from leadcenter.web.api import endpoint
from leadcenter.web.auth import Principal, new_api_key
from leadcenter.web.scoping import scoped

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")


# -- shared by the admin endpoints -----------------------------------------------------------------------------


def bus() -> Publisher:
    """Where an admin endpoint's notifier publishes (the controller's event bus)."""
    return ports.controller().bus


def reconfigure_if(asterisk: bool) -> None:
    """After a committed write: when the change is something Asterisk's configuration is rendered from, re-render it
    (the controller reloads what changed)."""
    if asterisk:
        ports.controller().reconfigure()


def save_changes(row, changes: dict) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
    row.save()


def in_use(what: str, users: list[str]) -> ApiError:
    return ApiError("in-use", f"{what} is used by {', '.join(users)}; change or delete those first")


def dump(resource) -> dict:
    """A resource as the API returns it: an audit entry's before or after."""
    return resource.model_dump(mode="json")


def hand_over(user: User, token: str, subject: str, intro: str, label: str) -> tuple[str | None, bool]:
    """A one-time link for ``user``: emailed to them when email is on (then never shown to the admin: (None,
    True)), else given to the admin to hand over: (the link, False)."""
    controller = ports.controller()
    link = passwords.url(controller.settings.app_url, token)
    if not controller.mailer.enabled:
        return link, False
    content = mail.Content(subject, intro, action=(label, link))
    controller.mailer.queue(f"password-link:{passwords.digest(token)}", mail.Email(user.email, user.name, content))
    return None, True


# -- the company -----------------------------------------------------------------------------------------------


@endpoint(bp, "GET", "/company", role="supervisor", response=CompanyProfile, summary="The company")
def get_company(principal: Principal):
    return CompanyProfile.from_row(principal.company)


@endpoint(
    bp,
    "PATCH",
    "/company",
    role="admin",
    body=CompanyChanges,
    response=CompanyProfile,
    summary="Rename the company, or change its time zone or the region numbers without a country code are read in",
)
def update_company(principal: Principal, body: CompanyChanges):
    changes = body.model_dump(exclude_unset=True)
    with database.atomic():
        before = dump(CompanyProfile.from_row(principal.company))
        save_changes(principal.company, changes)
        record(
            principal,
            "updated",
            "company",
            principal.company.id,
            before,
            dump(CompanyProfile.from_row(principal.company)),
            principal.company.name,
        )
    # The name labels the company's mailbox in the rendered voicemail.conf.
    notifier.company_updated(bus(), principal.company)
    reconfigure_if("name" in changes)
    return CompanyProfile.from_row(principal.company)


# -- users -----------------------------------------------------------------------------------------------------


def _membership(principal: Principal, user_id: int) -> Membership:
    membership = (
        Membership.select(Membership, User)
        .join(User)
        .where(Membership.company == principal.company, Membership.user == user_id)
        .first()
    )
    if membership is None:
        raise not_found("user")
    return membership


def _agent_id(user: User, company: Company) -> int | None:
    agent = Agent.get_or_none(Agent.user == user, Agent.company == company)
    return agent.id if agent else None


def _refuse_own_account(principal: Principal, user: User, doing: str) -> None:
    if principal.user is not None and principal.user.id == user.id:
        raise ApiError("own-account", f"you cannot {doing} your own account; ask another admin")


def _keep_an_admin(company: Company, leaving: User) -> None:
    """Refuse to let the last active admin stop being one: nobody could manage the company any more."""
    others = (
        Membership.select()
        .join(User)
        .where(Membership.company == company, Membership.role == "admin", Membership.user != leaving, User.active)
        .exists()
    )
    if not others:
        raise ApiError(
            "last-admin", f"{leaving.email} is the last admin of {company.name}; make another user admin first"
        )


def _retire(agent: Agent) -> None:
    """Nothing rings or registers as a removed user's agent any more; the profile stays for the history."""
    SipCredential.delete().where(SipCredential.agent == agent).execute()
    TeamMember.delete().where(TeamMember.agent == agent).execute()
    agent.status, agent.status_changed_at = "offline", ports.controller().clock()
    agent.save()


@endpoint(
    bp,
    "GET",
    "/users",
    role="supervisor",
    response=MemberList,
    summary="The company's users with their role and agent profile",
)
def list_users(principal: Principal):
    agents = {a.user_id: a.id for a in Agent.select(Agent.id, Agent.user).where(Agent.company == principal.company)}
    return MemberList(
        [
            MemberOut.from_row(m, agents.get(m.user_id))
            for m in (
                Membership.select(Membership, User)
                .join(User)
                .where(Membership.company == principal.company)
                .order_by(User.name, User.id)
            )
        ]
    )


@endpoint(bp, "GET", "/users/<int:user_id>", role="supervisor", response=MemberOut, summary="A user of the company")
def get_user(principal: Principal, user_id: int):
    membership = _membership(principal, user_id)
    return MemberOut.from_row(membership, _agent_id(membership.user, principal.company))


@endpoint(
    bp,
    "POST",
    "/users",
    role="admin",
    body=NewMember,
    response=IssuedInvitation,
    status=202,
    summary="Invite someone to the company by email (optionally as an agent); they are a user of it once "
    "they accept. An email with no account gets one, with this name and password; without a password, a one-time "
    "link to set one: emailed to them when email is on, else in the answer (once) for the admin to hand over",
)
def add_user(principal: Principal, body: NewMember):
    company = principal.company
    agent = (
        invitations.AgentSpec(tuple(body.agent.devices), body.agent.ring_device, body.agent.display_name)
        if body.agent
        else None
    )
    link, emailed = None, False
    with database.atomic():
        try:
            invitation = invitations.invite(
                company, body.email, body.name, body.password, body.role, agent, principal.user
            )
        except AccountError as exc:
            raise invalid({"password": str(exc)}) from None
        except invitations.AlreadyMember:
            raise ApiError("already-a-member", f"{body.email} is already a user of {company.name}") from None
        except invitations.AlreadyInvited:
            raise ApiError(
                "already-invited", f"{body.email} is invited already; revoke that invitation to invite them again"
            ) from None
        if body.password is None:
            token = passwords.issue(invitation.user, "invite", company, ports.controller().clock())
            inviter = principal.user.name if principal.user else company.name
            link, emailed = hand_over(
                invitation.user,
                token,
                f"Join {company.name} on Lead Center",
                f"{inviter} invited you to join {company.name} as {_a(body.role)}. The link works once, for "
                f"{passwords.LIFETIME['invite'].days} days.",
                f"Join {company.name}",
            )
        out = InvitationOut.from_row(invitation)
        record(
            principal,
            "invited",
            "invitation",
            invitation.id,
            None,
            dump(out),
            f"{body.email} as {body.role}" + (" (emailed a link)" if emailed else ""),
        )
    notifier.invitation_created(bus(), invitation)
    return IssuedInvitation.issued(invitation, link, emailed)


def _a(role: str) -> str:
    return f"{'an' if role == 'admin' else 'a'} {role}"


@endpoint(
    bp,
    "GET",
    "/invitations",
    role="supervisor",
    response=InvitationList,
    summary="The company's invitations nobody has answered yet",
)
def list_invitations(principal: Principal):
    return InvitationList(
        [
            InvitationOut.from_row(i)
            for i in (
                Invitation.select(Invitation, User)
                .join(User, on=Invitation.user)
                .where(Invitation.company == principal.company)
                .order_by(Invitation.id)
            )
        ]
    )


@endpoint(
    bp,
    "DELETE",
    "/invitations/<int:invitation_id>",
    role="admin",
    status=204,
    summary="Revoke an invitation nobody has answered yet (an account it created stays)",
)
def revoke_invitation(principal: Principal, invitation_id: int):
    with database.atomic():
        invitation = scoped(Invitation, invitation_id, principal, "invitation")
        record(
            principal,
            "revoked",
            "invitation",
            invitation.id,
            dump(InvitationOut.from_row(invitation)),
            None,
            invitation.user.email,
        )
        # Its link to set a password goes with it.
        PasswordLink.delete().where(
            PasswordLink.user == invitation.user_id,
            PasswordLink.company == invitation.company_id,
            PasswordLink.purpose == "invite",
        ).execute()
        invitation.delete_instance()
    notifier.invitation_deleted(bus(), principal.company.id, invitation_id)


@endpoint(
    bp,
    "PATCH",
    "/users/<int:user_id>",
    role="admin",
    body=MemberChanges,
    response=MemberOut,
    summary="Change a user's role; their name or active flag while the account is in no other company",
)
def update_user(principal: Principal, user_id: int, body: MemberChanges):
    company = principal.company
    changes = body.model_dump(exclude_unset=True)
    with database.atomic():
        membership = _membership(principal, user_id)
        user = membership.user
        account_fields = sorted(changes.keys() & {"name", "active"})
        if (
            account_fields
            and Membership.select().where(Membership.user == user, Membership.company != company).exists()
        ):
            raise ApiError(
                "shared-account",
                f"{user.email} is also a user of another company, so its "
                f"{' and '.join(account_fields)} are not this company's to change",
            )
        if changes.get("active") is False:
            _refuse_own_account(principal, user, "deactivate")
        if membership.role == "admin" and (changes.get("role", "admin") != "admin" or changes.get("active") is False):
            _keep_an_admin(company, user)
        before = MemberOut.from_row(membership, _agent_id(user, company))
        save_changes(membership, {name: changes[name] for name in changes.keys() & {"role"}})
        save_changes(user, {name: changes[name] for name in account_fields})
        if changes.get("active") is False:
            end_sessions(user=user)  # signed out everywhere at once, open streams included
        after = MemberOut.from_row(membership, _agent_id(user, company))
        if after != before:
            record(principal, _user_change(before, after), "user", user.id, dump(before), dump(after), user.email)
    notifier.user_updated(bus(), membership, _agent_id(user, company))
    return MemberOut.from_row(membership, _agent_id(user, company))


def _user_change(before: MemberOut, after: MemberOut) -> str:
    """The audit log's verb for a change of a user: what matters most of what changed."""
    if before.active != after.active:
        return "reactivated" if after.active else "deactivated"
    return "role_changed" if before.role != after.role else "updated"


@endpoint(
    bp,
    "POST",
    "/users/<int:user_id>/agent",
    role="admin",
    body=NewAgentProfile,
    response=MemberOut,
    status=201,
    summary="Make a user of the company an agent (they take calls and chats), with a SIP account per device",
)
def make_agent(principal: Principal, user_id: int, body: NewAgentProfile):
    company = principal.company
    with database.atomic():
        membership = _membership(principal, user_id)
        user = membership.user
        if Agent.select().where(Agent.user == user, Agent.company == company).exists():
            raise ApiError("already-an-agent", f"{user.email} is an agent of {company.name} already")
        before = MemberOut.from_row(membership, None)
        agent = agent_profile(
            company, user, tuple(body.devices), body.ring_device, body.display_name, now=ports.controller().clock()
        )
        after = MemberOut.from_row(membership, agent.id)
        record(principal, "made_agent", "user", user.id, dump(before), dump(after), user.email)
    notifier.user_updated(bus(), membership, agent.id)
    reconfigure_if(True)  # its devices' SIP accounts
    return after


@endpoint(
    bp,
    "POST",
    "/users/<int:user_id>/password-link",
    role="admin",
    response=PasswordLinkOut,
    status=201,
    summary="A one-time link for the user to set a new password (their earlier links stop working): emailed to "
    "them when email is on, else in the answer (once) for the admin to hand over",
)
def reset_password(principal: Principal, user_id: int):
    company = principal.company
    now = ports.controller().clock()
    with database.atomic():
        user = _membership(principal, user_id).user
        if Membership.select().where(Membership.user == user, Membership.company != company).exists():
            raise ApiError(
                "shared-account",
                f"{user.email} is also a user of another company, so its password is "
                "not this company's to reset; they can use Forgot password",
            )
        if not user.active:
            raise ApiError("inactive", f"{user.email} is deactivated: reactivate the account first")
        token = passwords.issue(user, "reset", company, now)
        link, emailed = hand_over(
            user,
            token,
            "Set a new Lead Center password",
            f"An admin of {company.name} sent you a link to set a new password. It works once, for "
            f"{passwords.LIFETIME['reset'].days} days.",
            "Set a new password",
        )
        record(
            principal,
            "password_reset",
            "user",
            user.id,
            None,
            None,
            f"{user.email}: " + ("link emailed" if emailed else "link handed to the admin"),
        )
    return PasswordLinkOut(user_id=user.id, link=link, emailed=emailed, expires_at=now + passwords.LIFETIME["reset"])


@endpoint(
    bp,
    "DELETE",
    "/users/<int:user_id>",
    role="admin",
    status=204,
    summary="Remove a user from the company (the account and its other companies stay)",
)
def remove_user(principal: Principal, user_id: int):
    company = principal.company
    with database.atomic():
        membership = _membership(principal, user_id)
        user = membership.user
        _refuse_own_account(principal, user, "remove")
        record(
            principal,
            "removed",
            "user",
            user.id,
            dump(MemberOut.from_row(membership, _agent_id(user, company))),
            None,
            user.email,
        )
        if membership.role == "admin":
            _keep_an_admin(company, user)
        agent = Agent.get_or_none(Agent.user == user, Agent.company == company)
        if agent is not None:
            flows = flows_naming(company, agent=agent.id)
            if flows:
                raise in_use(f"agent {agent.display_name}", [f"flow {f.name!r}" for f in flows])
            _retire(agent)
        membership.delete_instance()
    notifier.user_deleted(bus(), company.id, user.id)
    reconfigure_if(agent is not None)


# -- API keys --------------------------------------------------------------------------------------------------


@endpoint(
    bp,
    "GET",
    "/api-keys",
    role="supervisor",
    response=ApiKeyList,
    summary="The company's API keys (never the keys themselves)",
)
def list_api_keys(principal: Principal):
    return ApiKeyList(
        [ApiKeyOut.from_row(k) for k in ApiKey.select().where(ApiKey.company == principal.company).order_by(ApiKey.id)]
    )


@endpoint(
    bp,
    "POST",
    "/api-keys",
    role="admin",
    body=NewApiKey,
    response=IssuedApiKey,
    status=201,
    summary="Create an API key; the answer is the only time the key is shown",
)
def create_api_key(principal: Principal, body: NewApiKey):
    with database.atomic():
        row, key = new_api_key(principal.company, body.name, principal.user)
        record(principal, "created", "api_key", row.id, None, dump(ApiKeyOut.from_row(row)), row.name)
    notifier.api_key_created(bus(), row)
    return IssuedApiKey.issued(row, key)


@endpoint(
    bp,
    "DELETE",
    "/api-keys/<int:api_key_id>",
    role="admin",
    status=204,
    summary="Revoke an API key (it stays listed, with revoked_at)",
)
def revoke_api_key(principal: Principal, api_key_id: int):
    key = scoped(ApiKey, api_key_id, principal, "API key")
    if key.revoked_at is None:
        with database.atomic():
            before = dump(ApiKeyOut.from_row(key))
            key.revoked_at = ports.controller().clock()
            key.save(only=[ApiKey.revoked_at])
            record(principal, "revoked", "api_key", key.id, before, dump(ApiKeyOut.from_row(key)), key.name)
        notifier.api_key_revoked(bus(), key)
