"""Every row an endpoint names by id must belong to the caller's company.

Another company's id answers exactly like an id that does not exist (404 ``not-found``), so ids reveal nothing
about other companies, not even that the row exists.
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol, Self, TypeVar

from peewee import AutoField, ForeignKeyField, ModelSelect

from leadcenter.accounts.models import Company
from leadcenter.errors import not_found
from leadcenter.web.auth import Principal


class CompanyRow(Protocol):
    """A model whose rows belong to one company. (ClassVar: a peewee field is a descriptor, the column on the model
    and the value on a row.)"""
    id: ClassVar[AutoField[int]]
    company: ClassVar[ForeignKeyField[Company]]

    @classmethod
    def get_or_none(cls, *query: Any, **filters: Any) -> Self | None: ...

    @classmethod
    def select(cls, *fields: Any) -> ModelSelect[Any]: ...


Row = TypeVar("Row", bound=CompanyRow)


def scoped(model: type[Row], object_id: int, principal: Principal, what: str) -> Row:
    """The ``model`` row with this id in the principal's company; 404 ``no such <what>`` otherwise."""
    row = model.get_or_none(model.id == object_id, model.company == principal.company)
    if row is None:
        raise not_found(what)
    return row
