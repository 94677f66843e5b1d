"""What the admin API does alike for every table of a company's telephony configuration (trunks, tracking numbers,
teams, call flows): list and read the company's rows, create, change and delete one in a transaction that also
records it in the audit log (the row as the API returns it, before and after), then publish
``<noun>.created|updated|deleted`` (catalogue.ROW_EVENTS: the row as the API returns it, its id once deleted) and
re-render Asterisk's configuration, which is rendered from these rows.

Each resource's endpoints stay declared in its own http.py (the API registry is the documentation); what differs
between resources is passed in: how a request's fields become columns (checked against the company) and what
keeps a row from being deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Generic, Protocol, TypeVar

from peewee import CharField, IntegerField

from leadcenter import catalogue
from leadcenter.accounts.http import bus, in_use, reconfigure_if, save_changes
from leadcenter.accounts.models import Company
from leadcenter.audit.services import record
from leadcenter.db import database
from leadcenter.web.auth import Principal
from leadcenter.web.scoping import CompanyRow, scoped


class ConfigRow(CompanyRow, Protocol):
    """A configuration table's model (Trunk, TrackingNumber, Team, CallFlow)."""

    company_id: ClassVar[IntegerField[int]]
    name: ClassVar[CharField[str]]

    def __init__(self, *, company: Company) -> None: ...

    def delete_instance(self) -> int: ...


Row = TypeVar("Row", bound=ConfigRow)
Columns = Callable[[Row], dict]  # (the row, unsaved and without an id when new) -> its changed columns
AfterSave = Callable[[Row], None]  # more writes once the row has its id (in the same transaction)


@dataclass(frozen=True)
class ConfigRows(Generic[Row]):
    model: type[Row]
    what: str  # how errors name one ("tracking number")
    noun: str  # how events name one ("tracking_number": tracking_number.created, tracking_number_id)

    def listed(self, principal: Principal, *order_by) -> list[Row]:
        return list(self.model.select().where(self.model.company == principal.company).order_by(*order_by))

    def one(self, principal: Principal, row_id: int) -> Row:
        return scoped(self.model, row_id, principal, self.what)

    def create(self, principal: Principal, columns: Columns[Row], after: AfterSave[Row] | None = None) -> Row:
        with database.atomic():
            row = self.model(company=principal.company)
            save_changes(row, columns(row))
            if after is not None:
                after(row)
            record(principal, "created", self.noun, row.id, None, self.dump(row), row.name)
        self._changed(row, "created")
        return row

    def update(
        self, principal: Principal, row_id: int, columns: Columns[Row], after: AfterSave[Row] | None = None
    ) -> Row:
        with database.atomic():
            row = self.one(principal, row_id)
            before = self.dump(row)
            save_changes(row, columns(row))
            if after is not None:
                after(row)
            record(principal, "updated", self.noun, row.id, before, self.dump(row), row.name)
        self._changed(row, "updated")
        return row

    def delete(self, principal: Principal, row_id: int, users: Callable[[Row], list[str]] | None = None) -> None:
        """Delete the row unless ``users(row)`` names what still uses it (then 409 in-use)."""
        with database.atomic():
            row = self.one(principal, row_id)
            using = users(row) if users is not None else []
            if using:
                raise in_use(f"{self.what} {row.name!r}", using)
            record(principal, "deleted", self.noun, row.id, self.dump(row), None, row.name)
            row.delete_instance()
        catalogue.ROW_EVENTS[self.noun, "deleted"].publish(
            bus(), company_id=principal.company.id, **{f"{self.noun}_id": row.id}
        )
        reconfigure_if(True)

    def dump(self, row: Row) -> dict:
        """The row as the API returns it (its events', and the audit log's before and after)."""
        return catalogue.CONFIG_ROWS[self.noun].from_row(row).model_dump(mode="json")

    def _changed(self, row: Row, verb: str) -> None:
        resource = self.dump(row)
        catalogue.ROW_EVENTS[self.noun, verb].publish(bus(), company_id=row.company_id, **{self.noun: resource})
        reconfigure_if(True)
