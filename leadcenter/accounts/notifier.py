"""The accounts domain's events (catalogue.py): the company, a user, an invitation, an API key as the API returns
them (their ids once deleted)."""

from __future__ import annotations

from leadcenter import catalogue
from leadcenter.accounts.models import ApiKey, Company, Invitation, Membership
from leadcenter.accounts.schemas import ApiKeyOut, CompanyProfile, InvitationOut, MemberOut
from leadcenter.events import Publisher


def company_updated(bus: Publisher, company: Company) -> None:
    catalogue.COMPANY_UPDATED.publish(
        bus, company_id=company.id, company=CompanyProfile.from_row(company).model_dump(mode="json")
    )


def user_created(bus: Publisher, membership: Membership, agent_id: int | None) -> None:
    catalogue.USER_CREATED.publish(
        bus, company_id=membership.company_id, user=MemberOut.from_row(membership, agent_id).model_dump(mode="json")
    )


def user_updated(bus: Publisher, membership: Membership, agent_id: int | None) -> None:
    catalogue.USER_UPDATED.publish(
        bus, company_id=membership.company_id, user=MemberOut.from_row(membership, agent_id).model_dump(mode="json")
    )


def user_deleted(bus: Publisher, company_id: int, user_id: int) -> None:
    catalogue.USER_DELETED.publish(bus, company_id=company_id, user_id=user_id)


def invitation_created(bus: Publisher, invitation: Invitation) -> None:
    catalogue.INVITATION_CREATED.publish(
        bus, company_id=invitation.company_id, invitation=InvitationOut.from_row(invitation).model_dump(mode="json")
    )


def invitation_deleted(bus: Publisher, company_id: int, invitation_id: int) -> None:
    catalogue.INVITATION_DELETED.publish(bus, company_id=company_id, invitation_id=invitation_id)


def api_key_created(bus: Publisher, key: ApiKey) -> None:
    catalogue.API_KEY_CREATED.publish(
        bus, company_id=key.company_id, api_key=ApiKeyOut.from_row(key).model_dump(mode="json")
    )


def api_key_revoked(bus: Publisher, key: ApiKey) -> None:
    catalogue.API_KEY_REVOKED.publish(
        bus, company_id=key.company_id, api_key=ApiKeyOut.from_row(key).model_dump(mode="json")
    )
