"""What the dialplan endpoints accept and answer (the installation owner's only)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from leadcenter.dialplans.models import CustomContext, DialplanVersion
from leadcenter.dialplans.services import MAX_CHARS
from leadcenter.pbx import names
from leadcenter.wire import Schema, Text, UtcDateTime

DialplanText = Annotated[
    Text,
    Field(
        max_length=MAX_CHARS,
        description="the context's lines: exten =>, same =>, include => (a generated context) and ; comments; "
        "its header [custom-<name>] is written for you",
    ),
]


class NewDialplan(Schema):
    name: str = Field(max_length=40, description="lowercase letters, digits and '-': the context is custom-<name>")
    text: DialplanText
    company_id: int | None = Field(None, description="the one company whose flows may send calls here; null: any")


class DialplanChanges(Schema):
    text: DialplanText
    company_id: int | None = Field(None, description="the one company whose flows may send calls here; null: any")
    version: int | None = Field(
        None, description="the version this edit started from: another save since answers 409 conflict"
    )


class DialplanOut(Schema):
    name: str
    context: str = Field(description="the context's name in Asterisk's dialplan")
    text: Text
    version: int
    company_id: int | None
    created_at: UtcDateTime

    @classmethod
    def from_row(cls, row: CustomContext) -> DialplanOut:
        return cls(
            name=row.name,
            context=names.custom_context(row.name),
            text=row.text,
            version=row.version,
            company_id=row.company_id,
            created_at=row.created_at,
        )


class DialplanList(RootModel[list[DialplanOut]]):
    pass


class VersionOut(Schema):
    number: int
    text: Text
    saved_by: str | None = Field(description="the owner's email")
    saved_at: UtcDateTime
    restored_from: int | None = Field(description="the version a restore copied")

    @classmethod
    def from_row(cls, row: DialplanVersion) -> VersionOut:
        return cls(
            number=row.number,
            text=row.text,
            saved_by=row.saved_by.email if row.saved_by is not None else None,
            saved_at=row.saved_at,
            restored_from=row.restored_from,
        )


class VersionList(RootModel[list[VersionOut]]):
    pass


class GeneratedFile(Schema):
    name: str
    text: Text


class GeneratedDialplan(Schema):
    files: list[GeneratedFile] = Field(description="in the order Asterisk reads them; rendered from the database")
    contexts: list[str] = Field(description="the generated contexts, which a custom context may include")


class UsableContext(Schema):
    """A custom context as a company's flow editor sees it: its name only, never its dialplan."""

    name: str = Field(description='what a flow step names: {"type": "custom", "context": name}')
    context: str


class UsableContextList(RootModel[list[UsableContext]]):
    pass
