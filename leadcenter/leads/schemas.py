"""What the leads API accepts and answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel, field_validator, model_validator

from leadcenter.leads.models import Lead
from leadcenter.leads.services import SEARCH_LIMIT, numbers_by_lead
from leadcenter.wire import Schema, UtcDateTime

MAX_NUMBERS = 10

# As typed by a person: parsed into E.164 with the company's region by the view, which knows the region.
TypedNumber = Annotated[str, Field(min_length=1, max_length=40)]


class LeadFields(Schema):
    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    numbers: list[TypedNumber] = Field(default_factory=list, max_length=MAX_NUMBERS)

    @field_validator("email")
    @classmethod
    def looks_like_an_email(cls, email: str) -> str:
        # Loosely on purpose: the only sure test of an address is writing to it.
        local, at, domain = email.partition("@")
        if email and not (local and at and domain):
            raise ValueError("not an email address")
        return email


class NewLead(LeadFields):
    @model_validator(mode="after")
    def identifiable(self) -> NewLead:
        if not (self.name or self.email or self.numbers):
            raise ValueError("a lead needs a name, an email or a number")
        return self


class LeadChanges(LeadFields):
    """Only the fields sent are changed; ``numbers`` replaces all the lead's numbers."""


class MergeRequest(Schema):
    duplicate_id: int


class LeadSearch(Schema):
    q: str = Field(min_length=1, max_length=200)
    limit: int = Field(SEARCH_LIMIT, ge=1, le=100)


class LeadOut(Schema):
    id: int
    name: str
    email: str
    numbers: list[str]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    merged_into_id: int | None  # set on a merged lead: the lead to follow

    @classmethod
    def from_rows(cls, leads: list[Lead]) -> list[LeadOut]:
        numbers = numbers_by_lead(lead.id for lead in leads)
        return [
            cls(
                id=lead.id,
                name=lead.name,
                email=lead.email,
                numbers=numbers[lead.id],
                created_at=lead.created_at,
                updated_at=lead.updated_at,
                merged_into_id=lead.merged_into_id,
            )
            for lead in leads
        ]

    @classmethod
    def from_row(cls, lead: Lead) -> LeadOut:
        return cls.from_rows([lead])[0]


class LeadList(RootModel[list[LeadOut]]):
    pass
