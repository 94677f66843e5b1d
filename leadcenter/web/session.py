"""Signing in and out, and picking the company to work in (a user may belong to several)."""
from __future__ import annotations

from flask import Blueprint, current_app, request, session
from pydantic import Field

from leadcenter import mail
from leadcenter.accounts import invitations, notifier, passwords
from leadcenter.accounts.models import Company, Invitation, Membership, User
from leadcenter.accounts.services import AccountError, authenticate, end_sessions, start_session
from leadcenter.audit.services import record
from leadcenter.agents import availability
from leadcenter.db import database
from leadcenter.errors import ApiError, invalid
from leadcenter.web import auth, ports
from leadcenter.web.api import endpoint
from leadcenter.wire import Schema, UtcDateTime

bp = Blueprint("session", __name__, url_prefix="/api/v1")


class SignIn(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    company_id: int | None = None


class LinkToken(Schema):
    token: str = Field(max_length=200, description="the part of the link after #")


class NewPassword(LinkToken):
    password: str = Field(max_length=1024)


class Forgotten(Schema):
    email: str = Field(max_length=254)


class PasswordLinkInfo(Schema):
    """What a one-time link is for, shown on its page before the password is typed."""

    email: str
    name: str
    purpose: str  # invite | reset
    sets_password: bool  # false: an invitation for an account that has a password (sign in to accept)
    company_name: str | None  # who invited, or whose admin sent it
    expires_at: UtcDateTime


class ForgotOut(Schema):
    email_on: bool  # this server sends email; without it, an admin hands over a link


class CompanyChoice(Schema):
    company_id: int


class CompanyOut(Schema):
    id: int
    name: str
    role: str


class UserOut(Schema):
    id: int
    email: str
    name: str
    owner: bool = False  # the installation owner: the console's Dialplans page


class InvitationToMe(Schema):
    id: int
    company_id: int
    company_name: str
    role: str


class SessionOut(Schema):
    authenticated: bool
    csrf_token: str
    user: UserOut | None = None
    companies: list[CompanyOut] = []
    company: CompanyOut | None = None
    agent_id: int | None = None
    invitations: list[InvitationToMe] = []  # companies that invited this account: accept or decline


def _session_out() -> SessionOut:
    token = auth.csrf_token()
    user = auth.session_user()
    if user is None or not user.active:
        return SessionOut(authenticated=False, csrf_token=token)
    companies = [CompanyOut(id=m.company.id, name=m.company.name, role=m.role)
                 for m in (Membership.select(Membership, Company).join(Company)
                           .where(Membership.user == user).order_by(Company.name))]
    principal = auth.principal_for(user, session.get("company_id"))
    return SessionOut(
        authenticated=True, csrf_token=token, user=UserOut(id=user.id, email=user.email, name=user.name, owner=user.owner),
        companies=companies,
        company=CompanyOut(id=principal.company.id, name=principal.company.name, role=principal.role)
        if principal else None,
        agent_id=principal.agent.id if principal and principal.agent else None,
        invitations=[InvitationToMe(id=i.id, company_id=i.company.id, company_name=i.company.name, role=i.role)
                     for i in invitations.pending_for(user)])


def _joined(invitation: Invitation) -> None:
    """Accept ``invitation`` and tell its company (a new agent is something Asterisk's configuration shows)."""
    controller = ports.controller()
    company_id, user_id = invitation.company_id, invitation.user_id
    agent = invitations.accept(invitation, controller.clock())
    membership = Membership.get(Membership.company == company_id, Membership.user == user_id)
    notifier.user_created(controller.bus, membership, agent.id if agent else None)
    if agent is not None:
        controller.reconfigure()


def _signed_on(user: User, company_id: int | None) -> None:
    """An agent who signs on to a company is Available there, as the spec has it; one on a call or in wrap-up
    stays so until the call ends or they rejoin."""
    principal = auth.principal_for(user, company_id) if company_id is not None else None
    agent = principal.agent if principal else None
    if agent is not None and availability.can(agent, "sign_on"):
        ports.controller().availability.move(agent, "sign_on", ports.controller().clock())


@endpoint(bp, "GET", "/session", role="public", response=SessionOut,
          summary="The current session (signed in or not) and the CSRF token for unsafe requests")
def get_session(_):
    return _session_out()


@endpoint(bp, "POST", "/session", role="public", body=SignIn, response=SessionOut,
          summary="Sign in; with one company (or company_id) it is selected at once")
def sign_in(_, body: SignIn):
    auth.check_csrf()
    limiter: auth.AttemptLimiter = current_app.extensions["sign_in_limiter"]
    email = body.email.strip().lower()
    device = auth.known_device(email)
    limits = auth.sign_in_limits(email, device)
    limiter.check(limits)
    user = authenticate(email, body.password)
    if user is None:
        limiter.failed(limits)
        raise ApiError("wrong-credentials", "the email or the password is wrong")
    auth.signed_in(limiter, limits)
    auth.remember_device(email, device)
    for invitation in invitations.pending_for(user):
        if invitation.new_account:  # the credentials came with this invitation: signing in is the yes
            _joined(invitation)
    memberships = list(Membership.select().where(Membership.user == user))
    if not memberships and not invitations.pending_for(user):
        raise ApiError("no-company", "this account belongs to no company yet; ask an admin")
    chosen = body.company_id or (memberships[0].company_id if len(memberships) == 1 else None)
    if chosen is not None and chosen not in {m.company_id for m in memberships}:
        raise ApiError("not-a-member", "this account does not belong to that company")
    # A new session on sign-in, nothing carried over from before: not even the CSRF token, which whoever planted
    # a pre-sign-in cookie would know (the answer carries the new one).
    session.clear()
    session.update(sid=start_session(user), company_id=chosen)
    session.permanent = True
    _signed_on(user, chosen)
    return _session_out()


@endpoint(bp, "PUT", "/session/company", role="public", body=CompanyChoice, response=SessionOut,
          summary="Pick the company to work in")
def choose_company(_, body: CompanyChoice):
    user = auth.session_user()
    if user is None:
        raise ApiError("not-signed-in", "sign in first (POST /api/v1/session)")
    auth.check_csrf()
    if auth.principal_for(user, body.company_id) is None:
        raise ApiError("not-a-member", "this account does not belong to that company")
    session["company_id"] = body.company_id
    _signed_on(user, body.company_id)
    return _session_out()


def _my_invitation(invitation_id: int) -> Invitation:
    user = auth.session_user()
    if user is None:
        raise ApiError("not-signed-in", "sign in first (POST /api/v1/session)")
    auth.check_csrf()
    invitation = Invitation.get_or_none(Invitation.id == invitation_id, Invitation.user == user)
    if invitation is None:
        raise ApiError("not-found", "no such invitation")
    return invitation


@endpoint(bp, "POST", "/session/invitations/<int:invitation_id>/accept", role="public", response=SessionOut,
          summary="Accept an invitation to a company: become its user (and agent, if invited as one)")
def accept_invitation(_, invitation_id: int):
    invitation = _my_invitation(invitation_id)
    company_id = invitation.company_id
    _joined(invitation)
    if session.get("company_id") is None:
        session["company_id"] = company_id
        _signed_on(invitation.user, company_id)
    return _session_out()


@endpoint(bp, "DELETE", "/session/invitations/<int:invitation_id>", role="public", status=204,
          summary="Decline an invitation to a company")
def decline_invitation(_, invitation_id: int):
    invitation = _my_invitation(invitation_id)
    invitation.delete_instance()
    notifier.invitation_deleted(ports.controller().bus, invitation.company_id, invitation_id)


@endpoint(bp, "DELETE", "/session", role="public", status=204, summary="Sign out")
def sign_out(_):
    if session.get("sid"):
        auth.check_csrf()
        end_sessions(sid=session["sid"])
    session.clear()


# -- passwords: the one-time links' page (/password#<token>) and "forgot password" --------------------------------

FORGOT_PER_EMAIL, FORGOT_PER_ADDRESS = 3, 20  # requests in the sign-in limiter's window


def _link(token: str):
    try:
        return passwords.valid(token, ports.controller().clock())
    except passwords.LinkError as exc:
        raise ApiError("link-invalid", str(exc)) from None


@endpoint(bp, "POST", "/password/link", role="public", body=LinkToken, response=PasswordLinkInfo,
          summary="What a one-time password link is for (the token stays out of URLs the server sees)")
def password_link(_, body: LinkToken):
    auth.check_csrf()
    link = _link(body.token)
    return PasswordLinkInfo(email=link.user.email, name=link.user.name, purpose=link.purpose,
                            sets_password=passwords.sets_password(link),
                            company_name=link.company.name if link.company_id else None, expires_at=link.expires_at)


@endpoint(bp, "PUT", "/password", role="public", body=NewPassword, status=204,
          summary="Set the password through a one-time link (used once; the account is signed out everywhere)")
def set_password(_, body: NewPassword):
    auth.check_csrf()
    link = _link(body.token)
    company = link.company
    try:
        with database.atomic():
            user = passwords.use(body.token, body.password, ports.controller().clock())
            if company is not None:
                me = auth.Principal(company, "agent", user=user)
                record(me, "password_set", "user", user.id, None, None, f"{user.email}, through a one-time link")
    except AccountError as exc:
        raise invalid({"password": str(exc)}) from None
    except passwords.PasswordKept as exc:
        raise ApiError("password-kept", str(exc)) from None
    except passwords.LinkError as exc:
        raise ApiError("link-invalid", str(exc)) from None


@endpoint(bp, "POST", "/password/forgot", role="public", body=Forgotten, response=ForgotOut, status=202,
          summary="Email a one-time link to set a new password, when the email has an active account and email is "
          "on; the answer is the same either way")
def forgot_password(_, body: Forgotten):
    auth.check_csrf()
    controller = ports.controller()
    email = body.email.strip().lower()
    limiter: auth.AttemptLimiter = current_app.extensions["sign_in_limiter"]
    limits = {f"forgot:{email}": FORGOT_PER_EMAIL, f"forgot-address:{request.remote_addr or '-'}": FORGOT_PER_ADDRESS}
    limiter.check(limits)
    limiter.failed(limits)  # each request counts: nobody floods an inbox through us
    user = User.get_or_none(User.email == email)
    if controller.mailer.enabled and user is not None and user.active:
        with database.atomic():
            token = passwords.issue(user, "forgot", None, controller.clock())
            controller.mailer.queue(f"password-link:{passwords.digest(token)}", mail.Email(user.email, user.name,
                mail.Content("Set a new Lead Center password",
                             "Someone (you, we hope) asked for a link to set a new Lead Center password. It works once, "
                             f"for {int(passwords.LIFETIME['forgot'].total_seconds() // 3600)} hour. If it was not you, "
                             "ignore this email: your password stays as it is.",
                             action=("Set a new password", passwords.url(controller.settings.app_url, token)))))
    return ForgotOut(email_on=controller.mailer.enabled)

