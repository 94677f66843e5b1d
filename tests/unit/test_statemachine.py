"""The one state-machine shape: the table decides, the update is a compare-and-set, every move leaves a row."""

import threading

import pytest
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model
from support import T0

from leadcenter import db
from leadcenter.statemachine import Conflict, IllegalMove, Machine, Move


class Ticket(Model):
    status = CharField()
    owner = IntegerField(null=True)
    changed_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)


class TicketMove(Model):
    ticket = ForeignKeyField(Ticket)
    event = CharField()
    from_status = CharField()
    to_status = CharField()
    at = DateTimeField()


def _record(transition):
    TicketMove.create(
        ticket=transition.row,
        event=transition.event,
        from_status=transition.before[0],
        to_status=transition.after[0],
        at=transition.at,
    )


TICKETS = Machine(
    "ticket",
    Ticket,
    ("status",),
    {
        (("open",), "take"): Move(("taken",)),
        (("taken",), "close"): Move(("closed",), sets=lambda ticket, at: {"closed_at": at}),
        (("open",), "close"): Move(("closed",), allowed=lambda ticket: ticket.owner is None),
    },
    _record,
    stamp="changed_at",
)


@pytest.fixture
def tickets(tmp_path):
    database = db.open_sqlite(str(tmp_path / "tickets.sqlite3"))
    database.bind([Ticket, TicketMove])
    database.create_tables([Ticket, TicketMove])
    yield database
    database.close()


def test_a_move_writes_the_state_what_it_sets_and_the_transition_row(tickets):
    ticket = Ticket.create(status="open")
    transition = TICKETS.move(ticket, "take", T0, owner=7)
    assert (transition.before, transition.after, transition.changed) == (
        ("open",),
        ("taken",),
        {"status": "taken", "changed_at": T0, "owner": 7},
    )
    TICKETS.move(ticket, "close", T0)
    stored = Ticket.get_by_id(ticket.id)
    assert (stored.status, stored.owner, stored.changed_at, stored.closed_at) == ("closed", 7, T0, T0)
    assert [(m.event, m.from_status, m.to_status) for m in TicketMove.select().order_by(TicketMove.id)] == [
        ("take", "open", "taken"),
        ("close", "taken", "closed"),
    ]


def test_what_the_table_does_not_allow_raises_and_changes_nothing(tickets):
    ticket = Ticket.create(status="open", owner=3)
    for event in ("close", "reopen"):  # a guard says no; no such move
        assert not TICKETS.can(ticket, event)
        with pytest.raises(IllegalMove, match=f"ticket {ticket.id} is open: no '{event}'"):
            TICKETS.move(ticket, event, T0)
    assert Ticket.get_by_id(ticket.id).status == "open" and not TicketMove.select().exists()


def test_a_row_moved_by_someone_else_since_it_was_read_is_a_conflict(tickets):
    ticket = Ticket.create(status="open")
    mine, theirs = Ticket.get_by_id(ticket.id), Ticket.get_by_id(ticket.id)
    TICKETS.move(theirs, "take", T0, owner=2)
    with pytest.raises(Conflict):
        TICKETS.move(mine, "take", T0, owner=1)
    assert Ticket.get_by_id(ticket.id).owner == 2 and TicketMove.select().count() == 1


def test_two_writers_at_once_one_wins(tickets):
    """Each thread has its own connection (as web requests do): the compare-and-set lets exactly one through."""
    for round_ in range(20):
        ticket = Ticket.create(status="open")
        copies = [Ticket.get_by_id(ticket.id) for _ in range(2)]
        start, outcomes = threading.Barrier(2), []

        def take(copy, owner, start=start, outcomes=outcomes):
            start.wait()
            try:
                TICKETS.move(copy, "take", T0, owner=owner)
                outcomes.append("won")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=take, args=(copy, n)) for n, copy in enumerate(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(outcomes) == ["conflict", "won"], round_
        assert TicketMove.select().where(TicketMove.ticket == ticket).count() == 1
