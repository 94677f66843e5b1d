"""One shape for every state machine: a transition table, a compare-and-set update, a transition row, an event.

A ``Machine`` names the columns that hold a row's state and its table ``{(state, event): Move}``. ``move`` looks the
event up from the state the row was read in, then, in one transaction, writes the new state (and what the move sets
besides) with ``UPDATE ... WHERE id = ? AND <state columns> = <the state read>`` and stores the transition row. When
no row changed, someone else moved it first (two agents pressing Respond together): ``Conflict``, and nothing is
written. The ``Transition`` it returns is what the domain's notifier publishes, once the transaction is over.

Machines: the interaction lifecycle (interactions/lifecycle.py), an agent's availability (agents/availability.py),
an outbound message's delivery (texts/delivery.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from leadcenter.db import BaseModel

log = logging.getLogger(__name__)

Row = TypeVar("Row", bound=BaseModel)
State = tuple  # the values of the machine's state columns, in order


@dataclass(frozen=True)
class Move:
    """Where an event takes a row from one state, and what else the move sets.

    ``sets(row, at)`` returns the other columns the move writes (companion timestamps, an outcome); ``allowed(row)``
    narrows the move to some rows (e.g. conversations only)."""

    to: State
    sets: Callable[[Any, dt.datetime], dict[str, Any]] | None = None
    allowed: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Transition(Generic[Row]):
    row: Row  # as it is after the move
    event: str
    before: State
    after: State
    at: dt.datetime
    changed: dict[str, Any] = field(default_factory=dict)  # every column written, the state columns included


class IllegalMove(Exception):
    def __init__(self, machine: Machine, row: BaseModel, event: str):
        super().__init__(
            f"{machine.name} {row.id} is {machine.describe(machine.state_of(row))}: no '{event}' from there"
        )
        self.row, self.event = row, event


class Conflict(Exception):
    """The row was moved by someone else between reading it and moving it: read it again."""

    def __init__(self, machine: Machine, row: BaseModel, event: str, expected: State):
        super().__init__(
            f"{machine.name} {row.id} was no longer {machine.describe(expected)} for '{event}': it changed meanwhile"
        )
        self.row, self.event = row, event


class Machine(Generic[Row]):
    def __init__(
        self,
        name: str,
        model: type[Row],
        state: tuple[str, ...],
        table: dict[tuple[State, str], Move],
        record: Callable[[Transition], None],
        stamp: str | None = None,
    ):
        """``record(transition)`` stores the transition row (inside the move's transaction); ``stamp`` names a column
        every move sets to its time (e.g. status_changed_at)."""
        self.name, self.model, self.state, self.table, self.record = name, model, state, table, record
        self.stamp = stamp

    def state_of(self, row: Row) -> State:
        return tuple(getattr(row, column) for column in self.state)

    @staticmethod
    def describe(state: State) -> str:
        return "/".join(str(value) for value in state if value not in ("", None))

    def _move(self, row: Row, event: str) -> Move | None:
        move = self.table.get((self.state_of(row), event))
        if move is None or (move.allowed is not None and not move.allowed(row)):
            return None
        return move

    def can(self, row: Row, event: str) -> bool:
        return self._move(row, event) is not None

    def events_from(self, state: State) -> set[str]:
        return {event for (from_state, event) in self.table if from_state == state}

    def move(self, row: Row, event: str, at: dt.datetime, **also: Any) -> Transition[Row]:
        """Move ``row`` by ``event`` (IllegalMove from its state, Conflict when it moved meanwhile); ``also`` are more
        columns to write with the move (e.g. who responded)."""
        move = self._move(row, event)
        if move is None:
            raise IllegalMove(self, row, event)
        before = self.state_of(row)
        changes = {
            **dict(zip(self.state, move.to, strict=True)),
            **({self.stamp: at} if self.stamp else {}),
            **(move.sets(row, at) if move.sets else {}),
            **also,
        }
        model = self.model
        database = model._meta.database
        with database.atomic():
            still = [
                getattr(model, column) == value if value is not None else getattr(model, column).is_null()
                for column, value in zip(self.state, before, strict=True)
            ]
            written = (
                model.update({getattr(model, column): value for column, value in changes.items()})
                .where(model._meta.primary_key == row.get_id(), *still)
                .execute()
            )
            if written != 1:
                raise Conflict(self, row, event, before)
            for column, value in changes.items():
                setattr(row, column, value)
            transition = Transition(row, event, before, move.to, at, changes)
            self.record(transition)
        log.info("%s %s: %s -> %s by %s", self.name, row.get_id(), self.describe(before), self.describe(move.to), event)
        return transition
